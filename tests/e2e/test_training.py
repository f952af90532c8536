"""Real training on the real ROM at the smoke budget: the run learns, syncs, checkpoints, and
its episodes.csv agrees with its TensorBoard events; a sweep yields one folder per job; one
seed gives one episodes.csv."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
import yaml

from mario_exp.rundir.contract import (
    CHECKPOINT,
    CONFIG_YAML,
    EPISODE_COLUMNS,
    EPISODE_TAGS,
    EPISODES_CSV,
    EVENT_FILES,
    FINISHED,
    INTERVAL_TAGS,
    MACHINES_JSON,
    OVERRIDES_YAML,
    STATUS_JSON,
)
from mario_exp.rundir.machines import cpu_model, read_machines
from tests.helpers import (
    NO_EVAL,
    SWEEP,
    drop_clock,
    finished_run,
    made_once,
    read_episodes,
    read_scalars,
    run_train,
    single_run_dir,
    train_in_process,
)


def test_run_folder_layout(smoke_run: Path) -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/\d{2}-\d{2}-\d{2}", "/".join(smoke_run.parts[-2:]))
    assert smoke_run.parent.parent.name == "runs"
    for name in (CONFIG_YAML, OVERRIDES_YAML, EPISODES_CSV, STATUS_JSON, MACHINES_JSON, CHECKPOINT):
        assert (smoke_run / name).is_file(), name
    # One process trained it, from step 0, on this machine.
    assert [(entry["start_step"], entry["cpu"]) for entry in read_machines(smoke_run)] == [(0, cpu_model())]
    assert list(smoke_run.glob(EVENT_FILES))
    # The header a real run writes is the contract's columns, byte for byte ("\n" line endings).
    assert (smoke_run / EPISODES_CSV).read_bytes().startswith(",".join(EPISODE_COLUMNS).encode() + b"\n")
    status = json.loads((smoke_run / STATUS_JSON).read_text())
    # pid, host and heartbeat say who wrote it; checkpoint_step that a rerun has one to resume.
    assert {k: status.pop(k) for k in ("pid", "host", "heartbeat")}.keys() == {"pid", "host", "heartbeat"}
    assert status == {"status": FINISHED, "env_step": 400, "total_steps": 400,
                      "episodes": len(read_episodes(smoke_run)), "error": None, "checkpoint_step": 400}


def test_smoke_run_learns(smoke_run: Path) -> None:
    rows = read_episodes(smoke_run)
    assert len(rows) >= 1
    assert [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))
    steps = [int(r["env_step"]) for r in rows]
    assert steps == sorted(steps) and steps[-1] <= 400
    assert sum(int(r["length"]) for r in rows) == steps[-1]
    learned = [r for r in rows if r["loss"]]
    assert learned, "no episode ended after burn-in"
    assert all(math.isfinite(float(r["loss"])) and math.isfinite(float(r["q"])) for r in learned)
    assert all(int(r["x_pos"]) > 0 and r["flag"] in ("0", "1") for r in rows)
    scalars = read_scalars(smoke_run)
    losses = [v for _, v in scalars[INTERVAL_TAGS["loss"]]]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)   # steps 200, 300, 400


def test_target_synced_and_checkpoint_written(smoke_run: Path) -> None:
    checkpoint = torch.load(smoke_run / CHECKPOINT, weights_only=True)
    agent = checkpoint["agent"]
    assert checkpoint["progress"]["step"] == 400
    # burn-in 100, learn every 3 steps from step 100 to 400; a sync every 100 steps.
    assert agent["learn_steps"] == len(range(102, 401, 3))
    assert agent["target_syncs"] == 4
    # The last sync was at step 400, the last step: target and online must be equal (the
    # target's hidden layers held in bf16 where the learner runs in bf16)...
    online, target = agent["online"], agent["target"]
    assert all(torch.equal(online[k].to(target[k].dtype), target[k]) for k in online)
    assert target["head.2.weight"].dtype == torch.float32   # Q-values stay fp32
    # ...and both must have moved away from the initial weights (seed 7).
    torch.manual_seed(7)
    from mario_exp.agent.ddqn import QNetwork
    initial = QNetwork(4, 84, 2).state_dict()
    assert not torch.equal(initial["head.2.weight"], agent["target"]["head.2.weight"])
    assert agent["optimizer"]["state"], "Adam state is saved"


def test_episodes_csv_matches_tensorboard(smoke_run: Path) -> None:
    rows = read_episodes(smoke_run)
    scalars = read_scalars(smoke_run)
    for name, tag in EPISODE_TAGS.items():
        logged = scalars[tag]
        assert [step for step, _ in logged] == [int(r["env_step"]) for r in rows]
        assert [v for _, v in logged] == pytest.approx([float(r[name]) for r in rows])
    for name in ("epsilon", "lr", "steps_per_second"):
        assert [step for step, _ in scalars[INTERVAL_TAGS[name]]] == [100, 200, 300, 400]


def test_same_seed_same_episodes(smoke_run: Path, tmp_path: Path) -> None:
    """Run again by train.py's job in this process: the same episodes as the command made."""
    result = train_in_process(["experiment=smoke", "seed=7"], tmp_path)
    assert result.returncode == 0, result.stderr
    again = read_episodes(single_run_dir(tmp_path))
    first = read_episodes(smoke_run)
    assert drop_clock(again) == drop_clock(first)


