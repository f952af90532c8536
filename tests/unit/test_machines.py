"""machines.json: which machines trained a run (rundir/machines.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mario_exp.rundir.contract import MACHINES_JSON
from mario_exp.rundir.machines import cpu_model, machines_text, read_machines, this_machine


def test_the_cpu_model_is_the_kernels_name_for_it() -> None:
    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")]
    assert cpu_model() == " ".join(names[0].split())


def test_an_entry_says_where_and_from_which_step() -> None:
    entry = this_machine(25_000, "cpu bf16, 1 thread")
    assert list(entry) == ["start_step", "started", "host", "cpu", "cores", "python", "torch", "learner"]
    assert entry["start_step"] == 25_000 and entry["learner"] == "cpu bf16, 1 thread"
    assert entry["cpu"] == cpu_model() and entry["cores"] >= 1 and entry["torch"][0].isdigit()


def test_a_fresh_start_writes_one_entry_and_a_resume_adds_one(tmp_path: Path) -> None:
    first = this_machine(0, "cpu fp32, 1 thread")
    (tmp_path / MACHINES_JSON).write_text(machines_text(tmp_path, first, resuming=False))
    second = this_machine(150, "cpu fp32, 2 threads")
    (tmp_path / MACHINES_JSON).write_text(machines_text(tmp_path, second, resuming=True))
    assert read_machines(tmp_path) == [first, second]
    # From step 0 again (trainer.start_over=true), the earlier entries go with the run they described.
    (tmp_path / MACHINES_JSON).write_text(machines_text(tmp_path, first, resuming=False))
    assert read_machines(tmp_path) == [first]


def test_a_resume_over_an_unreadable_file_starts_the_list_again(tmp_path: Path) -> None:
    (tmp_path / MACHINES_JSON).write_text("{not json")
    entry = this_machine(150, "cpu fp32, 1 thread")
    assert json.loads(machines_text(tmp_path, entry, resuming=True)) == [entry]


def test_a_folder_without_the_file_has_no_entries(tmp_path: Path) -> None:
    assert read_machines(tmp_path) == []


@pytest.mark.parametrize("text, why", [("{not json", "is not JSON"), ('{"cpu": "x"}', "not a list"),
                                       ('[{"host": "vm"}]', "not a list of entries with a 'cpu'")])
def test_a_file_that_is_not_a_list_of_entries_is_a_value_error(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / MACHINES_JSON).write_text(text)
    with pytest.raises(ValueError, match=why):
        read_machines(tmp_path)


def test_a_folder_in_the_files_place_is_a_value_error(tmp_path: Path) -> None:
    (tmp_path / MACHINES_JSON).mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        read_machines(tmp_path)
