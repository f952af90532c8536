"""IQM, bootstrap CIs and probability of improvement against hand-computed values."""
import numpy as np
import pytest

from mario_exp.analysis.stats import bootstrap_ci, iqm, mean_std, prob_improvement, prob_improvement_ci


@pytest.mark.parametrize("values, expected", [
    ([1, 2, 3, 4, 5, 6, 7, 8], 4.5),   # drop 2 each end: mean(3, 4, 5, 6)
    ([10, 1, 2, 3], 2.5),              # sorted 1 2 3 10, drop 1 each end: mean(2, 3)
    ([0, 0, 0, 0, 100], 0.0),          # drop floor(5/4)=1 each end: the outlier goes
    ([1, 2, 9], 4.0),                  # fewer than 4 values: plain mean
    ([7], 7.0),
])
def test_iqm_hand_computed(values, expected):
    assert iqm(values) == pytest.approx(expected)


def test_iqm_empty_is_nan():
    assert np.isnan(iqm([]))


def test_bootstrap_ci_two_values_is_exact():
    # Resampling [0, 10] gives means 0, 5, 10 with probabilities 1/4, 1/2, 1/4, so the 2.5% and
    # 97.5% quantiles are exactly the two values.
    lo, hi = bootstrap_ci([0.0, 10.0], np.random.default_rng(0), statistic="mean")
    assert (lo, hi) == (0.0, 10.0)


def test_bootstrap_ci_brackets_iqm_inside_data_range():
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    lo, hi = bootstrap_ci(values, np.random.default_rng(1), statistic="iqm", n_boot=4000)
    assert values.min() <= lo < iqm(values) < hi <= values.max()


def test_bootstrap_ci_is_reproducible_with_fixed_rng():
    values = [5.0, 7.0, 1.0, 3.0]
    a = bootstrap_ci(values, np.random.default_rng(42))
    b = bootstrap_ci(values, np.random.default_rng(42))
    assert a == b


def test_bootstrap_ci_constant_values_has_zero_width():
    assert bootstrap_ci([4.0, 4.0, 4.0], np.random.default_rng(0)) == (4.0, 4.0)


def test_bootstrap_ci_refuses_single_seed():
    assert bootstrap_ci([3.0], np.random.default_rng(0)) is None


@pytest.mark.parametrize("x, y, expected", [
    ([3, 4], [1, 2], 1.0),
    ([1, 2], [3, 4], 0.0),
    ([1, 3], [2, 2], 0.5),         # 3 beats both 2s, 1 beats neither: 2 of 4 pairs
    ([2], [2], 0.5),               # a tie counts half
    ([1, 2, 3], [2], 0.5),         # (0 + 0.5 + 1) / 3
    ([5, 1], [3, 3, 0], 4 / 6),    # 5 beats all three, 1 beats the 0
])
def test_prob_improvement_hand_computed(x, y, expected):
    assert prob_improvement(x, y) == pytest.approx(expected)


def test_prob_improvement_ci_brackets_estimate():
    x, y = [5.0, 6.0, 7.0, 2.0], [1.0, 4.0, 3.0, 6.5]
    lo, hi = prob_improvement_ci(x, y, np.random.default_rng(0))
    assert 0.0 <= lo <= prob_improvement(x, y) <= hi <= 1.0
    assert lo < hi


def test_prob_improvement_ci_needs_two_seeds_each_side():
    assert prob_improvement_ci([1.0], [0.0, 2.0], np.random.default_rng(0)) is None
    assert prob_improvement_ci([1.0, 2.0], [0.0], np.random.default_rng(0)) is None


def test_mean_std_uses_sample_std_and_none_for_one_seed():
    mean, std = mean_std([2.0, 4.0, 6.0])
    assert (mean, std) == (4.0, 2.0)
    assert mean_std([5.0]) == (5.0, None)
