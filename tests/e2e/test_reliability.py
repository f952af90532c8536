"""Run folders that cannot be lost (issue 15), on real runs of the real emulator: one trainer per
folder, a lock left by a dead one never blocks its resume, a folder whose run data cannot be
resumed is never wiped, a damaged checkpoint is never loaded, and the logs a resume keeps are
rows the trainer wrote.

Two trainers on one folder, and the kills, are real train.py processes, as is one refusal of
each family; the other refusals and the runs that only resume or start over go through
train.py's job in this process (train_in_process): the same job and the same one line,
without a process start each."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mario_exp.rundir.lock import RunFolderError, RunLock, is_live
from mario_exp.training.checkpoint import CheckpointError, load_checkpoint
from tests.helpers import (
    CODE_RAN_MARKER,
    NO_EVAL,
    PROGRESS,
    REPO,
    RunsCodeOnLoad,
    Train,
    TrainProcess,
    episodes_without_clock,
    made_once,
    read_status,
    run_train,
    train_in_process,
)

SMOKE = ["experiment=smoke", "seed=7"]   # the same run as the smoke_run fixture


def snapshot(run_dir: Path) -> dict[Path, bytes]:
    """Every file of a run folder but the logs a refused command appends to and run.lock, which
    names the last process that held the folder, refused or not."""
    return {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.suffix not in (".log", ".lock")}


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    line, = result.stderr.strip().splitlines()
    assert line.startswith("train.py: error: ")
    return line


# --- one writer per folder -----------------------------------------------------------------
def test_two_trainers_started_at_once_on_one_folder(smoke_run: Path, tmp_path: Path) -> None:
    """The issue's reproduction: the same command twice at once on one folder. One trains,
    the other refuses in one line naming it; the folder ends as one uninterrupted run's."""
    run_dir = tmp_path / "twin"
    args = [*SMOKE, *NO_EVAL, f"hydra.run.dir={run_dir}"]
    procs = [subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(proc.wait(timeout=600), proc.stderr.read()) for proc in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    (_, refusal), = [r for r in results if r[0] == 2]
    winner = next(proc for proc, (code, _) in zip(procs, results) if code == 0)
    assert refusal.strip() == refusal.strip().splitlines()[0]
    assert f"in use by pid {winner.pid} on {socket.gethostname()}" in refusal
    assert read_status(run_dir)["status"] == "finished"
    assert episodes_without_clock(run_dir) == episodes_without_clock(smoke_run)


def test_a_second_trainer_on_a_live_run_is_refused_and_changes_nothing(smoke_run: Path, tmp_path: Path) -> None:
    """A SLURM requeue while the old job still runs: the newcomer names the holder and
    leaves every file as it was; the holder goes on to write the same run as ever."""
    run_dir = tmp_path / "run"
    args = [*SMOKE, *NO_EVAL, f"hydra.run.dir={run_dir}"]
    first = TrainProcess(args, tmp_path)
    assert first.stdout.wait_for(PROGRESS + "100/400")   # training, so holding the folder
    # Stopped (SIGSTOP) while the second one tries, it cannot finish first, however slow
    # the second one's start is on a loaded machine; it still holds the lock.
    os.kill(first.pid, signal.SIGSTOP)
    try:
        assert is_live(run_dir) is True
        second = run_train(args, tmp_path)
        assert first.running(), "the first run ended before the second was refused"
    finally:
        os.kill(first.pid, signal.SIGCONT)
    line = one_error_line(second)
    assert f"{run_dir}: in use by pid {first.pid} on {socket.gethostname()}, since " in line
    assert "hydra.run.dir=" in line
    returncode, stderr = first.wait()
    assert returncode == 0, stderr
    assert episodes_without_clock(run_dir) == episodes_without_clock(smoke_run)
    assert is_live(run_dir) is False


def test_the_lock_of_a_killed_trainer_does_not_block_its_resume(smoke_run: Path, tmp_path: Path) -> None:
    """SIGKILL leaves run.lock naming a dead pid and status.json saying running; readers see
    the run is not live, and the rerun resumes it."""
    run_dir = tmp_path / "run"
    args = [*SMOKE, "trainer.checkpoint_every=150", *NO_EVAL, f"hydra.run.dir={run_dir}"]
    proc = TrainProcess(args, tmp_path)
    assert proc.stdout.wait_for(PROGRESS + "200/400")   # after its checkpoint at 150
    proc.kill()
    assert json.loads((run_dir / "run.lock").read_text())["pid"] == proc.pid
    state = read_status(run_dir)
    assert state["status"] == "running" and state["pid"] == proc.pid and state["host"] == socket.gethostname()
    assert state["checkpoint_step"] is not None
    assert is_live(run_dir) is False
    result = train_in_process(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert episodes_without_clock(run_dir) == episodes_without_clock(smoke_run)


def test_a_lock_is_exclusive_and_a_stale_lock_file_means_nothing(tmp_path: Path) -> None:
    """In one process: a folder whose run.lock names a process of another host (a machine
    since rebooted) is taken; a second lock on a held folder is refused with the holder."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.lock").write_text(json.dumps({"pid": 1, "host": "rebooted-node", "started": 0}))
    assert is_live(run_dir) is False
    with RunLock(run_dir):
        assert json.loads((run_dir / "run.lock").read_text())["pid"] == os.getpid()
        assert is_live(run_dir) is True
        with pytest.raises(RunFolderError, match=f"in use by pid {os.getpid()} on {socket.gethostname()}"):
            RunLock(run_dir)
    assert is_live(run_dir) is False
    assert is_live(tmp_path) is None   # no run.lock: a run from before the lock
    with RunLock(run_dir):
        pass


# --- nothing deleted that cannot be rebuilt ------------------------------------------------
def finished_without_checkpoints(smoke_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished smoke run whose checkpoints/ was deleted to save disk."""
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run, run_dir)
    shutil.rmtree(run_dir / "checkpoints")
    return run_dir


def test_a_finished_run_without_its_checkpoint_is_never_wiped(smoke_run: Path, tmp_path: Path) -> None:
    run_dir = finished_without_checkpoints(smoke_run, tmp_path)
    before = snapshot(run_dir)
    line = one_error_line(train_in_process([*SMOKE, f"hydra.run.dir={run_dir}"], tmp_path))
    listed = "episodes.csv, evals.csv, events.out.tfevents*, machines.json, status.json, videos/"
    assert f"{run_dir}: holds run data ({listed})" in line
    assert "checkpoints/last.pt of step 400 has been removed" in line
    assert "hydra.run.dir=" in line and "trainer.start_over=true" in line
    assert snapshot(run_dir) == before

    # Asked for explicitly, it starts over, and the same seed writes the same run again.
    again = train_in_process([*SMOKE, "trainer.start_over=true", f"hydra.run.dir={run_dir}"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert episodes_without_clock(run_dir) == episodes_without_clock(smoke_run)
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1


def test_files_with_run_data_names_are_never_wiped(tmp_path: Path) -> None:
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "episodes.csv").write_text("my own data\n")
    (run_dir / "evals.csv").write_text("more of it\n")
    before = snapshot(run_dir)
    line = one_error_line(run_train([*SMOKE, f"hydra.run.dir={run_dir}"], tmp_path))
    assert "holds run data (episodes.csv, evals.csv)" in line and "no status.json says what made it" in line
    assert snapshot(run_dir) == before and not (run_dir / ".hydra").exists()


def test_an_attempt_of_another_config_that_never_checkpointed_is_not_replaced(smoke_run: Path,
                                                                            tmp_path: Path) -> None:
    """An attempt killed before its first checkpoint is started over by the same command (the
    SIGKILL test of test_resume.py); by another experiment it is refused, naming the keys."""
    run_dir = finished_without_checkpoints(smoke_run, tmp_path)
    state = read_status(run_dir) | {"status": "running", "checkpoint_step": None}
    (run_dir / "status.json").write_text(json.dumps(state))
    before = snapshot(run_dir)
    line = one_error_line(train_in_process([*SMOKE, "agent.lr=0.001", f"hydra.run.dir={run_dir}"], tmp_path))
    assert "it was made with another config: agent.lr: checkpoint 0.00025, now 0.001" in line
    assert snapshot(run_dir) == before


# --- checkpoints verified ------------------------------------------------------------------
def damage(path: Path, record: str, size: int, rng: np.random.Generator) -> None:
    """Overwrite `size` bytes inside the data of the archive's `record` ("largest": the replay)."""
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.filename.endswith("/")]
        info = max(infos, key=lambda i: i.file_size) if record == "largest" else \
            next(i for i in infos if i.filename.endswith(record))
    data = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 3
    size = min(size, info.file_size // 3)
    data[start:start + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


# The command itself refuses the first; the job in this process, the second.
@pytest.mark.parametrize("record, train", [("largest", run_train), ("data.pkl", train_in_process)],
                         ids=["largest", "data.pkl"])
def test_a_checkpoint_damaged_after_writing_is_refused(smoke_run_150: Path, tmp_path: Path, record: str,
                                                       train: Train) -> None:
    """64 KB of random bytes in the replay (or the pickle of the checkpoint's structure) would
    load under weights_only and change the resumed run; the CRC-32 of each record catches it."""
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run_150, run_dir)
    checkpoint = run_dir / "checkpoints" / "last.pt"
    damage(checkpoint, record, 65536, np.random.default_rng(15))
    before = snapshot(run_dir)
    line = one_error_line(train([*SMOKE, "trainer.total_steps=300", f"hydra.run.dir={run_dir}"], tmp_path))
    assert line.startswith(f"train.py: error: {checkpoint}: not a readable checkpoint (checksum mismatch in ")
    assert snapshot(run_dir) == before


def foreign_files(tmp_path: Path, real: Path) -> dict[str, Path]:
    """Files that are not checkpoints, under the checkpoint's name."""
    files = {
        "csv": b"env_step,episode\n1,2\n",
        "yaml": b"agent:\n  lr: 0.1\n",
        "json": b'{"progress": 1}',
        "empty": b"",
        "text zip": None,
        "list payload": None,
        "code": None,
    }
    out = {}
    for name, content in files.items():
        path = tmp_path / name.replace(" ", "_") / "last.pt"
        path.parent.mkdir()
        if content is not None:
            path.write_bytes(content)
        elif name == "text zip":
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("last/data.pkl", b"not a pickle")
                archive.writestr("last/version", b"3\n")
        elif name == "list payload":
            torch.save([1, 2, 3], path)
        else:
            torch.save({"progress": RunsCodeOnLoad()}, path, pickle_module=pickle)
        out[name] = path
    out["truncated"] = tmp_path / "truncated.pt"
    out["truncated"].write_bytes(real.read_bytes()[:len(real.read_bytes()) // 3])
    return out


def test_files_that_are_not_checkpoints_are_one_line(smoke_run: Path, tmp_path: Path) -> None:
    """None raises anything but CheckpointError, and no line repeats torch's advice to load the
    file with weights_only=False (which would run the code the last one carries)."""
    CODE_RAN_MARKER.unlink(missing_ok=True)
    for name, path in foreign_files(tmp_path, smoke_run / "checkpoints" / "last.pt").items():
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: not a"), (name, message)
        assert "\n" not in message and "weights_only" not in message, (name, message)
    assert not CODE_RAN_MARKER.exists()


def test_fuzzed_checkpoints_load_whole_or_not_at_all(smoke_run: Path, tmp_path: Path) -> None:
    """82 damaged copies of a real checkpoint (bytes flipped anywhere, runs of random bytes,
    truncations): each either is refused with CheckpointError or was not changed at all."""
    real = (smoke_run / "checkpoints" / "last.pt").read_bytes()
    rng = np.random.default_rng(82)
    path = tmp_path / "last.pt"
    refused = 0
    for case in range(82):
        data = bytearray(real)
        if case % 3 == 0:
            data = data[:int(rng.integers(0, len(data)))]
        elif case % 3 == 1:
            for at in rng.integers(0, len(data), int(rng.integers(1, 20))):
                data[at] ^= 1 << int(rng.integers(0, 8))
        else:
            at, size = int(rng.integers(0, len(data))), int(rng.integers(1, 65536))
            data[at:at + size] = rng.integers(0, 256, len(data[at:at + size]), dtype=np.uint8).tobytes()
        path.write_bytes(bytes(data))
        try:
            load_checkpoint(path)
        except CheckpointError as exc:
            assert "weights_only" not in str(exc) and "\n" not in str(exc)
            refused += 1
        else:
            assert bytes(data) == real, f"case {case}: a damaged checkpoint loaded"
    assert refused >= 80


# --- the logs a resume keeps -----------------------------------------------------------------
@pytest.fixture(scope="session")
def checkpointed_after_an_episode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run finished at step 300 (its checkpoint after its first episode, at 280, and an
    evaluation at 200), to be continued to 400. Copy it first. Run by train.py's job in this
    process: only what it wrote is read."""
    def make(cwd: Path) -> Path:
        run_dir = cwd / "run"
        result = train_in_process([*SMOKE, "trainer.total_steps=300", f"hydra.run.dir={run_dir}"], cwd)
        assert result.returncode == 0, result.stderr
        assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["progress"]["episode"] == 1
        return run_dir
    return made_once(tmp_path_factory, "checkpointed_after_an_episode", make)


def continued(base: Path, tmp_path: Path, edit, train: Train = train_in_process
              ) -> tuple[Path, subprocess.CompletedProcess, dict]:
    """A copy of `base`, changed by `edit`, continued to step 400 by `train`."""
    run_dir = tmp_path / "run"
    shutil.copytree(base, run_dir)
    edit(run_dir)
    before = snapshot(run_dir)
    return run_dir, train([*SMOKE, "trainer.total_steps=400", f"hydra.run.dir={run_dir}"], tmp_path), before


def _insert_after_header(name: str, line: bytes):
    def edit(run_dir: Path) -> None:
        header, _, rest = (run_dir / name).read_bytes().partition(b"\n")
        (run_dir / name).write_bytes(header + b"\n" + line + rest)
    return edit


DAMAGED_LOGS = {
    # (file, what goes in after the header) -> words of the one line
    "garbage line": (_insert_after_header("episodes.csv", b"garbage\n"), ["episodes.csv: line 2 has 1 fields, not 13"]),
    "text in a number": (_insert_after_header("episodes.csv", b"x,1,0,0,1,0,1,,,0.1,0,0,0\n"),
                         ["episodes.csv: line 2: env_step='x' is not an integer"]),
    "a repeated episode": (lambda d: (d / "episodes.csv").write_bytes(
        (d / "episodes.csv").read_bytes().replace(b",1,", b",2,", 1)), ["episodes.csv: line 2 is not episode 1"]),
    "23-digit env_step": (_insert_after_header("episodes.csv", b"12345678901234567890123,1,0,0,1,0,1,,,0.1,0,0,0\n"),
                          ["episodes.csv: line 2 is not episode 1", "ending at step 12345678901234567890123"]),
    "not UTF-8": (_insert_after_header("episodes.csv", b"\xff\xfe,1\n"), ["episodes.csv: line 2 is not UTF-8 text"]),
    "garbled evals.csv": (_insert_after_header("evals.csv", b"2\x00\x00,1,0\n"),
                          ["evals.csv: line 2 has 3 fields, not 9"]),
    "a foreign header": (lambda d: (d / "evals.csv").write_text("a,b\n1,2\n"),
                         ["evals.csv: its first line is not the header"]),
}


# The command itself refuses the first case; the job in this process, the others.
@pytest.mark.parametrize("case", list(DAMAGED_LOGS))
def test_a_resume_refuses_logs_it_would_keep_as_data(checkpointed_after_an_episode: Path, tmp_path: Path,
                                                     case: str) -> None:
    edit, words = DAMAGED_LOGS[case]
    train = run_train if case == next(iter(DAMAGED_LOGS)) else train_in_process
    run_dir, result, before = continued(checkpointed_after_an_episode, tmp_path, edit, train)
    line = one_error_line(result)
    for word in words:
        assert word in line
    assert "changed by hand" in line
    assert snapshot(run_dir) == before and read_status(run_dir)["status"] == "finished"


def test_a_resume_writes_one_line_ending(smoke_run: Path, checkpointed_after_an_episode: Path,
                                        tmp_path: Path) -> None:
    """Files of older versions had "\\r\\n" rows under a "\\n" header; a resume keeps their rows
    and writes every line with "\\n", as new runs do."""
    def crlf_rows(run_dir: Path) -> None:
        for name in ("episodes.csv", "evals.csv"):
            header, _, rows = (run_dir / name).read_bytes().partition(b"\n")
            (run_dir / name).write_bytes(header + b"\n" + rows.replace(b"\n", b"\r\n"))

    assert b"\r" not in (smoke_run / "episodes.csv").read_bytes() + (smoke_run / "evals.csv").read_bytes()
    run_dir, result, _ = continued(checkpointed_after_an_episode, tmp_path, crlf_rows)
    assert result.returncode == 0, result.stderr
    for name in ("episodes.csv", "evals.csv"):
        assert b"\r" not in (run_dir / name).read_bytes()
    first = episodes_without_clock(checkpointed_after_an_episode)
    assert episodes_without_clock(run_dir)[:len(first)] == first
