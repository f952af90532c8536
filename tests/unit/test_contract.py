"""The run-folder contract as run folders on disk have it. Every other test reads and writes by
the contract's names, so only this one notices a name changed there: run folders already
written, and checkpoints of runs in flight, would no longer be read. A change here is a change
of the folder's format, to be made on purpose (and in docs/run-folder.md)."""
from __future__ import annotations

import ast
import copy
import dataclasses
import sys
from pathlib import Path

from mario_exp.rundir import contract


def test_file_names_are_the_folders_on_disk() -> None:
    assert (contract.CONFIG_YAML, contract.OVERRIDES_YAML, contract.HYDRA_YAML) == (
        ".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml")
    assert (contract.EPISODES_CSV, contract.EVALS_CSV, contract.STATUS_JSON, contract.LOCK_FILE,
            contract.CHECKPOINT, contract.EVENT_FILES) == (
        "episodes.csv", "evals.csv", "status.json", "run.lock", "checkpoints/last.pt", "events.out.tfevents.*")
    assert contract.VIDEO_FILES == ("best.mp4", "best.gif", "latest.mp4", "latest.gif")
    assert contract.PLAY_VIDEO == "videos/play.mp4"
    assert contract.RUN_DATA == ("episodes.csv", "evals.csv", "status.json", "machines.json",
                                 "events.out.tfevents.*", "videos/*")


def test_csv_columns_keep_their_order() -> None:
    assert contract.EPISODE_COLUMNS == ("env_step", "episode", "reward", "x_pos", "length", "flag", "epsilon",
                                        "loss", "q", "lr", "wall_time", "env", "start_step")
    assert contract.EPISODE_OPTIONAL == ("loss", "q")
    assert contract.EPISODE_COLUMNS_ADDED_LATER == ("env", "start_step") and contract.START_STEP == "start_step"
    assert contract.EVAL_COLUMNS == ("env_step", "eval_episode", "reward", "x_pos", "length", "flag", "truncated",
                                     "epsilon", "wall_time")
    assert contract.optional_columns(contract.EvalRecord) == ()


def test_tensorboard_tags_and_statuses() -> None:
    tags = [contract.RUN_TEXT_TAG, *contract.EPISODE_TAGS.values(), *contract.FRONTIER_EPISODE_TAGS.values(),
            *contract.INTERVAL_TAGS.values(),
            *contract.EVAL_TAGS.values(), contract.EVAL_VIDEO_TAG, *contract.FINAL_TAGS.values(),
            *contract.FINAL_EVAL_TAGS.values()]
    assert tags == ["run", "episode/reward", "episode/x_pos", "episode/length", "episode/flag",
                    "frontier_episode/x_pos", "frontier_episode/length", "frontier_episode/flag",
                    "frontier_episode/start_step",
                    "train/loss", "train/q", "train/epsilon", "train/lr", "perf/steps_per_second",
                    "eval/reward", "eval/x_pos", "eval/flag", "eval/latest",
                    "final/x_pos", "final/reward", "final/flag_rate",
                    "final/eval_x_pos", "final/eval_reward", "final/eval_flag_rate"]
    # Each per-episode and per-evaluation tag is a column of the record it comes from.
    assert set(contract.EPISODE_TAGS) | set(contract.FRONTIER_EPISODE_TAGS) <= set(contract.EPISODE_COLUMNS)
    assert set(contract.EVAL_TAGS) <= set(contract.EVAL_COLUMNS)
    assert contract.STATUSES == ("finished", "running", "stopped", "interrupted", "failed", "unknown")


def test_the_contract_imports_nothing_but_the_standard_library() -> None:
    # The analysis, the lock and the train command's own process import it: none may load torch
    # (or pandas, numpy) through it.
    tree = ast.parse(Path(contract.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and imported <= set(sys.stdlib_module_names), imported


def test_config_keys_added_later_are_filled_in_with_their_schema_defaults() -> None:
    """What a run folder from before a key existed did is what the key's default does now."""
    from mario_exp.config.schema import Config

    config = dataclasses.asdict(Config())
    for dotted, value in contract.CONFIG_KEYS_ADDED_LATER.items():
        node = config
        for part in dotted.split("."):
            node = node[part]
        assert node == value, dotted


def test_a_stored_config_is_filled_in_with_the_keys_its_code_predates() -> None:
    from mario_exp.config.schema import Config

    today = dataclasses.asdict(Config())
    before = copy.deepcopy(today)
    del before["env"]["frontier"], before["trainer"]["schedule_horizon"]
    assert contract.with_keys_added_later(before) == today
    assert "frontier" not in before["env"]  # a copy: the stored config itself is left as read
    # A value the run did set stays.
    today["trainer"]["schedule_horizon"] = 150_000
    assert contract.with_keys_added_later(today)["trainer"]["schedule_horizon"] == 150_000
