"""Helpers the tests share: run train.py and play as a user does, find the run folder a run made
and read what it wrote (CSV files, status, TensorBoard events, videos), and act on a running
trainer at moments it announces itself (no polling of files)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import queue
import select
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable, Optional

import imageio_ffmpeg
import numpy as np
import pytest
from filelock import FileLock
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict, read_write
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import metadata as hparams_metadata

from mario_exp.cli import train as train_cli
from mario_exp.config.preflight import compose_jobs
from mario_exp.config.schema import Config, ConfigError, register_schema, to_config
from mario_exp.launch.outcomes import Outcome
from mario_exp.rundir.atomic import temp_path
from mario_exp.rundir.contract import EPISODE_COLUMNS, EPISODES_CSV

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SWEEP = ["agent.batch_size=32,64", "agent.learn_every=5,10"]
# Every sample-efficient option at once, at the smoke budget: the flag preset's, and frontier
# starts for every episode after the first (the budget has only a few).
SAMPLE_EFFICIENT = ["agent.dueling=true", "agent.reward_scale=0.1", "agent.adam_eps=1.5e-4",
                    "agent.augment_shift=4", "agent.priority.exponent=0.6", "env.stall_steps=30",
                    "env.frontier.fraction=1.0"]
# For runs whose evaluations no assertion reads: a run's episodes.csv is the same with
# evaluation on or off (test_evaluation.py), and a smoke run's two evaluations with their
# videos are about a fifth of its CPU time (docs/testing.md).
NO_EVAL = ["trainer.eval_every=null"]


def run_train(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python train.py ARGS` in `cwd`, as a user runs it; outputs land in cwd/outputs."""
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def train_in_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """What `python train.py ARGS` in `cwd` ends with, for one run (no -m), reached in this
    process: train.py's own checks of the command line (compose_jobs, check_hardware_requests),
    the job composed by Hydra and run by train.py's train_job(), and the exit status and stderr
    lines of its report(). Hydra's launch and logging setup are what is left out: no process
    start (torch's import alone is seconds), and no train.log (stdout holds the log records
    instead, in Hydra's console format). For tests of what a run folder holds and of the one
    line a refused resume prints, where the process is not the point; each family of such
    refusals keeps a case that runs the real command. A Python warning would reach the
    command's stderr (unless it is a DeprecationWarning, hidden there by default), so it goes
    to stderr here too."""
    out, err = io.StringIO(), io.StringIO()
    records = logging.StreamHandler(out)
    records.setFormatter(logging.Formatter("[%(name)s][%(levelname)s] - %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)            # Hydra's job logging: INFO and up
    root.addHandler(records)
    try:
        with contextlib.chdir(cwd), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            register_schema()
            try:
                train_cli.check_hardware_requests(compose_jobs(args, train_cli.CONF_DIR))
            except ConfigError as exc:
                print(f"train.py: error: {exc}", file=sys.stderr)
                status = 2
            else:
                status = train_cli.report([_train_job(args)], [])
    finally:
        root.removeHandler(records)
        root.setLevel(level)
    print_warnings(caught, err)
    return subprocess.CompletedProcess(["train.py", *args], status, out.getvalue(), err.getvalue())


def print_warnings(caught: list[warnings.WarningMessage], err: io.StringIO) -> None:
    """The warnings a command's own process would have printed on its stderr: all of them but
    DeprecationWarnings, hidden there by default."""
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno))


def _train_job(args: list[str]) -> Outcome:
    """train_job() on the job of `args`, composed and handed over as Hydra's run of one job
    does: the Hydra config set, the job's config without its hydra node, the run folder made."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(train_cli.CONF_DIR), job_name="train", version_base="1.3"):
        cfg = compose("config", overrides=args, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        run_dir = Path(cfg.hydra.run.dir).absolute()
        run_dir.mkdir(parents=True, exist_ok=True)
        with read_write(cfg), open_dict(cfg):
            del cfg["hydra"]
        return train_cli.train_job(cfg, run_dir)
    finally:
        HydraConfig.instance().cfg = None
        GlobalHydra.instance().clear()


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Path]) -> Path:
    """The path `make(folder)` returns, a path in the empty folder `folder`, made once in this
    test session however many xdist workers ask for it. A make that raises leaves no mark, so
    a worker asking after it makes it again and fails with its own error."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                 # each worker's basetemp is <session's>/popen-gwN
    folder, made = root / name, root / f"{name}.made"
    with FileLock(str(root / f"{name}.lock")):
        if not made.exists():
            shutil.rmtree(folder, ignore_errors=True)     # a failed make's leftovers
            folder.mkdir()
            made.write_text(str(make(folder).relative_to(folder)))
    return folder / made.read_text()


