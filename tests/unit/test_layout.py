"""The package's rooms import one way (docs/layout.md): a room may use the rooms listed for it
here and no others, so that the analysis never needs torch, the agent never sees a run folder,
and a change's place follows from what it touches."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "mario_exp"
# room -> the other rooms of mario_exp it may import. cli, the commands, may use everything.
MAY_IMPORT = {
    "config": set(),
    "env": {"config"},
    "agent": {"config"},
    "rundir": {"config"},
    "training": {"config", "env", "agent", "rundir"},
    "launch": {"rundir"},
    "analysis": {"rundir"},
    "cli": {"config", "env", "agent", "training", "rundir", "launch", "analysis"},
}


def imported_rooms(path: Path) -> set[str]:
    """The rooms of mario_exp that a module imports, anywhere in it (function bodies too)."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.level == 0 else []
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        rooms |= {name.split(".")[1] for name in names if name.startswith("mario_exp.")}
    return rooms


def test_every_room_is_known_and_nothing_sits_beside_them() -> None:
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms == set(MAY_IMPORT)
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]


@pytest.mark.parametrize("room", sorted(MAY_IMPORT))
def test_room_imports_only_what_it_may(room: str) -> None:
    allowed = MAY_IMPORT[room] | {room}
    wrong = {str(path.relative_to(REPO)): sorted(imported_rooms(path) - allowed)
             for path in sorted((PACKAGE / room).rglob("*.py"))}
    assert {path: rooms for path, rooms in wrong.items() if rooms} == {}


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from mario_exp.training.trainer import train\n"
                      "import mario_exp.agent.ddqn\nfrom .near import x\n")
    assert imported_rooms(module) == {"training", "agent"}
