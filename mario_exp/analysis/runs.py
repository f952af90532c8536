"""Find run folders and load each one (config, overrides, status, episodes).

A run folder is any folder holding ``.hydra/config.yaml`` (rundir/contract.py). Everything that
can be wrong with a single run becomes a warning on that run, never an exception, so a crashed or
half-written run shows up in the table instead of aborting the analysis.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mario_exp.analysis.episodes import empty_table, read_episodes_csv
from mario_exp.analysis.evals import empty_evals, read_evals_csv
from mario_exp.rundir.contract import (
    CONFIG_YAML,
    EPISODES_CSV,
    EVALS_CSV,
    FAILED,
    FINISHED,
    OVERRIDES_YAML,
    RUNNING,
    STATUS_JSON,
    STATUSES,
    STOPPED,
    UNKNOWN,
)
from mario_exp.rundir.lock import is_live
from mario_exp.rundir.machines import read_machines

# libyaml's loader is ~10x faster than the pure-python one; fall back if PyYAML lacks it.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MISSING = object()


BUDGET_KEY = "trainer.total_steps"   # a run's budget, where status.json does not say it


@dataclass
class Run:
    """One training run as the analysis sees it."""

    path: Path
    config: dict[str, Any]  # composed Hydra config ({} when unreadable)
    overrides: list[str]  # command-line overrides of this job, seed included
    status: str  # one of contract.STATUSES
    error: str | None  # the trainer's error message for failed runs
    episodes: pd.DataFrame  # episodes.COLUMNS, possibly empty
    source: str  # where episodes came from: "episodes.csv", or "none" (missing or unreadable)
    budget: int | None  # BUDGET_KEY
    env_step: int | None  # env steps reached: status.json's, else the last episode's end
    warnings: list[str] = field(default_factory=list)
    # evals.csv's evaluation episodes (contract.EVAL_COLUMNS); empty when the run has none
    evals: pd.DataFrame = field(default_factory=empty_evals)
    # The CPU models of the processes that trained it, oldest first (machines.json); empty for
    # runs made before the file existed
    cpus: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Short path for messages: relative to the working directory when possible."""
        return display_path(self.path)

    @property
    def seed(self) -> Any:
        """The run's seed, from the composed config (None when unknown)."""
        value = config_value(self.config, "seed")
        return None if value is _MISSING else value


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def config_value(config: dict[str, Any], dotted: str) -> Any:
    """Value at a dotted key (``agent.lr``) of a nested config, or the _MISSING sentinel."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def is_missing(value: Any) -> bool:
    """True for the sentinel config_value returns when a key does not exist."""
    return value is _MISSING


def is_run_dir(path: Path) -> bool:
    """A run folder is any folder with a composed Hydra config."""
    return (path / CONFIG_YAML).is_file()


def _natural_key(path: Path) -> list[Any]:
    # Multirun jobs are numbered 0, 1, ..., 10: sort 2_ before 10_ like a person would.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def find_run_dirs(root: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Every run folder at or below ``root``, not descending into runs or ``skip`` folders."""
    if is_run_dir(root):
        return [root]
    skip_resolved = {p.resolve() for p in skip}
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        if is_run_dir(here):
            found.append(here)
            dirnames.clear()  # runs do not nest; checkpoints/ can be large
            continue
        dirnames[:] = [d for d in dirnames
                       if not d.startswith(".") and (here / d).resolve() not in skip_resolved]
    return sorted(found, key=_natural_key)


def _read_yaml(path: Path) -> Any:
    return yaml.load(_read_text(path), Loader=_Loader)


def _read_text(path: Path) -> str:
    """A file's text; OSError for anything but a regular file, where reading a FIFO (or a
    device) would block the analysis forever."""
    if not path.is_file():
        raise OSError(f"{path.name} is not a regular file")
    return path.read_text(encoding="utf-8")


def _as_int(value: Any) -> int | None:
    # Hydra can leave interpolations such as "${...}" unresolved in config.yaml.
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's 1e999 is infinity
        return None


def load_run(path: Path, until: int | None = None) -> Run:
    """Load one run folder; problems become ``Run.warnings``, not exceptions. With `until`, the
    run as it stood at that env step (see `_cut_at`)."""
    warnings: list[str] = []
    name = display_path(path)
    try:
        config = _read_yaml(path / CONFIG_YAML)
        if not isinstance(config, dict):
            raise ValueError("not a mapping")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        warnings.append(f"{name}: {CONFIG_YAML} unreadable ({_one_line(exc)}); "
                        "grouped by its overrides only")
        config = {}
    overrides_file = path / OVERRIDES_YAML
    try:
        overrides = _read_yaml(overrides_file) if overrides_file.exists() else []
        if not isinstance(overrides, list):
            raise ValueError("not a list")
        overrides = [str(o) for o in overrides]
    except (OSError, ValueError, yaml.YAMLError) as exc:
        warnings.append(f"{name}: {OVERRIDES_YAML} unreadable ({_one_line(exc)}); "
                        "treated as no overrides")
        overrides = []

    status_doc = _read_status(path / STATUS_JSON, name, warnings)
    budget = _as_int(status_doc.get("total_steps"))
    if budget is None:
        value = config_value(config, BUDGET_KEY)
        budget = None if is_missing(value) else _as_int(value)

    episodes, source = _read_episodes(path, name, status_doc.get("status"), warnings)
    status = status_doc.get("status")
    if status == RUNNING and is_live(path) is False:
        status = STOPPED
    if status not in STATUSES:
        # No status.json (older or hard-killed runs): only a run that reached its budget is known
        # to be complete; anything else may have crashed.
        last = float(episodes["env_step"].iloc[-1]) if len(episodes) else -1.0
        status = FINISHED if budget is not None and last >= budget else UNKNOWN
    error = status_doc.get("error")
    # status.json counts steps of the unfinished last episode too; episodes.csv cannot.
    env_step = _as_int(status_doc.get("env_step"))
    if len(episodes):
        env_step = max(env_step or 0, int(episodes["env_step"].iloc[-1]))
    evals = _read_evals(path, name, warnings)
    run = Run(path, config, overrides, status, str(error) if error else None,
              episodes, source, budget, env_step, warnings, evals, _read_cpus(path, name, warnings))
    if until is not None:
        _cut_at(run, until)
    _status_warnings(run)
    return run


