"""The studies committed under results/ stay readable: `analyze.py results/<study>` regenerates
what docs/results.md shows from them, with no option beyond the folder."""
from __future__ import annotations

import itertools
import subprocess
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mario_exp.rundir.contract import flatten_config, with_keys_added_later
from tests.analysis_helpers import analyze
from tests.helpers import REPO, compose_config

RESULTS = REPO / "results"
REPLICATION = RESULTS / "replication"
# Each folder of results/ is a study, but replication/, whose folders are one study a claim.
STUDIES = sorted([p.name for p in RESULTS.iterdir() if p.is_dir() and p != REPLICATION]
                 + [f"replication/{p.name}" for p in REPLICATION.glob("*") if p.is_dir()])


@pytest.mark.parametrize("study", STUDIES)
def test_each_study_is_analysed_without_a_warning_about_its_files(study: str, tmp_path: Path) -> None:
    result = analyze(RESULTS / study, "--out", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # Runs stopped to be continued later, or still running when their files were committed, are
    # provisional, and say so; the tutorial's runs never explore less than epsilon 0.96 at 150k,
    # and say so (that is what they are kept to show); anything else is a defect.
    said = ("interrupted", "still running", "epsilon never went below")
    assert [line for line in result.stderr.splitlines() if not any(words in line for words in said)] == []
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "report.html").is_file()


def assert_one_configuration_of_seeds(study: str, overrides: list[str], tmp_path: Path,
                                           seeds: int = 3) -> pd.Series:
    """Each seed's stored config is what `overrides` and its seed compose to now (the keys its
    code predates filled in), and the analysis makes them one row; that row."""
    runs = sorted((REPO / "results" / study).glob("seed*"))
    assert [run.name for run in runs] == [f"seed{n}" for n in range(1, seeds + 1)]
    for run in runs:
        stored = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
        seed = f"seed={run.name.removeprefix('seed')}"
        assert with_keys_added_later(stored) == asdict(compose_config([*overrides, seed])), run
    assert analyze(REPO / "results" / study, "--out", tmp_path, cwd=tmp_path).returncode == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 1 and summary["seeds"].iloc[0] == seeds, summary.T
    return summary.iloc[0]


def test_the_headline_study_is_the_flag_preset_in_three_seeds(tmp_path: Path) -> None:
    """flag-1-1's seeds are quick-1-1's runs continued in their folders with `experiment=flag`."""
    assert_one_configuration_of_seeds("flag-1-1", ["experiment=flag"], tmp_path)


def test_the_150k_study_is_the_quick_preset_in_three_seeds(tmp_path: Path) -> None:
    """quick-1-1's seeds were started as `experiment=flag agent.learn_every=1
    trainer.total_steps=150000`, before quick took those values: each stored config is what
    `experiment=quick` composes to now, so the figures docs/results.md gives for it are the preset's."""
    summary = assert_one_configuration_of_seeds("quick-1-1", ["experiment=quick"], tmp_path)
    assert summary["runs_finished"] == 3


def test_the_update_every_3_study_is_the_former_flag_preset(tmp_path: Path) -> None:
    """flag-every3-1-1 is `flag` as it was until 2026-12-06, spelt out as docs/presets.md does
    (seeds 1 and 2 were started with `action_set=right_run` before the preset took it)."""
    assert_one_configuration_of_seeds(
        "flag-every3-1-1", ["experiment=flag", "agent.learn_every=3", "trainer.schedule_horizon=null"], tmp_path)


# The tutorial's settings (the default config, no preset) at quick's budget and evaluation.
TUTORIAL_AT_150K = ["trainer.total_steps=150000", "trainer.eval_episodes=20"]


def test_the_tutorial_reference_is_the_default_config_at_quicks_budget(tmp_path: Path) -> None:
    """tutorial-1-1: one finished seed of the default config, as docs/results.md's command makes it."""
    summary = assert_one_configuration_of_seeds("tutorial-1-1", TUTORIAL_AT_150K, tmp_path, seeds=1)
    assert summary["runs_finished"] == 1
    overrides = REPO / "results" / "tutorial-1-1" / "seed1" / ".hydra" / "overrides.yaml"
    assert yaml.safe_load(overrides.read_text()) == ["seed=1", *TUTORIAL_AT_150K]


# The arms of each replication study (docs/replication.md): the key its runs differ from
# experiment=quick in (a group's name stands for all of the group's keys), and the value of each
# arm's runs; quick/ is the arm three claims share.
REPLICATION_ARMS = {
    "learn_every": ("agent.learn_every", {5, 10}),
    "quick": ("agent.batch_size", {32}),
    "action_set": ("action_set.name", {"right_only"}),
    "scheduler": ("scheduler.name", {"plateau"}),
    "batch_size": ("agent.batch_size", {64}),
}


