"""The seeds-needed estimate on synthetic seeds whose effect is known."""
import numpy as np
import pytest

from mario_exp.analysis.seeds_needed import (
    MAX_SEEDS,
    POWER,
    SEED_GRID,
    power_at,
    resampled_prob_improvement,
    seeds_needed,
    smallest_count,
)
from mario_exp.analysis.stats import prob_improvement


def _normal(mean: float):
    return lambda rng, studies, count: rng.normal(mean, 1.0, (studies, count))


def _arms(effect: float, seeds: int, rng_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Final scores of two arms whose populations are normal, `effect` std apart."""
    rng = np.random.default_rng(rng_seed)
    return rng.normal(effect, 1.0, seeds), rng.normal(0.0, 1.0, seeds)


def test_resampled_prob_improvement_equals_the_pairwise_count():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    wa = rng.multinomial(6, [1 / 6] * 6, size=(4, 5))
    wb = rng.multinomial(6, [1 / 6] * 6, size=(4, 5))
    fast = resampled_prob_improvement(a, b, wa, wb)
    for s in range(4):
        for r in range(5):
            resample_a, resample_b = np.repeat(a[s], wa[s, r]), np.repeat(b[s], wb[s, r])
            assert fast[s, r] == pytest.approx(prob_improvement(resample_a, resample_b))


def test_a_large_effect_needs_the_fewest_seeds():
    a, b = _arms(effect=4.0, seeds=5, rng_seed=0)
    assert seeds_needed(a, b, np.random.default_rng(0)).seeds == SEED_GRID[0]


def test_a_smaller_effect_needs_more_seeds():
    counts = [seeds_needed(*_arms(effect, 30, rng_seed=1), np.random.default_rng(0)).seeds
              for effect in (2.0, 1.0, 0.5)]
    assert all(c is not None for c in counts)
    assert counts[0] < counts[1] < counts[2]


def test_identical_arms_are_never_separated():
    a = np.array([1200.0, 1500.0, 1900.0, 2100.0, 2500.0])
    result = seeds_needed(a, a.copy(), np.random.default_rng(0))
    assert result.seeds is None and result.cell() == "never (P = 0.50)"


def test_no_effect_is_not_reached_within_the_cap():
    # 80 draws of one distribution dealt alternately to the two arms: each seed of one arm has
    # its twin just above it in the other, P(A > B) = 0.49, and the seeds a study would need to
    # separate the arms at that lie beyond the cap.
    scores = np.sort(np.random.default_rng(7).normal(size=80))
    a, b = scores[0::2], scores[1::2]
    assert prob_improvement(a, b) == pytest.approx(0.4875)
    result = seeds_needed(a, b, np.random.default_rng(0))
    assert result.seeds is None and result.cell() == f"> {MAX_SEEDS}"
    assert result.power_now < 0.2


def test_a_worse_candidate_is_found_on_the_other_side():
    a, b = _arms(effect=-4.0, seeds=5, rng_seed=0)
    assert prob_improvement(a, b) < 0.5
    assert seeds_needed(a, b, np.random.default_rng(0)).seeds == SEED_GRID[0]


def test_estimate_from_many_seeds_matches_the_true_populations():
    # With 300 observed seeds an arm, the resampled populations are close to the true normals,
    # so the estimate is the count computed from the true populations, within one grid step.
    rng = np.random.default_rng(11)
    truth = smallest_count(lambda n: power_at(n, _normal(1.0), _normal(0.0), +1, rng), POWER)
    estimate = seeds_needed(*_arms(effect=1.0, seeds=300, rng_seed=2), np.random.default_rng(0))
    assert truth is not None and estimate.seeds is not None
    assert abs(SEED_GRID.index(estimate.seeds) - SEED_GRID.index(truth)) <= 1


def test_power_at_no_effect_is_near_the_intervals_error_rate():
    # Identical populations: a 95% interval excludes 0.5 on one given side rarely.
    rate = power_at(20, _normal(0.0), _normal(0.0), +1, np.random.default_rng(4), studies=2000)
    assert rate < 0.06


def test_one_seed_an_arm_gives_no_estimate():
    result = seeds_needed([1500.0], [900.0, 1100.0], np.random.default_rng(0))
    assert result.seeds is None and result.cell() == "needs 2+ seeds an arm"
    assert np.isnan(result.power_now)


def test_identical_scores_give_no_estimate():
    for a, b in (([3161.0] * 3, [3161.0] * 3), ([3161.0] * 3, [700.0] * 3)):
        result = seeds_needed(a, b, np.random.default_rng(0))
        assert result.seeds is None and result.cell() == "no spread within arms"


def test_the_estimate_is_reproducible():
    a, b = _arms(effect=2.0, seeds=5, rng_seed=5)
    assert seeds_needed(a, b, np.random.default_rng(9)) == seeds_needed(a, b, np.random.default_rng(9))


def test_smallest_count_scans_from_the_smallest():
    powers = {4: 0.81, 5: 0.7, 6: 0.9}
    assert smallest_count(lambda n: powers.get(n, 1.0), 0.8) == 4
    assert smallest_count(lambda n: 0.1, 0.8) is None
