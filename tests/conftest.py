"""Shared fixtures (real training runs on the real emulator, at the smoke budget, made once a
session) and the test tiers.

Every test gets one tier marker, the slowest of its file's (TIERS), those of the fixtures it
asks for (FIXTURE_TIERS) and its own mark, where a test in a faster file marks itself
(`@pytest.mark.e2e` on the one subprocess test among in-process ones). A mark only raises a
test's tier: one below what its file or fixtures make it would put it in two tiers.
    unit         in process: maths, configs, the analysis's parts on synthetic data; no emulator
    integration  in process but heavier: the real emulator, tmp folders (or a helper process
                 that records), every bad override through the composer, the whole analysis
                 command on synthetic run folders
    e2e          subprocesses as a user runs them: train.py runs, signals, launchers, servers
`make test-fast` runs `pytest -m unit`; `make test` runs every tier. A file missing from the
table counts as e2e until it is placed, so it never slows the fast tier by accident.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SAMPLE_EFFICIENT, SWEEP, run_train, single_run_dir

TIER_ORDER = ["unit", "integration", "e2e"]
TIERS = {
    "test_agent.py": "unit",
    "test_tiers.py": "unit",
    "test_layout.py": "unit",
    "test_analysis_plots.py": "unit",
    "test_analysis_runs.py": "unit",
    "test_analysis_scores.py": "unit",
    "test_analysis_stats.py": "unit",
    "test_configs.py": "unit",
    "test_contract.py": "unit",
    "test_reference.py": "unit",
    "test_hydra_internals.py": "unit",
    "test_final_window.py": "unit",
    "test_replay.py": "unit",           # its real-frame tests are integration (real_frames)
    "test_prioritized_replay.py": "unit",
    "test_frontier.py": "unit",
    "test_resume_conflicts.py": "unit",
    "test_sample_efficient_agent.py": "unit",
    "test_envs.py": "integration",
    "test_frontier_env.py": "integration",
    # Every bad override through the composer, in process: 72 compositions of about 0.3 s of
    # CPU each, too many for the unit tier's minute. Their train.py runs are e2e (marked, or
    # by a smoke run fixture).
    "test_bad_input.py": "integration",
    "test_bad_input_more.py": "integration",
    "test_gym_env.py": "integration",
    # analyze.py's main() in process, on synthetic run folders (1 to 3 s each): a few of
    # their tests run the command in a subprocess, marked e2e.
    "test_analysis_cli.py": "integration",
    "test_analysis_evals.py": "integration",
    "test_analysis_reliability.py": "integration",
    "test_analysis_e2e.py": "e2e",
    "test_async_update.py": "e2e",
    "test_entry_points.py": "e2e",
    "test_help.py": "e2e",
    "test_evaluation.py": "e2e",
    "test_launcher_bench.py": "e2e",
    "test_launchers.py": "e2e",
    "test_play.py": "e2e",
    "test_progress.py": "e2e",
    "test_reliability.py": "e2e",
    "test_resume.py": "e2e",
    "test_sample_efficient_training.py": "e2e",
    "test_tensorboard.py": "e2e",
    "test_training.py": "e2e",
}
FIXTURE_TIERS = {
    "real_frames": "integration",  # test_replay: 1,500 frames recorded on the emulator
    "smoke_run": "e2e",            # the session's train.py runs, below
    "smoke_sweep": "e2e",
    "smoke_sample_efficient_run": "e2e",  # main's smoke run with the sample-efficient options
    "smoke_run_150": "e2e",
}


def tier_of(file_name: str, fixtures: list[str], marks: tuple[str, ...] = ()) -> str:
    """The test's tier: the slowest of its file's, its fixtures' and its own tier marks."""
    tiers = [TIERS.get(file_name, "e2e")] + [FIXTURE_TIERS[f] for f in fixtures if f in FIXTURE_TIERS]
    return max(tiers + [m for m in marks if m in TIER_ORDER], key=TIER_ORDER.index)


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marks = tuple(m.name for m in item.iter_markers() if m.name in TIER_ORDER)
        tier = tier_of(item.path.name, list(getattr(item, "fixturenames", ())), marks)
        if any(m != tier for m in marks):
            raise pytest.UsageError(f"{item.nodeid}: marked {', '.join(marks)}, but its file or fixtures make "
                                    f"it {tier}; a tier mark can only raise a test's tier")
        if tier not in marks:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as this process's working directory, for a command run in process: its default
    folders (outputs/...) are relative to the folder it runs in, as a user's would be."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


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
