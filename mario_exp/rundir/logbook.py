"""Everything a run writes about itself besides checkpoints and videos: episodes.csv and
evals.csv (tidy rows, flushed as they are written), TensorBoard scalars against env steps, the
run's HParams, status.json, machines.json, and the progress bar or lines."""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import astuple, fields
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from mario_exp.rundir.atomic import write_atomic
from mario_exp.rundir.console import make_progress
from mario_exp.rundir.contract import (
    CHECKPOINT,
    CONFIG_YAML,
    EPISODE_COLUMNS,
    EPISODE_TAGS,
    EPISODES_CSV,
    EVAL_COLUMNS,
    EVAL_TAGS,
    EVALS_CSV,
    EVENT_FILES,
    FAILED,
    FINAL_EVAL_TAGS,
    FINAL_TAGS,
    FRONTIER_EPISODE_TAGS,
    INTERVAL_TAGS,
    MACHINES_JSON,
    RUN_DATA,
    RUN_TEXT_TAG,
    RUNNING,
    START_STEP,
    STATUS_JSON,
    EpisodeRecord,
    EvalRecord,
    flatten_config,
    optional_columns,
)
from mario_exp.rundir.final_window import final_metrics
from mario_exp.rundir.lock import RunFolderError, holder
from mario_exp.rundir.machines import machines_text, this_machine
from mario_exp.rundir.resumable import resume_conflicts


def _csv_value(value: object) -> object:
    return "" if value is None else value


