"""Which config changes a resume refuses: anything but trainer.*, except keys the schema
gained since the checkpoint was written, as long as they hold their defaults."""
from __future__ import annotations

from dataclasses import asdict

from mario_exp.config.schema import Config
from mario_exp.rundir.resumable import resume_conflicts


def without(config: dict, dotted: str) -> dict:
    """A config dict as an older schema wrote it: without the key `dotted`."""
    parent, _, name = dotted.rpartition(".")
    node = config
    for part in filter(None, parent.split(".")):
        node = node[part]
    del node[name]
    return config


def test_learning_keys_conflict_and_trainer_keys_do_not() -> None:
    saved, now = asdict(Config()), asdict(Config())
    now["agent"]["lr"], now["trainer"]["total_steps"] = 1e-4, 10**6
    assert resume_conflicts(saved, now) == ["agent.lr: checkpoint 0.00025, now 0.0001"]


def test_a_key_added_since_the_checkpoint_is_fine_at_its_default() -> None:
    saved = without(asdict(Config()), "agent.priority.exponent")
    assert resume_conflicts(saved, asdict(Config())) == []


def test_a_key_added_since_the_checkpoint_conflicts_when_set() -> None:
    saved = without(asdict(Config()), "env.stall_steps")
    now = asdict(Config())
    now["env"]["stall_steps"] = 50
    assert resume_conflicts(saved, now) == ["env.stall_steps: checkpoint None, now 50"]


def test_a_key_the_schema_dropped_conflicts() -> None:
    saved = asdict(Config())
    saved["agent"]["retired_option"] = True
    assert resume_conflicts(saved, asdict(Config())) == \
        ["agent.retired_option: checkpoint True, now None"]
