"""More bad input (issue 15): each once gave a traceback, a line that did not name the key, or
a wrong run. Now each is refused in one line that names the key and what is allowed, and
leaves nothing in the working directory (checked through the composer in this process, as in
test_bad_input.py). Also the names Hydra's sweep folders get, resolved here as Hydra resolves
them; the real train.py and play runs of this kind of input (folder names too long, a full disk,
`--out` where no video can be written) are e2e/test_bad_input_commands.py's."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from mario_exp.launch import jobname
from tests.bad_input_helpers import LONG_SWEEP, assert_refused
from tests.helpers import REPO

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
