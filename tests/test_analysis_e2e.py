"""A real smoke sweep through train.py, then analyze.py on its outputs folder."""
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def test_real_smoke_sweep_is_analysed(tmp_path):
    train = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "-m", "experiment=smoke", "seed=1,2",
         "agent.batch_size=32,64"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert train.returncode == 0, train.stderr[-3000:]
    outputs = tmp_path / "outputs"

    proc = subprocess.run(
        [sys.executable, str(REPO / "analyze.py"), "--outputs", str(outputs)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr

    [out] = [p for p in (outputs / "analysis").glob("*/*") if not p.name.startswith(".")]
    expected = {"summary.md", "summary.csv", "per_run.csv", "curves.csv", "report.html",
                "curves_env_steps.png", "curves_wall_time.png", "final_x_pos.png"}
    assert expected <= {p.name for p in out.iterdir()}
    assert all((out / name).stat().st_size > 0 for name in expected)
    assert f"report: {(out / 'report.html').resolve()}" in proc.stdout

    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2
    assert sorted(summary["agent.batch_size"]) == [32, 64]
    assert (summary["seeds"] == 2).all()
    assert (summary["runs_finished"] == 2).all()
    per_run = pd.read_csv(out / "per_run.csv")
    assert len(per_run) == 4 and (per_run["source"] == "episodes.csv").all()
    assert sorted(per_run["seed"]) == [1, 1, 2, 2]
