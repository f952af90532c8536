"""Per-run numbers: final-window scores, flags, AUC, steps to threshold, training diagnostics.

A run's final score is the mean over episodes that END in the last ``final_frac`` of the env
steps the run reached: late enough to be what the agent learned, wide enough to average out the
episode-to-episode noise of a single run.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mario_exp.analysis.curves import smooth
from mario_exp.analysis.evals import empty_evals, eval_final_scores
from mario_exp.rundir.final_window import FINAL_FRAC, final_window

# Mario 1-1: the flag is near x=3160 and a random policy rarely passes the pipes around 600-800,
# so 1000 separates "learned something" from noise.
X_THRESHOLD = 1000.0
SMOOTH = 50  # episodes in the trailing mean used for curves and steps-to-threshold
EXPLORATION_EPSILON = 0.5


@dataclass(frozen=True)
class RunScores:
    """Everything the tables need from one run (NaN where the run has no such data)."""

    episodes: int
    last_episode_step: float  # env step at the end of the last finished episode
    final_reward: float
    final_x_pos: float
    final_flag_rate: float  # fraction of final-window episodes that reached the flag
    ever_flag: bool
    auc_x_pos: float  # area under the x_pos-vs-env-step curve / env steps = step-weighted mean
    steps_to_threshold: float  # first env step where smoothed x_pos >= threshold; inf if never
    best_x_pos: float
    wall_time: float  # seconds
    steps_per_second: float
    final_epsilon: float
    min_epsilon: float
    final_loss: float
    final_q: float
    evaluations: int  # evaluations in evals.csv (0: none)
    eval_final_reward: float  # the same final window over the evaluation episodes
    eval_final_x_pos: float
    eval_final_flag_rate: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict for the per-run table."""
        return asdict(self)


def x_pos_auc(env_step: np.ndarray, x_pos: np.ndarray) -> float:
    """Area under the x_pos curve divided by the env steps it spans.

    Each episode's x_pos holds over the env steps that episode took, so this is the mean x_pos
    per env step of training; dividing by the span keeps runs of different lengths comparable.
    """
    if env_step.size == 0 or env_step[-1] <= 0:
        return float("nan")
    widths = np.diff(np.concatenate(([0.0], env_step)))
    return float(np.sum(x_pos * widths) / env_step[-1])


def steps_to_threshold(env_step: np.ndarray, x_smooth: np.ndarray, threshold: float) -> float:
    """First env step at which the smoothed x_pos reaches ``threshold``; inf if it never does."""
    hit = np.flatnonzero(x_smooth >= threshold)
    return float(env_step[hit[0]]) if hit.size else float("inf")


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _last_finite(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite[-1]) if finite.size else float("nan")


def score_run(episodes: pd.DataFrame, final_frac: float = FINAL_FRAC,
              threshold: float = X_THRESHOLD, window: int = SMOOTH,
              evals: pd.DataFrame | None = None) -> RunScores | None:
    """Scores of one run's episode table (and evaluation table, when it has one); None when it
    has no episodes."""
    if len(episodes) == 0:
        return None
    col = {c: episodes[c].to_numpy(dtype=float) for c in episodes.columns}
    step, x_pos = col["env_step"], col["x_pos"]
    final = final_window(step, final_frac)
    wall = _last_finite(col["wall_time"])
    epsilon = col["epsilon"]
    evals = evals if evals is not None else empty_evals()
    eval_final = eval_final_scores(evals, final_frac)
    return RunScores(
        episodes=len(step),
        last_episode_step=float(step[-1]),
        final_reward=float(col["reward"][final].mean()),
        final_x_pos=float(x_pos[final].mean()),
        final_flag_rate=_nanmean(col["flag"][final]),
        ever_flag=bool(np.nansum(col["flag"]) > 0),
        auc_x_pos=x_pos_auc(step, x_pos),
        steps_to_threshold=steps_to_threshold(step, smooth(x_pos, window), threshold),
        best_x_pos=float(x_pos.max()),
        wall_time=wall,
        steps_per_second=float(step[-1] / wall) if wall > 0 else float("nan"),
        final_epsilon=_last_finite(epsilon),
        min_epsilon=float(np.nanmin(epsilon)) if np.isfinite(epsilon).any() else float("nan"),
        final_loss=_nanmean(col["loss"][final]),
        final_q=_nanmean(col["q"][final]),
        evaluations=int(evals["env_step"].nunique()),
        eval_final_reward=eval_final["reward"],
        eval_final_x_pos=eval_final["x_pos"],
        eval_final_flag_rate=eval_final["flag_rate"],
    )
