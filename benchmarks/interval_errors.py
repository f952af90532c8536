"""How often analyze.py's P(improvement) interval excludes 0.5 between two identical arms.

    python -m benchmarks.interval_errors [--studies 3000]

Each simulated comparison draws the same number of seeds for both arms from one normal
distribution (no effect) and computes the 95% percentile-bootstrap interval of P(X > Y) the way
the analysis does; a nominal 95% interval should exclude 0.5 in 5% of them. Prints one
`false_positive_rate_<n>_seeds value` line per seed count. The seeds-needed estimate starts at
the smallest count where this rate stays near 10% (mario_exp/analysis/seeds_needed.py).
"""
from __future__ import annotations

import argparse

import numpy as np

from mario_exp.analysis.seeds_needed import power_at

SEED_COUNTS = (2, 3, 4, 5, 8, 10, 20)


def _same_arm(rng: np.random.Generator, studies: int, count: int) -> np.ndarray:
    return rng.standard_normal((studies, count))


def false_positive_rate(count: int, studies: int, seed: int) -> float:
    """Share of no-effect comparisons of `count` seeds an arm whose interval excludes 0.5,
    on either side."""
    rng = np.random.default_rng(seed)
    return (power_at(count, _same_arm, _same_arm, +1, rng, studies=studies)
            + power_at(count, _same_arm, _same_arm, -1, rng, studies=studies))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=3000, help="comparisons per seed count and side")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for count in SEED_COUNTS:
        rate = false_positive_rate(count, args.studies, args.seed + count)
        print(f"false_positive_rate_{count}_seeds {rate:.3f}")


if __name__ == "__main__":
    main()
