"""Bad input given to the real commands, as a user runs them: train.py prints the composer's
line (or the hardware check's, which loads torch in the command process) as
`train.py: error: <line>`, alone on stderr, exits with status 2 and leaves no run folder; a
sweep whose folder names would be too long gets short unique ones; a full disk is named in one
line and keeps the last good checkpoint; `mario_exp.cli.play --out` where no video can be
written is one line. What the composer refuses, case by case, is checked in process by
integration/test_bad_input.py and integration/test_bad_input_more.py."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import torch

from tests.bad_input_helpers import HARDWARE, LONG_SWEEP, refusal
from tests.helpers import play_in_process, run_play, run_train, train_in_process


def assert_train_py_refuses(args: list[str], line: str, tmp_path: Path) -> None:
    """`python train.py ARGS` exits 2 with exactly `train.py: error: LINE` and writes nothing."""
    result = run_train(args, tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"train.py: error: {line}\n"
    assert "Traceback" not in result.stdout
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_train_py_prints_the_composers_line_and_exits_2(workdir: Path) -> None:
    """End to end, once: a sweep with one bad job stops before the first job starts."""
    args = ["-m", "experiment=smoke", "env.world=1,9"]
    assert_train_py_refuses(args, refusal(args, workdir), workdir)


def test_train_py_refuses_missing_hardware_in_one_line(tmp_path: Path) -> None:
    """End to end, once: the check loads torch in the command process, and nothing torch
    prints there may add to the one line."""
    unmet = [(args, expected) for args, available, expected in HARDWARE.values() if not available()]
    if not unmet:
        pytest.skip("this machine has a CUDA device and bf16 units: no hardware request to refuse")
    args, expected = unmet[0]
    assert_train_py_refuses(args, expected, tmp_path)


def test_a_sweep_of_many_overrides_gets_short_unique_folder_names(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = run_train(["-m", *LONG_SWEEP, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(jobs) == 2 and jobs[0].name != jobs[1].name
    for number, job in enumerate(jobs):
        assert len(job.name.encode()) <= 200 and job.name.startswith(f"{number}_agent.batch_size=32,")
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        assert all(o.split("=")[0] in overrides for o in LONG_SWEEP)
        assert (job / "checkpoints" / "last.pt").exists()


def test_a_full_disk_is_named_and_keeps_the_last_good_checkpoint(smoke_run_150: Path, tmp_path: Path) -> None:
    """The checkpoint's temporary file is a link to /dev/full, where every write fails with
    ENOSPC as on a full disk: torch.save's own message hid that."""
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run_150, run_dir)
    args = ["experiment=smoke", "seed=7", "trainer.eval_every=null", f"hydra.run.dir={run_dir}"]
    checkpoint = run_dir / "checkpoints" / "last.pt"
    good = checkpoint.read_bytes()
    (run_dir / "checkpoints" / ".last.pt.tmp").symlink_to("/dev/full")
    result = run_train([*args, "trainer.total_steps=300"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line, = result.stderr.strip().splitlines()
    assert line == (f"train.py: error: {run_dir}: cannot write {checkpoint}: No space left on device; the "
                    "last good checkpoint is kept (free some space and rerun to resume)")
    assert checkpoint.read_bytes() == good
    assert torch.load(checkpoint, weights_only=True)["progress"]["step"] == 150

    # Space again: the same job, run in this process, resumes from the kept checkpoint.
    assert train_in_process([*args, "trainer.total_steps=300"], tmp_path).returncode == 0
    assert torch.load(checkpoint, weights_only=True)["progress"]["step"] == 300


def test_play_out_a_folder_is_one_line(smoke_run: Path, tmp_path: Path) -> None:
    result = run_play([str(smoke_run), "--max-steps", "5", "--out", str(tmp_path)], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"python -m mario_exp.cli.play: error: --out {tmp_path}: is a folder; give "
                                     f"the MP4 file to write, e.g. {tmp_path / 'play.mp4'}")


def test_play_out_where_nothing_can_be_written_is_one_line(smoke_run: Path, tmp_path: Path) -> None:
    """/sys refuses new files even to root, like a read-only mount."""
    if not Path("/sys").is_dir() or _writable(Path("/sys")):
        pytest.skip("needs a folder nobody can write in")
    out = Path("/sys/mario.mp4")
    # play's main() in this process: test_play_out_a_folder_is_one_line runs the command.
    result = play_in_process([str(smoke_run), "--max-steps", "5", "--out", str(out)], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"python -m mario_exp.cli.play: error: --out {out}: cannot write in /sys (")


def _writable(folder: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False