# How a test runs `train.py ARGS` in a folder: run_train (the command) or train_in_process.
Train = Callable[[list[str], Path], subprocess.CompletedProcess]


def finished_run(args: list[str], cwd: Path, train: Train = run_train) -> Path:
    """The run folder of `train.py ARGS` in `cwd`, a run that must finish, run by `train`."""
    result = train(args, cwd)
    assert result.returncode == 0, result.stderr
    return single_run_dir(cwd)


def run_play(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m mario_exp.cli.play ARGS` in `cwd`, headless as on a server."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "mario_exp.cli.play", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def play_in_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m mario_exp.cli.play ARGS` in `cwd`, headless, by its main() in this process:
    the exit status and what it printed, as the command would, warnings included (run_play runs
    the command)."""
    from mario_exp.cli import play as play_cli  # here: it imports torch, which the unit tier never needs

    out, err = io.StringIO(), io.StringIO()
    display = os.environ.pop("DISPLAY", None)   # headless, as on a server
    try:
        with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                play_cli.main(args)
                status = 0
            except SystemExit as exc:
                status = exc.code
    finally:
        if display is not None:
            os.environ["DISPLAY"] = display
    print_warnings(caught, err)
    return subprocess.CompletedProcess(["play", *args], status, out.getvalue(), err.getvalue())


class LineStream:
    """The lines another process writes, read by a thread as they come: a test blocks until
    the process announces a moment (a progress line at some step) instead of polling files for
    signs of it, which on a loaded machine can miss the moment or see it late."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[Optional[str]] = queue.Queue()
        self._closed = False

    def _pump(self, stream: Iterable[str]) -> None:
        for line in stream:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)  # the writer closed its end

    def wait_for(self, text: str, timeout: float = 600) -> bool:
        """Block until a line holding `text` comes: True; False if the writer closes first."""
        deadline = time.monotonic() + timeout
        while not self._closed:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {timeout} s") from None
            if line is None:
                self._closed = True
            elif text in line:
                return True
        return False


# How a trainer's progress line starts (mario_exp/rundir/console.py, in Hydra's log format);
# PROGRESS + "200/400" is the one of step 200 of 400.
PROGRESS = "[mario_exp.rundir.console][INFO] - step "


class TrainProcess:
    """`python train.py ARGS` started in `cwd`; its stdout (the log and its progress lines,
    "step N/TOTAL ...", written before that step's evaluation and checkpoint) is a LineStream."""

    def __init__(self, args: list[str], cwd: Path, **popen: object) -> None:
        self.proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
        self.stdout = LineStream()
        self._stderr: list[str] = []
        self._readers = [threading.Thread(target=self.stdout._pump, args=(self.proc.stdout,), daemon=True),
                         threading.Thread(target=self._stderr.extend, args=(self.proc.stderr,), daemon=True)]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, and wait until it is dead."""
        self.proc.kill()
        self.proc.wait()

    def wait(self, timeout: float = 600) -> tuple[int, str]:
        """Wait for the end: the exit status and all it wrote to stderr."""
        status = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=60)
        return status, "".join(self._stderr)


class FifoLines(LineStream):
    """A FIFO made at `path` before a process opens that file to write: a launcher job's
    train.log, the one place a job in a process of the launcher's says how far it is. The job
    blocks opening it until the reading thread does, then each line reaches the test as the
    job writes it. close() turns the FIFO into the log file it stood for."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with open(self.path, encoding="utf-8") as stream:  # returns once a writer opens it
            self._pump(stream)

    def close(self) -> None:
        """Once the command is over: a regular file of what was read in the FIFO's place, which
        a rerun appends to as to any log (a FIFO without a reader would block it). A worker
        process of the launcher that outlives the command and still holds the FIFO open
        writes on into the reading thread."""
        self.path.unlink()
        self.path.write_text("".join(self.lines), encoding="utf-8")


