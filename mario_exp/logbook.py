"""Everything a run writes about itself besides checkpoints and videos: episodes.csv and
evals.csv (tidy rows, flushed as they are written), TensorBoard scalars against env steps, the
run's HParams, status.json, and the progress bar or lines."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Optional

from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from mario_exp.atomic import write_atomic
from mario_exp.checkpoint import CheckpointError, flatten_config
from mario_exp.final_window import final_metrics
from mario_exp.progress import make_progress


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


@dataclass
class EvalRecord:
    env_step: int            # agent steps of training when the evaluation ran
    eval_episode: int        # 1..trainer.eval_episodes within that evaluation
    reward: float
    x_pos: int
    length: int              # agent steps
    flag: int
    truncated: int           # 1 if stopped at trainer.eval_max_steps rather than by the game
    epsilon: float           # trainer.eval_epsilon
    wall_time: float         # seconds since the run began, when the episode ended

    @classmethod
    def header(cls) -> list[str]:
        return [f.name for f in fields(cls)]


# The metrics the HParams dashboard shows for each run: final-window means (final_window.py)
# of the training episodes and, with evaluation on, of the evaluation episodes.
FINAL_TAGS = ("final/x_pos", "final/reward", "final/flag_rate")
FINAL_EVAL_TAGS = ("final/eval_x_pos", "final/eval_reward", "final/eval_flag_rate")


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
        self._evals_path = run_dir / "evals.csv"
        if resume_at is None:
            # A run that stopped before its first checkpoint starts over: its old logs go.
            for stale in [*run_dir.glob("events.out.tfevents.*"), self._evals_path]:
                stale.unlink(missing_ok=True)
            _write_text(episodes_path, ",".join(EpisodeRecord.header()) + "\n")
            self._progress = {"env_step": 0, "episodes": 0}
            purge_step = None
        else:
            step, episodes = resume_at
            _keep_episodes(episodes_path, episodes)
            _keep_evals(self._evals_path, step)
            self._progress = {"env_step": step, "episodes": episodes}
            purge_step = step + 1
        # flush_secs: a live `tensorboard --logdir outputs` sees new points within seconds.
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=10, purge_step=purge_step)
        self._episodes_file = open(episodes_path, "a", newline="")
        self._episodes = csv.writer(self._episodes_file)
        self._evals_file: Optional[Any] = None  # opened at the first evaluation
        self.reporter = make_progress(total_steps, self._progress["env_step"])

    def describe_run(self, run_name: str, config_yaml: str) -> None:
        """The run's overrides and config, as text in TensorBoard."""
        self.writer.add_text("run", f"**{run_name}**\n\n```yaml\n{config_yaml}\n```", global_step=0)

    def hparams(self, config: dict[str, Any], evaluation: bool) -> None:
        """The run's hyperparameters (every key of its flattened config) for TensorBoard's
        HParams dashboard, written once, when the run starts, into the run's own event file:
        SummaryWriter.add_hparams would add a timestamped sub-run instead. The metrics are the
        FINAL_TAGS scalars written at the end (final_metrics)."""
        values = {key: str(value) if isinstance(value, (list, dict)) else value
                  for key, value in flatten_config(config).items()}
        metrics = dict.fromkeys(FINAL_TAGS + (FINAL_EVAL_TAGS if evaluation else ()), 0.0)
        for summary in hparams_summaries(values, metrics):
            self.writer.file_writer.add_summary(summary)

    def final_metrics(self, env_step: int) -> None:
        """The final-window scores as final/* scalars, the HParams dashboard's metrics."""
        values = final_metrics(self.run_dir / "episodes.csv")
        if self._evals_path.exists():
            evals = final_metrics(self._evals_path)
            values.update({tag: evals[tag.replace("eval_", "")] for tag in FINAL_EVAL_TAGS})
        for tag, value in values.items():
            if not math.isnan(value):
                self.writer.add_scalar(tag, value, env_step)

    def episode(self, record: EpisodeRecord) -> None:
        self._episodes.writerow([_csv_value(v) for v in astuple(record)])
        self._episodes_file.flush()
        for name in self.EPISODE_SCALARS:
            self.writer.add_scalar(f"episode/{name}", getattr(record, name), record.env_step)
        self.reporter.episode(record.env_step, record.episode, record.x_pos, record.epsilon)

    def evaluation(self, records: list[EvalRecord]) -> None:
        """One evaluation's episodes: a row each in evals.csv, their means in TensorBoard."""
        if self._evals_file is None:
            new = not self._evals_path.exists()
            self._evals_file = open(self._evals_path, "a", newline="")
            if new:
                self._evals_file.write(",".join(EvalRecord.header()) + "\n")
        writer = csv.writer(self._evals_file)
        for record in records:
            writer.writerow(astuple(record))
        self._evals_file.flush()
        step = records[0].env_step
        for name in ("reward", "x_pos", "flag"):
            self.writer.add_scalar(f"eval/{name}", sum(getattr(r, name) for r in records) / len(records), step)

    def video(self, tag: str, gif: bytes, size: tuple[int, int], env_step: int) -> None:
        """An animated GIF in TensorBoard's image dashboard, which plays it. This is what
        SummaryWriter.add_video writes, without its moviepy dependency: the GIF exists already."""
        width, height = size
        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=gif)
        self.writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), env_step)

    def progress(self, env_step: int, episodes: int, steps_per_second: float, epsilon: float,
                 loss: Optional[float]) -> None:
        """The periodic progress line (and the bar, on a terminal)."""
        self.reporter.interval(env_step, episodes, steps_per_second, epsilon, loss)

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
        self.reporter.close()
        self._episodes_file.close()
        if self._evals_file is not None:
            self._evals_file.close()
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


def _keep_evals(path: Path, env_step: int) -> None:
    """Cut evals.csv back to the evaluations made at or before `env_step` (the checkpoint's):
    the resumed run makes the later ones again."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]
    kept = lines[:1] + [line for line in lines[1:] if int(line.split(",", 1)[0]) <= env_step]
    _write_text(path, "".join(kept))
