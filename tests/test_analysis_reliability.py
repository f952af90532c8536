"""analyze.py on run folders that lie or trap (issue 15): a status that says running for a
run no process holds, numbers no run reaches, files that are not files. Each runs the real
command in a subprocess; none may print a traceback or hang."""
from __future__ import annotations

import json
import os
from pathlib import Path

from mario_exp.runfolder import RunLock
from tests.test_analysis_cli import add_run, analyze


def test_a_running_status_no_process_holds_is_reported_as_stopped(tmp_path: Path) -> None:
    """A run killed with SIGKILL left `running` and a run.lock no one holds: the analysis says
    stopped and how to resume it; a run whose lock is held is still running."""
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    dead = add_run(outputs, "1", [], status="running", seed=2)
    (dead / "run.lock").write_text(json.dumps({"pid": 999999, "host": "gone", "started": 0}))
    live = add_run(outputs, "2", [], status="running", seed=3)
    with RunLock(live):
        proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 done, 1 running, 1 stopped" in proc.stdout
    warnings = proc.stderr.splitlines()
    assert any(line.startswith("analyze.py: warning: outputs/multirun/d/t/1: status.json says running, "
                               "but no process holds the run") and "rerun its command" in line
               for line in warnings), warnings
    assert "analyze.py: warning: 1 run(s) still running: their scores are provisional" in warnings


def test_an_infinite_budget_in_status_json_is_no_traceback(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    run = add_run(outputs, "1", [], seed=2)
    state = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps(state).replace(str(state["total_steps"]), "1e999"))
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_fifo_in_place_of_a_runs_files_does_not_hang(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    run = add_run(outputs, "1", [], seed=2)
    for name in ("episodes.csv", "evals.csv", "status.json"):
        (run / name).unlink(missing_ok=True)
        os.mkfifo(run / name)
    proc = analyze(cwd=tmp_path)   # its timeout (120 s) fails the test if reading blocks
    assert proc.returncode == 0, proc.stderr
    assert "status.json unreadable (status.json is not a regular file)" in proc.stderr
    assert "episodes.csv unreadable (not a regular file)" in proc.stderr
    assert "evals.csv unreadable (not a regular file)" in proc.stderr


def test_a_step_count_no_run_reaches_is_a_garbled_line(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    run = add_run(outputs, "1", [], seed=2)
    with open(run / "episodes.csv", "a") as handle:
        handle.write("12345678901234567890123,61,1.0,100,10,0,0.5,,,0.00025,1.0\n")
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "outputs/multirun/d/t/1: skipped 1 garbled line(s) in episodes.csv" in proc.stderr
