"""Which machines trained a run: machines.json in its folder, a list with one entry each time a
process begins training the run, from step 0 or from a checkpoint.

A study's runs span sessions and machines, and the project's machines are not all one CPU (nor
equally fast: docs/performance.md), so a run's wall time, and a study's run-hours, mean little
without the CPU that spent them. The analysis names the CPUs of each configuration beside its
run-hours. Needs only the standard library: the analysis reads it and never loads torch.
"""
from __future__ import annotations

import json
import os
import platform
import socket
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from mario_exp.rundir.contract import MACHINES_JSON


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (/proc/cpuinfo), else what the platform
    module knows, else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model") and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _usable_cores() -> int:
    # The cores this process may run on (a container's or taskset's share), not the host's.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def this_machine(start_step: int, learner: str) -> dict[str, Any]:
    """The entry of a process that begins training at `start_step` with `learner` (its device,
    precision and threads, e.g. "cpu bf16, 1 thread")."""
    # The installed torch's version from its metadata: importing torch here would load it into
    # the analysis too.
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "unknown"
    return {"start_step": start_step, "started": round(time.time(), 3), "host": socket.gethostname(),
            "cpu": cpu_model(), "cores": _usable_cores(), "python": platform.python_version(),
            "torch": torch_version, "learner": learner}


def read_machines(run_dir: Path) -> list[dict[str, Any]]:
    """The run's entries, oldest first; [] when the folder has no machines.json (runs made before
    2026-12-08). ValueError when the file is not a list of entries."""
    path = run_dir / MACHINES_JSON
    if not path.exists():
        return []
    if not path.is_file():
        raise ValueError(f"{MACHINES_JSON} is not a regular file")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{MACHINES_JSON} is not JSON ({type(exc).__name__})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("cpu"), str)
                                                for e in entries):
        raise ValueError(f"{MACHINES_JSON} is not a list of entries with a 'cpu' each")
    return entries


def machines_text(run_dir: Path, entry: dict[str, Any], resuming: bool) -> str:
    """machines.json's text with `entry` added: after the folder's earlier entries when
    `resuming`, alone when the run starts from step 0. An earlier file that cannot be read is
    replaced by the new entry alone: the file describes the run, the run does not depend on it."""
    earlier: list[dict[str, Any]] = []
    if resuming:
        try:
            earlier = read_machines(run_dir)
        except ValueError:
            pass  # the new entry alone, as the docstring says
    return json.dumps([*earlier, entry], indent=1) + "\n"