class CheckpointTrap:
    """A FIFO in place of checkpoints/.last.pt.tmp, the file a trainer writes its next
    checkpoint into before renaming it over last.pt (mario_exp/rundir/atomic.py). The test holds
    its reading end, so the first bytes to come tell it the trainer is writing a checkpoint,
    a moment too short on a loaded machine to catch by polling for the file; and the trainer,
    whose checkpoint is larger than a pipe holds, cannot finish that write until it is read."""

    def __init__(self, run_dir: Path) -> None:
        self.path = temp_path(run_dir / "checkpoints" / "last.pt")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # what an earlier kill mid-write left
        os.mkfifo(self.path)
        # Opened now, without waiting for a writer, so that the trainer's open() returns at once.
        self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    def kill_mid_write(self, train: TrainProcess, timeout: float = 600) -> bool:
        """SIGKILL `train` as soon as it has begun writing a checkpoint, then leave in the
        FIFO's place what a kill mid-write leaves: a regular file of the bytes written so far.
        False (and no file) if the process ended without writing one."""
        exited = os.pidfd_open(train.pid)   # readable once the process has ended
        try:
            ready, _, _ = select.select([self._fd, exited], [], [], timeout)
            assert ready, f"no checkpoint written in {timeout} s"
            written = self._fd in ready
            if written:
                train.kill()
            data = bytearray()
            while written:          # the rest of what it wrote, up to the end a dead writer leaves
                chunk = os.read(self._fd, 1 << 16)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(exited)
            os.close(self._fd)
        self.path.unlink()
        if written:
            self.path.write_bytes(bytes(data))
        return written


def single_run_dir(cwd: Path) -> Path:
    runs = sorted((cwd / "outputs" / "runs").glob("*/*"))
    assert len(runs) == 1, runs
    return runs[0]


def read_rows(path: Path, header: tuple[str, ...]) -> list[dict[str, str]]:
    """A run's CSV file as rows, after checking its header is exactly `header`."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == header
        return list(reader)


def read_episodes(run_dir: Path) -> list[dict[str, str]]:
    return read_rows(run_dir / EPISODES_CSV, EPISODE_COLUMNS)


def drop_clock(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows minus wall_time, the one column a resumed or relaunched run cannot reproduce."""
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every TensorBoard scalar of a run folder, tag -> [(step, value)]."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep every point
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def episodes_without_clock(run_dir: Path) -> list[dict[str, str]]:
    return drop_clock(read_episodes(run_dir))


def read_status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


HPARAMS_TAGS = (hparams_metadata.EXPERIMENT_TAG, hparams_metadata.SESSION_START_INFO_TAG)


def hparams_summaries(run_dir: Path) -> dict[str, list]:
    """Every HParams summary value in the run folder's event files, by tag."""
    found: dict[str, list] = {tag: [] for tag in HPARAMS_TAGS}
    for events in run_dir.glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.tag in found:
                    found[value.tag].append(value)
    return found


def decode_video(path: Path) -> tuple[dict, list[np.ndarray]]:
    """An MP4's metadata and its frames, as height x width x RGB arrays."""
    frames = imageio_ffmpeg.read_frames(str(path))
    meta = next(frames)
    width, height = meta["size"]
    return meta, [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in frames]


# The file RunsCodeOnLoad's payload creates: a checkpoint loader that runs a pickle's code
# leaves it behind.
CODE_RAN_MARKER = Path("/tmp/mario-exp-unsafe-checkpoint-ran")


class RunsCodeOnLoad:
    """An object whose unpickling runs code (it touches CODE_RAN_MARKER): what a hostile
    checkpoint would carry, which loading with weights_only must refuse."""

    def __reduce__(self) -> tuple:
        return (Path.touch, (CODE_RAN_MARKER,))


def compose_config(overrides: list[str]) -> Config:
    """The validated Config that `train.py OVERRIDES` would run, composed in this process."""
    register_schema()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return to_config(compose("config", overrides=overrides))
