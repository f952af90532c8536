"""Everything a run writes about itself besides checkpoints: episodes.csv (one tidy row per
episode, flushed as it ends), TensorBoard scalars against env steps, and status.json."""
from __future__ import annotations

import csv
import json
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Optional

from torch.utils.tensorboard import SummaryWriter

from mario_exp.atomic import write_atomic
from mario_exp.checkpoint import CheckpointError


@dataclass
class EpisodeRecord:
    env_step: int            # agent steps since the run began, when this episode ended
    episode: int             # 1-based
    reward: float            # sum of the environment's rewards
    x_pos: int               # Mario's x position at the end
    length: int              # agent steps in the episode
    flag: int                # 1 if he reached the flag
    epsilon: float           # exploration rate at the end
    loss: Optional[float]    # mean TD loss over the episode's learn updates (None: no update yet)
    q: Optional[float]       # mean Q of the actions taken in those updates
    lr: float
    wall_time: float         # seconds since the run began
    env: int                 # which of the env.num_envs envs played it (0-based)

    @classmethod
    def header(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _csv_value(value: object) -> object:
    return "" if value is None else value


class Logbook:
    EPISODE_SCALARS = ("reward", "x_pos", "length", "flag")

    def __init__(self, run_dir: Path, total_steps: int, resume_at: Optional[tuple[int, int]]) -> None:
        """Open the run's logs. `resume_at` = (env_step, episodes) of the checkpoint being
        resumed: later rows and TensorBoard points, written before the run stopped, are dropped
        so the resumed run writes them again exactly once. None starts the logs afresh."""
        self.run_dir = run_dir
        self.total_steps = total_steps
        episodes_path = run_dir / "episodes.csv"
        if resume_at is None:
            # A run that stopped before its first checkpoint starts over: its old logs go.
            for stale in run_dir.glob("events.out.tfevents.*"):
                stale.unlink()
            _write_text(episodes_path, ",".join(EpisodeRecord.header()) + "\n")
            self._progress = {"env_step": 0, "episodes": 0}
            purge_step = None
        else:
            step, episodes = resume_at
            _keep_episodes(episodes_path, episodes)
            self._progress = {"env_step": step, "episodes": episodes}
            purge_step = step + 1
        # flush_secs: a live `tensorboard --logdir outputs` sees new points within seconds.
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=10, purge_step=purge_step)
        self._episodes_file = open(episodes_path, "a", newline="")
        self._episodes = csv.writer(self._episodes_file)

    def describe_run(self, run_name: str, config_yaml: str) -> None:
        """The run's overrides and config, as text in TensorBoard."""
        self.writer.add_text("run", f"**{run_name}**\n\n```yaml\n{config_yaml}\n```", global_step=0)

    def episode(self, record: EpisodeRecord) -> None:
        self._episodes.writerow([_csv_value(v) for v in astuple(record)])
        self._episodes_file.flush()
        for name in self.EPISODE_SCALARS:
            self.writer.add_scalar(f"episode/{name}", getattr(record, name), record.env_step)

    def scalars(self, env_step: int, values: dict[str, Optional[float]]) -> None:
        """Interval scalars, e.g. {"train/loss": 0.1}; None (no update yet) is skipped."""
        for tag, value in values.items():
            if value is not None:
                self.writer.add_scalar(tag, value, env_step)

    def status(self, status: str, env_step: int, episodes: int) -> None:
        """running / interrupted / finished, for analysis and for reruns of a sweep."""
        self._progress = {"env_step": env_step, "episodes": episodes}
        self._write_status(status, error=None)

    def fail(self, error: str) -> None:
        """Mark the run failed, with the progress it had last reported."""
        self._write_status("failed", error=error)

    def _write_status(self, status: str, error: Optional[str]) -> None:
        state = {"status": status, **self._progress, "total_steps": self.total_steps, "error": error}
        _write_text(self.run_dir / "status.json", json.dumps(state))

    def close(self) -> None:
        self._episodes_file.close()
        self.writer.close()


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text.encode()))


def _keep_episodes(path: Path, episodes: int) -> None:
    """Cut episodes.csv back to its header and first `episodes` rows (a row cut mid-write by a
    crash is dropped with the rest)."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    complete = [line for line in lines if line.endswith("\n")]
    if len(complete) < episodes + 1:
        raise CheckpointError(f"{path}: has {max(len(complete) - 1, 0)} episodes, but the checkpoint "
                              f"was taken after {episodes}; the run folder was changed by hand")
    _write_text(path, "".join(complete[:episodes + 1]))
