"""agent.async_update: an update runs while the next learn_every - 1 steps are played, those
steps acting on the weights from before it; the tutorial's order otherwise. Checked on the
real emulator by stepping a Trainer and comparing the acting weights with the learner's."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mario_exp.rundir.logbook import Logbook
from mario_exp.training.trainer import Trainer
from tests.helpers import (
    NO_EVAL,
    compose_config,
    drop_clock,
    made_once,
    read_episodes,
    read_scalars,
    single_run_dir,
    train_in_process,
)

# Greedy and fast-changing: the acting weights show in the episodes. Every run here is compared by
# its episodes, weights and logged scalars only, so none evaluates.
SMOKE_GREEDY = ["experiment=smoke", "seed=7", "agent.epsilon.start=0.0", "agent.epsilon.min=0.0",
                "agent.lr=0.01", *NO_EVAL]


def async_and_sync_runs(args: list[str], tmp_path: Path) -> list[Path]:
    """The run folders of `train.py ARGS` with agent.async_update=true, then false. Run in this
    process: what is compared is what the runs wrote, not how a process starts."""
    runs = []
    for setting in ("true", "false"):
        cwd = tmp_path / setting
        cwd.mkdir()
        result = train_in_process([*args, f"agent.async_update={setting}"], cwd)
        assert result.returncode == 0, result.stderr
        runs.append(single_run_dir(cwd))
    return runs


@pytest.fixture(scope="session")
def greedy_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """SMOKE_GREEDY with agent.async_update=true (the default), then false; read only."""
    def make(folder: Path) -> Path:
        async_and_sync_runs(SMOKE_GREEDY, folder)
        return folder
    folder = made_once(tmp_path_factory, "greedy_runs", make)
    return [single_run_dir(folder / setting) for setting in ("true", "false")]


def last_agent(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["agent"]


def weights(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture
def trainer(tmp_path: Path, request: pytest.FixtureRequest):
    config = compose_config(["experiment=smoke", f"agent.async_update={request.param}",
                             "trainer.env_worker=false", "trainer.eval_every=null"])
    trainer = Trainer(config, tmp_path, resume=None)
    logbook = Logbook(tmp_path, config.trainer.total_steps, None, trainer.agent.describe_learner())
    yield trainer, logbook
    trainer.close()
    logbook.close()


def step_to(trainer: Trainer, logbook: Logbook, step: int) -> None:
    while trainer.loop.step < step:
        trainer._step(logbook)


@pytest.mark.parametrize("trainer", [True], indirect=True)
def test_steps_between_updates_act_on_the_weights_before_the_last_update(trainer) -> None:
    trainer, logbook = trainer
    agent = trainer.agent
    step_to(trainer, logbook, 101)                   # burn-in 100: the first update is at step 102
    assert agent.learn_steps == 0 and same(weights(agent.actor), weights(agent.online))
    before = weights(agent.online)
    step_to(trainer, logbook, 102)                   # submits update 102 and moves on
    trainer._wait_for_updates()
    after_102 = weights(agent.online)
    assert agent.learn_steps == 1 and not same(after_102, before)
    step_to(trainer, logbook, 104)                   # steps 103 and 104 act without update 102
    assert same(weights(agent.actor), before)
    step_to(trainer, logbook, 105)                   # step 105 learns: it first takes update 102
    assert same(weights(agent.actor), after_102)
    trainer._wait_for_updates()
    assert agent.learn_steps == 2 and not same(weights(agent.online), after_102)


@pytest.mark.parametrize("trainer", [False], indirect=True)
def test_without_async_updates_every_step_acts_on_the_newest_weights(trainer) -> None:
    trainer, logbook = trainer
    assert trainer.agent.actor is trainer.agent.online
    step_to(trainer, logbook, 102)
    assert not trainer.learner.busy and trainer.agent.learn_steps == 1   # done before step 103 acts


def test_with_an_update_every_step_async_changes_nothing_but_when_losses_are_logged(tmp_path: Path) -> None:
    """learn_every=1 leaves no step between updates, so no action comes from older weights
    (at 250 steps: 150 updates, each one a chance for a lag to show)."""
    runs = async_and_sync_runs([*SMOKE_GREEDY, "agent.learn_every=1", "trainer.total_steps=250"], tmp_path)
    played = [[{k: v for k, v in row.items() if k not in ("loss", "q", "wall_time")}
               for row in read_episodes(run)] for run in runs]
    assert played[0] and played[0] == played[1]
    online = [last_agent(run)["online"] for run in runs]
    assert all(torch.equal(online[0][name], online[1][name]) for name in online[0])


def test_with_steps_between_updates_async_acts_on_other_weights(greedy_runs: list[Path]) -> None:
    """The same run with learn_every=3 plays other episodes: the lag is real, not a no-op."""
    agents = [last_agent(run) for run in greedy_runs]
    assert agents[0]["learn_steps"] == agents[1]["learn_steps"]
    assert any(not torch.equal(agents[0]["online"][name], agents[1]["online"][name])
               for name in agents[0]["online"])


def test_a_run_continued_between_updates_acts_and_logs_as_one_never_stopped(greedy_runs: list[Path],
                                                                           tmp_path: Path) -> None:
    """Stopped at step 199, between update 198 and the next: the checkpoint keeps the acting
    weights from before update 198 and its loss, not yet logged, so going on to step 400
    gives the episodes (losses included) and the weights of an uninterrupted greedy run."""
    whole, split = greedy_runs[0], tmp_path / "split"   # whole: async updates, as here
    for budget in (199, 400):
        result = train_in_process([*SMOKE_GREEDY, f"trainer.total_steps={budget}", f"hydra.run.dir={split}"],
                                  tmp_path)
        assert result.returncode == 0, result.stderr
        if budget == 199:
            saved = torch.load(split / "checkpoints" / "last.pt", weights_only=True)
            assert saved["unrecorded_updates"] and saved["agent"]["actor"] is not None
    assert drop_clock(read_episodes(split)) == drop_clock(read_episodes(whole))
    finals = [last_agent(run) for run in (whole, split)]
    assert all(torch.equal(finals[0][net][k], finals[1][net][k])
               for net in ("online", "actor") for k in finals[0][net])


def test_a_learning_rate_schedule_is_logged_as_without_async_updates(tmp_path: Path) -> None:
    """StepLR steps inside each update: the rates in episodes.csv and TensorBoard are read
    after the updates submitted so far, whatever the background thread's timing."""
    runs = async_and_sync_runs(["experiment=smoke", "seed=7", "scheduler=step", "scheduler.step_size=20",
                                *NO_EVAL], tmp_path)
    logged = [([row["lr"] for row in read_episodes(run)], read_scalars(run)["train/lr"]) for run in runs]
    (episodes, scalars), _ = logged
    assert episodes and len(scalars) == 4 and scalars[-1][1] < scalars[0][1]
    assert logged[0] == logged[1]
