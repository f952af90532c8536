"""Checkpoints: one file of plain tensors and numbers, readable with torch.load(weights_only=True)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mario_exp.atomic import write_atomic

LAST = "last.pt"


def save_checkpoint(checkpoint_dir: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` to checkpoints/last.pt atomically: a crash keeps the previous one whole."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    path = checkpoint_dir / LAST
    write_atomic(path, lambda handle: torch.save(payload, handle))
    return path
