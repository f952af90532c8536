"""experiment=hparams_search's sweeper: hydra-optuna-sweeper's OptunaSweeper, except that a search
in which no trial scored ends as a sweep of failed jobs does (each job's one line from train.py,
a non-zero exit status) instead of a traceback.

A trial without a score is told to Optuna as failed (train.py's job returns None for it) and the
search goes on. But when no trial of the search has a score, OptunaSweeper's last step, reading
the best trial for optimization_results.yaml, raises, and Hydra prints the traceback and exits
before train.py can report the jobs. Wrapped rather than subclassed, so that Hydra's plugin scan
imports optuna only when a search starts.
"""
from __future__ import annotations

import logging
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)

# optuna 2.10's words (pyproject.toml keeps optuna below 3) for a study without a completed trial.
NO_COMPLETED_TRIAL = "No trials are completed yet"


class OptunaSearch(Sweeper):
    """OptunaSweeper with the same settings; a search without a scored trial writes no
    optimization_results.yaml and returns, so that train.py reports its jobs."""

    def __init__(self, **settings: Any) -> None:
        from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

        self.optuna = OptunaSweeper(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.optuna.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        try:
            self.optuna.sweep(arguments)
        except ValueError as exc:
            if NO_COMPLETED_TRIAL not in str(exc):
                raise
            log.warning("no trial of this search has a score (each failed, or ended no episode): no best "
                        "trial, so no optimization_results.yaml")
