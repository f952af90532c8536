"""What became of each job of a `train.py` command, for the summary printed once all have run.

With the basic launcher every job runs in train.py's own process, but the joblib, submitit and
ray launchers run them in other processes or on other machines, and Hydra hands their results
to no one. So each job of a sweep records its outcome as a small file in the sweep folder,
`<sweep dir>/.outcomes/<job number>.json`, and the main process reads them once the launcher
returns. A single run (no -m) always runs in the main process and keeps its outcome in memory.

The same folder carries a stop request: when the main process gets SIGINT or SIGTERM, or a job
running in it is interrupted, jobs that have not started yet skip themselves rather than start
fresh runs after the user asked the command to stop.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mario_exp.launch import jobname
from mario_exp.rundir.atomic import write_atomic

FOLDER = ".outcomes"
STOP = "stop"


@dataclass
class Outcome:
    """One job's result: exit status 0 (finished, or already finished), 1 (failed), 2 (bad
    input, e.g. a refused resume) or 128 + signal (interrupted, checkpoint saved)."""

    status: int
    line: str = ""          # what train.py prints about it at the end; empty when it finished


class Ledger:
    """The outcomes of the current command's jobs: files in a sweep's folder, or memory."""

    def __init__(self) -> None:
        self.folder: Optional[Path] = None
        self._in_memory: list[Outcome] = []

    def start_sweep(self, sweep_dir: Path) -> None:
        """Forget the outcomes of earlier commands run in the same sweep folder."""
        self.folder = sweep_dir / FOLDER
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    def record(self, sweep_dir: Optional[Path], job_num: int, outcome: Outcome) -> None:
        """Called by the job, in whichever process runs it; sweep_dir None for a single run."""
        if sweep_dir is None:
            self._in_memory.append(outcome)
            return
        folder = sweep_dir / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{job_num}.json", lambda f: f.write(json.dumps(asdict(outcome)).encode()))

    def outcomes(self) -> list[Outcome]:
        """Every outcome recorded since start_sweep (or in this process, for a single run)."""
        if self.folder is None:
            return list(self._in_memory)
        files = sorted(self.folder.glob("*.json"), key=lambda p: int(p.stem))
        return [Outcome(**json.loads(p.read_text())) for p in files]

    def request_stop(self, sweep_dir: Optional[Path]) -> None:
        if sweep_dir is not None:
            (sweep_dir / FOLDER).mkdir(parents=True, exist_ok=True)
            (sweep_dir / FOLDER / STOP).touch()

    @staticmethod
    def stop_requested(sweep_dir: Optional[Path]) -> bool:
        return sweep_dir is not None and (sweep_dir / FOLDER / STOP).exists()


LEDGER = Ledger()
# Job folders are named by a resolver of ours (conf/hydra/default.yaml), resolved in whichever
# process runs the job. Every such process imports this module: train.py's does, and the
# joblib, submitit and ray launchers' workers unpickle SweepOutcomes, defined here, first.
jobname.register()


class SweepOutcomes(Callback):
    """Hydra callback (conf/hydra/default.yaml): in the main process, before the launcher
    starts any job of a sweep, point the ledger at the sweep's folder and clear it."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        LEDGER.start_sweep(Path(config.hydra.sweep.dir))
