"""Find run folders and load each one (config, overrides, status, episodes).

A run folder is any folder holding ``.hydra/config.yaml`` (train.py's contract). Everything that
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

from mario_exp.rundir.lock import is_live

from .episodes import empty_table, read_episodes_csv
from .evals import empty_evals, read_evals_csv
from .tbevents import has_event_files, read_event_episodes

# "interrupted": stopped by SIGINT/SIGTERM after a checkpoint; a rerun resumes it.
# "stopped": status.json says running, but no process holds the run folder's lock (killed by
# SIGKILL or the OOM killer, a crash, a reboot, or its last status write failed); a rerun resumes it.
STATUSES = ("finished", "running", "stopped", "interrupted", "failed", "unknown")
# libyaml's loader is ~10x faster than the pure-python one; fall back if PyYAML lacks it.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MISSING = object()


@dataclass
class Run:
    """One training run as the analysis sees it."""

    path: Path
    config: dict[str, Any]  # composed Hydra config ({} when unreadable)
    overrides: list[str]  # command-line overrides of this job, seed included
    status: str  # one of STATUSES
    error: str | None  # the trainer's error message for failed runs
    episodes: pd.DataFrame  # episodes.COLUMNS, possibly empty
    source: str  # where episodes came from: "episodes.csv", "tensorboard" or "none"
    budget: int | None  # trainer.total_steps
    env_step: int | None  # env steps reached: status.json's, else the last episode's end
    warnings: list[str] = field(default_factory=list)
    # evals.csv's evaluation episodes (evals.EVAL_COLUMNS); empty when the run has none
    evals: pd.DataFrame = field(default_factory=empty_evals)

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
    return (path / ".hydra" / "config.yaml").is_file()


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


def load_run(path: Path) -> Run:
    """Load one run folder; problems become ``Run.warnings``, not exceptions."""
    warnings: list[str] = []
    name = display_path(path)
    try:
        config = _read_yaml(path / ".hydra" / "config.yaml")
        if not isinstance(config, dict):
            raise ValueError("not a mapping")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        warnings.append(f"{name}: .hydra/config.yaml unreadable ({_one_line(exc)}); "
                        "grouped by its overrides only")
        config = {}
    overrides_file = path / ".hydra" / "overrides.yaml"
    try:
        overrides = _read_yaml(overrides_file) if overrides_file.exists() else []
        if not isinstance(overrides, list):
            raise ValueError("not a list")
        overrides = [str(o) for o in overrides]
    except (OSError, ValueError, yaml.YAMLError) as exc:
        warnings.append(f"{name}: .hydra/overrides.yaml unreadable ({_one_line(exc)}); "
                        "treated as no overrides")
        overrides = []

    status_doc = _read_status(path / "status.json", name, warnings)
    budget = _as_int(status_doc.get("total_steps"))
    if budget is None:
        value = config_value(config, "trainer.total_steps")
        budget = None if is_missing(value) else _as_int(value)

    episodes, source = _read_episodes(path, name, status_doc.get("status"), warnings)
    status = status_doc.get("status")
    if status == "running" and is_live(path) is False:
        status = "stopped"
    if status not in STATUSES:
        # No status.json (older or hard-killed runs): only a run that reached its budget is known
        # to be complete; anything else may have crashed.
        last = float(episodes["env_step"].iloc[-1]) if len(episodes) else -1.0
        status = "finished" if budget is not None and last >= budget else "unknown"
    error = status_doc.get("error")
    # status.json counts steps of the unfinished last episode too; episodes.csv cannot.
    env_step = _as_int(status_doc.get("env_step"))
    if len(episodes):
        env_step = max(env_step or 0, int(episodes["env_step"].iloc[-1]))
    evals = _read_evals(path, name, warnings)
    run = Run(path, config, overrides, status, str(error) if error else None,
              episodes, source, budget, env_step, warnings, evals)
    _status_warnings(run)
    return run


def _read_status(path: Path, name: str, warnings: list[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(_read_text(path))
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        return doc
    except (OSError, ValueError) as exc:
        warnings.append(f"{name}: status.json unreadable ({_one_line(exc)}); status inferred")
        return {}


def _read_episodes(path: Path, name: str, status: Any,
                   warnings: list[str]) -> tuple[pd.DataFrame, str]:
    csv = path / "episodes.csv"
    why_not_csv = "episodes.csv missing"
    if csv.exists():
        try:
            if not csv.is_file():
                raise OSError("not a regular file")
            read = read_episodes_csv(csv)
        except OSError as exc:
            why_not_csv = f"episodes.csv unreadable ({_one_line(exc)})"
        else:
            if read.header_ok:
                if read.bad_lines:
                    warnings.append(f"{name}: skipped {read.bad_lines} garbled line(s) "
                                    "in episodes.csv")
                if read.partial_last_line and status != "running":
                    # A live run is expected to be mid-line; anything else was cut by a crash.
                    warnings.append(f"{name}: last line of episodes.csv is cut off (dropped)")
                return read.table, "episodes.csv"
            why_not_csv = "episodes.csv has an unexpected header"
    if has_event_files(path):
        try:
            table = read_event_episodes(path)
        except Exception as exc:  # noqa: BLE001 - a corrupt event file must not abort the sweep
            warnings.append(f"{name}: {why_not_csv} and TensorBoard events unreadable "
                            f"({_one_line(exc)})")
            return empty_table(), "none"
        warnings.append(f"{name}: {why_not_csv}; episodes read from TensorBoard events")
        return table, "tensorboard"
    if csv.exists():
        warnings.append(f"{name}: {why_not_csv} and no TensorBoard events")
    return empty_table(), "none"


def _read_evals(path: Path, name: str, warnings: list[str]) -> pd.DataFrame:
    try:
        evals, bad = read_evals_csv(path / "evals.csv")
    except OSError as exc:
        warnings.append(f"{name}: evals.csv unreadable ({_one_line(exc)}); training episodes only")
        return empty_evals()
    if bad:
        warnings.append(f"{name}: skipped {bad} garbled line(s) in evals.csv")
    return evals


def _status_warnings(run: Run) -> None:
    """One line for each run whose state matters for reading the table."""
    error = f": {run.error}" if run.error else ""
    if len(run.episodes) == 0 and run.status != "running":
        run.warnings.append(f"{run.name}: no episodes ({run.status}{error})")
    elif run.status == "failed":
        run.warnings.append(f"{run.name}: failed at env step {run.env_step}"
                            f"{'/' + str(run.budget) if run.budget else ''}{error}; "
                            "left out of the statistics")
    elif run.status == "stopped":
        run.warnings.append(f"{run.name}: status.json says running, but no process holds the run "
                            f"(killed or crashed at env step {run.env_step} or later); its score is "
                            "provisional: rerun its command in the same folder to resume it")
    elif run.status == "unknown":
        run.warnings.append(f"{run.name}: no status.json and budget not reached "
                            "(crashed or killed?); scored on the episodes it has")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def load_runs(paths: list[Path]) -> list[Run]:
    """Load every run folder in ``paths`` (already discovered)."""
    return [load_run(p) for p in paths]
