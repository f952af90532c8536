"""One writer per run folder, and a way for readers to tell a live run from a dead one.

A trainer holds an exclusive `flock` on `<run dir>/run.lock` for as long as it trains the
folder, and writes its pid, host and start time into it. The kernel drops the lock when the
process dies, however it dies (SIGKILL, an OOM kill, a reboot), so a lock left behind by a dead
trainer never blocks a resume, and nothing has to guess from pids or clocks. A second trainer
on the same folder (two terminals, a SLURM requeue while the old job still runs) is refused
with the holder's pid and host. Readers (the analysis) probe the same lock to say whether a
run whose status.json says `running` really is.

Needs only the standard library (and the contract): the analysis imports it and never loads torch.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Optional

from mario_exp.rundir.contract import LOCK_FILE

# A trainer that starts while a reader probes the lock (a few microseconds) must not be
# refused for it: it retries for this long before it reports the folder in use.
_ACQUIRE_PATIENCE_S = 2.0


class RunFolderError(Exception):
    """A run folder this command must not write; str() is the one-line reason."""


def holder() -> dict[str, object]:
    """Who this process is, as recorded in run.lock and status.json."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class RunLock:
    """The exclusive right to write one run folder, for the lifetime of the object."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / LOCK_FILE
        # Opened without truncating: until the lock is ours, the file names the holder.
        self._fd: Optional[int] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + _ACQUIRE_PATIENCE_S
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                who = _describe(_read_holder(self.path))
                self.release()
                raise RunFolderError(f"{run_dir}: in use by {who}; wait for it to end, stop it, "
                                     "or train into another folder (hydra.run.dir=...)") from None
            except OSError as exc:
                self.release()
                raise RunFolderError(f"{run_dir}: cannot lock {LOCK_FILE} ({os.strerror(exc.errno or 0)}); "
                                     "this file system does not support flock, which keeps two "
                                     "trainers off one folder") from None
        record = {**holder(), "started": time.time()}
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, (json.dumps(record) + "\n").encode(), 0)

    def release(self) -> None:
        """Give the folder up. The file stays (removing it would race with a new holder that
        has just opened it); a stale file without a lock on it means nothing."""
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(path: Path) -> dict[str, object]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}  # the holder has just created it and not yet written its name


def _describe(record: dict[str, object]) -> str:
    if "pid" not in record:
        return "another process"
    started = record.get("started")
    since = ""
    if isinstance(started, (int, float)):
        since = time.strftime(", since %Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    return f"pid {record['pid']} on {record.get('host', 'an unknown host')}{since}"


def is_live(run_dir: Path) -> Optional[bool]:
    """Whether a trainer holds `run_dir` now: True, False (no process has it: a status that
    says running is stale), or None when it cannot be told (no run.lock: a run from before the
    lock, or a folder that cannot be probed)."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        # A shared lock is enough to probe; it is held for microseconds (see _ACQUIRE_PATIENCE_S).
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return None  # a file system without flock
    finally:
        os.close(fd)  # also drops the probe's lock
