"""The console scripts of [project.scripts] work as installed, from a folder outside the checkout,
without PYTHONPATH: mario-train finds conf/ and writes into the folder it runs in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, single_run_dir

BIN = Path(sys.executable).parent  # the venv's bin, where make setup's install put the scripts
SCRIPTS = ["mario-train", "mario-analyze", "mario-play"]


def run_script(name: str, args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    script = BIN / name
    assert script.is_file(), f"{script} is missing: install the checkout (make setup)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_pyproject_declares_the_three_scripts() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert sorted(scripts) == sorted(SCRIPTS)
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function))


@pytest.mark.parametrize("name,expected", [
    ("mario-train", "experiment: compare_action_set"),   # Hydra's help lists conf/'s groups
    ("mario-analyze", "RUN_OR_SWEEP"),
    ("mario-play", "RUN_DIR_OR_CHECKPOINT"),
])
def test_help_from_any_folder(tmp_path: Path, name: str, expected: str) -> None:
    result = run_script(name, ["--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_train_composes_the_checkouts_conf_and_refuses_a_bad_override(tmp_path: Path) -> None:
    result = run_script("mario-train", ["--cfg", "job", "experiment=smoke", "seed=3"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "seed: 3" in result.stdout and "total_steps: 400" in result.stdout
    result = run_script("mario-train", ["agent.batch_size=abc"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["train.py: error: agent.batch_size='abc': must be an integer"]
    assert not (tmp_path / "outputs").exists()


def test_train_then_play_from_a_folder_outside_the_checkout(tmp_path: Path) -> None:
    result = run_script("mario-train", ["experiment=smoke", "trainer.total_steps=200",
                                        "trainer.eval_every=null", "trainer.checkpoint_every=100"], tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = single_run_dir(tmp_path)
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    video = tmp_path / "play.mp4"
    result = run_script("mario-play", [str(run_dir), "--max-steps", "3", "--no-window", "--out", str(video)],
                        tmp_path)
    assert result.returncode == 0, result.stderr
    assert video.stat().st_size > 0


def test_analyze_says_in_one_line_when_there_is_nothing_to_read(tmp_path: Path) -> None:
    result = run_script("mario-analyze", ["--outputs", str(tmp_path / "none")], tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "does not exist" in result.stderr
