"""analyze.py on synthetic run folders: outputs, known answers and every bad input.

Each case runs the command's main() in this process, in the case's folder, and checks the exit
status, that problems come out as single lines, and (an exception would fail the test) that no
traceback escapes. The command as a user runs it, `python analyze.py` in a subprocess, is
checked end to end in e2e/test_analyze_command.py: a bad input's one line, run folders with
FIFOs for files, and the real smoke sweep.
"""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mario_exp.analysis.synthetic import run_config, synthetic_episodes, write_run, write_sweep
from mario_exp.rundir.contract import EPISODES_CSV, MACHINES_JSON
from mario_exp.rundir.machines import this_machine
from tests.analysis_helpers import add_run, analysis_dir, analyze, assert_one_line_error
from tests.helpers import REPO

OUTPUT_FILES = {"summary.md", "summary.csv", "per_run.csv", "curves.csv", "report.html",
                "curves_env_steps.png", "curves_wall_time.png"}


@pytest.fixture(scope="module")
def sweep_result(tmp_path_factory):
    """A 2 x 2 sweep, 3 seeds each, with a known best configuration."""
    root = tmp_path_factory.mktemp("sweep")
    outputs = root / "outputs"
    write_sweep(outputs, n_runs=12, n_episodes=300, seeds=3)
    proc = analyze("--baseline", "agent.lr=0.0001", "agent.batch_size=16", cwd=root)
    return proc, outputs


def test_sweep_writes_every_output_file(sweep_result):
    proc, outputs = sweep_result
    assert proc.returncode == 0, proc.stderr
    out = analysis_dir(outputs)
    written = {p.name for p in out.iterdir()}
    assert OUTPUT_FILES | {"final_x_pos.png", "heatmap_x_pos.png"} <= written
    assert f"report: {(out / 'report.html').resolve()}" in proc.stdout
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # figures inlined: opens without a server


def test_sweep_table_has_one_row_per_configuration_and_known_order(sweep_result):
    _, outputs = sweep_result
    summary = pd.read_csv(analysis_dir(outputs) / "summary.csv")
    assert len(summary) == 4 and (summary["seeds"] == 3).all()
    assert list(summary.columns[:2]) == ["agent.lr", "agent.batch_size"]
    # write_sweep makes skill grow with both hyperparameters: lr=0.00025, batch 32 is best of 4.
    best = summary.iloc[0]
    assert (best["agent.lr"], best["agent.batch_size"]) == (0.00025, 32)
    worst = summary.iloc[-1]
    assert np.isnan(worst["p_improve"])  # the baseline itself
    assert best["p_improve"] == 1.0


def test_per_run_and_curves_are_complete(sweep_result):
    _, outputs = sweep_result
    out = analysis_dir(outputs)
    per_run = pd.read_csv(out / "per_run.csv")
    assert len(per_run) == 12 and (per_run["status"] == "finished").all()
    assert per_run["run"].str.contains("multirun").all()
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["metric"]) == {"x_pos", "reward"}
    assert set(curves["axis"]) == {"env_step", "wall_time"}
    assert curves["config"].nunique() == 4
    assert (curves["ci_lo"] <= curves["mean"] + 1e-9).all()


def test_missing_outputs_is_one_line(tmp_path):
    assert_one_line_error(analyze(cwd=tmp_path), "'outputs' does not exist")


def test_empty_outputs_is_one_line(tmp_path):
    (tmp_path / "outputs").mkdir()
    assert_one_line_error(analyze(cwd=tmp_path), "no run folders under 'outputs'")


def test_path_that_is_not_a_folder(tmp_path):
    assert_one_line_error(analyze("nowhere", cwd=tmp_path), "'nowhere' is not a folder")


