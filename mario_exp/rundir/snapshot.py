"""A study's run folders without their heavy files, to commit or share (results/).

    python -m mario_exp.rundir.snapshot SOURCE DEST     # a run folder, or a folder of them

Copies, for every run folder under SOURCE (a folder with .hydra/config.yaml), the files the
analysis reads and a reader wants to see: .hydra/, episodes.csv, evals.csv, status.json,
machines.json and the furthest evaluation episode's GIF. Checkpoints (about 50 MB a quick run),
TensorBoard event files, MP4s, train.log and the lock stay behind. Each run lands at the same relative path under DEST;
rerunning the command on a later state of the runs replaces those files (a study snapshotted
while it trains, then again when it is done). Each file is written as the run folder's own files
are (rundir/atomic.py: a temp file, fsync, rename), so an interrupted copy leaves every file whole.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from mario_exp.rundir.atomic import write_atomic
from mario_exp.rundir.contract import (
    BEST_VIDEO,
    CONFIG_YAML,
    EPISODES_CSV,
    EVALS_CSV,
    GIF,
    HYDRA_YAML,
    MACHINES_JSON,
    OVERRIDES_YAML,
    STATUS_JSON,
    VIDEOS_DIR,
)

# What a committed run folder holds: enough for `analyze.py` to regenerate every figure.
KEPT_FILES = (CONFIG_YAML, OVERRIDES_YAML, HYDRA_YAML, EPISODES_CSV, EVALS_CSV, STATUS_JSON,
              MACHINES_JSON, f"{VIDEOS_DIR}/{BEST_VIDEO}{GIF}")


def run_folders(source: Path) -> list[Path]:
    """Every run folder at or under `source`, sorted."""
    if (source / CONFIG_YAML).is_file():
        return [source]
    return sorted(p.parent.parent for p in source.rglob(CONFIG_YAML))


def snapshot(source: Path, dest: Path) -> list[Path]:
    """Copy KEPT_FILES of each run folder under `source` to the same place under `dest`;
    returns the run folders written. ValueError when `source` holds no run folder."""
    runs = run_folders(source)
    if not runs:
        raise ValueError(f"no run folders under '{source}' (a run folder contains {CONFIG_YAML})")
    written = []
    for run in runs:
        target = dest / run.relative_to(source)
        for name in KEPT_FILES:
            if (run / name).is_file():
                _copy_whole(run / name, target / name)
        written.append(target)
    return written


def _copy_whole(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as source:
        write_atomic(dst, lambda handle: shutil.copyfileobj(source, handle))


def main(argv: list[str] | None = None) -> int:
    """Entry point; one line on stderr and status 2 for a source without run folders."""
    p = argparse.ArgumentParser(prog="python -m mario_exp.rundir.snapshot",
                                description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="a run folder or a folder containing run folders")
    p.add_argument("dest", type=Path, help="where the copies go (created if missing)")
    args = p.parse_args(argv)
    try:
        written = snapshot(args.source, args.dest)
    except (ValueError, OSError) as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(written)} run folder(s) -> {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
