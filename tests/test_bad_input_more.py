"""More bad input (issue 15): each once gave a traceback, a line that did not name the key, or
a wrong run. Now each is refused in one line that names the key and what is allowed, and
leaves nothing in the working directory (checked through the composer in this process, as in
test_bad_input.py). Also, with real train.py runs: sweeps whose folder names would be too long,
a full disk, and `mario_exp.cli.play --out` where no video can be written."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from mario_exp.launch import jobname
from tests.helpers import REPO, run_train
from tests.test_bad_input import assert_refused
from tests.test_play import play

CASES = [
    # (arguments, words the one line must contain)
    (["hydra.run.dir="], ["hydra.run.dir=''", "working directory"]),          # trained into the checkout
    (["-m", "hydra.sweep.dir="], ["hydra.sweep.dir=''", "working directory"]),
    (["agent=null"], ["agent=null", "one of its options: ddqn"]),               # ValueError traceback
    (["experiment=null"], ["experiment=null", "smoke", "quick"]),
    (["=5"], ["=5", "needs a key"]),
    (["-m", "seed=range(1,3,0)"], ["seed=range(1,3,0)", "must not be zero"]),
    (["seed=" + "9" * 5000], ["seed=999", "cannot parse", "4300 digits"]),
    (["hydra.run.dir=${oc.env:NOPE}"], ["hydra.run.dir", "NOPE"]),
    (["agent.batch_size=${oc.env:NOPE}"], ["agent.batch_size", "NOPE"]),     # did not name the key
    (["--config-dir=/nonexistent"], ["--config-dir=/nonexistent", "no such folder"]),  # two lines, exit 1
    (["--config-path=nowhere"], ["--config-path=nowhere", "no such folder"]),
    (["agent.lr=inf"], ["agent.lr=inf", "a finite number > 0"]),               # passed, then diverged
    (["agent.lr=nan"], ["agent.lr=nan", "a finite number > 0"]),
    (["~seed"], ["~seed", "cannot be deleted", "seed=..."]),                   # quietly seed 1
    (["seed=${now:%s}"], ["seed=${now:%s}", "fixed value"]),                   # stored unresolved
    (["-m", "seed=range(0)"], ["seed=range(0)", "no values"]),                 # exit 0, 0 jobs
    (["-m", "seed=range(5,1)"], ["seed=range(5,1)", "no values"]),
]


@pytest.mark.parametrize("args,words", CASES, ids=[" ".join(a)[:40] for a, _ in CASES])
def test_more_bad_overrides_are_one_clear_line(workdir: Path, args: list[str], words: list[str]) -> None:
    assert_refused(args, words, workdir)   # which also finds nothing written in the working directory


# 17 overrides of a realistic sweep: their job folder names are 400+ bytes.
LONG_SWEEP = ["agent.batch_size=32", "agent.learn_every=3", "agent.lr=0.000250000000001",
              "agent.gamma=0.900000000001", "agent.burnin=10", "agent.sync_every=100", "agent.memory_size=1000",
              "agent.epsilon.start=0.999999999999", "agent.epsilon.min=0.100000000001",
              "agent.epsilon.decay=0.99999975", "scheduler.factor=0.500000000001", "env.frame_skip=4",
              "trainer.total_steps=30", "trainer.log_every=10", "trainer.checkpoint_every=30",
              "trainer.eval_every=null", "seed=1,2"]


@pytest.mark.e2e
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

    assert run_train([*args, "trainer.total_steps=300"], tmp_path).returncode == 0   # space again
    assert torch.load(checkpoint, weights_only=True)["progress"]["step"] == 300


def test_play_out_a_folder_is_one_line(smoke_run: Path, tmp_path: Path) -> None:
    result = play([str(smoke_run), "--max-steps", "5", "--out", str(tmp_path)], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"python -m mario_exp.cli.play: error: --out {tmp_path}: is a folder; give "
                                     f"the MP4 file to write, e.g. {tmp_path / 'play.mp4'}")


def test_play_out_where_nothing_can_be_written_is_one_line(smoke_run: Path, tmp_path: Path) -> None:
    """/sys refuses new files even to root, like a read-only mount."""
    if not Path("/sys").is_dir() or _writable(Path("/sys")):
        pytest.skip("needs a folder nobody can write in")
    out = Path("/sys/mario.mp4")
    result = play([str(smoke_run), "--max-steps", "5", "--out", str(out)], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"python -m mario_exp.cli.play: error: --out {out}: cannot write in /sys (")


def _writable(folder: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def test_job_folder_names_stay_as_hydra_names_them_until_too_long() -> None:
    """conf/hydra/default.yaml's subdir through the resolver, as Hydra resolves it for a job."""
    jobname.register()
    subdir = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "hydra" / "default.yaml"))["sweep"]["subdir"]

    def name(num: int, overrides: list[str]) -> str:
        cfg = OmegaConf.create({"hydra": {"job": {"num": num, "override_dirname": ",".join(overrides)}},
                                "subdir": subdir})
        return cfg.subdir

    assert name(3, ["agent.batch_size=64", "agent.learn_every=10"]) == "3_agent.batch_size=64,agent.learn_every=10"
    long_names = [name(0, [*LONG_SWEEP[:-1], f"seed={seed}"]) for seed in (1, 2)]
    assert long_names[0] != long_names[1]
    for long_name in long_names:
        assert len(long_name.encode()) == 200 and long_name.startswith("0_agent.batch_size=32,agent.learn_every=3,")
    assert len(name(0, ["env.world=" + "é" * 150]).encode()) <= 200   # cut between characters
