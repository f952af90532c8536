"""The sample-efficient options in real training runs: reproducible from the seed, really in
use (they change what is learned), and their state in the checkpoint. The runs of the tests
here go through train.py's job in this process (train_in_process): they are read, not the
process that made them."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers import (
    NO_EVAL,
    SAMPLE_EFFICIENT,
    compose_config,
    drop_clock,
    read_episodes,
    read_rows,
    single_run_dir,
    train_in_process,
)


def test_same_seed_same_episodes_with_every_option(smoke_sample_efficient_run: Path, tmp_path: Path) -> None:
    """Without the evaluations the shared run made: with prioritized replay, shifts and frontier
    starts drawing from the run's generators, evaluating still takes nothing from them."""
    result = train_in_process(["experiment=smoke", "seed=7", *SAMPLE_EFFICIENT, *NO_EVAL], tmp_path)
    assert result.returncode == 0, result.stderr
    assert drop_clock(read_episodes(single_run_dir(tmp_path))) == drop_clock(read_episodes(smoke_sample_efficient_run))


def test_the_options_change_learning(smoke_run: Path, smoke_sample_efficient_run: Path) -> None:
    """Guards the test above: the same seed without the options gives other losses and Q."""
    plain, efficient = read_episodes(smoke_run), read_episodes(smoke_sample_efficient_run)
    assert [r["loss"] for r in plain] != [r["loss"] for r in efficient]
    # Q of scaled rewards: about a tenth of the tutorial's at this early stage.
    q = lambda rows: max(abs(float(r["q"])) for r in rows if r["q"])  # noqa: E731
    assert q(efficient) < 0.5 * q(plain)


def test_checkpoint_holds_the_priorities_and_the_value_stream(smoke_sample_efficient_run: Path) -> None:
    payload = torch.load(smoke_sample_efficient_run / "checkpoints" / "last.pt", weights_only=True)
    replay = payload["replay"]
    stored = replay["count"]
    assert replay["priorities"].shape == (stored,) and replay["stamps"].shape == (stored,)
    assert (replay["priorities"] > 0).sum() > 0 and replay["max_priority"] >= 1.0
    # Priorities other than the initial 1.0: updates were applied from TD errors.
    assert len(set(replay["priorities"].tolist()) - {0.0, 1.0}) > 10
    assert "head.2.value.weight" in payload["agent"]["online"]


def test_frontier_episodes_begin_along_the_furthest_and_stay_out_of_the_scores(
        smoke_sample_efficient_run: Path) -> None:
    rows = read_episodes(smoke_sample_efficient_run)
    frontier = torch.load(smoke_sample_efficient_run / "checkpoints" / "last.pt", weights_only=True)["frontier"]
    assert rows[0]["start_step"] == "0" and sum(r["start_step"] != "0" for r in rows) >= 3
    # The frontier is the first episode to get furthest, kept as its whole path from the start.
    furthest = max(rows, key=lambda r: int(r["x_pos"]))
    assert frontier["x_pos"] == int(furthest["x_pos"])
    assert len(frontier["actions"]) == int(furthest["start_step"]) + int(furthest["length"])
    events = EventAccumulator(str(smoke_sample_efficient_run), size_guidance={"scalars": 0})
    events.Reload()
    started = [int(r["env_step"]) for r in rows if r["start_step"] == "0"]
    assert [e.step for e in events.Scalars("episode/x_pos")] == started
    assert [e.value for e in events.Scalars("frontier_episode/start_step")] == [
        float(r["start_step"]) for r in rows if r["start_step"] != "0"]
    # final/x_pos, the score a search maximises, averages only the episodes from the level's start.
    level_start_x = [int(r["x_pos"]) for r in rows if r["start_step"] == "0"]
    in_window = [x for step, x in zip(started, level_start_x) if step > 0.9 * started[-1]]
    assert [e.value for e in events.Scalars("final/x_pos")] == [pytest.approx(sum(in_window) / len(in_window))]


def test_death_penalty_lowers_exactly_the_stored_rewards_of_deaths(tmp_path: Path) -> None:
    """Without learning (burn-in to the end of the budget) both runs play the same random episodes; the
    replay's rewards differ by the penalty on the steps where Mario died, and nowhere else."""
    replays = []
    for penalty in (0, 50):
        result = train_in_process(["experiment=smoke", "seed=3", "trainer.total_steps=700", "agent.burnin=700",
                                   "trainer.eval_every=null",
                                   f"agent.death_penalty={penalty}", f"hydra.run.dir={tmp_path / str(penalty)}"],
                                  tmp_path)
        assert result.returncode == 0, result.stderr
        replays.append(torch.load(tmp_path / str(penalty) / "checkpoints" / "last.pt", weights_only=True)["replay"])
    plain, penalised = replays
    assert torch.equal(plain["dones"], penalised["dones"]) and plain["dones"].sum() >= 2
    difference = plain["rewards"] - penalised["rewards"]
    assert torch.equal(difference, torch.where(plain["dones"], 50.0, 0.0))
    # episodes.csv keeps the env's own rewards.
    assert drop_clock(read_episodes(tmp_path / "0")) == drop_clock(read_episodes(tmp_path / "50"))


def test_a_run_continued_past_its_budget_with_its_horizon_is_the_longer_run(tmp_path: Path) -> None:
    """How results/quick-1-1's runs became flag runs: a finished run rerun in its folder with a
    larger trainer.total_steps and trainer.schedule_horizon at its old budget goes on, step for
    step, as a run made with the larger budget and that horizon from the start. Only the run
    folders are read, so train.py's job runs in this process (train_in_process)."""
    from mario_exp.agent.ddqn import epsilon_at
    from mario_exp.rundir.contract import EVAL_COLUMNS, EVALS_CSV

    # Linear exploration and prioritized replay: both schedules follow the horizon. Evaluations
    # and checkpoints at multiples of the first budget, as a longer run makes them there too.
    recipe = ["experiment=smoke", "seed=5", *SAMPLE_EFFICIENT[:-1], "agent.epsilon.schedule=linear",
              "agent.epsilon.fraction=0.5", "trainer.eval_every=150", "trainer.checkpoint_every=150"]
    longer = [*recipe, "trainer.total_steps=300", "trainer.schedule_horizon=150"]
    continued = tmp_path / "continued"
    for args in ([*recipe, "trainer.total_steps=150"], longer):
        result = train_in_process([*args, f"hydra.run.dir={continued}"], tmp_path)
        assert result.returncode == 0, result.stderr
    fresh = tmp_path / "fresh"
    result = train_in_process([*longer, f"hydra.run.dir={fresh}"], tmp_path)
    assert result.returncode == 0, result.stderr

    episodes = read_episodes(fresh)
    assert int(episodes[-1]["env_step"]) > 150 and drop_clock(read_episodes(continued)) == drop_clock(episodes)
    evals = [drop_clock(read_rows(run / EVALS_CSV, EVAL_COLUMNS)) for run in (continued, fresh)]
    assert evals[0] == evals[1] and {r["env_step"] for r in evals[1]} == {"150", "300"}
    # The horizon is in use: each episode's last epsilon is the 150-step schedule's, not the 300's.
    schedule = compose_config(longer).agent.epsilon
    assert [float(r["epsilon"]) for r in episodes] == pytest.approx(
        [epsilon_at(int(r["env_step"]), schedule, 150) for r in episodes])
    assert any(epsilon_at(int(r["env_step"]), schedule, 150) != epsilon_at(int(r["env_step"]), schedule, 300)
               for r in episodes)
