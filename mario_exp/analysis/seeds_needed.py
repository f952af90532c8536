"""How many seeds an arm a comparison needs, estimated from the seeds it has.

The question a user asks after a 3-seed comparison is "would more seeds settle it, and how
many?". The answer here is a power estimate by resampling the observed per-seed final scores:

1. Each arm's seeds stand for its population. A future seed of the arm is one of its observed
   scores, drawn at random, plus normal noise (a smoothed bootstrap: Silverman's bandwidth from
   the arms' pooled within-arm spread, shrunk so the draws keep the arm's mean and variance).
   Without the noise, 3 seeds per arm that happen not to overlap would look separable at any
   seed count, since every resample of them is separated too.
2. A simulated study of n seeds an arm draws n seeds of each arm from those populations and
   computes its P(improvement) percentile-bootstrap interval, as analyze.py does for a real one.
3. The power at n is the share of simulated studies whose interval excludes 0.5 on the side of
   the observed effect. Seeds needed is the smallest n on SEED_GRID with at least the target
   power (80% by default), or none up to MAX_SEEDS.

It is an estimate "at the observed effect": with few seeds the observed effect itself is
uncertain, so the number is a planning figure, not a guarantee. A difference of zero (P exactly
0.5) is never detected, and an arm with one seed, or arms with no spread at all, give no estimate
and say why instead of a number.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mario_exp.analysis.stats import CONFIDENCE, prob_improvement

POWER = 0.8
MAX_SEEDS = 100
# The seed counts tried, in increasing order. Not below 4: with 2 or 3 seeds an arm the
# percentile interval of P(improvement) excludes 0.5 in about 32% and 19% of comparisons of two
# identical arms, against 9-10% at 4 and 5 and 6-7% from 8 (python -m benchmarks.interval_errors),
# so "2 seeds suffice" would be advice to trust a coin.
SEED_GRID = (4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, MAX_SEEDS)
# Simulated studies per seed count, and bootstrap resamples of each study's interval. At 300
# the power estimate's standard error is about 0.023 near 0.8; a study's interval endpoints
# from 300 resamples move by a few percent of its width, which shifts power less than that.
N_STUDIES = 300
N_INNER = 300
# Resample cells (studies x resamples x seeds) computed at once: about 16 MB an array.
CHUNK_CELLS = 2_000_000

# Why there is no estimate: the table cell's phrase (analyze.py adds a warning line for each).
TOO_FEW_SEEDS = "needs 2+ seeds an arm"
NO_SPREAD = "no spread within arms"
NO_EFFECT = "never (P = 0.50)"

# Draws `count` seeds for each of `studies` simulated studies: an array (studies, count).
Sampler = Callable[[np.random.Generator, int, int], np.ndarray]


@dataclass(frozen=True)
class SeedsNeeded:
    """The estimate for one pair of arms: a seed count, or why there is none."""

    seeds: int | None      # seeds an arm for the target power; None: see `reason`
    reason: str            # "" when `seeds` is set; else a phrase for the table cell
    power_now: float       # estimated power at the study's own seeds an arm (nan: no estimate)

    def cell(self) -> str:
        """The table's text: '12', '> 100', or the reason."""
        return str(self.seeds) if self.seeds is not None else self.reason


def smoothed_sampler(scores: np.ndarray, spread: float) -> Sampler:
    """Future seeds of an arm: its observed scores resampled, blurred by a normal kernel of
    Silverman's bandwidth for `spread` (the pooled within-arm std), rescaled so a draw keeps
    the arm's sample mean and variance (Efron's shrunk smoothed bootstrap)."""
    x = np.asarray(scores, dtype=float)
    mean, var = x.mean(), x.var()
    bandwidth = 1.06 * spread * x.size ** -0.2
    shrink = 1.0 / np.sqrt(1.0 + bandwidth ** 2 / var) if var > 0 else 1.0

    def draw(rng: np.random.Generator, studies: int, count: int) -> np.ndarray:
        picked = x[rng.integers(0, x.size, size=(studies, count))]
        noisy = picked + bandwidth * rng.standard_normal((studies, count))
        return mean + (noisy - mean) * shrink

    return draw


def _resample_counts(rng: np.random.Generator, rows: int, count: int) -> np.ndarray:
    """How often each of `count` seeds is drawn in a bootstrap resample, for `rows` resamples:
    an int array (rows, count) whose rows sum to `count`."""
    picks = rng.integers(0, count, size=(rows, count)) + count * np.arange(rows)[:, None]
    return np.bincount(picks.ravel(), minlength=rows * count).reshape(rows, count)


