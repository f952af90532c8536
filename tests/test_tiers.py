"""The tier table of tests/conftest.py: it names only files that exist, and a test is in the
slowest of its file's tier, its fixtures' tiers and its own tier mark."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURE_TIERS, TIER_ORDER, TIERS, tier_of

HERE = Path(__file__).parent


def test_the_table_names_existing_files_and_known_tiers() -> None:
    assert sorted(f for f in TIERS if not (HERE / f).is_file()) == []
    assert set(TIERS.values()) | set(FIXTURE_TIERS.values()) <= set(TIER_ORDER)


def test_a_fixture_raises_a_tests_tier_and_an_unplaced_file_is_e2e() -> None:
    assert tier_of("test_replay.py", ["compress"]) == "unit"
    assert tier_of("test_replay.py", ["real_frames", "tmp_path"]) == "integration"
    assert tier_of("test_envs.py", ["smoke_run"]) == "e2e"
    assert tier_of("test_not_in_the_table.py", []) == "e2e"


def test_a_tests_own_mark_raises_its_tier() -> None:
    assert tier_of("test_agent.py", ["tmp_path"], ("e2e",)) == "e2e"
    assert tier_of("test_envs.py", [], ("unit",)) == "integration"   # the hook refuses such a mark


def test_this_test_carries_its_marker(request: pytest.FixtureRequest) -> None:
    assert [m.name for m in request.node.iter_markers() if m.name in TIER_ORDER] == ["unit"]
