"""Synthetic run folders that follow the run-folder contract (rundir/contract.py) exactly.

Used by the benchmark and the tests: analyze.py reads them through the same code path as real
runs (.hydra/config.yaml, .hydra/overrides.yaml, status.json, episodes.csv), so the timing and
the checks cover the real reader, not a shortcut.
"""
from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mario_exp.rundir.contract import CONFIG_YAML, EPISODE_COLUMNS, EPISODES_CSV, FINISHED, OVERRIDES_YAML, STATUS_JSON

FLAG_X = 3161
START_X = 40
LRS = ("0.0001", "0.00025", "0.0005", "0.001", "0.002")
BATCH_SIZES = ("16", "32", "64", "128", "256")


def synthetic_episodes(n_episodes: int, skill: float, rng: np.random.Generator,
                       steps_per_second: float = 250.0, burn_in: int = 5,
                       lr: float = 0.00025) -> pd.DataFrame:
    """A plausible learning run: x_pos rises towards ``skill`` x the flag distance, with noise.

    Episode lengths are random but scaled so the run ends exactly at its budget, like a run that
    trained for trainer.total_steps = 220 * n_episodes.
    """
    raw = np.cumsum(rng.integers(40, 400, n_episodes))
    env_step = np.round(raw * (220 * n_episodes / raw[-1])).astype(int)
    length = np.diff(env_step, prepend=0)
    progress = env_step / env_step[-1]
    mean_x = START_X + (FLAG_X - START_X) * skill * (1.0 - np.exp(-3.0 * progress))
    x_pos = np.clip(mean_x + rng.normal(0.0, 350.0, n_episodes), START_X, FLAG_X)
    flag = rng.random(n_episodes) < 0.3 * skill * progress
    x_pos = np.where(flag, FLAG_X, x_pos).astype(int)
    reward = x_pos - START_X - 0.1 * length + 50.0 * flag + rng.normal(0.0, 20.0, n_episodes)
    learned = np.arange(n_episodes) >= burn_in  # no learn step during burn-in: empty loss/q
    return pd.DataFrame({
        "env_step": env_step,
        "episode": np.arange(1, n_episodes + 1),
        "reward": reward.round(2),
        "x_pos": x_pos,
        "length": length,
        "flag": flag.astype(int),
        "epsilon": np.maximum(0.1, 1.0 - 1.8 * progress).round(4),
        "loss": np.where(learned, 0.5 * np.exp(-progress) + rng.gamma(2.0, 0.02, n_episodes),
                         np.nan).round(4),
        "q": np.where(learned, 12.0 * progress + rng.normal(0.0, 0.3, n_episodes),
                      np.nan).round(3),
        "lr": lr,
        "wall_time": (env_step / steps_per_second).round(2),
        "env": 0,  # one env
        "start_step": 0,  # every episode from the level's start (no env.frontier)
    })[list(EPISODE_COLUMNS)]


def with_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of `config` with each `key=value` override of one of its values applied, as Hydra
    composes it; a config group's choice (action_set=right_run) and keys it lacks
    (experiment=..., hydra.*) change nothing."""
    config = copy.deepcopy(config)
    for text in overrides:
        key, _, value = text.lstrip("+").partition("=")
        *parents, leaf = key.split(".")
        node: Any = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node and not isinstance(node[leaf], dict):
            node[leaf] = yaml.safe_load(value)
    return config


def write_run(run_dir: Path, overrides: list[str], config: dict[str, Any],
              episodes: pd.DataFrame | None, status: dict[str, Any] | None) -> Path:
    """Write one run folder as train.py does (episodes/status None: that file is absent); its
    .hydra/config.yaml is `config` with the overrides applied, as in a real run, so that runs
    the analysis must tell apart compose to different configs."""
    (run_dir / CONFIG_YAML).parent.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG_YAML).write_text(yaml.safe_dump(with_overrides(config, overrides), sort_keys=False))
    (run_dir / OVERRIDES_YAML).write_text(yaml.safe_dump(overrides))
    if episodes is not None:
        episodes.to_csv(run_dir / EPISODES_CSV, index=False, na_rep="")
    if status is not None:
        (run_dir / STATUS_JSON).write_text(json.dumps(status))
    return run_dir


def run_config(seed: int, total_steps: int, batch_size: int = 32, lr: float = 0.00025,
               ) -> dict[str, Any]:
    """A composed config with the keys the analysis relies on."""
    return {"seed": seed,
            "trainer": {"total_steps": total_steps},
            "agent": {"batch_size": batch_size, "learn_every": 3, "lr": lr, "gamma": 0.9},
            "env": {"world": 1, "stage": 1},
            "action_set": {"name": "simple"},
            "scheduler": {"name": "constant"}}


def write_sweep(outputs: Path, n_runs: int = 100, n_episodes: int = 2000, seeds: int = 4,
                rng_seed: int = 0) -> Path:
    """A Hydra-style multirun over agent.lr x agent.batch_size x seed; returns the sweep folder.

    Skill grows with both hyperparameters' index, so the right answer (largest lr and batch
    size best) is known.
    """
    rng = np.random.default_rng(rng_seed)
    sweep = outputs / "multirun" / "2026-01-01" / "00-00-00"
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    n_configs = -(-n_runs // seeds)
    n_lr = math.isqrt(n_configs - 1) + 1  # smallest square-ish grid, so both keys are swept
    n_batch = -(-n_configs // n_lr)
    if n_lr > len(LRS) or n_batch > len(BATCH_SIZES):
        raise ValueError(f"at most {len(LRS) * len(BATCH_SIZES) * seeds} runs with {seeds} seeds")
    grid = list(itertools.product(range(n_lr), range(n_batch)))
    job = 0
    for i, j in grid[:n_configs]:
        skill = 0.2 + 0.7 * (i + j) / (len(LRS) + len(BATCH_SIZES) - 2)
        for seed in range(1, seeds + 1):
            if job == n_runs:
                return sweep
            lr, batch = LRS[i], BATCH_SIZES[j]
            episodes = synthetic_episodes(n_episodes, skill, rng, steps_per_second=200 + 20 * j,
                                          lr=float(lr))
            budget = int(episodes["env_step"].iloc[-1])
            overrides = [f"agent.lr={lr}", f"agent.batch_size={batch}", f"seed={seed}"]
            write_run(sweep / f"{job}_agent.batch_size={batch},agent.lr={lr}", overrides,
                      run_config(seed, budget, int(batch), float(lr)), episodes,
                      {"status": FINISHED, "env_step": budget, "total_steps": budget,
                       "episodes": n_episodes, "error": None})
            job += 1
    return sweep
