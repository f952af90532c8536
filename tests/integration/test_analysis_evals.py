"""The analysis reads evals.csv: robustly, scores its final window, and prefers its curves when
every run has evaluations; runs without it keep working as before."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mario_exp.analysis.evals import eval_final_scores, read_evals_csv
from mario_exp.analysis.runs import load_run
from mario_exp.rundir.contract import EVAL_COLUMNS, EVALS_CSV
from tests.analysis_helpers import add_run, analysis_dir, analyze

HEADER = ",".join(EVAL_COLUMNS) + "\n"


def write_evals(run_dir: Path, steps: list[int], x_pos: dict[int, list[int]]) -> None:
    """evals.csv with one row per evaluation episode: x_pos[step] gives each episode's x_pos."""
    lines = [HEADER]
    for step in steps:
        for number, x in enumerate(x_pos[step], start=1):
            lines.append(f"{step},{number},{x - 40.0},{x},100,{int(x >= 3161)},0,0.05,{step / 100}\n")
    (run_dir / EVALS_CSV).write_text("".join(lines))


def test_read_drops_a_cut_last_line_and_skips_garbled_ones(tmp_path):
    path = tmp_path / EVALS_CSV
    path.write_text(HEADER + "100,1,260,300,100,0,0,0.05,1\n" + "garbage\n"
                    + "100,2,360,400,100,0,0,0.05,1.2\n" + "200,1,5")
    table, bad = read_evals_csv(path)
    assert bad == 1
    assert table["x_pos"].tolist() == [300, 400]
    assert read_evals_csv(tmp_path / "missing.csv")[0].empty


def test_eval_final_scores_average_the_episodes_of_the_final_window():
    rows = [(step, x) for step in (100, 200, 1000) for x in (step, step + 10)]
    evals = pd.DataFrame({"env_step": [s for s, _ in rows], "x_pos": [x for _, x in rows],
                          "reward": [1.0] * 6, "flag": [0, 0, 0, 0, 1, 0]})
    # The final window is (0.9 * 1000, 1000]: only the evaluation at step 1000.
    assert eval_final_scores(evals) == {"reward": 1.0, "x_pos": 1005.0, "flag_rate": 0.5}


def sweep_with_evals(outputs: Path, with_evals: bool = True) -> dict[tuple[str, int], float]:
    """Two configurations x two seeds; returns each run's mean x_pos of its last evaluation."""
    finals = {}
    steps = [250, 500, 750, 1000]
    for job, (lr, seed) in enumerate([(lr, seed) for lr in ("0.001", "0.01") for seed in (1, 2)]):
        run_dir = add_run(outputs, f"{job}_agent.lr={lr}", [f"agent.lr={lr}"], seed=seed, rng_seed=job)
        level = 500 if lr == "0.001" else 1500
        x_pos = {s: [level + s // 10 + seed, level + s // 10 + seed + 20] for s in steps}
        if with_evals or job != 0:
            write_evals(run_dir, steps, x_pos)
        finals[(lr, seed)] = float(np.mean(x_pos[1000]))
    return finals


def test_eval_scores_and_curves_are_preferred_when_every_run_has_them(tmp_path):
    outputs = tmp_path / "outputs"
    finals = sweep_with_evals(outputs)
    run = load_run(next(outputs.glob("multirun/d/t/0_*")))
    assert len(run.evals) == 8
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "eval final x_pos IQM [95% CI]" in proc.stdout
    out = analysis_dir(outputs)
    summary = pd.read_csv(out / "summary.csv").set_index("agent.lr")
    for lr in (0.001, 0.01):
        seeds = [finals[(str(lr), seed)] for seed in (1, 2)]
        assert summary.loc[lr, "eval_x_pos_iqm"] == pytest.approx(np.mean(seeds))
        assert summary.loc[lr, "evaluated"] == 2
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["source"]) == {"eval"}
    at_end = curves[(curves["metric"] == "x_pos") & (curves["axis"] == "env_step") & (curves["x"] == 1000)]
    assert sorted(at_end["mean"]) == pytest.approx(sorted(
        np.mean([finals[(lr, s)] for s in (1, 2)]) for lr in ("0.001", "0.01")))
    # No curve point before the first evaluation: nothing is extrapolated.
    first = curves[(curves["axis"] == "env_step") & curves["mean"].notna()]["x"].min()
    assert first >= 250


def test_a_run_without_evals_means_training_curves_for_all(tmp_path):
    outputs = tmp_path / "outputs"
    sweep_with_evals(outputs, with_evals=False)
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "some runs have no evals.csv: curves show training episodes for all runs" in proc.stderr
    curves = pd.read_csv(analysis_dir(outputs) / "curves.csv")
    assert set(curves["source"]) == {"train"}
    summary = pd.read_csv(analysis_dir(outputs) / "summary.csv").set_index("agent.lr")
    assert summary.loc[0.001, "evaluated"] == 1 and summary.loc[0.01, "evaluated"] == 2


def test_runs_without_any_evals_keep_their_table(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0_agent.lr=0.001", ["agent.lr=0.001"])
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "eval final" not in proc.stdout and EVALS_CSV not in proc.stderr
    assert set(pd.read_csv(analysis_dir(outputs) / "curves.csv")["source"]) == {"train"}