def resampled_prob_improvement(a: np.ndarray, b: np.ndarray, wa: np.ndarray,
                               wb: np.ndarray) -> np.ndarray:
    """P(A > B) of bootstrap resamples of studies: `a` and `b` (studies, n) are each study's
    seeds, `wa` and `wb` (studies, resamples, n) how often each seed is drawn in a resample.

    A resample's P(A > B) is sum_i wa_i * (resampled b below a_i) / n^2: with b sorted, that
    count is the cumulative count of wb up to a_i's place among the b's, so a resample costs
    O(n), not O(n^2). For continuous draws no a equals a b, so ties need no half counts.
    """
    studies, n = a.shape
    order = np.argsort(b, axis=1)
    b = np.take_along_axis(b, order, axis=1)
    wb = np.take_along_axis(wb, order[:, None, :], axis=2)
    below = (a[:, :, None] > b[:, None, :]).sum(axis=2)                  # (studies, n)
    cum_b = np.concatenate([np.zeros(wb.shape[:2] + (1,), dtype=wb.dtype),
                            wb.cumsum(axis=2)], axis=2)                   # (studies, inner, n+1)
    beaten = np.take_along_axis(cum_b, np.broadcast_to(below[:, None, :], wa.shape), axis=2)
    return (wa * beaten).sum(axis=2) / (n * n)


def _study_intervals_exclude(a: np.ndarray, b: np.ndarray, side: int, inner: int,
                             rng: np.random.Generator, confidence: float) -> np.ndarray:
    """For each simulated study (a row of `a` and of `b`), whether its P(A > B)
    percentile-bootstrap interval of `inner` resamples lies on `side` of 0.5."""
    studies, n = a.shape
    wa = _resample_counts(rng, studies * inner, n).reshape(studies, inner, n)
    wb = _resample_counts(rng, studies * inner, n).reshape(studies, inner, n)
    p = resampled_prob_improvement(a, b, wa, wb)                          # (studies, inner)
    alpha = (1.0 - confidence) / 2.0
    if side > 0:
        return np.quantile(p, alpha, axis=1) > 0.5
    return np.quantile(p, 1.0 - alpha, axis=1) < 0.5


def power_at(count: int, draw_a: Sampler, draw_b: Sampler, side: int,
             rng: np.random.Generator, studies: int = N_STUDIES, inner: int = N_INNER,
             confidence: float = CONFIDENCE) -> float:
    """Share of simulated studies of `count` seeds an arm whose P(A > B) percentile-bootstrap
    interval lies above 0.5 (side +1) or below it (side -1). Studies go in chunks, so memory
    stays near CHUNK_CELLS numbers whatever the count."""
    a, b = draw_a(rng, studies, count), draw_b(rng, studies, count)
    step = max(1, CHUNK_CELLS // (inner * count))
    hits = sum(int(_study_intervals_exclude(a[i:i + step], b[i:i + step], side, inner, rng,
                                            confidence).sum())
               for i in range(0, studies, step))
    return hits / studies


def smallest_count(power: Callable[[int], float], target: float,
                   grid: tuple[int, ...] = SEED_GRID) -> int | None:
    """The smallest seed count on `grid` whose power reaches `target`; None when none does.

    A scan from the smallest, not a bisection: at 2 to 5 seeds a percentile-bootstrap interval
    of P(improvement) takes few distinct values, and its power can dip from one count to the
    next (0.79 at 3 seeds, 0.73 at 4, 0.87 at 5 for normal arms 2 std apart).
    """
    return next((count for count in grid if power(count) >= target), None)


def seeds_needed(candidate: np.ndarray | list[float], baseline: np.ndarray | list[float],
                 rng: np.random.Generator, target: float = POWER) -> SeedsNeeded:
    """Seeds an arm for the P(candidate > baseline) interval to exclude 0.5 with `target`
    power, at the effect the observed seeds show (the module's docstring has the method)."""
    a, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    if min(a.size, b.size) < 2:
        return SeedsNeeded(None, TOO_FEW_SEEDS, float("nan"))
    spread = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1))
                     / (a.size + b.size - 2))
    if spread == 0:
        return SeedsNeeded(None, NO_SPREAD, float("nan"))
    observed = prob_improvement(a, b)
    if observed == 0.5:
        return SeedsNeeded(None, NO_EFFECT, 0.0)
    side = 1 if observed > 0.5 else -1
    draw_a, draw_b = smoothed_sampler(a, spread), smoothed_sampler(b, spread)
    cache: dict[int, float] = {}

    def power(count: int) -> float:
        if count not in cache:
            cache[count] = power_at(count, draw_a, draw_b, side, rng)
        return cache[count]

    now = power(min(a.size, b.size))
    found = smallest_count(power, target)
    if found is None:
        return SeedsNeeded(None, f"> {MAX_SEEDS}", now)
    return SeedsNeeded(found, "", now)