@pytest.mark.parametrize("args, needle", [
    (["--final-frac", "1.5"], "--final-frac"),
    (["--smooth", "0"], "--smooth"),
    (["--until", "0"], "--until"),
    (["--metric", "score"], "invalid choice"),
    (["--no-such-option"], "unrecognized arguments"),
    (["--baseline", "agent.lr"], "is not KEY=VALUE"),
    (["--baseline", "agent.lr=9"], "matches no configuration; configurations are:"),
    (["--group-by", "agent.nope"], "'agent.nope' is neither"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, args, needle):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", ["agent.lr=0.001"])
    assert_one_line_error(analyze(*args, cwd=tmp_path), needle)
    assert not (outputs / "analysis").exists()


def test_out_folder_that_is_not_empty(tmp_path):
    add_run(tmp_path / "outputs", "0", [])
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert_one_line_error(analyze("--out", "taken", cwd=tmp_path), "'taken' already exists")


def test_run_still_being_written(tmp_path):
    outputs = tmp_path / "outputs"
    done = add_run(outputs, "0", [])
    live = add_run(outputs, "1", [], status="running", seed=2, budget=10**6)
    with open(live / EPISODES_CSV, "a") as f:
        f.write("999999,61,12.")  # the trainer is mid-line: expected, so no warning about it
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0
    assert "1 done, 1 running" in proc.stdout
    budget = int(pd.read_csv(done / EPISODES_CSV)["env_step"].iloc[-1])
    assert proc.stderr.splitlines() == [
        f"analyze.py: warning: runs have different budgets (trainer.total_steps: {budget}, "
        "1000000): each final score covers the end of its own run; compare the curves at "
        "equal env steps",
        "analyze.py: warning: 1 run(s) still running: their scores are provisional"]


def test_interrupted_run_is_counted_and_explained(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    add_run(outputs, "1", [], status="interrupted", seed=2)
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0
    assert "1 done, 1 interrupted" in proc.stdout
    assert ("analyze.py: warning: 1 run(s) interrupted: rerun their command in the same folder to "
            "resume them; their scores are provisional") in proc.stderr.splitlines()


def test_a_configuration_whose_runs_composed_to_different_configs_is_named(tmp_path):
    """The same overrides run before and after a preset changed (results/flag-every3-1-1 and
    flag-1-1 are both `experiment=flag`): one line naming what differs and a --group-by that
    tells the runs apart; grouped by it, two configurations and no such line."""
    outputs = tmp_path / "outputs"
    for seed, learn_every in ((1, 1), (2, 1), (3, 3)):
        config = run_config(seed, 1000)
        config["agent"]["learn_every"] = learn_every
        write_run(outputs / "runs" / "d" / str(seed), ["experiment=flag", f"seed={seed}"], config,
                  synthetic_episodes(60, 0.5, np.random.default_rng(seed)),
                  {"status": "finished", "env_step": 1000, "total_steps": 1000, "episodes": 60, "error": None})
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ("analyze.py: warning: experiment=flag: its runs composed to different configs "
            "(agent.learn_every: 1, 3), as when a preset or a default changed between them; "
            "--group-by agent.learn_every tells them apart") in proc.stderr.splitlines()
    split = analyze("--group-by", "agent.learn_every", "--out", "by", cwd=tmp_path)
    assert split.returncode == 0, split.stderr
    assert "composed to different configs" not in split.stderr
    assert "3 in 2 configurations" in (tmp_path / "by" / "summary.md").read_text()


def test_crashed_run_without_episodes(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [])
    add_run(outputs, "1", [], n_episodes=0, status="failed", seed=2)
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0
    assert "1 done, 1 failed" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "no episodes" in line]
    assert len(warnings) == 1 and "RuntimeError: boom" in warnings[0]
    per_run = pd.read_csv(analysis_dir(outputs) / "per_run.csv")
    assert per_run.set_index("seed").loc[2, "status"] == "failed"


def test_truncated_and_garbled_lines(tmp_path):
    outputs = tmp_path / "outputs"
    run = add_run(outputs, "0", [])
    text = (run / EPISODES_CSV).read_text().splitlines(keepends=True)
    text.insert(10, "12,##garbled##\n")
    (run / EPISODES_CSV).write_text("".join(text) + "123456,61,1")  # + cut-off last line
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0
    warnings = proc.stderr.splitlines()
    assert any("skipped 1 garbled line(s) in episodes.csv" in w for w in warnings)
    assert any("last line of episodes.csv is cut off" in w for w in warnings)
    per_run = pd.read_csv(analysis_dir(outputs) / "per_run.csv")
    assert per_run["episodes"].tolist() == [60]


def test_runs_of_different_budgets(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", ["agent.lr=0.001"], n_episodes=40)
    add_run(outputs, "1", ["agent.lr=0.002"], n_episodes=80, rng_seed=1)
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0
    assert sum("different budgets" in line for line in proc.stderr.splitlines()) == 1
    summary = pd.read_csv(analysis_dir(outputs) / "summary.csv")
    assert summary["budget_max"].nunique() == 2


def test_until_compares_runs_of_different_budgets_at_one_step(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", ["agent.lr=0.001"], n_episodes=40)   # 8,800 steps
    add_run(outputs, "1", ["agent.lr=0.002"], n_episodes=80, rng_seed=1, status="interrupted")
    proc = analyze("--until", "8800", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "different budgets" not in proc.stderr and "interrupted" not in proc.stderr
    out = analysis_dir(outputs)
    summary = pd.read_csv(out / "summary.csv")
    assert summary["budget_max"].tolist() == [8800, 8800]
    assert (pd.read_csv(out / "per_run.csv")["last_episode_step"] <= 8800).all()
    assert "env step 8,800: every run as it stood then (--until)" in (out / "summary.md").read_text()


def test_single_seed_says_no_ci(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", ["agent.lr=0.001"])
    add_run(outputs, "1", ["agent.lr=0.001"], seed=2, rng_seed=1)
    add_run(outputs, "2", ["agent.lr=0.002"], rng_seed=2)
    proc = analyze("--baseline", "agent.lr=0.001", cwd=tmp_path)
    assert proc.returncode == 0
    comparison = proc.stdout.split("\n\n")[0]
    single = [line for line in comparison.splitlines() if "| 0.002" in line]
    assert len(single) == 1
    assert "(1 seed: no CI)" in single[0] and "(1 seed: no std)" in single[0]
    assert "(no CI: <2 seeds)" in single[0]
    summary = pd.read_csv(analysis_dir(outputs) / "summary.csv").set_index("agent.lr")
    assert np.isnan(summary.loc[0.002, "x_pos_ci_lo"])
    assert not np.isnan(summary.loc[0.001, "x_pos_ci_lo"])


def test_exploration_only_configuration_is_flagged(tmp_path):
    outputs = tmp_path / "outputs"
    run = add_run(outputs, "0", [])
    table = pd.read_csv(run / EPISODES_CSV)
    table["epsilon"] = np.maximum(table["epsilon"], 0.96)  # like maeng99's never-decayed runs
    table.to_csv(run / EPISODES_CSV, index=False, na_rep="")
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0
    assert "eps never < 0.5: compares exploration noise" in proc.stdout
    assert any("epsilon never went below 0.5" in line for line in proc.stderr.splitlines())


def test_only_crashed_runs_still_reports_them(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", [], n_episodes=0, status="failed")
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0
    assert "1 failed" in proc.stdout and "no scored runs" in proc.stdout
    assert "no run has scored episodes yet: no figures" in proc.stderr
    assert {"summary.md", "report.html", "per_run.csv"} <= {
        p.name for p in analysis_dir(outputs).iterdir()}


def test_explicit_run_folders_and_out(tmp_path):
    outputs = tmp_path / "outputs"
    a = add_run(outputs, "0", ["agent.lr=0.001"])
    add_run(outputs, "1", ["agent.lr=0.002"])
    proc = analyze(a, "--out", tmp_path / "mine", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert OUTPUT_FILES <= {p.name for p in (tmp_path / "mine").iterdir()}
    assert len(pd.read_csv(tmp_path / "mine" / "per_run.csv")) == 1


def test_latest_picks_the_newest_sweep(tmp_path):
    outputs = tmp_path / "outputs"
    for stamp in ("2026-01-01/09-00-00", "2026-01-02/08-00-00"):
        for seed in (1, 2):
            write_run(outputs / "multirun" / stamp / f"{seed}_x", [f"seed={seed}"],
                      run_config(seed, 10_000),
                      synthetic_episodes(20, 0.5, np.random.default_rng(seed)), None)
    proc = analyze("--latest", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    per_run = pd.read_csv(analysis_dir(outputs) / "per_run.csv")
    assert per_run["run"].str.contains("2026-01-02").all() and len(per_run) == 2


def test_latest_without_runs_is_one_line(tmp_path):
    (tmp_path / "outputs").mkdir()
    assert_one_line_error(analyze("--latest", cwd=tmp_path), "--latest found no sweep")


def test_analysis_never_imports_torch_gym_or_tensorboard():
    # analyze.py must start fast and stay independent of the trainer's stack: it reads run
    # folders through rundir/contract.py, never through the trainer's modules.
    code = ("import sys; import analyze, benchmarks.analysis_bench; "
            "bad = {'torch', 'gym', 'tensorboard', 'nes_py'} & set(sys.modules); "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_run_hours_add_up_the_seeds_wall_times(tmp_path):
    outputs = tmp_path / "outputs"
    for seed in (1, 2):   # 60 synthetic episodes to 13,200 steps at 250 steps/s: 52.8 s a run
        add_run(outputs, f"{seed}", ["agent.lr=0.001"], seed=seed, rng_seed=seed)
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(analysis_dir(outputs) / "summary.csv")
    assert summary["run_hours"].iloc[0] == pytest.approx(2 * 52.8 / 3600, rel=1e-3)
    assert "| run-hours |" in proc.stdout


def test_the_training_table_names_the_cpus_that_trained_each_configuration(tmp_path):
    """A study spanning machines: each configuration's CPUs in order of first use, one resumed on
    another; a run without machines.json (made before it existed) adds none, one whose file is
    garbled is one warning line."""
    outputs = tmp_path / "outputs"
    cpus = {"1": ["CPU A"], "2": ["CPU B", "CPU A"], "3": [], "4": ["CPU C"]}
    for seed, models in cpus.items():
        lr = "0.001" if seed in ("1", "2") else "0.0001"
        run = add_run(outputs, seed, [f"agent.lr={lr}"], seed=int(seed), rng_seed=int(seed))
        entries = [dict(this_machine(100 * n, "cpu bf16, 1 thread"), cpu=model) for n, model in enumerate(models)]
        if entries:
            (run / MACHINES_JSON).write_text(json.dumps(entries))
    (outputs / "multirun" / "d" / "t" / "4" / MACHINES_JSON).write_text("[{")
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(analysis_dir(outputs) / "summary.csv", keep_default_na=False).set_index("agent.lr")
    assert summary.loc[0.001, "cpus"] == "CPU A + CPU B" and summary.loc[0.0001, "cpus"] == ""
    assert "| CPU " in proc.stdout and "CPU A + CPU B" in proc.stdout
    warned = [line for line in proc.stderr.splitlines() if MACHINES_JSON in line]
    assert len(warned) == 1 and "is not JSON" in warned[0] and "its CPUs are not shown" in warned[0]