class Logbook:
    def __init__(self, run_dir: Path, total_steps: int, resume_at: Optional[tuple[int, int]],
                 learner: str) -> None:
        """Open the run's logs. `resume_at` = (env_step, episodes) of the checkpoint being
        resumed: later rows and TensorBoard points, written before the run stopped, are dropped
        so the resumed run writes them again exactly once. None starts the logs afresh.
        `learner` (device, precision, threads: "cpu bf16, 1 thread") goes into this process's
        machines.json entry."""
        self.run_dir = run_dir
        self.total_steps = total_steps
        episodes_path = run_dir / EPISODES_CSV
        self._evals_path = run_dir / EVALS_CSV
        if resume_at is None:
            # status.json first, saying no checkpoint exists yet: whatever this attempt writes
            # after it, a rerun knows it may start over (see check_fresh_start).
            self._reached = {"env_step": 0, "episodes": 0}
            self._checkpoint_step: Optional[int] = None
            self._write_status(RUNNING, error=None)
            # Only what check_fresh_start allowed to go: an attempt that never checkpointed.
            for stale in [*run_dir.glob(EVENT_FILES), self._evals_path]:
                stale.unlink(missing_ok=True)
            _write_text(episodes_path, ",".join(EPISODE_COLUMNS) + "\n")
            purge_step = None
        else:
            step, episodes = resume_at
            episodes_text, evals_text = resume_logs(run_dir, step, episodes)
            _write_text(episodes_path, episodes_text)
            if evals_text is not None:
                _write_text(self._evals_path, evals_text)
            self._reached = {"env_step": step, "episodes": episodes}
            self._checkpoint_step = step
            purge_step = step + 1
        start_step = 0 if resume_at is None else resume_at[0]
        _write_text(run_dir / MACHINES_JSON,
                    machines_text(run_dir, this_machine(start_step, learner), resuming=resume_at is not None))
        # flush_secs: a live `tensorboard --logdir outputs` sees new points within seconds.
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=10, purge_step=purge_step)
        self._episodes_file = open(episodes_path, "a", newline="")
        # "\n" as the header's: csv's default "\r\n" would mix two line endings in one file.
        self._episodes = csv.writer(self._episodes_file, lineterminator="\n")
        self._evals_file: Optional[Any] = None  # opened at the first evaluation
        self.reporter = make_progress(total_steps, self._reached["env_step"])

    def describe_run(self, run_name: str, config_yaml: str) -> None:
        """The run's overrides and config, as text in TensorBoard."""
        self.writer.add_text(RUN_TEXT_TAG, f"**{run_name}**\n\n```yaml\n{config_yaml}\n```", global_step=0)

    def hparams(self, config: dict[str, Any], evaluation: bool) -> None:
        """The run's hyperparameters (every key of its flattened config) for TensorBoard's
        HParams dashboard, written once, when the run starts, into the run's own event file:
        SummaryWriter.add_hparams would add a timestamped sub-run instead. The metrics are the
        final/* scalars written at the end (final_metrics)."""
        values = {key: str(value) if isinstance(value, (list, dict)) else value
                  for key, value in flatten_config(config).items()}
        tags = [*FINAL_TAGS.values(), *(FINAL_EVAL_TAGS.values() if evaluation else ())]
        metrics = dict.fromkeys(tags, 0.0)
        for summary in hparams_summaries(values, metrics):
            self.writer.file_writer.add_summary(summary)

    def final_metrics(self, env_step: int) -> None:
        """The final-window scores as final/* scalars, the HParams dashboard's metrics."""
        values = final_metrics(self.run_dir / EPISODES_CSV)
        if self._evals_path.exists():
            evals = final_metrics(self._evals_path)
            values.update({tag: evals[FINAL_TAGS[name]] for name, tag in FINAL_EVAL_TAGS.items()})
        for tag, value in values.items():
            if not math.isnan(value):
                self.writer.add_scalar(tag, value, env_step)

    def episode(self, record: EpisodeRecord) -> None:
        self._episodes.writerow([_csv_value(v) for v in astuple(record)])
        self._episodes_file.flush()
        tags = FRONTIER_EPISODE_TAGS if record.start_step else EPISODE_TAGS
        for name, tag in tags.items():
            self.writer.add_scalar(tag, getattr(record, name), record.env_step)
        self.reporter.episode(record.env_step, record.episode, record.x_pos, record.epsilon)

    def evaluation(self, records: list[EvalRecord]) -> None:
        """One evaluation's episodes: a row each in evals.csv, their means in TensorBoard."""
        if self._evals_file is None:
            new = not self._evals_path.exists()
            self._evals_file = open(self._evals_path, "a", newline="")
            if new:
                self._evals_file.write(",".join(EVAL_COLUMNS) + "\n")
        writer = csv.writer(self._evals_file, lineterminator="\n")
        for record in records:
            writer.writerow(astuple(record))
        self._evals_file.flush()
        step = records[0].env_step
        for name, tag in EVAL_TAGS.items():
            self.writer.add_scalar(tag, sum(getattr(r, name) for r in records) / len(records), step)

    def video(self, tag: str, gif: bytes, size: tuple[int, int], env_step: int) -> None:
        """An animated GIF in TensorBoard's image dashboard, which plays it. This is what
        SummaryWriter.add_video writes, without its moviepy dependency: the GIF exists already."""
        width, height = size
        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=gif)
        self.writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), env_step)

    def show_interval(self, env_step: int, episodes: int, steps_per_second: float, epsilon: float,
                      loss: Optional[float]) -> None:
        """The log interval's line on the console (and the bar, on a terminal)."""
        self.reporter.interval(env_step, episodes, steps_per_second, epsilon, loss)

    def interval_scalars(self, env_step: int, **values: Optional[float]) -> None:
        """The log interval's scalars, by their names in INTERVAL_TAGS (loss=0.1, ...); None
        (no update yet) is skipped."""
        for name, value in values.items():
            if value is not None:
                self.writer.add_scalar(INTERVAL_TAGS[name], value, env_step)

    def status(self, status: str, env_step: int, episodes: int) -> None:
        """running / interrupted / finished, for analysis and for reruns of a sweep."""
        self._reached = {"env_step": env_step, "episodes": episodes}
        self._write_status(status, error=None)

    def fail(self, error: str) -> None:
        """Mark the run failed, with the steps and episodes it had last reported."""
        self._write_status(FAILED, error=error)

    def checkpoint_saved(self, env_step: int) -> None:
        """Record that checkpoints/last.pt now holds `env_step`: from here on a rerun resumes,
        and a folder whose checkpoint has gone is never started over silently."""
        self._checkpoint_step = env_step
        self._write_status(RUNNING, error=None)

    def _write_status(self, status: str, error: Optional[str]) -> None:
        # pid, host and heartbeat (the time of this write, every trainer.log_every steps) say
        # who wrote it and when; runfolder.is_live says whether that process still holds the run.
        state = {"status": status, **self._reached, "total_steps": self.total_steps, "error": error,
                 "checkpoint_step": self._checkpoint_step, **holder(), "heartbeat": round(time.time(), 3)}
        _write_text(self.run_dir / STATUS_JSON, json.dumps(state))

    def close(self) -> None:
        self.reporter.close()
        self._episodes_file.close()
        if self._evals_file is not None:
            self._evals_file.close()
        self.writer.close()


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text.encode()))


