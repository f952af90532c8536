"""How far a run is, for the person watching: a tqdm bar on a terminal, log lines elsewhere.

A bar needs a terminal that honours carriage returns. Under a joblib or submitit launcher, in
a CI log, or redirected to a file, a bar becomes hundreds of garbled fragments, so there the
same numbers are one log line every trainer.log_every steps. The lines go to the run's
train.log in both cases (Hydra's file handler).
"""
from __future__ import annotations

import logging
import multiprocessing
import sys
from contextlib import ExitStack
from datetime import timedelta
from typing import Optional

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

log = logging.getLogger(__name__)


def wants_bar() -> bool:
    """A bar only on a terminal, and only in the process the user started (a launcher's
    workers share the terminal, and their bars would overwrite each other)."""
    main = multiprocessing.current_process().name == "MainProcess" and multiprocessing.parent_process() is None
    return main and sys.stderr.isatty()


def _eta(remaining_steps: int, steps_per_second: float) -> str:
    if steps_per_second <= 0:
        return "-"
    return str(timedelta(seconds=round(remaining_steps / steps_per_second)))


class ProgressLines:
    """One log line per interval: steps, steps/s, episodes, last x_pos, epsilon, loss, ETA."""

    def __init__(self, total_steps: int) -> None:
        self.total_steps = total_steps
        self.last_x_pos: Optional[int] = None

    def episode(self, env_step: int, episodes: int, x_pos: int, epsilon: float) -> None:
        self.last_x_pos = x_pos

    def interval(self, env_step: int, episodes: int, steps_per_second: float, epsilon: float,
                 loss: Optional[float]) -> None:
        log.info("step %d/%d  %.1f steps/s  episodes %d  last x_pos %s  epsilon %.3f  loss %s  ETA %s",
                 env_step, self.total_steps, steps_per_second, episodes,
                 "-" if self.last_x_pos is None else self.last_x_pos, epsilon,
                 "-" if loss is None else f"{loss:.4f}",
                 _eta(self.total_steps - env_step, steps_per_second))

    def close(self) -> None:
        pass


class ProgressBar(ProgressLines):
    """A tqdm bar over env steps (rate and ETA by tqdm) with episodes, last x_pos and epsilon.

    It moves when an episode ends and every log interval; the interval's log line is printed
    above the bar instead of through it."""

    def __init__(self, total_steps: int, start_step: int) -> None:
        super().__init__(total_steps)
        self._stack = ExitStack()
        self._stack.enter_context(logging_redirect_tqdm())
        self._bar = self._stack.enter_context(tqdm(
            total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, file=sys.stderr,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]{postfix}"))

    def _show(self, env_step: int, episodes: int, epsilon: float) -> None:
        self._bar.set_postfix_str(f"episodes {episodes}, x_pos {self.last_x_pos or '-'}, "
                                  f"eps {epsilon:.3f}", refresh=False)
        self._bar.update(env_step - self._bar.n)

    def episode(self, env_step: int, episodes: int, x_pos: int, epsilon: float) -> None:
        super().episode(env_step, episodes, x_pos, epsilon)
        self._show(env_step, episodes, epsilon)

    def interval(self, env_step: int, episodes: int, steps_per_second: float, epsilon: float,
                 loss: Optional[float]) -> None:
        super().interval(env_step, episodes, steps_per_second, epsilon, loss)
        self._show(env_step, episodes, epsilon)

    def close(self) -> None:
        self._stack.close()


def make_progress(total_steps: int, start_step: int) -> ProgressLines:
    """The bar when a person is watching a terminal, else periodic log lines."""
    return ProgressBar(total_steps, start_step) if wants_bar() else ProgressLines(total_steps)