def arm_and_seed(claim: str, overrides: list[str]) -> tuple[str, int]:
    """The claim's key's value and the seed of the job `overrides` make, after checking that its
    config differs from experiment=quick's of its seed in the claim's key alone."""
    key, _ = REPLICATION_ARMS[claim]
    composed = asdict(compose_config(overrides))
    quick = flatten_config(asdict(compose_config(["experiment=quick", f"seed={composed['seed']}"])))
    changed = {k for k, v in flatten_config(composed).items() if quick.get(k) != v}
    group = key.removesuffix(".name")
    assert all(k == key or k.startswith(f"{group}.") for k in changed), (overrides, changed)
    arm = composed
    for part in key.split("."):
        arm = arm[part]
    return str(arm), composed["seed"]


def assert_arms_and_seeds(claim: str, seeds: dict[str, set[int]]) -> None:
    assert seeds and set(seeds) <= {str(v) for v in REPLICATION_ARMS[claim][1]}, seeds
    assert all(found <= set(range(1, 6)) for found in seeds.values()), seeds


@pytest.mark.parametrize("claim", sorted(p.name for p in REPLICATION.glob("*") if p.is_dir()))
def test_each_replication_run_is_what_its_command_composes(claim: str) -> None:
    """Every run of a replication study stored the config its own overrides compose to now (its
    sweep's command), differs from experiment=quick's of its seed in the claim's key alone, and
    is one of seeds 1 to 5 of its arm."""
    assert claim in REPLICATION_ARMS, f"results/replication/{claim} is not in docs/replication.md"
    seeds: dict[str, set[int]] = {}
    for config_file in sorted((REPLICATION / claim).glob("*/.hydra/config.yaml")):
        run = config_file.parent.parent
        stored = yaml.safe_load(config_file.read_text())
        overrides = yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
        assert with_keys_added_later(stored) == asdict(compose_config(overrides)), run
        arm, seed = arm_and_seed(claim, overrides)
        seeds.setdefault(arm, set()).add(seed)
    # A study committed while it trains may not have begun its second arm yet.
    assert_arms_and_seeds(claim, seeds)


def replication_sweeps() -> dict[str, list[str]]:
    """`make replication`'s sweeps: each one's folder name (its claim) and its task overrides."""
    listed = subprocess.run(["make", "-n", "replication", "REPLICATION_RUNS=RUNS"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    sweeps = {}
    for line in listed.splitlines():
        if " train.py -m " in line:
            words = line.split()
            folder, = [w.removeprefix("hydra.sweep.dir=RUNS/") for w in words if w.startswith("hydra.sweep.dir=")]
            sweeps[folder] = [w for w in words[words.index("-m") + 1:]
                              if "=" in w and not w.startswith("hydra")]
    return sweeps


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The jobs of `train.py -m <overrides>` with Hydra's basic sweeper: every combination of the
    comma-separated values, the preset's hydra.sweeper.params filling the keys the command leaves."""
    preset, = [o.removeprefix("experiment=") for o in overrides if o.startswith("experiment=")]
    params = yaml.safe_load((REPO / "conf" / "experiment" / f"{preset}.yaml").read_text())
    swept = {k: str(v) for k, v in params.get("hydra", {}).get("sweeper", {}).get("params", {}).items()}
    swept.update(o.split("=", 1) for o in overrides)
    return [[f"{k}={v}" for k, v in zip(swept, values)]
            for values in itertools.product(*(v.split(",") for v in swept.values()))]


def test_make_replication_runs_each_study_docs_replication_describes() -> None:
    """One sweep a claim folder, in the docs' order, each job on quick with the claim's key
    changed alone, the arm's values and seeds 1 to 5 (the quick arm: 4 and 5, its 1 to 3 being
    results/quick-1-1)."""
    sweeps = replication_sweeps()
    assert list(sweeps) == ["learn_every", "quick", "action_set", "scheduler", "batch_size"]
    for claim, overrides in sweeps.items():
        seeds: dict[str, set[int]] = {}
        for job in sweep_jobs(overrides):
            arm, seed = arm_and_seed(claim, job)
            seeds.setdefault(arm, set()).add(seed)
        assert set(seeds) == {str(v) for v in REPLICATION_ARMS[claim][1]}, (claim, seeds)
        assert all(found == ({4, 5} if claim == "quick" else set(range(1, 6))) for found in seeds.values())
