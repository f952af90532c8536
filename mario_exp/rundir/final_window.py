"""The final window: the episodes a run's final score averages over, shared by the trainer
(which reports final metrics to TensorBoard's HParams and to hyperparameter searches) and by
the analysis, so both score a run the same way. Needs only numpy, the csv module and the contract.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mario_exp.rundir.contract import FINAL_TAGS, START_STEP

# Episodes ending in the last 10% of the env steps up to the run's last finished episode (not
# of the budget, nor of the steps reached): late enough to be what the agent learned, wide
# enough to average out the episode-to-episode noise of a single run.
FINAL_FRAC = 0.1


def final_window(env_step: np.ndarray, frac: float = FINAL_FRAC) -> np.ndarray:
    """Mask of episodes ending in the last ``frac`` of the run's env steps: (1-frac)*end < step."""
    if env_step.size == 0:
        return np.zeros(0, dtype=bool)
    return env_step > (1.0 - frac) * env_step[-1]


def final_metrics(episodes_csv: Path, frac: float = FINAL_FRAC) -> dict[str, float]:
    """Final-window means of a run's episodes.csv (or evals.csv), by their FINAL_TAGS: x_pos,
    reward and flag rate (NaN when the run finished no episode). Only the episodes that began
    at the level's start count (start_step 0, env.frontier), as in the analysis."""
    with open(episodes_csv, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get(START_STEP, "0") == "0"]
    columns = {name: np.array([float(row[name]) for row in rows]) for name in ("env_step", "x_pos", "reward", "flag")}
    final = final_window(columns["env_step"], frac)
    means = {"x_pos": columns["x_pos"], "reward": columns["reward"], "flag_rate": columns["flag"]}
    return {FINAL_TAGS[name]: float(values[final].mean()) if final.any() else float("nan")
            for name, values in means.items()}
