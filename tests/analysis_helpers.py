"""Helpers the analysis tests share: run analyze.py (in process, or in a subprocess as a user
runs it), check its one-line errors, and make synthetic run folders for it to read."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from mario_exp.analysis.synthetic import run_config, synthetic_episodes, write_run
from mario_exp.cli import analyze as analyze_cli
from tests.helpers import REPO


def analyze(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """`analyze.py ARGS` run in `cwd` by its main() in this process: the exit status and what
    it printed, as the command would. A Python warning would have reached the command's stderr
    (unless it is a DeprecationWarning, hidden there by default), so it goes to stderr here too."""
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = analyze_cli.main(argv)
        except SystemExit as exc:
            status = exc.code
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno))
    return subprocess.CompletedProcess(["analyze.py", *argv], status, out.getvalue(), err.getvalue())


def analyze_in_a_subprocess(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """`python analyze.py ARGS` in `cwd`, as a user runs it."""
    proc = subprocess.run([sys.executable, str(REPO / "analyze.py"), *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("analyze.py: error: ")
    for needle in needles:
        assert needle in lines[0]


def analysis_dir(outputs: Path) -> Path:
    found = [p for p in (outputs / "analysis").glob("*/*") if not p.name.startswith(".")]
    assert len(found) == 1
    return found[0]


def add_run(outputs: Path, name: str, overrides: list[str], n_episodes: int = 60, skill: float = 0.5,
            status: str = "finished", seed: int = 1, budget: Optional[int] = None, rng_seed: int = 0) -> Path:
    """A finished (by default) run folder under outputs/multirun/d/t/<name>."""
    table = (synthetic_episodes(n_episodes, skill, np.random.default_rng(rng_seed))
             if n_episodes else None)
    reached = int(table["env_step"].iloc[-1]) if table is not None else 0
    budget = budget or reached or 1000
    doc = {"status": status, "env_step": reached, "total_steps": budget,
           "episodes": n_episodes, "error": "RuntimeError: boom" if status == "failed" else None}
    return write_run(outputs / "multirun" / "d" / "t" / name, [*overrides, f"seed={seed}"],
                     run_config(seed, budget), table, doc)
