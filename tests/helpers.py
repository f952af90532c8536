"""Helpers the tests share: run train.py as a user does, find the run folder it made."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SWEEP = ["agent.batch_size=32,64", "agent.learn_every=5,10"]


def run_train(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python train.py ARGS` in `cwd`, as a user runs it; outputs land in cwd/outputs."""
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def single_run_dir(cwd: Path) -> Path:
    runs = sorted((cwd / "outputs" / "runs").glob("*/*"))
    assert len(runs) == 1, runs
    return runs[0]


def episodes_without_clock(run_dir: Path) -> list[list[str]]:
    """episodes.csv minus wall_time, the one column a resumed or relaunched run cannot reproduce."""
    rows = [line.split(",") for line in (run_dir / "episodes.csv").read_text().splitlines()]
    clock = rows[0].index("wall_time")
    return [row[:clock] + row[clock + 1:] for row in rows]
