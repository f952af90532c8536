"""The studies committed under results/ stay readable: `analyze.py results/<study>` regenerates
what docs/results.md shows from them, with no option beyond the folder."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mario_exp.rundir.contract import with_keys_added_later
from tests.analysis_helpers import analyze
from tests.helpers import REPO, compose_config

STUDIES = sorted(p.name for p in (REPO / "results").iterdir() if p.is_dir())


@pytest.mark.parametrize("study", STUDIES)
def test_each_study_is_analysed_without_a_warning_about_its_files(study: str, tmp_path: Path) -> None:
    result = analyze(REPO / "results" / study, "--out", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # Runs stopped to be continued later are provisional, and say so; anything else is a defect.
    assert [line for line in result.stderr.splitlines() if "interrupted" not in line] == []
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "report.html").is_file()


def test_the_headline_study_is_one_configuration_of_three_seeds(tmp_path: Path) -> None:
    """Seeds 1 and 2 were started as `experiment=flag action_set=right_run`, seed 3 as
    `experiment=flag` after the preset chose right_run: the same config, so one row."""
    assert "flag-1-1" in STUDIES
    assert analyze(REPO / "results" / "flag-1-1", "--out", tmp_path, cwd=tmp_path).returncode == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 1 and summary["seeds"].iloc[0] == 3, summary.T


def test_the_150k_study_is_the_quick_preset_in_three_seeds(tmp_path: Path) -> None:
    """quick-1-1's seeds were started as `experiment=flag agent.learn_every=1
    trainer.total_steps=150000`, before quick took those values: each stored config is what
    `experiment=quick` composes to now, so the figures docs/results.md gives for it are the preset's."""
    runs = sorted((REPO / "results" / "quick-1-1").glob("seed*"))
    assert [run.name for run in runs] == ["seed1", "seed2", "seed3"]
    for run in runs:
        stored = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
        assert with_keys_added_later(stored) == asdict(compose_config(["experiment=quick",
                                                                       f"seed={run.name.removeprefix('seed')}"]))
    assert analyze(REPO / "results" / "quick-1-1", "--out", tmp_path, cwd=tmp_path).returncode == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 1 and summary["seeds"].iloc[0] == 3, summary.T
