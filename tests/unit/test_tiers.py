"""The tiers are folders (tests/conftest.py): every test file sits in one of them, the hook marks
each test with its folder's tier and refuses a file outside them or a mark of another tier, and
test modules share code through helper modules only, never by importing each other (which would
tie a test to another tier's module)."""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import TESTS, TIER_FOLDERS, folder_tier


def test_every_test_file_sits_in_one_tier_folder() -> None:
    files = sorted(TESTS.rglob("test_*.py"))
    assert [str(f.relative_to(TESTS)) for f in files if f.parent.parent != TESTS
            or f.parent.name not in TIER_FOLDERS] == []
    assert [name for name, count in Counter(f.name for f in files).items() if count > 1] == []
    assert all((TESTS / tier / "__init__.py").is_file() for tier in TIER_FOLDERS)


def test_this_test_carries_only_its_folders_marker(request: pytest.FixtureRequest) -> None:
    assert [m.name for m in request.node.iter_markers() if m.name in TIER_FOLDERS] == ["unit"]


def test_a_test_gets_its_folders_tier_and_may_repeat_it() -> None:
    assert folder_tier(TESTS / "e2e" / "test_x.py", (), "test_x") == "e2e"
    assert folder_tier(TESTS / "integration" / "test_x.py", ("integration",), "test_x") == "integration"


@pytest.mark.parametrize("path, marks, words", [
    (TESTS / "test_x.py", (), ["test_x.py", "tests/unit, tests/integration or tests/e2e"]),
    (TESTS / "e2e" / "unit" / "test_x.py", (), ["e2e/unit/test_x.py", "tests/unit, tests/integration or tests/e2e"]),
    (TESTS / "unit" / "test_x.py", ("e2e",), ["test_x.py::test_y", "marked e2e in tests/unit", "move it"]),
], ids=["beside the folders", "in a folder below another", "another tier's mark"])
def test_the_hook_refuses_in_one_line(path: Path, marks: tuple[str, ...], words: list[str]) -> None:
    with pytest.raises(pytest.UsageError) as caught:
        folder_tier(path, marks, f"{path.name}::test_y")
    line = str(caught.value)
    assert "\n" not in line and all(word in line for word in words), line


def imported_test_modules(path: Path) -> list[str]:
    """The test modules (tests.<...>.test_*) that the module at `path` imports, anywhere in it."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [name for name in names if name.startswith("tests.") and name.rpartition(".")[2].startswith("test_")]


def test_test_modules_import_no_other_test_module() -> None:
    imports = {str(path.relative_to(TESTS)): imported_test_modules(path) for path in sorted(TESTS.rglob("*.py"))}
    assert {path: names for path, names in imports.items() if names} == {}


def test_the_import_check_sees_every_form(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tests.e2e.test_play import x\n"
                      "from tests.unit import test_replay\nimport tests.integration.test_envs\n"
                      "from tests.helpers import REPO\n")
    assert sorted(imported_test_modules(module)) == ["tests.e2e.test_play", "tests.integration.test_envs",
                                                     "tests.unit.test_replay"]
