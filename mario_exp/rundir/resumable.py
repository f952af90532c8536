"""Which config changes a run folder survives: a resume (or a rerun of an attempt that never
checkpointed) goes on only when the config differs in keys it may change. Plain dicts in and
out, no torch: the trainer's checkpoint check and the run folder's no-wipe check share it.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mario_exp.config.schema import Config
from mario_exp.rundir.contract import flatten_config

# Keys a resumed run may change: the budget, intervals, device and threads. Anything else
# (network, action set, replay, learning hyperparameters, seed) would make it another run.
RESUMABLE_CHANGES = ("trainer.",)


def resume_conflicts(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`key: checkpoint X, now Y` for each key that differs and may not change on resume.

    A key the checkpoint does not have (added to the schema since it was written) is no
    conflict while it holds the schema's default: the options are off by default, so the run
    goes on as it began, and a study can outlive a schema addition."""
    before, now, default = flatten_config(saved), flatten_config(current), flatten_config(asdict(Config()))
    return [f"{key}: checkpoint {before.get(key)!r}, now {now.get(key)!r}"
            for key in sorted(before.keys() | now.keys())
            if before.get(key) != now.get(key) and not key.startswith(RESUMABLE_CHANGES)
            and not (key not in before and key in default and now.get(key) == default[key])]
