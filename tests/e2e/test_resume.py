"""Crash-safe, resumable runs, with real processes and real signals: a run killed with SIGKILL
at any moment (even mid-checkpoint) and resumed writes the same episodes.csv as a run never
interrupted; SIGTERM checkpoints and exits; a failed job never stops its sweep; a rerun only
does what is missing; checkpoints that cannot be trusted are refused in one line.

The kills and signals hit real train.py processes. The runs that then finish what was cut, the
runs that are only read, and the refusals of a resume but one of each family go through
train.py's job in this process (train_in_process): the same job and the same one line, without
a process start each."""
from __future__ import annotations

import os
import pickle
import random
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mario_exp.rundir.atomic import write_atomic
from mario_exp.rundir.machines import cpu_model, read_machines
from mario_exp.training.trainer import CHECKPOINT_VERSION
from tests.helpers import (
    CODE_RAN_MARKER,
    HPARAMS_TAGS,
    NO_EVAL,
    PROGRESS,
    SAMPLE_EFFICIENT,
    CheckpointTrap,
    RunsCodeOnLoad,
    Train,
    TrainProcess,
    decode_video,
    episodes_without_clock,
    hparams_summaries,
    read_status,
    run_train,
    train_in_process,
)

SMOKE = ["experiment=smoke", "seed=7"]   # the same run as the smoke_run fixture


def evals_without_clock(run_dir: Path) -> list[str]:
    """evals.csv minus wall_time."""
    return [line.rsplit(",", 1)[0] for line in (run_dir / "evals.csv").read_text().splitlines()]


@pytest.mark.parametrize("options, reference", [([], "smoke_run"),
                                                ([*SAMPLE_EFFICIENT], "smoke_sample_efficient_run")],
                         ids=["tutorial", "sample_efficient"])
def test_sigkill_anywhere_then_resume_gives_the_same_episodes(options: list[str], reference: str,
                                                              request: pytest.FixtureRequest,
                                                              tmp_path: Path) -> None:
    """Several kills of one run (while it writes its first checkpoint, just after checkpoints,
    during a later checkpoint write, at a random moment), each followed by a rerun of the same
    command; with prioritized replay and frontier starts too, whose priorities, pending updates
    and frontier the checkpoint must carry. Each kill but the random one comes at a moment the trainer itself marks: the
    bytes of a checkpoint arriving in a FIFO, or its progress line."""
    smoke_run = request.getfixturevalue(reference)
    run_dir = tmp_path / "run"
    # The progress line of every 38th step comes 1 to 10 steps after the checkpoint at the
    # multiple of 37 below it (38k - 37k = k): the trainer saying a checkpoint was just written.
    args = [*SMOKE, *options, "trainer.checkpoint_every=37", "trainer.log_every=38", f"hydra.run.dir={run_dir}"]
    checkpoint = run_dir / "checkpoints" / "last.pt"
    partial = run_dir / "checkpoints" / ".last.pt.tmp"
    rng = random.Random(2026)

    def during_a_checkpoint_write() -> bool:
        trap = CheckpointTrap(run_dir)     # in place before the trainer starts
        return trap.kill_mid_write(TrainProcess(args, tmp_path))

    def just_after_a_checkpoint() -> bool:
        train = TrainProcess(args, tmp_path)
        if not train.stdout.wait_for(PROGRESS):
            return False                   # it finished first
        train.kill()
        return True

    def at_a_random_moment() -> bool:
        train = TrainProcess(args, tmp_path)
        try:
            train.proc.wait(timeout=rng.uniform(2.0, 5.0))
        except subprocess.TimeoutExpired:
            train.kill()
            return True
        return False

    kill_points = [
        ("while writing its first checkpoint", during_a_checkpoint_write),  # none to resume yet
        ("just after a checkpoint", just_after_a_checkpoint),
        ("during a checkpoint write", during_a_checkpoint_write),
        ("at a random moment", at_a_random_moment),
        ("just after a checkpoint", just_after_a_checkpoint),
    ]
    missed = [name for name, kill in kill_points if not kill()]
    # Each rerun resumes from step 37 at most before the last kill, so only the random kill
    # (on a fast machine, later than the end of the run) can find the run already finished.
    assert missed in ([], ["at a random moment"]), missed
    assert not checkpoint.exists() or torch.load(checkpoint, weights_only=True)["progress"]["step"] < 400

    result = train_in_process(args, tmp_path)    # the last rerun finishes the run
    assert result.returncode == 0, result.stderr
    assert read_status(run_dir)["status"] == "finished"
    assert episodes_without_clock(run_dir) == episodes_without_clock(smoke_run)
    assert evals_without_clock(run_dir) == evals_without_clock(smoke_run)
    assert not partial.exists()
    assert torch.load(checkpoint, weights_only=True)["progress"]["step"] == 400

    # TensorBoard: every episode exactly once, whatever was logged before each kill.
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    rows = [row.split(",") for row in (run_dir / "episodes.csv").read_text().splitlines()[1:]]
    for tag, frontier in (("episode/x_pos", False), ("frontier_episode/x_pos", True)):
        ended = [int(row[0]) for row in rows if (row[-1] != "0") == frontier]   # start_step, env.frontier
        logged = [e.step for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []
        assert logged == ended, tag


def test_evaluations_after_the_checkpoint_are_cut_and_made_again(smoke_run: Path, smoke_run_150: Path,
                                                                 tmp_path: Path) -> None:
    """Killed after the evaluation at step 200, while writing the checkpoint of step 300: the
    rerun resumes from step 150, drops that evaluation from evals.csv and makes it again, once;
    evals.csv and the videos come out as in a run never interrupted, the HParams summary once."""
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run_150, run_dir)   # its checkpoint: step 150, no evaluation yet
    # Continued to smoke_run's budget, evaluating as smoke_run does (from step 200): the next
    # checkpoint it writes is that of step 300.
    args = [*SMOKE, "trainer.checkpoint_every=150", f"hydra.run.dir={run_dir}"]
    trap = CheckpointTrap(run_dir)
    assert trap.kill_mid_write(TrainProcess(args, tmp_path))
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["progress"]["step"] == 150
    assert evals_without_clock(run_dir)[1:] == evals_without_clock(smoke_run)[1:3]

    result = train_in_process(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert evals_without_clock(run_dir) == evals_without_clock(smoke_run)
    for name in ("best", "latest"):
        _, frames = decode_video(run_dir / "videos" / f"{name}.mp4")
        _, expected = decode_video(smoke_run / "videos" / f"{name}.mp4")
        assert len(frames) == len(expected)
    assert [len(v) for v in hparams_summaries(run_dir).values()] == [1] * len(HPARAMS_TAGS)
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("eval/x_pos")] == [200, 400]


