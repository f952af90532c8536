"""Learning curves: smooth each run, put runs on a common grid, band across seeds.

Runs end at different env steps (different budgets, live runs, a partial last episode), so each
run is interpolated only inside its own range and is NaN elsewhere: a curve never claims data a
run does not have. The band at a grid point uses exactly the seeds that cover it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mario_exp.analysis.stats import CONFIDENCE, own_stream


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` episodes (fewer at the start of the run)."""
    y = np.asarray(y, dtype=float)
    if y.size == 0 or window <= 1:
        return y.copy()
    c = np.concatenate(([0.0], np.cumsum(y)))
    i = np.arange(1, y.size + 1)
    start = np.maximum(i - window, 0)
    return (c[i] - c[start]) / (i - start)


def common_grid(end: float, points: int) -> np.ndarray:
    """``points`` evenly spaced positions from 0 to ``end`` shared by every configuration."""
    return np.linspace(0.0, float(end), int(points))


def interpolate(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of (x, y) at ``grid``; NaN before x[0] and after x[-1]."""
    x = np.asarray(x, dtype=float)
    out = np.full(grid.shape, np.nan)
    if x.size == 0:
        return out
    inside = (grid >= x[0]) & (grid <= x[-1])
    out[inside] = np.interp(grid[inside], x, np.asarray(y, dtype=float))
    return out


def mean_band(matrix: np.ndarray, rng: np.random.Generator, n_boot: int = 1000,
              confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                       np.ndarray]:
    """Mean across runs (rows) per grid point (column) with a percentile-bootstrap CI.

    NaN entries mean "this run does not reach here". Returns (mean, lo, hi, n); lo/hi are NaN
    where fewer than 2 runs cover the point, because one run gives no interval.
    """
    covered = ~np.isnan(matrix)
    n = covered.sum(axis=0)
    total = np.where(covered, matrix, 0.0).sum(axis=0)
    mean = np.divide(total, n, out=np.full(n.shape, np.nan), where=n > 0)
    lo = np.full(n.shape, np.nan)
    hi = np.full(n.shape, np.nan)
    alpha = (1.0 - confidence) / 2.0
    # Columns covered by the same subset of runs are bootstrapped together: one vectorised
    # resample per subset instead of one per grid point.
    patterns, inverse = np.unique(covered.T, axis=0, return_inverse=True)
    for p, rows in enumerate(patterns):
        k = int(rows.sum())
        if k < 2:
            continue
        cols = np.flatnonzero(inverse.ravel() == p)
        sub = matrix[np.ix_(rows, cols)]
        # A resample's mean is (how often each run was drawn / k) @ values: one matmul for all
        # resamples, ~2x faster than gathering n_boot x k x cols values.
        draws = rng.integers(0, k, size=(n_boot, k))
        weights = (draws[:, :, None] == np.arange(k)).sum(axis=1) / k
        boots = (weights @ sub).T  # cols x n_boot, contiguous along the quantile axis
        lo[cols], hi[cols] = np.quantile(boots, [alpha, 1.0 - alpha], axis=1)
    return mean, lo, hi, n


def band_frame(curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], grid: np.ndarray,
               seed: int, n_boot: int = 1000) -> pd.DataFrame:
    """Long table (config, x, mean, ci_lo, ci_hi, n, n_runs) for already-smoothed run curves.

    ``curves`` maps a configuration label to its runs' (x, y) arrays. Each configuration's
    band resamples with a stream of its own (stats.own_stream) from `seed`.
    """
    parts = []
    for label, runs in curves.items():
        if not runs:
            continue
        matrix = np.vstack([interpolate(x, y, grid) for x, y in runs])
        # Rows sorted, so that the stream and the draws do not depend on the runs' order.
        matrix = matrix[np.lexsort(np.nan_to_num(matrix, nan=np.inf).T[::-1])]
        mean, lo, hi, n = mean_band(matrix, own_stream(seed, "curve", matrix.ravel()), n_boot)
        keep = n > 0
        parts.append(pd.DataFrame({"config": label, "x": grid[keep], "mean": mean[keep],
                                   "ci_lo": lo[keep], "ci_hi": hi[keep], "n": n[keep],
                                   "n_runs": len(runs)}))
    if not parts:
        return pd.DataFrame(columns=["config", "x", "mean", "ci_lo", "ci_hi", "n", "n_runs"])
    return pd.concat(parts, ignore_index=True)
