"""Helpers the tests share: run train.py as a user does, find the run folder it made."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mario_exp.config.schema import Config, register_schema, to_config
from mario_exp.rundir.contract import EPISODE_COLUMNS, EPISODES_CSV

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SWEEP = ["agent.batch_size=32,64", "agent.learn_every=5,10"]
# Every sample-efficient option of the flag preset at once, at the smoke budget.
SAMPLE_EFFICIENT = ["agent.dueling=true", "agent.reward_scale=0.1", "agent.adam_eps=1.5e-4",
                    "agent.augment_shift=4", "agent.priority.exponent=0.6", "env.stall_steps=30"]


def run_train(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python train.py ARGS` in `cwd`, as a user runs it; outputs land in cwd/outputs."""
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def single_run_dir(cwd: Path) -> Path:
    runs = sorted((cwd / "outputs" / "runs").glob("*/*"))
    assert len(runs) == 1, runs
    return runs[0]


def read_rows(path: Path, header: tuple[str, ...]) -> list[dict[str, str]]:
    """A run's CSV file as rows, after checking its header is exactly `header`."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == header
        return list(reader)


def read_episodes(run_dir: Path) -> list[dict[str, str]]:
    return read_rows(run_dir / EPISODES_CSV, EPISODE_COLUMNS)


def drop_clock(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows minus wall_time, the one column a resumed or relaunched run cannot reproduce."""
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every TensorBoard scalar of a run folder, tag -> [(step, value)]."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep every point
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def episodes_without_clock(run_dir: Path) -> list[dict[str, str]]:
    return drop_clock(read_episodes(run_dir))


def compose_config(overrides: list[str]) -> Config:
    """The validated Config that `train.py OVERRIDES` would run, composed in this process."""
    register_schema()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return to_config(compose("config", overrides=overrides))