def _cut_at(run: Run, until: int) -> None:
    """The run as if its budget were `until` env steps (analyze.py --until), so that runs of
    different budgets are compared at one step: the episodes and evaluations after it are
    dropped, and a run that got that far counts as finished whatever happened to it later."""
    run.episodes = run.episodes[run.episodes["env_step"] <= until].reset_index(drop=True)
    run.evals = run.evals[run.evals["env_step"] <= until].reset_index(drop=True)
    if run.env_step is not None and run.env_step >= until:
        run.status, run.error, run.env_step = FINISHED, None, until
    run.budget = until if run.budget is None else min(run.budget, until)


def _read_status(path: Path, name: str, warnings: list[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(_read_text(path))
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        return doc
    except (OSError, ValueError) as exc:
        warnings.append(f"{name}: {STATUS_JSON} unreadable ({_one_line(exc)}); status inferred")
        return {}


def _read_episodes(path: Path, name: str, status: Any,
                   warnings: list[str]) -> tuple[pd.DataFrame, str]:
    """The run's episode table and its source. Without an episodes.csv (every run writes one
    when it starts) the run has no episodes, which _status_warnings reports; an unreadable one
    is a warning of its own."""
    csv = path / EPISODES_CSV
    if not csv.exists():
        return empty_table(), "none"
    try:
        if not csv.is_file():
            raise OSError("not a regular file")
        read = read_episodes_csv(csv)
    except OSError as exc:
        warnings.append(f"{name}: {EPISODES_CSV} unreadable ({_one_line(exc)})")
        return empty_table(), "none"
    if not read.header_ok:
        warnings.append(f"{name}: {EPISODES_CSV} has an unexpected header")
        return empty_table(), "none"
    if read.bad_lines:
        warnings.append(f"{name}: skipped {read.bad_lines} garbled line(s) in {EPISODES_CSV}")
    if read.partial_last_line and status != RUNNING:
        # A live run is expected to be mid-line; anything else was cut by a crash.
        warnings.append(f"{name}: last line of {EPISODES_CSV} is cut off (dropped)")
    return read.table, EPISODES_CSV


def _read_evals(path: Path, name: str, warnings: list[str]) -> pd.DataFrame:
    try:
        evals, bad = read_evals_csv(path / EVALS_CSV)
    except OSError as exc:
        warnings.append(f"{name}: {EVALS_CSV} unreadable ({_one_line(exc)}); training episodes only")
        return empty_evals()
    if bad:
        warnings.append(f"{name}: skipped {bad} garbled line(s) in {EVALS_CSV}")
    return evals


def _read_cpus(path: Path, name: str, warnings: list[str]) -> list[str]:
    try:
        return [entry["cpu"] for entry in read_machines(path)]
    except ValueError as exc:
        warnings.append(f"{name}: {exc}; its CPUs are not shown")
        return []


def _status_warnings(run: Run) -> None:
    """One line for each run whose state matters for reading the table."""
    error = f": {run.error}" if run.error else ""
    if len(run.episodes) == 0 and run.status != RUNNING:
        run.warnings.append(f"{run.name}: no episodes ({run.status}{error})")
    elif run.status == FAILED:
        run.warnings.append(f"{run.name}: failed at env step {run.env_step}"
                            f"{'/' + str(run.budget) if run.budget else ''}{error}; "
                            "left out of the statistics")
    elif run.status == STOPPED:
        run.warnings.append(f"{run.name}: {STATUS_JSON} says {RUNNING}, but no process holds the run "
                            f"(killed or crashed at env step {run.env_step} or later); its score is "
                            "provisional: rerun its command in the same folder to resume it")
    elif run.status == UNKNOWN:
        run.warnings.append(f"{run.name}: no {STATUS_JSON} and budget not reached "
                            "(crashed or killed?); scored on the episodes it has")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def load_runs(paths: list[Path], until: int | None = None) -> list[Run]:
    """Load every run folder in ``paths`` (already discovered), each cut at `until` if given."""
    return [load_run(p, until) for p in paths]