def test_sigterm_checkpoints_and_exits_then_resumes(smoke_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = [*SMOKE, *NO_EVAL, f"hydra.run.dir={run_dir}"]
    train = TrainProcess(args, tmp_path)
    assert train.stdout.wait_for(PROGRESS + "100/400")   # training, 300 steps before its end
    os.kill(train.pid, signal.SIGTERM)
    returncode, stderr = train.wait(timeout=120)
    assert returncode == 128 + signal.SIGTERM, stderr
    line, = stderr.strip().splitlines()
    assert line.startswith("train.py: interrupted by SIGTERM at step ") and "checkpoint saved" in line
    assert f"hydra.run.dir={run_dir}" in line and "Traceback" not in stderr
    state = read_status(run_dir)
    assert state["status"] == "interrupted" and 100 <= state["env_step"] < 400
    saved = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert saved["progress"]["step"] == state["env_step"]

    result = train_in_process(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert episodes_without_clock(run_dir) == episodes_without_clock(smoke_run)
    assert_trained_here(run_dir, [0, state["env_step"]])


def assert_trained_here(run_dir: Path, start_steps: list[int]) -> None:
    """machines.json has an entry for each process that trained the run, from these steps,
    each naming this machine's CPU and the learner's device, precision and threads."""
    entries = read_machines(run_dir)
    assert [entry["start_step"] for entry in entries] == start_steps
    assert all(entry["cpu"] == cpu_model() and entry["host"] == socket.gethostname() for entry in entries)
    assert all(re.fullmatch(r"cpu (bf16|fp32), \d+ threads?", entry["learner"]) for entry in entries), entries


def test_two_envs_resume_each_unfinished_episode(tmp_path: Path) -> None:
    """With env.num_envs=2, a checkpoint holds both envs' unfinished episodes; SIGKILL after
    it and a rerun give the episodes of a run never interrupted."""
    args = [*SMOKE, "env.num_envs=2", "trainer.checkpoint_every=150", *NO_EVAL]
    whole = tmp_path / "whole"
    assert train_in_process([*args, f"hydra.run.dir={whole}"], tmp_path).returncode == 0
    run_dir = tmp_path / "killed"
    checkpoint = run_dir / "checkpoints" / "last.pt"
    train = TrainProcess([*args, f"hydra.run.dir={run_dir}"], tmp_path)
    # The line of step 200 comes after the checkpoint at 150; the trap is then in place 100
    # steps before the next, at 300, and the kill comes while it is written.
    assert train.stdout.wait_for(PROGRESS + "200/400")
    assert CheckpointTrap(run_dir).kill_mid_write(train)
    saved = torch.load(checkpoint, weights_only=True)["progress"]
    assert saved["step"] == 150 and all(episode["actions"] for episode in saved["episodes"])
    result = train_in_process([*args, f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert episodes_without_clock(run_dir) == episodes_without_clock(whole)


def test_a_larger_budget_continues_a_finished_run(smoke_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run, run_dir)   # what SMOKE into run_dir would make
    again = train_in_process([*SMOKE, f"hydra.run.dir={run_dir}"], tmp_path)
    assert again.returncode == 0 and "already finished" in again.stdout + again.stderr
    longer = train_in_process([*SMOKE, "trainer.total_steps=600", f"hydra.run.dir={run_dir}"], tmp_path)
    assert longer.returncode == 0, longer.stderr
    assert read_status(run_dir) | {"episodes": 0, "pid": 0, "host": "", "heartbeat": 0} == {
        "status": "finished", "env_step": 600, "episodes": 0, "total_steps": 600, "error": None,
        "checkpoint_step": 600, "pid": 0, "host": "", "heartbeat": 0}
    rows = episodes_without_clock(run_dir)
    first = episodes_without_clock(smoke_run)
    assert rows[:len(first)] == first
    saved = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    # It went on learning: burn-in 100, then an update every 3 steps up to step 600.
    assert saved["progress"]["step"] == 600
    assert saved["agent"]["learn_steps"] == len(range(102, 601, 3))
    # The rerun that found the run finished trained nothing, so it added no entry.
    assert_trained_here(run_dir, [0, 400])


def test_resume_with_another_network_or_action_set_is_refused(smoke_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run, run_dir)
    # run.lock names the last process that held the folder, refused or not.
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix not in (".log", ".lock")}
    # The command itself: the one refusal of a resume with another config that a process makes
    # (test_reliability.py's attempt of another config goes through train_in_process).
    result = run_train([*SMOKE, "action_set=right_run", "env.frame_stack=3",
                        "trainer.total_steps=600", f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"train.py: error: cannot resume {run_dir}: ")
    for key in ("action_set.buttons", "action_set.name", "env.frame_stack"):
        assert key in line
    assert "trainer.total_steps" not in line and "Traceback" not in result.stderr
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix not in (".log", ".lock")}
    assert after == before, "a refused resume changed the run folder"


def test_resume_without_the_replay_refills_it_before_learning(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    base = [*SMOKE, "trainer.checkpoint_replay=false", *NO_EVAL, f"hydra.run.dir={run_dir}"]
    assert train_in_process([*base, "trainer.total_steps=150"], tmp_path).returncode == 0
    checkpoint = run_dir / "checkpoints" / "last.pt"
    assert torch.load(checkpoint, weights_only=True)["replay"] is None
    result = train_in_process([*base, "trainer.total_steps=300"], tmp_path)
    assert result.returncode == 0, result.stderr
    saved = torch.load(checkpoint, weights_only=True)
    # Updates every 3 steps from the burn-in (100) to 150; then none until the empty replay has
    # been refilled for another burn-in (150 + 100), then every 3 steps again up to 300.
    assert saved["progress"]["step"] == 300
    assert saved["agent"]["learn_steps"] == len(range(102, 151, 3)) + len(range(252, 301, 3))


# The command itself refuses one of them; the job in this process, the others.
@pytest.mark.parametrize("damage, train", [("truncated", run_train), ("garbage", train_in_process),
                                           ("empty", train_in_process)], ids=["truncated", "garbage", "empty"])
def test_corrupt_checkpoint_is_one_clear_line(smoke_run_150: Path, tmp_path: Path, damage: str,
                                              train: Train) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run_150, run_dir)
    checkpoint = run_dir / "checkpoints" / "last.pt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes({"truncated": data[:len(data) // 2], "garbage": b"\x00not a checkpoint" * 50,
                            "empty": b""}[damage])
    damaged = checkpoint.read_bytes()
    result = train([*SMOKE, "trainer.total_steps=300", f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"train.py: error: {checkpoint}: not a readable checkpoint")
    assert "Traceback" not in result.stderr and checkpoint.read_bytes() == damaged
    assert read_status(run_dir)["status"] == "finished" and read_status(run_dir)["env_step"] == 150


def test_checkpoint_of_another_format_is_one_clear_line(smoke_run_150: Path, tmp_path: Path) -> None:
    """A checkpoint written by an older mario-exp (format 2: no lagged actor, no n-step
    returns) is refused in one line, and the run folder is left as it was."""
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run_150, run_dir)
    checkpoint = run_dir / "checkpoints" / "last.pt"
    payload = torch.load(checkpoint, weights_only=True)
    payload["version"] = 2
    torch.save(payload, checkpoint)
    def files() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix not in (".log", ".lock")}

    before = files()
    result = train_in_process([*SMOKE, "trainer.total_steps=300", f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    assert line == (f"train.py: error: {checkpoint}: written by another version of mario-exp "
                    f"(checkpoint format 2, this one reads {CHECKPOINT_VERSION}); start the run over in a new folder")
    assert before == files()


def test_a_checkpoint_cannot_run_code(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    CODE_RAN_MARKER.unlink(missing_ok=True)
    torch.save({"progress": RunsCodeOnLoad()}, run_dir / "checkpoints" / "last.pt",
               pickle_module=pickle)
    result = train_in_process([*SMOKE, f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 2 and "not a readable checkpoint" in result.stderr
    assert not CODE_RAN_MARKER.exists()


def test_a_diverging_job_fails_alone_and_a_rerun_only_does_what_is_missing(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    # The healthy job needs only to finish: 200 steps, 100 of them learning.
    args = ["-m", "experiment=smoke", "agent.lr=1e30,0.00025", "trainer.total_steps=200", *NO_EVAL,
            f"hydra.sweep.dir={sweep}"]
    result = run_train(args, tmp_path)
    assert result.returncode == 1
    line, = result.stderr.strip().splitlines()
    assert "agent.lr=1e+30" in line and "loss became" in line and "Traceback" not in result.stderr
    diverged, healthy = sorted(sweep.glob("*_agent.lr=*"), key=lambda p: "1e+30" not in p.name)
    assert read_status(diverged)["status"] == "failed" and "loss became" in read_status(diverged)["error"]
    assert read_status(healthy)["status"] == "finished"
    finished_checkpoint = (healthy / "checkpoints" / "last.pt").stat().st_mtime_ns

    again = run_train(args, tmp_path)
    assert again.returncode == 1                                    # still diverges, deterministically
    assert "already finished" in again.stdout + again.stderr
    assert (healthy / "checkpoints" / "last.pt").stat().st_mtime_ns == finished_checkpoint


def test_sweep_killed_midway_reruns_only_the_unfinished_jobs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "experiment=smoke", "seed=1,2,3", "trainer.total_steps=300", "trainer.log_every=50", *NO_EVAL,
            f"hydra.sweep.dir={sweep}"]
    train = TrainProcess(args, tmp_path)
    # Hydra's line starting the second job, then that job's line of step 250 (after its
    # checkpoint at 200): the sweep is killed midway through its second job.
    assert train.stdout.wait_for("#1 : ") and train.stdout.wait_for(PROGRESS + "250/300")
    train.kill()
    first = next(sweep.glob("0_*"))
    assert read_status(first)["status"] == "finished"
    first_checkpoint = (first / "checkpoints" / "last.pt").stat().st_mtime_ns
    result = run_train(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (first / "checkpoints" / "last.pt").stat().st_mtime_ns == first_checkpoint
    jobs = sorted(sweep.glob("[0-9]_*"))
    assert len(jobs) == 3 and all(read_status(job)["status"] == "finished" for job in jobs)


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    """What a full disk does mid-checkpoint: the old checkpoint stays whole, no temp file is left."""
    path = tmp_path / "last.pt"
    write_atomic(path, lambda handle: handle.write(b"good"))

    def fails_midway(handle) -> None:
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(path, fails_midway)
    assert path.read_bytes() == b"good" and list(tmp_path.iterdir()) == [path]
