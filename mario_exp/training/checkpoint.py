"""Checkpoints: one file of tensors and plain numbers, written atomically and read with
torch.load(weights_only=True), so that a checkpoint from someone else cannot run code."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Optional

import torch

from mario_exp.rundir.atomic import write_atomic
from mario_exp.rundir.contract import CHECKPOINT


class CheckpointError(Exception):
    """A checkpoint that cannot be used; str() is the one-line reason."""


def checkpoint_path(run_dir: Path) -> Path:
    return run_dir / CHECKPOINT


def save_checkpoint(run_dir: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` to checkpoints/last.pt atomically: a crash keeps the previous one whole."""
    path = checkpoint_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: _save(payload, handle, path))
    return path


class _KeepsWriteErrors:
    """A file handle that keeps the OSError of a failed write: torch.save reports it only as
    "[enforce fail at inline_container.cc:672] . unexpected pos", hiding "No space left on device"."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.error: Optional[OSError] = None

    def write(self, data: bytes) -> int:
        try:
            return self._handle.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self._handle.flush()


def _save(payload: dict[str, Any], handle: BinaryIO, path: Path) -> None:
    keeper = _KeepsWriteErrors(handle)
    try:
        torch.save(payload, keeper)
    except RuntimeError:
        if keeper.error is not None:
            raise OSError(keeper.error.errno, keeper.error.strerror, str(path)) from None
        raise


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint; a truncated, damaged, unsafe or foreign file raises CheckpointError.

    Every record's CRC-32 is checked first. torch.save writes them (a checkpoint is a zip
    archive) in the same atomic rename as the data, but torch.load never checks them: a
    checkpoint with damaged bytes in its replay or weights would load and silently change the
    run. Checking them costs about a second per GB read."""
    try:
        _verify_records(path)
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    # Anything torch.load raises on a file it cannot read is this one line: a CSV or a YAML in
    # its place gives IndexError or KeyError from deep inside torch, not only RuntimeError.
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: not a readable checkpoint ({_reason(exc)}); move it away to "
                              "start the run over") from None
    # "progress": the loop's state, under the key every checkpoint format has had (trainer.py).
    if not isinstance(payload, dict) or "progress" not in payload:
        raise CheckpointError(f"{path}: not a mario-exp checkpoint")
    return payload


def _verify_records(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # reads each record and compares its CRC-32
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint (not a torch.save archive: "
                              f"{_reason(exc)}); move it away to start the run over") from None
    if damaged is not None:
        raise CheckpointError(f"{path}: not a readable checkpoint (checksum mismatch in its record "
                              f"{damaged}: the file was damaged after it was written); move it away "
                              "to start the run over")


def _reason(exc: BaseException) -> str:
    """A short reason, without torch's advice to load the file with weights_only=False: that
    would run whatever code the file carries."""
    if isinstance(exc, pickle.UnpicklingError) and "weights_only" in str(exc):
        return "it holds objects other than tensors and plain values, which are not loaded"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {first}" if isinstance(exc, (KeyError, IndexError)) else first
