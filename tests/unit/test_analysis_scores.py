"""Per-run scores and curve helpers against hand-computed values."""
import numpy as np
import pandas as pd
import pytest

from mario_exp.analysis.curves import band_frame, common_grid, interpolate, mean_band, smooth
from mario_exp.analysis.episodes import COLUMNS
from mario_exp.analysis.scores import final_window, score_run, steps_to_threshold, x_pos_auc


def episodes(**cols):
    n = len(cols["env_step"])
    base = {c: np.full(n, np.nan) for c in COLUMNS}
    base.update(episode=np.arange(1, n + 1), reward=np.zeros(n), flag=np.zeros(n),
                epsilon=np.ones(n), wall_time=np.arange(1, n + 1, dtype=float))
    base.update({k: np.asarray(v, dtype=float) for k, v in cols.items()})
    return pd.DataFrame(base)[list(COLUMNS)]


def test_final_window_is_last_fraction_of_env_steps():
    steps = np.arange(100, 1001, 100, dtype=float)  # 100 .. 1000
    assert final_window(steps, 0.1).tolist() == [False] * 9 + [True]  # only > 900
    assert np.flatnonzero(final_window(steps, 0.25)).tolist() == [7, 8, 9]  # > 750


def test_final_score_is_mean_over_final_window():
    steps = np.arange(100, 1001, 100)
    table = episodes(env_step=steps, x_pos=steps / 10, reward=steps / 100)
    s = score_run(table, final_frac=0.25, threshold=1e9, window=1)
    assert s.final_x_pos == pytest.approx((80 + 90 + 100) / 3)
    assert s.final_reward == pytest.approx((8 + 9 + 10) / 3)
    assert s.last_episode_step == 1000 and s.episodes == 10


def test_auc_weights_each_episode_by_its_env_steps():
    # widths 100, 200, 100 -> (10*100 + 20*200 + 40*100) / 400
    assert x_pos_auc(np.array([100.0, 300.0, 400.0]), np.array([10.0, 20.0, 40.0])) == 22.5


def test_smooth_is_trailing_mean():
    assert smooth(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    assert smooth(np.array([1.0, 5.0]), 1).tolist() == [1.0, 5.0]


def test_steps_to_threshold_first_crossing_or_inf():
    steps = np.array([10.0, 20.0, 30.0, 40.0])
    x = np.array([10.0, 50.0, 30.0, 60.0])
    assert steps_to_threshold(steps, x, 50) == 20.0
    smoothed = smooth(x, 2)  # 10, 30, 40, 45
    assert steps_to_threshold(steps, smoothed, 40) == 30.0
    assert steps_to_threshold(steps, smoothed, 50) == float("inf")


def test_score_run_flags_epsilon_loss_and_speed():
    table = episodes(env_step=[100, 200, 300, 400], x_pos=[40, 3161, 500, 700],
                     flag=[0, 1, 0, 0], epsilon=[1.0, 0.6, 0.3, 0.2],
                     loss=[np.nan, np.nan, 2.0, 4.0], q=[np.nan, 1.0, 3.0, 5.0],
                     wall_time=[1, 2, 3, 8])
    s = score_run(table, final_frac=0.5, threshold=1e9, window=1)  # window: steps > 200
    assert s.best_x_pos == 3161 and s.ever_flag and s.final_flag_rate == 0.0
    assert s.final_loss == 3.0 and s.final_q == 4.0
    assert s.final_epsilon == 0.2 and s.min_epsilon == 0.2
    assert s.wall_time == 8.0 and s.steps_per_second == 50.0


def test_score_run_loss_empty_during_burn_in_is_nan():
    table = episodes(env_step=[10, 20], x_pos=[40, 50])
    s = score_run(table)
    assert np.isnan(s.final_loss) and np.isnan(s.final_q)


def test_score_run_without_episodes_is_none():
    assert score_run(episodes(env_step=[], x_pos=[])) is None


def test_interpolate_never_extrapolates():
    out = interpolate(np.array([10.0, 20.0]), np.array([0.0, 10.0]),
                      np.array([0.0, 10.0, 15.0, 20.0, 25.0]))
    assert np.isnan(out[0]) and np.isnan(out[4])
    assert out[1:4].tolist() == [0.0, 5.0, 10.0]


def test_common_grid_spans_zero_to_end():
    assert common_grid(100, 5).tolist() == [0.0, 25.0, 50.0, 75.0, 100.0]


def test_mean_band_uses_only_covering_runs():
    matrix = np.array([[1.0, 2.0, np.nan],
                       [3.0, 4.0, 5.0]])
    mean, lo, hi, n = mean_band(matrix, np.random.default_rng(0))
    assert mean.tolist() == [2.0, 3.0, 5.0]
    assert n.tolist() == [2, 2, 1]
    # Two runs: resampled means are a, (a+b)/2, b, so the 95% band is exactly [a, b].
    assert (lo[0], hi[0]) == (1.0, 3.0) and (lo[1], hi[1]) == (2.0, 4.0)
    assert np.isnan(lo[2]) and np.isnan(hi[2])  # one run: no interval


def test_band_frame_stops_where_runs_end():
    grid = common_grid(300, 4)  # 0, 100, 200, 300
    runs = [(np.array([100.0, 300.0]), np.array([1.0, 3.0])),
            (np.array([100.0, 200.0]), np.array([5.0, 7.0]))]
    frame = band_frame({"a": runs}, grid, seed=0)
    assert frame["x"].tolist() == [100.0, 200.0, 300.0]  # nothing at 0: no run has data there
    assert frame["n"].tolist() == [2, 2, 1]
    # at 200 the first run is interpolated (2.0); at 300 only the longer run counts
    assert frame["mean"].tolist() == [3.0, 4.5, 3.0]
    assert (frame["n_runs"] == 2).all()
