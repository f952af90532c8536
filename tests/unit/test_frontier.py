"""Frontier starts (env.frontier): which episode is the frontier, where along it the next
episode begins, and that the scores count only the episodes that began at the level's start."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mario_exp.analysis.episodes import read_episodes_csv
from mario_exp.config.schema import FrontierConfig
from mario_exp.rundir.contract import EPISODE_COLUMNS, EPISODES_CSV
from mario_exp.rundir.final_window import final_metrics
from mario_exp.rundir.logbook import resume_logs
from mario_exp.training.frontier import Frontier


def test_the_frontier_is_the_furthest_episode_and_a_tie_keeps_the_earlier() -> None:
    frontier = Frontier(FrontierConfig(fraction=1.0))
    frontier.episode_ended([0, 1, 1], x_pos=300)
    frontier.episode_ended([1, 1, 1, 1], x_pos=250)
    assert (frontier.actions, frontier.x_pos) == ([0, 1, 1], 300)
    frontier.episode_ended([1, 0, 0], x_pos=300)
    assert frontier.actions == [0, 1, 1]
    frontier.episode_ended([1, 0, 0, 1], x_pos=301)
    assert (frontier.actions, frontier.x_pos) == ([1, 0, 0, 1], 301)


def test_no_frontier_or_fraction_zero_draws_nothing() -> None:
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    assert Frontier(FrontierConfig(fraction=1.0)).next_start(rng) == []   # no episode yet
    off = Frontier(FrontierConfig(fraction=0.0))
    off.episode_ended([0, 1, 1], 300)
    assert off.next_start(rng) == []
    assert rng.bit_generator.state == before   # runs without the option keep their random stream


@pytest.mark.parametrize("window, low", [(None, 1), (5, 15), (100, 1)])
def test_a_start_is_a_proper_prefix_cut_within_the_window(window: int | None, low: int) -> None:
    frontier = Frontier(FrontierConfig(fraction=1.0, window=window))
    path = list(np.arange(20) % 2)
    frontier.episode_ended(path, 500)
    rng = np.random.default_rng(1)
    starts = [frontier.next_start(rng) for _ in range(2000)]
    # Never the level's start (0) nor the whole episode (20), which would replay into its end.
    assert {len(start) for start in starts} == set(range(low, 20))
    assert all(start == path[:len(start)] for start in starts)


def test_the_share_of_frontier_starts_is_the_fraction() -> None:
    frontier = Frontier(FrontierConfig(fraction=0.3))
    frontier.episode_ended([1] * 50, 700)
    rng = np.random.default_rng(2)
    share = np.mean([bool(frontier.next_start(rng)) for _ in range(10000)])
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 10000)


def test_a_one_step_frontier_starts_at_the_level_start() -> None:
    frontier = Frontier(FrontierConfig(fraction=1.0))
    frontier.episode_ended([1], 45)
    assert frontier.next_start(np.random.default_rng(3)) == []


def test_state_dict_round_trip() -> None:
    frontier = Frontier(FrontierConfig(fraction=0.5, window=3))
    frontier.episode_ended([0, 1, 0, 1], 321)
    restored = Frontier(FrontierConfig(fraction=0.5, window=3))
    restored.load_state_dict(frontier.state_dict())
    assert (restored.actions, restored.x_pos) == ([0, 1, 0, 1], 321)


def _row(env_step: int, episode: int, x_pos: int, flag: int, start_step: int) -> str:
    return f"{env_step},{episode},{x_pos * 2.0},{x_pos},50,{flag},0.1,0.5,1.0,0.00025,{env_step / 10},0,{start_step}"


def test_scores_count_only_the_episodes_that_began_at_the_level_start(tmp_path: Path) -> None:
    """A frontier episode that reaches the flag from x 3,000 says nothing of the policy from the
    start: the trainer's final metrics and the analysis both leave it out."""
    csv = tmp_path / EPISODES_CSV
    rows = [_row(100, 1, 400, 0, 0), _row(900, 2, 600, 0, 0), _row(950, 3, 3161, 1, 250), _row(1000, 4, 800, 0, 0)]
    csv.write_text(",".join(EPISODE_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    metrics = final_metrics(csv)   # the window: episodes ending after step 900 of the level-start ones
    assert metrics["final/x_pos"] == 800 and metrics["final/flag_rate"] == 0
    read = read_episodes_csv(csv)
    assert read.table["x_pos"].tolist() == [400, 600, 800] and read.bad_lines == 0


def test_a_folder_from_before_the_frontier_reads_and_resumes(tmp_path: Path) -> None:
    """episodes.csv without start_step (every run before env.frontier): the analysis reads its
    every episode, and a resume rewrites it with start_step 0, so that the rows the resumed run
    appends sit under a header that names their every field."""
    old_columns = [c for c in EPISODE_COLUMNS if c != "start_step"]
    rows = [_row(100, 1, 400, 0, 0).rsplit(",", 1)[0], _row(300, 2, 700, 0, 0).rsplit(",", 1)[0]]
    (tmp_path / EPISODES_CSV).write_text(",".join(old_columns) + "\n" + "\n".join(rows) + "\n")
    assert read_episodes_csv(tmp_path / EPISODES_CSV).table["x_pos"].tolist() == [400, 700]
    episodes_text, _ = resume_logs(tmp_path, 300, 2)
    assert episodes_text.splitlines() == [",".join(EPISODE_COLUMNS), rows[0] + ",0", rows[1] + ",0"]
