"""Read one run's ``evals.csv`` (the trainer's near-greedy evaluations) robustly.

Each row is one evaluation episode; the episodes of one evaluation share its ``env_step``.
Evaluations happen at the same env steps in every run of a sweep (every trainer.eval_every
steps), so their curves line up across runs without interpolating between episodes, and they
measure the policy without training's exploration noise. Like episodes.csv, a line cut by a
crash or a live write is dropped, and garbled lines are skipped.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from mario_exp.rundir.contract import EVAL_COLUMNS
from mario_exp.rundir.final_window import FINAL_FRAC, final_window


def empty_evals() -> pd.DataFrame:
    """An evaluation table with no rows (no evaluation, or evaluation off)."""
    return pd.DataFrame({c: np.empty(0) for c in EVAL_COLUMNS})


def read_evals_csv(path: Path) -> tuple[pd.DataFrame, int]:
    """(every complete evaluation-episode row as float64 sorted by env_step, garbled lines
    skipped). A missing file or an unexpected header gives an empty table."""
    if not path.exists():
        return empty_evals(), 0
    if not path.is_file():
        raise OSError("not a regular file")  # reading a FIFO would block forever
    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]  # a line still being written is not a row yet
    header, _, body = data.partition(b"\n")
    if not set(EVAL_COLUMNS) <= set(header.decode("utf-8", "replace").strip().split(",")) or not body.strip():
        return empty_evals(), 0
    raw = pd.read_csv(io.BytesIO(data), usecols=list(EVAL_COLUMNS), on_bad_lines="skip",
                      encoding_errors="replace")
    table = raw.apply(pd.to_numeric, errors="coerce").astype(float)
    table = table[np.isfinite(table.to_numpy()).all(axis=1)]
    bad = sum(1 for line in body.split(b"\n") if line.strip()) - len(table)
    return table.sort_values("env_step", kind="stable").reset_index(drop=True), bad


def evaluation_means(evals: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation: env_step, its episodes' mean reward, x_pos and flag rate, and
    the wall time when it ended."""
    grouped = evals.groupby("env_step", sort=True)
    means = grouped[["reward", "x_pos", "flag"]].mean()
    means["wall_time"] = grouped["wall_time"].max()
    means["episodes"] = grouped.size()
    return means.reset_index()


def eval_final_scores(evals: pd.DataFrame, final_frac: float = FINAL_FRAC) -> dict[str, float]:
    """Mean reward, x_pos and flag rate over the evaluation episodes in the final window (the
    same window as the training episodes', and as the trainer's final/eval_* metrics)."""
    if len(evals) == 0:
        return {"reward": float("nan"), "x_pos": float("nan"), "flag_rate": float("nan")}
    final = final_window(evals["env_step"].to_numpy(dtype=float), final_frac)
    return {name: float(evals[column].to_numpy(dtype=float)[final].mean())
            for name, column in (("reward", "reward"), ("x_pos", "x_pos"), ("flag_rate", "flag"))}