def check_fresh_start(run_dir: Path, config: dict[str, Any], start_over: bool) -> None:
    """Raise RunFolderError unless training `run_dir` from step 0 deletes nothing that cannot
    be rebuilt. Starting afresh replaces the folder's logs, so it is allowed only when the folder
    holds no run data, when its run data is an earlier attempt of this same experiment that
    never wrote a checkpoint (status.json says so; a rerun writes it again, identically), or
    when the command asks for it (trainer.start_over=true)."""
    found = sorted({pattern for pattern in RUN_DATA if any(run_dir.glob(pattern))})
    if not found or start_over:
        return
    why = _why_not_rebuildable(run_dir, config)
    if why is not None:
        listed = ", ".join(name.replace("/*", "/").replace(".*", "*") for name in found)
        raise RunFolderError(
            f"{run_dir}: holds run data ({listed}) but no checkpoint to resume ({why}); nothing was "
            "changed. Train into a new folder (hydra.run.dir=...), or add trainer.start_over=true "
            "to delete that data and start the run over")


def _why_not_rebuildable(run_dir: Path, config: dict[str, Any]) -> Optional[str]:
    """None if the folder's run data is an earlier attempt of `config` that stopped before its
    first checkpoint; else why it may not be replaced."""
    for name in (STATUS_JSON, CONFIG_YAML):
        if not (run_dir / name).is_file():
            return f"no {name} says what made it"
    try:
        state = json.loads((run_dir / STATUS_JSON).read_text(encoding="utf-8"))
        saved = OmegaConf.to_container(OmegaConf.load(run_dir / CONFIG_YAML), resolve=True)
    except (OSError, ValueError, OmegaConfBaseException) as exc:
        return f"its {STATUS_JSON} or {CONFIG_YAML} is unreadable: {type(exc).__name__}"
    if not isinstance(state, dict) or "checkpoint_step" not in state:
        return f"{STATUS_JSON} does not say whether it had one (written by an older mario-exp?)"
    if state["checkpoint_step"] is not None:
        return f"{CHECKPOINT} of step {state['checkpoint_step']} has been removed"
    conflicts = resume_conflicts(saved if isinstance(saved, dict) else {}, config)
    if conflicts:
        return "it was made with another config: " + "; ".join(conflicts)
    return None


def resume_logs(run_dir: Path, env_step: int, episodes: int) -> tuple[str, Optional[str]]:
    """The text episodes.csv and evals.csv (None: there is none) are cut back to for a resume
    from a checkpoint at `env_step` after `episodes` episodes, in "\n" line endings. Raises
    RunFolderError, having written nothing, when a row the cut keeps is not one the trainer
    wrote: a resumed run would carry it on as data, and its final metrics would fail."""
    episodes_text = _cut_episodes(run_dir / EPISODES_CSV, env_step, episodes)
    evals_path = run_dir / EVALS_CSV
    evals_text = _cut_evals(evals_path, env_step) if evals_path.exists() else None
    return episodes_text, evals_text


