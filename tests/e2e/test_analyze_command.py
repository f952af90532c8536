"""analyze.py as a user runs it, `python analyze.py` in a subprocess: a bad input's exit status
and one line, run folders whose files are FIFOs (a read that blocked would end at the
subprocess's timeout, where in process it would hang the suite), and the session's real smoke
sweep (made by train.py). Every other case runs the command's main() in process
(integration/test_analysis_cli.py and its neighbours)."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.analysis_helpers import add_run, analyze, analyze_in_a_subprocess, assert_one_line_error
from tests.helpers import REPO


def test_bad_input_is_one_line_from_the_real_command(tmp_path):
    """End to end, once: the exit status and the one line on stderr of `python analyze.py`."""
    add_run(tmp_path / "outputs", "0", ["agent.lr=0.001"])
    proc = analyze_in_a_subprocess("--baseline", "agent.lr=9", cwd=tmp_path)
    assert_one_line_error(proc, "matches no configuration; configurations are:")
    assert proc.stderr == analyze("--baseline", "agent.lr=9", cwd=tmp_path).stderr
    assert not (tmp_path / "outputs" / "analysis").exists()


def test_a_fifo_in_place_of_a_runs_files_does_not_hang(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    run = add_run(outputs, "1", [], seed=2)
    for name in ("episodes.csv", "evals.csv", "status.json"):
        (run / name).unlink(missing_ok=True)
        os.mkfifo(run / name)
    proc = analyze_in_a_subprocess(cwd=tmp_path)   # its timeout (120 s) fails the test if reading blocks
    assert proc.returncode == 0, proc.stderr
    assert "status.json unreadable (status.json is not a regular file)" in proc.stderr
    assert "episodes.csv unreadable (not a regular file)" in proc.stderr
    assert "evals.csv unreadable (not a regular file)" in proc.stderr


def test_real_smoke_sweep_is_analysed(smoke_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "analysis"   # not beside the shared sweep, which other tests read
    proc = subprocess.run(
        [sys.executable, str(REPO / "analyze.py"), str(smoke_sweep), "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr

    expected = {"summary.md", "summary.csv", "per_run.csv", "curves.csv", "report.html",
                "curves_env_steps.png", "curves_wall_time.png", "final_x_pos.png"}
    assert expected <= {p.name for p in out.iterdir()}
    assert all((out / name).stat().st_size > 0 for name in expected)
    assert f"report: {(out / 'report.html').resolve()}" in proc.stdout

    # The sweep: agent.batch_size=32,64 x agent.learn_every=5,10, one seed each.
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(zip(summary["agent.batch_size"], summary["agent.learn_every"])) == [
        (32, 5), (32, 10), (64, 5), (64, 10)]
    assert (summary["seeds"] == 1).all() and (summary["runs_finished"] == 1).all()
    per_run = pd.read_csv(out / "per_run.csv")
    assert len(per_run) == 4 and (per_run["source"] == "episodes.csv").all()
