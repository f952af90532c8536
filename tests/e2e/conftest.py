"""The session's real training runs, train.py on the real emulator at the smoke budget, each
made once and shared by the tests that only read it (a test that changes a run folder copies it
first). Here, not in tests/conftest.py, so that only e2e tests can ask for them: a unit or
integration test that names one fails with pytest's "fixture not found"."""
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
def smoke_run_150(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """smoke_run's command stopped at step 150, without evaluations (a run evaluates its last
    step, which smoke_run does not evaluate): its checkpoint is smoke_run's state at step 150,
    for tests that damage it or continue it (evaluations on, if they like). Copy it first."""
    run_dir = tmp_path_factory.mktemp("smoke_run_150") / "run"
    result = run_train(["experiment=smoke", "seed=7", "trainer.total_steps=150", "trainer.eval_every=null",
                        f"hydra.run.dir={run_dir}"], run_dir.parent)
    assert result.returncode == 0, result.stderr
    return run_dir


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
