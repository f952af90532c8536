"""analyze.py on run folders that lie (issue 15): a status that says running for a run no
process holds, numbers no run reaches. None may print a traceback. Each runs the command's
main() in this process; the folders that trap a reader (FIFOs for files, where a read could
block) are e2e/test_analyze_command.py's, where the command runs in a subprocess whose timeout
ends the test, as a hang in this process would stop the whole suite."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mario_exp.analysis.stats import bootstrap_ci
from mario_exp.rundir.final_window import final_window
from mario_exp.rundir.lock import RunLock
from tests.analysis_helpers import add_run, analyze


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


def test_a_step_count_no_run_reaches_is_a_garbled_line(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    run = add_run(outputs, "1", [], seed=2)
    with open(run / "episodes.csv", "a") as handle:
        handle.write("12345678901234567890123,61,1.0,100,10,0,0.5,,,0.00025,1.0\n")
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "outputs/multirun/d/t/1: skipped 1 garbled line(s) in episodes.csv" in proc.stderr


# --- figures that must not shift or overstate ---------------------------------------------
def _x_pos_ci(tmp_path: Path, runs: dict[str, list[str]], baseline: str) -> tuple[float, float]:
    """The x_pos IQM interval of configuration agent.lr=0.001 when `runs` are analysed."""
    outputs = tmp_path / "outputs"
    for seed in (1, 2, 3):
        for name, overrides in runs.items():
            add_run(outputs, f"{name}_{seed}", overrides, seed=seed, rng_seed=10 * seed + len(name),
                    skill=0.3 + 0.1 * len(name))
    proc = analyze("--baseline", baseline, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(next((outputs / "analysis").glob("*/*/summary.csv")))
    row = summary[summary["config"] == "agent.lr=0.001"].iloc[0]
    return float(row["x_pos_ci_lo"]), float(row["x_pos_ci_hi"])


def test_an_interval_depends_only_on_its_own_runs_and_the_seed(tmp_path: Path) -> None:
    """The same runs of a configuration, analysed beside other configurations and against
    another baseline, give the same interval (one shared stream shifted it)."""
    ours = {"a": ["agent.lr=0.001"]}
    alone = _x_pos_ci(tmp_path / "1", {**ours, "bb": ["agent.lr=0.01"]}, "agent.lr=0.01")
    crowded = _x_pos_ci(tmp_path / "2", {"ccc": ["agent.lr=0.1"], **ours, "dddd": ["agent.lr=0.5"]},
                        "agent.lr=0.5")
    assert alone == crowded


def test_the_default_resamples_keep_the_endpoints_still() -> None:
    """Across 20 bootstrap seeds the endpoints of an 8-seed IQM interval move by under 3% of
    its width at the default (at 2,000 resamples: up to 9%)."""
    values = np.random.default_rng(3).normal(1000, 150, 8)
    intervals = np.array([bootstrap_ci(values, np.random.default_rng(seed)) for seed in range(20)])
    width = np.mean(intervals[:, 1] - intervals[:, 0])
    assert (np.ptp(intervals, axis=0) / width < 0.03).all()
    few = np.array([bootstrap_ci(values, np.random.default_rng(seed), n_boot=2000) for seed in range(20)])
    assert (np.ptp(few, axis=0) / width).max() > 0.05


def test_the_final_window_ends_at_the_last_finished_episode() -> None:
    """As the README says: the last 10% of the steps up to the last episode's end (here
    (855, 950]), not of the budget (1000) nor of the steps reached."""
    steps = np.array([100.0, 860.0, 900.0, 950.0])
    assert final_window(steps).tolist() == [False, True, True, True]
