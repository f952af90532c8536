"""The test tiers, and the fixtures every tier may use.

A test's tier is its folder's: tests/unit, tests/integration or tests/e2e.
    unit         in process: maths, configs, the analysis's parts on synthetic data; no emulator
    integration  in process but heavier: the real emulator, tmp folders (or a helper process
                 that records), every bad override through the composer, the whole analysis
                 command on synthetic run folders
    e2e          real training runs: commands in subprocesses as a user runs them (train.py,
                 signals, launchers, servers), and train.py's job in process where only the
                 run folder it writes or its one-line refusal is checked
The hook below gives each test its folder's marker, so `pytest -m unit` and `pytest tests/unit`
(`make test-fast`) run the same tests. Collection stops on a test file outside the three
folders, or on a test marked with another tier than its folder's: a test that needs more than
its folder allows moves to a slower folder. The session's real training runs live in
tests/e2e/conftest.py, where only e2e tests can ask for them.
"""
from __future__ import annotations

from pathlib import Path

import pytest

TIER_FOLDERS = ("unit", "integration", "e2e")
TESTS = Path(__file__).resolve().parent


def folder_tier(path: Path, marks: tuple[str, ...], test: str) -> str:
    """The tier of the test `test`, defined in the file at `path` and carrying the tier marks
    `marks`: the name of the tier folder holding that file. UsageError, in one line, for a file
    in no tier folder or a mark of another tier."""
    tier = path.parent.name
    if tier not in TIER_FOLDERS or path.resolve().parent.parent != TESTS:
        raise pytest.UsageError(f"{path}: a test file belongs in tests/unit, tests/integration or tests/e2e, "
                                "the folder of its tier")
    other = [mark for mark in marks if mark != tier]
    if other:
        raise pytest.UsageError(f"{test}: marked {', '.join(other)} in tests/{tier}; a test's tier is its "
                                "folder's, so move it to that folder instead")
    return tier


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marks = tuple(m.name for m in item.iter_markers() if m.name in TIER_FOLDERS)
        tier = folder_tier(item.path, marks, item.nodeid)
        if tier not in marks:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as this process's working directory, for a command run in process: its default
    folders (outputs/...) are relative to the folder it runs in, as a user's would be."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
