"""Checkpoints: one file of tensors and plain numbers, written atomically and read with
torch.load(weights_only=True), so that a checkpoint from someone else cannot run code."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from mario_exp.atomic import write_atomic

LAST = "last.pt"
# Keys a resumed run may change: the budget, intervals, device and threads. Anything else
# (network, action set, replay, learning hyperparameters, seed) would make it another run.
RESUMABLE_CHANGES = ("trainer.",)


class CheckpointError(Exception):
    """A checkpoint that cannot be used; str() is the one-line reason."""


def checkpoint_path(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / LAST


def save_checkpoint(run_dir: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` to checkpoints/last.pt atomically: a crash keeps the previous one whole."""
    path = checkpoint_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: torch.save(payload, handle))
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint; a truncated, corrupt or unsafe file raises CheckpointError."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError,
            zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason}); move it away to "
                              "start the run over") from None
    if not isinstance(payload, dict) or "progress" not in payload:
        raise CheckpointError(f"{path}: not a mario-exp checkpoint")
    return payload


def flatten_config(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config dict as {"agent.batch_size": 32, ...}."""
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(flatten_config(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: node}


def resume_conflicts(saved: dict[str, Any], current: dict[str, Any],
                     defaults: dict[str, Any]) -> list[str]:
    """`key: checkpoint X, now Y` for each key that differs and may not change on resume.

    A key the checkpoint does not have (added to the schema since it was written) is no
    conflict while it holds its default (`defaults`, the schema's): the options are off by
    default, so the run goes on as it began, and a study can outlive a schema addition."""
    before, now, default = flatten_config(saved), flatten_config(current), flatten_config(defaults)
    return [f"{key}: checkpoint {before.get(key)!r}, now {now.get(key)!r}"
            for key in sorted(before.keys() | now.keys())
            if before.get(key) != now.get(key) and not key.startswith(RESUMABLE_CHANGES)
            and not (key not in before and key in default and now.get(key) == default[key])]