@pytest.fixture(scope="session")
def one_episode_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`experiment=smoke seed=8 trainer.max_episodes=1`: another seed, stopped after an episode."""
    return made_once(tmp_path_factory, "one_episode_run",
                     lambda cwd: finished_run(["experiment=smoke", "seed=8", "trainer.max_episodes=1"], cwd,
                                              train_in_process))


def test_other_seed_other_episodes(smoke_run: Path, one_episode_run: Path) -> None:
    """Guards the test above against passing because nothing depends on the seed."""
    other = read_episodes(one_episode_run)[0]
    first = read_episodes(smoke_run)[0]
    assert (other["env_step"], other["x_pos"], other["reward"]) != \
        (first["env_step"], first["x_pos"], first["reward"])


def test_max_episodes_stops_early(one_episode_run: Path) -> None:
    run_dir = one_episode_run
    assert len(read_episodes(run_dir)) == 1
    status = json.loads((run_dir / STATUS_JSON).read_text())
    assert status["status"] == FINISHED and status["episodes"] == 1 and status["env_step"] < 400


def test_sweep_yields_a_folder_per_job_named_by_its_overrides(smoke_sweep: Path) -> None:
    jobs = sorted(p for p in smoke_sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(jobs) == 4
    assert (smoke_sweep / "multirun.yaml").is_file()
    seen = set()
    for job in jobs:
        overrides = yaml.safe_load((job / OVERRIDES_YAML).read_text())
        swept = tuple(sorted(o for o in overrides if not o.startswith("experiment=")))
        seen.add(swept)
        # TensorBoard names a run by its folder, so the folder must carry the overrides.
        assert all(o in job.name for o in swept), (job.name, swept)
        assert list(job.glob(EVENT_FILES)) and (job / CHECKPOINT).is_file()
        config = yaml.safe_load((job / CONFIG_YAML).read_text())
        assert f"agent.batch_size={config['agent']['batch_size']}" in swept
        assert f"agent.learn_every={config['agent']['learn_every']}" in swept
        assert json.loads((job / STATUS_JSON).read_text())["status"] == FINISHED
    assert seen == {tuple(sorted((f"agent.batch_size={b}", f"agent.learn_every={e}")))
                    for b in (32, 64) for e in (5, 10)}
    assert SWEEP == ["agent.batch_size=32,64", "agent.learn_every=5,10"]


def test_worker_process_and_compression_change_nothing_but_speed(smoke_run: Path, tmp_path: Path) -> None:
    """Both at once, in one run of the command (the env worker is a process the run starts):
    each changes how the same steps are made or stored, never which. Where this fails, a rerun
    with one of the two says which."""
    result = run_train(["experiment=smoke", "seed=7", "trainer.env_worker=true", "agent.replay_compression=true",
                        *NO_EVAL], tmp_path)
    assert result.returncode == 0, result.stderr
    assert drop_clock(read_episodes(single_run_dir(tmp_path))) == drop_clock(read_episodes(smoke_run))


# 400 steps in each env, and an episode stuck for 50 ends: both envs finish episodes, however
# the few updates happen to steer Mario.
# Read for episodes and the checkpoint only: no evaluations.
TWO_ENVS = ["experiment=smoke", "seed=7", "env.num_envs=2", "trainer.total_steps=800", "env.stall_steps=50",
            *NO_EVAL]


@pytest.fixture(scope="session")
def two_env_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TWO_ENVS, run by train.py's job in this process (the test below runs the command, with the
    envs in worker processes)."""
    return made_once(tmp_path_factory, "two_env_run", lambda cwd: finished_run(TWO_ENVS, cwd, train_in_process))


def test_two_envs_log_every_episode_and_keep_the_replay_ratio(two_env_run: Path) -> None:
    rows = read_episodes(two_env_run)
    assert {r["env"] for r in rows} == {"0", "1"}
    steps = [int(r["env_step"]) for r in rows]
    assert steps == sorted(steps) and [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))
    for env in ("0", "1"):
        # Steps are numbered across envs: env 0 plays the odd ones, env 1 the even ones.
        mine = [r for r in rows if r["env"] == env]
        assert all(int(r["env_step"]) % 2 == (1 if env == "0" else 0) for r in mine)
        assert sum(int(r["length"]) for r in mine) * 2 <= steps[-1] + 1
    checkpoint = torch.load(two_env_run / CHECKPOINT, weights_only=True)
    # learn_every and sync_every count steps across envs: the same updates as with one env.
    assert checkpoint["progress"]["step"] == 800
    assert checkpoint["agent"]["learn_steps"] == len(range(102, 801, 3))
    assert checkpoint["agent"]["target_syncs"] == 8
    assert len(checkpoint["progress"]["episodes"]) == 2


def test_two_envs_in_workers_or_in_process_give_the_same_episodes(two_env_run: Path, tmp_path: Path) -> None:
    result = run_train([*TWO_ENVS, "trainer.env_worker=true"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert drop_clock(read_episodes(single_run_dir(tmp_path))) == drop_clock(read_episodes(two_env_run))
