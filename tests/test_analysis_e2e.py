"""analyze.py, as a user runs it, on the session's real smoke sweep (made by train.py)."""
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


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
