"""Runs -> configurations.

A configuration is a set of Hydra overrides minus ``seed`` (and ``hydra.*``), so a sweep over
``seed=1,2,3`` becomes three seeds of each configuration. Sets of overrides that compose to the
same config are one configuration: ``experiment=flag action_set=right_run`` is
``experiment=flag`` once the preset itself chooses right_run, and ``agent.lr=0.00025`` is the
default. The swept hyperparameters are the keys whose values differ between configurations;
they become the table's leading columns.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mario_exp.analysis.errors import AnalysisError
from mario_exp.analysis.runs import Run, config_value, is_missing
from mario_exp.rundir.contract import flatten_config, with_keys_added_later

MISSING_VALUE = "-"
# The runs of one configuration, each with its grouping overrides as (key, value) pairs.
Members = list[tuple[tuple[tuple[str, str], ...], Run]]


@dataclass
class RunGroup:
    """One configuration of a sweep: the runs that share every override except the seed."""

    label: str  # "agent.batch_size=32,agent.lr=0.001" or "(defaults)"
    settings: dict[str, str]  # grouping key -> value as written in the override / config
    runs: list[Run]


def parse_override(text: str) -> tuple[str, str]:
    """``"+agent.lr=1e-3"`` -> ``("agent.lr", "1e-3")``; deletions ``~key`` get value ``"~"``."""
    key, sep, value = text.partition("=")
    if not sep:
        return key.lstrip("~+"), "~"
    return key.lstrip("~+"), value


def _is_grouping_key(key: str) -> bool:
    return key != "seed" and not key.startswith("hydra.") and key != "hydra"


def run_value(run: Run, key: str) -> str | None:
    """A run's value for ``key``: its override if it has one, else its composed config."""
    for text in run.overrides:
        k, v = parse_override(text)
        if k == key:
            return v
    value = config_value(run.config, key)
    if is_missing(value) or isinstance(value, (dict, list)):
        return None
    return _format_config_value(value)


def _format_config_value(value: Any) -> str:
    # Match how a user would type it in an override (Hydra prints booleans lowercase).
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def group_runs(runs: list[Run], by: list[str] | None = None) -> tuple[list[RunGroup], list[str]]:
    """Group runs into configurations; returns them and the swept keys (table columns).

    ``by`` None groups by overrides minus seed; otherwise by these keys' values, read from the
    override when present and the composed config otherwise.
    """
    if by:
        unknown = [k for k in by if all(run_value(r, k) is None for r in runs)]
        if unknown:
            raise AnalysisError(f"--group-by key {unknown[0]!r} is neither an override nor a "
                                "config key of any run (use dotted config keys, e.g. agent.lr)")
        keyed = [(tuple((k, run_value(r, k) or MISSING_VALUE) for k in by), r) for r in runs]
    else:
        keyed = [(tuple(parse_override(o) for o in r.overrides
                        if _is_grouping_key(parse_override(o)[0])), r) for r in runs]

    by_pairs: dict[frozenset[tuple[str, str]], Members] = {}
    for pairs, run in keyed:
        by_pairs.setdefault(frozenset(pairs), []).append((pairs, run))
    members_of = list(by_pairs.values())
    if not by:
        members_of = _merge_same_configs(members_of)

    groups = []
    for members in members_of:
        # The overrides every member has, in the first member's (the user's) order.
        pairs = tuple(p for p in members[0][0] if all(p in other for other, _ in members))
        label = ",".join(f"{k}={v}" for k, v in pairs) or "(defaults)"
        groups.append(RunGroup(label, dict(pairs), [r for _, r in members]))
    swept = list(by) if by else _swept_keys(groups)
    for group in groups:
        for key in swept:
            if key not in group.settings:
                # Not overridden in this configuration: show what it actually ran with.
                values = {run_value(r, key) for r in group.runs} - {None}
                group.settings[key] = values.pop() if len(values) == 1 else MISSING_VALUE
    return groups, swept


def _flat_config(run: Run) -> dict[str, str]:
    """The run's composed config minus its seed, with the keys its code predates filled in, as
    dotted key -> value text."""
    config = with_keys_added_later({k: v for k, v in run.config.items() if k != "seed"})
    return {key: json.dumps(value, default=str) for key, value in flatten_config(config).items()}


def _config_identity(run: Run) -> str | None:
    """The run's config as _flat_config reads it, as one comparable string; None when unread."""
    if not run.config:
        return None
    return json.dumps(_flat_config(run), sort_keys=True)


def mixed_config_keys(group: RunGroup) -> dict[str, list[str]]:
    """The config keys whose values differ between the group's runs (seeds aside), each with
    its values, among the runs whose config was read: empty when they composed to one config.
    Runs of the same overrides compose differently when a preset or a default changed between
    them."""
    flats = [_flat_config(run) for run in group.runs if run.config]
    if len(flats) < 2:
        return {}
    keys = sorted(set().union(*flats))
    values = {key: sorted({flat.get(key, MISSING_VALUE) for flat in flats}) for key in keys}
    return {key: vs for key, vs in values.items() if len(vs) > 1}


def _merge_same_configs(members_of: list[Members]) -> list[Members]:
    """Join the override groups whose runs all composed to one and the same config: another
    spelling of the same configuration. A group with an unread config, or whose runs composed
    to several (the code's defaults changed between them), stays as its overrides make it."""
    merged: list[Members] = []
    by_identity: dict[str, Members] = {}
    for members in members_of:
        identities = {_config_identity(run) for _, run in members}
        identity = identities.pop() if len(identities) == 1 else None
        if identity is None:
            merged.append(members)
        elif identity in by_identity:
            by_identity[identity].extend(members)
        else:
            by_identity[identity] = list(members)
            merged.append(by_identity[identity])
    return merged


def _swept_keys(groups: list[RunGroup]) -> list[str]:
    """Override keys whose value is not the same in every configuration, in first-seen order."""
    keys: list[str] = []
    for group in groups:
        keys.extend(k for k in group.settings if k not in keys)
    return [k for k in keys
            if len({g.settings.get(k) for g in groups}) > 1]


def _same_value(a: str, b: str) -> bool:
    # "1e-3" and "0.001" are the same learning rate.
    try:
        return float(a) == float(b)
    except ValueError:
        return a.strip("'\"") == b.strip("'\"")


def find_baseline(groups: list[RunGroup], spec: list[str]) -> RunGroup:
    """The one configuration matching every ``key=value`` in ``spec``."""
    wanted = [parse_override(s) for s in spec]
    bad = [s for s in spec if "=" not in s]
    if bad:
        raise AnalysisError(f"--baseline {bad[0]!r} is not KEY=VALUE (e.g. agent.batch_size=32)")

    def matches(group: RunGroup) -> bool:
        for key, value in wanted:
            have = group.settings.get(key)
            if have is None:
                values = {run_value(r, key) for r in group.runs}
                have = values.pop() if len(values) == 1 else None
            if have is None or not _same_value(have, value):
                return False
        return True

    hits = [g for g in groups if matches(g)]
    if len(hits) != 1:
        choices = "; ".join(g.label for g in groups)
        what = "matches no configuration" if not hits else f"matches {len(hits)} configurations"
        raise AnalysisError(f"--baseline {' '.join(spec)!r} {what}; configurations are: {choices}")
    return hits[0]
