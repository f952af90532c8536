"""Fallback: rebuild the episode table from a run's TensorBoard event files.

Only used when ``episodes.csv`` is missing or unreadable (older runs). tensorboard is imported
lazily because it costs about a second and the normal path never needs it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .episodes import COLUMNS, empty_table

EPISODE_TAGS = {"reward": "episode/reward", "x_pos": "episode/x_pos",
                "length": "episode/length", "flag": "episode/flag"}
# Logged per interval, not per episode: each episode takes the last value logged at or before
# its end step.
INTERVAL_TAGS = {"epsilon": "train/epsilon", "loss": "train/loss", "q": "train/q",
                 "lr": "train/lr"}


def has_event_files(run_dir: Path) -> bool:
    """True when the run folder holds at least one events.out.tfevents.* file."""
    return any(run_dir.glob("events.out.tfevents.*"))


def read_event_episodes(run_dir: Path) -> pd.DataFrame:
    """Episode table (episodes.COLUMNS) from the event files directly in ``run_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # size_guidance 0 = keep every point; the default keeps a random 10k sample of each tag,
    # which would silently drop episodes from long runs.
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags().get("scalars", []))
    if EPISODE_TAGS["x_pos"] not in tags or EPISODE_TAGS["reward"] not in tags:
        return empty_table()

    def series(tag: str) -> pd.Series:
        events = acc.Scalars(tag)
        # A restarted writer can log the same step twice; the later write wins.
        s = pd.Series([e.value for e in events], index=[e.step for e in events], dtype=float)
        return s[~s.index.duplicated(keep="last")].sort_index()

    x_pos_events = acc.Scalars(EPISODE_TAGS["x_pos"])
    t0 = min(e.wall_time for e in x_pos_events) if x_pos_events else 0.0
    frame = pd.DataFrame({name: series(tag) for name, tag in EPISODE_TAGS.items() if tag in tags})
    frame = frame.dropna(subset=["reward", "x_pos"])
    steps = frame.index.to_numpy(dtype=float)
    out = {"env_step": steps, "episode": np.arange(1, len(frame) + 1, dtype=float)}
    for name in ("reward", "x_pos", "length", "flag"):
        out[name] = frame[name].to_numpy(float) if name in frame else np.full(len(frame), np.nan)
    for name, tag in INTERVAL_TAGS.items():
        out[name] = (_last_at_or_before(series(tag), steps) if tag in tags
                     else np.full(len(steps), np.nan))
    wall = {e.step: e.wall_time - t0 for e in x_pos_events}
    out["wall_time"] = np.array([wall.get(int(s), np.nan) for s in steps], dtype=float)
    return pd.DataFrame({c: out[c] for c in COLUMNS})


def _last_at_or_before(series: pd.Series, steps: np.ndarray) -> np.ndarray:
    """Value of ``series`` at its last index <= each step (NaN before its first point)."""
    values = series.to_numpy(dtype=float)
    if len(values) == 0:
        return np.full(len(steps), np.nan)
    idx = np.searchsorted(series.index.to_numpy(dtype=float), steps, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan)
