"""The benchmark screens measure what they say: the fused module is K independent networks, the
interval's error rate between identical arms falls with the seeds as measured, and the plateau
preview steps the trainer's own schedule as the trainer does."""
import numpy as np
import pandas as pd
import pytest
import torch

from benchmarks import plateau_preview
from benchmarks.batched_learner_screen import ACTIONS, SIZE, STACK, FusedSeeds
from benchmarks.interval_errors import false_positive_rate
from mario_exp.agent.ddqn import QNetwork
from mario_exp.config.schema import SchedulerConfig
from tests.helpers import REPO, compose_config


def test_fused_seeds_compute_each_seeds_own_network():
    torch.manual_seed(0)
    nets = [QNetwork(STACK, SIZE, ACTIONS, dueling=True) for _ in range(3)]
    fused = FusedSeeds.from_networks(nets)
    frames = [torch.randint(0, 256, (5, STACK, SIZE, SIZE), dtype=torch.uint8) for _ in nets]
    with torch.no_grad():
        together = fused(torch.cat(frames, dim=1))            # seed k's stacks are channels 4k..4k+3
        for k, (net, own) in enumerate(zip(nets, frames)):
            torch.testing.assert_close(together[k], net(own), rtol=1e-4, atol=1e-5)


def test_the_interval_errs_often_at_two_seeds_and_near_nominal_at_twenty():
    # Measured with 3,000 comparisons a side: 0.33 at 2 seeds an arm, 0.056 at 20.
    assert false_positive_rate(2, studies=500, seed=1) > 0.2
    assert false_positive_rate(20, studies=500, seed=1) < 0.1


def test_the_preview_uses_the_plateau_schedule_a_run_gets() -> None:
    assert compose_config(["scheduler=plateau"]).scheduler == SchedulerConfig(name="plateau")


def test_the_rate_falls_after_patience_episodes_without_a_lower_loss() -> None:
    # Episode 1 sets the best loss; the 10 after it (patience) do not beat it, nor does the 11th,
    # which brings the fall. Episodes without an update (no loss) do not count.
    losses = [1.0] + [np.nan] * 3 + [1.0] * 11 + [0.5] + [0.6] * 11
    episodes = pd.DataFrame({"env_step": np.arange(1, len(losses) + 1) * 100, "loss": losses})
    falls = plateau_preview.plateau_falls(episodes, 1e-3, 5, SchedulerConfig(name="plateau"))
    assert falls == [(1500, 5e-4), (2700, 2.5e-4)]


def test_the_preview_reads_each_run_of_a_study(capsys) -> None:
    assert plateau_preview.main([str(REPO / "results" / "quick-1-1"), "--falls", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all("first_fall_step" in line for line in lines[1:]), lines


@pytest.mark.parametrize("args, says", [(["--falls", "0"], "--falls must be a positive integer, not 0"),
                                        ([], "no run folders under")])
def test_a_bad_preview_request_is_one_line(tmp_path, capsys, args, says) -> None:
    with pytest.raises(SystemExit) as exit_:
        plateau_preview.main([str(tmp_path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and says in err[0], err
