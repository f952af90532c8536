"""Shared fixtures: real training runs on the real emulator, at the smoke budget, made once a session."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SAMPLE_EFFICIENT, SWEEP, run_train, single_run_dir


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished `train.py experiment=smoke seed=7` run folder."""
    cwd = tmp_path_factory.mktemp("smoke_run")
    result = run_train(["experiment=smoke", "seed=7"], cwd)
    assert result.returncode == 0, result.stderr
    return single_run_dir(cwd)


@pytest.fixture(scope="session")
def smoke_sample_efficient_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke_run with every sample-efficient option (prioritized replay and the rest) on."""
    cwd = tmp_path_factory.mktemp("smoke_sample_efficient_run")
    result = run_train(["experiment=smoke", "seed=7", *SAMPLE_EFFICIENT], cwd)
    assert result.returncode == 0, result.stderr
    return single_run_dir(cwd)


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's sweep at the smoke budget, run as a real Hydra multirun; its sweep folder."""
    cwd = tmp_path_factory.mktemp("smoke_sweep")
    result = run_train(["-m", "experiment=smoke", *SWEEP], cwd)
    assert result.returncode == 0, result.stderr
    sweeps = sorted((cwd / "outputs" / "multirun").glob("*/*"))
    assert len(sweeps) == 1, sweeps
    return sweeps[0]
