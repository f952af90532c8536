"""Across-seed statistics: IQM, percentile-bootstrap confidence intervals, P(improvement).

Plain numpy, vectorised over bootstrap resamples. rliable computes the same estimators but is
~500x slower on this workload and pulls in ``arch``, which breaks under pandas 3.
Every function returns None for an interval it cannot honestly compute (fewer than 2 samples):
the tables then say "1 seed: no CI" instead of showing a zero-width interval.
"""
from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

CONFIDENCE = 0.95
# Resamples of each interval. At 2,000 the endpoints of a 5-seed IQM interval moved by up to
# 10% of its width from one rng seed to the next; at rliable's 50,000 they move by about 2%,
# and a 100-run analysis stays within its 5 s (README, Analysis).
N_BOOT = 50_000


def own_stream(seed: int, quantity: str, *samples: np.ndarray | list[float]) -> np.random.Generator:
    """The random stream of one bootstrap, drawn from the analysis seed, the name of the
    quantity and the values resampled (order aside): a configuration's interval then depends
    on its own runs and the seed only, never on which other runs or which baseline are
    analysed, nor in which order (one shared stream made it depend on all of them)."""
    digest = hashlib.sha256(quantity.encode())
    for values in samples:
        digest.update(b"|" + np.sort(np.asarray(values, dtype=np.float64)).tobytes())
    words = np.frombuffer(digest.digest(), dtype=np.uint32)
    return np.random.default_rng([seed, *words.tolist()])


def iqm(values: np.ndarray | list[float]) -> float:
    """Interquartile mean: drop floor(n/4) values from each end, average the rest.

    Same definition as ``scipy.stats.trim_mean(x, 0.25)`` (rliable's IQM); with fewer than 4
    values nothing is trimmed, so it is the plain mean.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan")
    return float(_iqm_rows(x[None, :])[0])


def _iqm_rows(samples: np.ndarray) -> np.ndarray:
    """IQM of each row of a 2-D array (one bootstrap resample per row)."""
    n = samples.shape[1]
    cut = int(0.25 * n)
    return np.sort(samples, axis=1)[:, cut:n - cut].mean(axis=1)


def _mean_rows(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1)


STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"iqm": _iqm_rows,
                                                             "mean": _mean_rows}


def bootstrap_ci(values: np.ndarray | list[float], rng: np.random.Generator,
                 statistic: str = "iqm", n_boot: int = N_BOOT,
                 confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Percentile-bootstrap CI of ``statistic`` over seeds; None with fewer than 2 values.

    Resamples seeds with replacement. With 2-4 seeds the interval is wide and only roughly 95%;
    that is the honest answer for so few seeds.
    """
    x = np.sort(np.asarray(values, dtype=float))  # sorted: the same draws whatever the runs' order
    if x.size < 2:
        return None
    resamples = x[rng.integers(0, x.size, size=(n_boot, x.size))]
    stats = STATISTICS[statistic](resamples)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def prob_improvement(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> float:
    """P(X > Y) + P(X = Y)/2 for a random seed of X against a random seed of Y.

    The Mann-Whitney U statistic divided by n*m, as in Agarwal et al. (2021) / rliable.
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(_poi_rows(a[None, :], b[None, :])[0])


def _poi_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a[:, :, None] - b[:, None, :]
    return ((diff > 0).mean(axis=(1, 2)) + 0.5 * (diff == 0).mean(axis=(1, 2)))


def prob_improvement_ci(x: np.ndarray | list[float], y: np.ndarray | list[float],
                        rng: np.random.Generator, n_boot: int = N_BOOT,
                        confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Bootstrap CI of prob_improvement, resampling seeds of each side independently.

    None unless both sides have at least 2 seeds.
    """
    a, b = np.sort(np.asarray(x, dtype=float)), np.sort(np.asarray(y, dtype=float))
    if a.size < 2 or b.size < 2:
        return None
    ra = a[rng.integers(0, a.size, size=(n_boot, a.size))]
    rb = b[rng.integers(0, b.size, size=(n_boot, b.size))]
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(_poi_rows(ra, rb), [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def mean_std(values: np.ndarray | list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof=1); std is None for a single value."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), None
    return float(x.mean()), (float(x.std(ddof=1)) if x.size > 1 else None)