def _complete_rows(path: Path, header: tuple[str, ...],
                   older_headers: tuple[tuple[str, ...], ...] = ()) -> list[list[str]]:
    """The rows of a run's CSV file that end in a newline (one cut mid-write by a crash does
    not), after checking its text and header (`header`, or one of `older_headers`, which the
    caller brings up to date). The trainer writes plain numbers only, never a quoted field, so
    a row joined back with commas is its line again."""
    if not path.is_file():
        raise RunFolderError(f"{path}: missing (or not a file), but the run has a checkpoint; the run "
                              "folder was changed by hand")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise RunFolderError(f"{path}: line {line} is not UTF-8 text; the run folder was changed by "
                              "hand (restore the file, or move the folder away to start over)") from None
    # Line by line: a stray quote in a garbled line must not swallow the lines after it.
    # The text after the last "\n" is a row cut mid-write (or nothing); "\r\n" (written by
    # older versions) and "\n" lines both become "\n" lines when rewritten.
    try:
        rows = [next(csv.reader([line.removesuffix("\r")]), []) for line in text.split("\n")[:-1]]
    except csv.Error as exc:
        raise RunFolderError(f"{path}: not a CSV file ({exc}); the run folder was changed by hand") from None
    if not rows or (tuple(rows[0]) != header and tuple(rows[0]) not in older_headers):
        raise RunFolderError(f"{path}: its first line is not the header {','.join(header)}; the "
                              "run folder was changed by hand")
    return rows


def _check_row(path: Path, number: int, row: list[str], record: type) -> list[Any]:
    """`row` (line `number` of `path`) as the values of `record`'s fields, or RunFolderError."""
    columns, optional = fields(record), optional_columns(record)
    where = f"{path}: line {number}"
    if len(row) != len(columns):
        raise RunFolderError(f"{where} has {len(row)} fields, not {len(columns)}; the run folder was "
                              "changed by hand")
    values: list[Any] = []
    for column, text in zip(columns, row):
        if text == "" and column.name in optional:
            values.append(None)
            continue
        whole = str(column.type) == "int"
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            raise RunFolderError(f"{where}: {column.name}={text!r} is not {'an integer' if whole else 'a number'}; "
                                  "the run folder was changed by hand")
        values.append(value)
    return values


def _cut_episodes(path: Path, env_step: int, episodes: int) -> str:
    """episodes.csv's header and first `episodes` rows, each checked to be the episode of
    its place, ending at or before the checkpoint's step, after the one before it."""
    rows = _with_start_step(_complete_rows(path, EPISODE_COLUMNS, (EPISODE_COLUMNS_BEFORE_FRONTIER,)))
    if len(rows) < episodes + 1:
        raise RunFolderError(f"{path}: has {len(rows) - 1} episodes, but the checkpoint "
                              f"was taken after {episodes}; the run folder was changed by hand")
    last = 0
    for number, row in enumerate(rows[1:episodes + 1], start=2):
        record = EpisodeRecord(*_check_row(path, number, row, EpisodeRecord))
        if record.episode != number - 1 or not last < record.env_step <= env_step:
            raise RunFolderError(f"{path}: line {number} is not episode {number - 1} (it says episode "
                                  f"{record.episode} ending at step {record.env_step}, after step {last}, "
                                  f"checkpoint at {env_step}); the run folder was changed by hand")
        last = record.env_step
    return "".join(",".join(row) + "\n" for row in rows[:episodes + 1])


# episodes.csv as runs wrote it before env.frontier: every episode began at the level's start.
EPISODE_COLUMNS_BEFORE_FRONTIER = tuple(c for c in EPISODE_COLUMNS if c != START_STEP)


def _with_start_step(rows: list[list[str]]) -> list[list[str]]:
    """episodes.csv's rows with the start_step column: added, as 0, to a file written before
    env.frontier, so that a run resumed from such a folder writes its new rows below a header
    that names their every field."""
    if tuple(rows[0]) == EPISODE_COLUMNS:
        return rows
    return [list(EPISODE_COLUMNS)] + [row + ["0"] for row in rows[1:]]


def _cut_evals(path: Path, env_step: int) -> str:
    """evals.csv's header and the rows of evaluations made at or before `env_step` (the
    checkpoint's): the resumed run makes the later ones again. Every row is checked, as a
    garbled one cannot say whether it is before the checkpoint or after."""
    rows = _complete_rows(path, EVAL_COLUMNS)
    kept = [rows[0]]
    for number, row in enumerate(rows[1:], start=2):
        if EvalRecord(*_check_row(path, number, row, EvalRecord)).env_step <= env_step:
            kept.append(row)
    return "".join(",".join(row) + "\n" for row in kept)
