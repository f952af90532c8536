"""analyze.py's seeds-needed advice on synthetic run folders: the column, the report, and the
cases with no estimate (one seed an arm, identical scores), each a single warning line."""
import numpy as np
import pandas as pd
import pytest

from tests.analysis_helpers import add_run, analysis_dir, analyze, assert_one_line_error

HEADER = "seeds needed (80% power)"


def _comparison(stdout: str) -> list[str]:
    return stdout.split("\n\n")[0].splitlines()


def _cell(stdout: str, column: str, row_marker: str) -> str:
    lines = _comparison(stdout)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = next(line for line in lines[2:] if row_marker in line)
    return [c.strip() for c in row.strip("|").split("|")][header.index(column)]


def _two_arms(outputs, skill_a: float, skill_b: float, seeds: int = 4, same_episodes=False):
    for seed in range(1, seeds + 1):
        rng_a, rng_b = (0, 0) if same_episodes else (seed, 100 + seed)
        add_run(outputs, f"a{seed}", ["agent.lr=0.001"], seed=seed, skill=skill_a, rng_seed=rng_a)
        add_run(outputs, f"b{seed}", ["agent.lr=0.002"], seed=seed, skill=skill_b, rng_seed=rng_b)


def test_a_clear_difference_gets_a_count_in_the_table_csv_and_report(tmp_path):
    outputs = tmp_path / "outputs"
    _two_arms(outputs, skill_a=0.3, skill_b=0.9)
    proc = analyze("--baseline", "agent.lr=0.001", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "seeds-needed" not in proc.stderr
    assert _cell(proc.stdout, HEADER, "| 0.002") == "4"
    assert _cell(proc.stdout, HEADER, "| 0.001") == "baseline"
    out = analysis_dir(outputs)
    summary = pd.read_csv(out / "summary.csv").set_index("agent.lr")
    assert summary.loc[0.002, "seeds_needed"] == 4
    assert 0.0 <= summary.loc[0.002, "seeds_needed_power_now"] <= 1.0
    assert HEADER in (out / "report.html").read_text()
    assert "seeds needed (80% power): seeds an arm" in (out / "summary.md").read_text()


def test_power_option_changes_the_column(tmp_path):
    _two_arms(tmp_path / "outputs", skill_a=0.3, skill_b=0.9)
    proc = analyze("--baseline", "agent.lr=0.001", "--power", "0.95", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "seeds needed (95% power)" in _comparison(proc.stdout)[0]


def test_no_column_without_a_baseline(tmp_path):
    _two_arms(tmp_path / "outputs", skill_a=0.3, skill_b=0.9)
    proc = analyze(cwd=tmp_path)
    assert proc.returncode == 0 and "seeds needed" not in proc.stdout


def test_one_seed_an_arm_says_so_in_one_line(tmp_path):
    outputs = tmp_path / "outputs"
    add_run(outputs, "a1", ["agent.lr=0.001"], seed=1, rng_seed=1)
    add_run(outputs, "a2", ["agent.lr=0.001"], seed=2, rng_seed=2)
    add_run(outputs, "b1", ["agent.lr=0.002"], seed=1, rng_seed=3)
    proc = analyze("--baseline", "agent.lr=0.001", cwd=tmp_path)
    assert proc.returncode == 0
    lines = [w for w in proc.stderr.splitlines() if "seeds-needed" in w]
    assert lines == ["analyze.py: warning: agent.lr=0.002: no seeds-needed estimate: it or the "
                     "baseline has fewer than 2 scored seeds, and an estimate resamples each "
                     "arm's spread (run at least 2 seeds of each)"]
    assert _cell(proc.stdout, HEADER, "| 0.002") == "needs 2+ seeds an arm"
    assert "nan" not in proc.stdout.lower()


@pytest.mark.parametrize("skill_b", [0.5, 0.9])
def test_identical_scores_say_so_in_one_line(tmp_path, skill_b):
    # Every seed of an arm plays the same episodes: no spread within either arm, whether the
    # arms differ (skill 0.9) or not (0.5).
    outputs = tmp_path / "outputs"
    _two_arms(outputs, skill_a=0.5, skill_b=skill_b, seeds=3, same_episodes=True)
    proc = analyze("--baseline", "agent.lr=0.001", cwd=tmp_path)
    assert proc.returncode == 0
    lines = [w for w in proc.stderr.splitlines() if "seeds-needed" in w]
    assert lines == ["analyze.py: warning: agent.lr=0.002: no seeds-needed estimate: every seed "
                     "of each arm has the same final x_pos, so there is no spread to resample"]
    assert _cell(proc.stdout, HEADER, "| 0.002") == "no spread within arms"
    assert "nan" not in proc.stdout.lower()
    summary = pd.read_csv(analysis_dir(outputs) / "summary.csv").set_index("agent.lr")
    assert np.isnan(summary.loc[0.002, "seeds_needed"])


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.2", "high"])
def test_power_outside_0_1_is_one_line(tmp_path, value):
    outputs = tmp_path / "outputs"
    add_run(outputs, "0", ["agent.lr=0.001"])
    assert_one_line_error(analyze("--power", value, cwd=tmp_path), "--power",
                          "probability strictly between 0 and 1")
    assert not (outputs / "analysis").exists()


def _standing(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("standing: "))


def test_a_comparison_of_five_finished_seeds_an_arm_is_final(tmp_path):
    outputs = tmp_path / "outputs"
    _two_arms(outputs, skill_a=0.3, skill_b=0.9, seeds=5)
    proc = analyze("--baseline", "agent.lr=0.001", cwd=tmp_path)
    assert _standing(proc.stdout) == ("standing: final: every run finished its budget, 5 or more "
                                      "seeds a configuration")
    assert "<li>standing: final" in (analysis_dir(outputs) / "report.html").read_text()


def test_fewer_seeds_and_unfinished_runs_make_a_screen(tmp_path):
    outputs = tmp_path / "outputs"
    _two_arms(outputs, skill_a=0.3, skill_b=0.9, seeds=5)
    add_run(outputs, "c1", ["agent.lr=0.005"], seed=1, status="interrupted", rng_seed=9)
    proc = analyze(cwd=tmp_path)
    assert _standing(proc.stdout) == (
        "standing: screen: 1 of 11 runs have not finished their budgets; 1 of 3 configurations "
        "have fewer than 5 scored seeds")


def test_scores_cut_at_until_are_a_screen(tmp_path):
    # Every run reached 5,000 steps, so each counts as finished at that budget; the cut itself
    # is why the figures are a screen.
    _two_arms(tmp_path / "outputs", skill_a=0.3, skill_b=0.9, seeds=5)
    proc = analyze("--until", "5000", cwd=tmp_path)
    assert _standing(proc.stdout) == ("standing: screen: scored at env step 5,000 (--until), not "
                                      "at the runs' budgets")
