"""The sample-efficient options in real training runs: reproducible from the seed, really in
use (they change what is learned), and their state in the checkpoint."""
from __future__ import annotations

from pathlib import Path

import torch

from tests.helpers import SAMPLE_EFFICIENT, drop_clock, read_episodes, run_train, single_run_dir


def test_same_seed_same_episodes_with_every_option(smoke_sample_efficient_run: Path, tmp_path: Path) -> None:
    result = run_train(["experiment=smoke", "seed=7", *SAMPLE_EFFICIENT], tmp_path)
    assert result.returncode == 0, result.stderr
    assert drop_clock(read_episodes(single_run_dir(tmp_path))) == drop_clock(read_episodes(smoke_sample_efficient_run))


def test_the_options_change_learning(smoke_run: Path, smoke_sample_efficient_run: Path) -> None:
    """Guards the test above: the same seed without the options gives other losses and Q."""
    plain, efficient = read_episodes(smoke_run), read_episodes(smoke_sample_efficient_run)
    assert [r["loss"] for r in plain] != [r["loss"] for r in efficient]
    # Q of scaled rewards: about a tenth of the tutorial's at this early stage.
    q = lambda rows: max(abs(float(r["q"])) for r in rows if r["q"])  # noqa: E731
    assert q(efficient) < 0.5 * q(plain)


def test_checkpoint_holds_the_priorities_and_the_value_stream(smoke_sample_efficient_run: Path) -> None:
    payload = torch.load(smoke_sample_efficient_run / "checkpoints" / "last.pt", weights_only=True)
    replay = payload["replay"]
    stored = replay["count"]
    assert replay["priorities"].shape == (stored,) and replay["stamps"].shape == (stored,)
    assert (replay["priorities"] > 0).sum() > 0 and replay["max_priority"] >= 1.0
    # Priorities other than the initial 1.0: updates were applied from TD errors.
    assert len(set(replay["priorities"].tolist()) - {0.0, 1.0}) > 10
    assert "head.2.value.weight" in payload["agent"]["online"]
