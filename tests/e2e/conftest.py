"""The session's real training runs, train.py on the real emulator at the smoke budget, each
made once (`made_once`: once for all of `make test`'s xdist workers too) and shared by the tests
that only read it (a test that changes a run folder copies it first). smoke_run and smoke_sweep
are made by the command itself, whose every file (train.log, .hydra/) tests read; the runs only
continued or compared go through train.py's job in this process (train_in_process). Here, not in
tests/conftest.py, so that only e2e tests can ask for them: a unit or integration test that
names one fails with pytest's "fixture not found"."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SAMPLE_EFFICIENT, SWEEP, finished_run, made_once, run_train, train_in_process


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished `train.py experiment=smoke seed=7` run folder."""
    return made_once(tmp_path_factory, "smoke_run", lambda cwd: finished_run(["experiment=smoke", "seed=7"], cwd))


@pytest.fixture(scope="session")
def smoke_run_150(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """smoke_run's command stopped at step 150, without evaluations (a run evaluates its last
    step, which smoke_run does not evaluate): its checkpoint is smoke_run's state at step 150,
    for tests that damage it or continue it (evaluations on, if they like). Copy it first."""
    def make(cwd: Path) -> Path:
        run_dir = cwd / "run"
        result = train_in_process(["experiment=smoke", "seed=7", "trainer.total_steps=150",
                                   "trainer.eval_every=null", f"hydra.run.dir={run_dir}"], cwd)
        assert result.returncode == 0, result.stderr
        return run_dir
    return made_once(tmp_path_factory, "smoke_run_150", make)


@pytest.fixture(scope="session")
def smoke_sample_efficient_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke_run with every sample-efficient option (prioritized replay and the rest) on."""
    return made_once(tmp_path_factory, "smoke_sample_efficient_run",
                     lambda cwd: finished_run(["experiment=smoke", "seed=7", *SAMPLE_EFFICIENT], cwd,
                                              train_in_process))


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's sweep at the smoke budget, run as a real Hydra multirun; its sweep folder."""
    def make(cwd: Path) -> Path:
        result = run_train(["-m", "experiment=smoke", *SWEEP], cwd)
        assert result.returncode == 0, result.stderr
        sweeps = sorted((cwd / "outputs" / "multirun").glob("*/*"))
        assert len(sweeps) == 1, sweeps
        return sweeps[0]
    return made_once(tmp_path_factory, "smoke_sweep", make)
