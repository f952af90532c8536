"""What the bad-input tests share between their tiers: the check that the composer refuses an
override in one line and writes nothing (integration/, in process), and the cases that
integration/ checks through the composer and e2e/ through train.py itself."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mario_exp.agent.ddqn import bf16_supported
from mario_exp.config.preflight import compose_jobs
from mario_exp.config.schema import ConfigError
from tests.helpers import CONF


def refusal(args: list[str], workdir: Path) -> str:
    """The one line compose_jobs(args) refuses them with; it must have written nothing."""
    with pytest.raises(ConfigError) as caught:
        compose_jobs(args, CONF)
    assert not any(workdir.iterdir()), list(workdir.iterdir())
    line = str(caught.value)
    assert line and "\n" not in line, line
    return line


def assert_refused(args: list[str], words: list[str], workdir: Path) -> None:
    line = refusal(args, workdir)
    for word in words:
        assert word in line, line


# (overrides, whether this machine has what they ask for, the one line when it has not)
HARDWARE = {
    "cuda": (["experiment=smoke", "trainer.device=cuda"], torch.cuda.is_available,
             "trainer.device='cuda': no CUDA device is available here; use auto or cpu"),
    "bf16": (["experiment=smoke", "trainer.device=cpu", "trainer.precision=bf16"],
             lambda: bf16_supported(torch.device("cpu")),
             "trainer.precision='bf16': this CPU has no bf16 units; use auto or fp32"),
}

# 17 overrides of a realistic sweep: their job folder names are 400+ bytes.
LONG_SWEEP = ["agent.batch_size=32", "agent.learn_every=3", "agent.lr=0.000250000000001",
              "agent.gamma=0.900000000001", "agent.burnin=10", "agent.sync_every=100", "agent.memory_size=1000",
              "agent.epsilon.start=0.999999999999", "agent.epsilon.min=0.100000000001",
              "agent.epsilon.decay=0.99999975", "scheduler.factor=0.500000000001", "env.frame_skip=4",
              "trainer.total_steps=30", "trainer.log_every=10", "trainer.checkpoint_every=30",
              "trainer.eval_every=null", "seed=1,2"]
