"""`python train.py --help` prints the config groups and every key with its default, allowed
values and doc, rendered from the schema as docs/configuration.md is."""
from __future__ import annotations

from pathlib import Path

from mario_exp.config.reference import render_help
from tests.helpers import run_train


def test_help_shows_the_groups_and_every_key_from_the_schema(tmp_path: Path) -> None:
    result = run_train(["--help"], tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "experiment: compare_action_set, compare_batch_size" in result.stdout   # Hydra's list of conf/
    assert "scheduler: none, plateau, step" in result.stdout
    # Hydra's template reads $$ as a $.
    assert render_help().replace("$$", "$") in result.stdout
    assert "  agent.batch_size=32  [an integer >= 1]\n      transitions sampled per learn update\n" in result.stdout
    assert not (tmp_path / "outputs").exists()
