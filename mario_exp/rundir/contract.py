"""What a run folder holds, defined once: its file names, the columns of its CSV files, the
TensorBoard tags it writes and the statuses of its status.json. The trainer side (the logbook,
checkpoints, evaluation, the lock, the train command) writes by these names and the analysis
reads by them, so a name changed here changes on both sides. The final window both sides score
a run by is in final_window.py.

Run folders on disk and checkpoints of runs in flight depend on every name here: changing one
is a change of the folder's format (tests/unit/test_contract.py pins them). Needs only the standard
library: the analysis imports it and never loads torch.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any, Optional

# --- Files and folders, relative to the run folder ------------------------------------------
# Written by train.py once the job may start: the composed config, the job's command-line
# overrides (its seed included) and Hydra's own config. A folder with CONFIG_YAML is a run folder.
CONFIG_YAML = ".hydra/config.yaml"
OVERRIDES_YAML = ".hydra/overrides.yaml"
HYDRA_YAML = ".hydra/hydra.yaml"
EPISODES_CSV = "episodes.csv"      # one EpisodeRecord a row
EVALS_CSV = "evals.csv"            # one EvalRecord a row; only with evaluation on
STATUS_JSON = "status.json"        # see the statuses below
MACHINES_JSON = "machines.json"    # one entry per process that trained the run (machines.py)
LOCK_FILE = "run.lock"             # flock-ed by the trainer writing the folder (lock.py)
CHECKPOINT = "checkpoints/last.pt"
EVENT_FILES = "events.out.tfevents.*"  # TensorBoard's, a glob: one file per process that wrote
VIDEOS_DIR = "videos"
# In VIDEOS_DIR, each as .mp4 and .gif: the furthest evaluation episode so far, and the
# furthest of the latest evaluation.
BEST_VIDEO, LATEST_VIDEO = "best", "latest"
MP4, GIF = ".mp4", ".gif"
VIDEO_FILES = tuple(f"{name}{suffix}" for name in (BEST_VIDEO, LATEST_VIDEO) for suffix in (MP4, GIF))
PLAY_VIDEO = f"{VIDEOS_DIR}/play.mp4"  # mario-play's default output for a run folder
# What a run from step 0 replaces (globs): a folder holding any of it is not started over
# silently (logbook.check_fresh_start).
RUN_DATA = (EPISODES_CSV, EVALS_CSV, STATUS_JSON, MACHINES_JSON, EVENT_FILES, f"{VIDEOS_DIR}/*")


# --- The CSV files: one field per column, in this order ---------------------------------------
# The trainer writes plain numbers only, never a quoted field, with "\n" line endings; an
# Optional field is written empty for None.
@dataclass
class EpisodeRecord:
    """A row of episodes.csv: one training episode, written when it ends."""

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
    # With env.frontier: the frontier's steps replayed before the episode began (0: it began at
    # the level's start). Scores and curves count only the episodes with 0.
    start_step: int


@dataclass
class EvalRecord:
    """A row of evals.csv: one episode of a near-greedy evaluation."""

    env_step: int            # agent steps of training when the evaluation ran
    eval_episode: int        # 1..trainer.eval_episodes within that evaluation
    reward: float
    x_pos: int
    length: int              # agent steps
    flag: int
    truncated: int           # 1 if stopped at trainer.eval_max_steps rather than by the game
    epsilon: float           # trainer.eval_epsilon
    wall_time: float         # seconds since the run began, when the episode ended


def columns(record: type) -> tuple[str, ...]:
    """The CSV header of a record type: its fields, in order."""
    return tuple(f.name for f in fields(record))


def optional_columns(record: type) -> tuple[str, ...]:
    """The columns of a record type that may be empty: its Optional fields."""
    return tuple(f.name for f in fields(record) if str(f.type).startswith("Optional"))


EPISODE_COLUMNS = columns(EpisodeRecord)
# The field that tells the episodes scores count (0: began at the level's start) from those that
# began part-way along the frontier (env.frontier).
START_STEP = "start_step"
EPISODE_OPTIONAL = optional_columns(EpisodeRecord)  # loss and q: empty before the first learn update
# Added to episodes.csv after its first format: folders written before (env came with
# env.num_envs, start_step with env.frontier) lack them, and a reader that can do without them
# still reads those folders (a missing start_step: every episode began at the level's start).
EPISODE_COLUMNS_ADDED_LATER = ("env", START_STEP)
EVAL_COLUMNS = columns(EvalRecord)
# Config keys added after run folders were first written, each with the value that does what
# the code did before the key existed (its schema default; tests/unit/test_contract.py checks
# them against the schema). A run resumed on newer code has them in its .hydra/config.yaml, the
# same configuration begun before them has not; comparing configs fills them in.
CONFIG_KEYS_ADDED_LATER: dict[str, Any] = {"env.frontier.fraction": 0.0, "env.frontier.window": None,
                                           "trainer.schedule_horizon": None}


def flatten_config(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config dict as {"agent.batch_size": 32, ...}."""
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(flatten_config(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: node}


def with_keys_added_later(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run's stored config (nested dicts) with each key of CONFIG_KEYS_ADDED_LATER
    it lacks filled in: the config its run had in today's terms."""
    filled = copy.deepcopy(config)
    for dotted, value in CONFIG_KEYS_ADDED_LATER.items():
        *parents, leaf = dotted.split(".")
        node: Any = filled
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.setdefault(leaf, value)
    return filled

# --- TensorBoard tags, all against env steps ---------------------------------------------------
RUN_TEXT_TAG = "run"  # the run's overrides and config, as text, once
# Per episode, from its EpisodeRecord: column -> tag; an episode that began part-way along the
# frontier (start_step > 0) under FRONTIER_EPISODE_TAGS instead, so episode/* stays comparable
# with runs without env.frontier.
EPISODE_TAGS = {"reward": "episode/reward", "x_pos": "episode/x_pos", "length": "episode/length",
                "flag": "episode/flag"}
FRONTIER_EPISODE_TAGS = {"x_pos": "frontier_episode/x_pos", "length": "frontier_episode/length",
                         "flag": "frontier_episode/flag", "start_step": "frontier_episode/start_step"}
# Every trainer.log_every steps: the interval's mean loss and Q, the schedules' values, the rate.
INTERVAL_TAGS = {"loss": "train/loss", "q": "train/q", "epsilon": "train/epsilon", "lr": "train/lr",
                 "steps_per_second": "perf/steps_per_second"}
# Per evaluation, its episodes' means (column -> tag), and its furthest episode as an animated image.
EVAL_TAGS = {"reward": "eval/reward", "x_pos": "eval/x_pos", "flag": "eval/flag"}
EVAL_VIDEO_TAG = f"eval/{LATEST_VIDEO}"
# At the end: the final-window means (final_window.py) of the training episodes and, with
# evaluation on, of the evaluation episodes; the HParams dashboard's metrics. final/x_pos is
# also what a hyperparameter search maximises.
FINAL_TAGS = {"x_pos": "final/x_pos", "reward": "final/reward", "flag_rate": "final/flag_rate"}
FINAL_EVAL_TAGS = {"x_pos": "final/eval_x_pos", "reward": "final/eval_reward",
                   "flag_rate": "final/eval_flag_rate"}

# --- status.json -------------------------------------------------------------------------------
# Its keys: status (below), env_step and episodes reached, total_steps (the budget), error (the
# exception of a failed run, else null), checkpoint_step (the step CHECKPOINT holds; null before
# the first), and pid, host and heartbeat (the time of the write) of the process that wrote it.
# The statuses the trainer writes:
RUNNING = "running"
INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM after a checkpoint; a rerun resumes it
FINISHED = "finished"        # reached trainer.total_steps or trainer.max_episodes
FAILED = "failed"            # ended by an error, which status.json's error holds
# The analysis's own, never written: RUNNING, but no process holds the folder's lock (killed by
# SIGKILL or the OOM killer, a crash, a reboot, or its last status write failed; a rerun resumes
# it); and no status.json, with the budget not reached.
STOPPED = "stopped"
UNKNOWN = "unknown"
STATUSES = (FINISHED, RUNNING, STOPPED, INTERRUPTED, FAILED, UNKNOWN)  # the analysis's table order
