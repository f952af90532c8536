"""Every config group option and preset composes into a valid Config, and the YAML says what
the issue and the tutorial say it does."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from mario_exp.config import BUTTONS, Config, register_schema, to_config

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = ["agent", "scheduler", "action_set", "env", "trainer", "experiment"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def compose_config(overrides: list[str]) -> Config:
    register_schema()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return to_config(compose("config", overrides=overrides))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group: str, option: str) -> None:
    config = compose_config([f"{group}={option}"])
    if group in ("scheduler", "action_set"):
        assert getattr(config, group).name == option


def test_groups_have_the_options_the_issue_names() -> None:
    assert options("scheduler") == ["none", "plateau", "step"]
    assert options("action_set") == ["complex", "right_only", "right_run", "simple"]
    assert "smoke" in options("experiment")


def test_defaults_are_the_tutorials() -> None:
    agent = compose_config([]).agent
    assert (agent.batch_size, agent.learn_every, agent.lr, agent.gamma) == (32, 3, 0.00025, 0.9)
    assert (agent.burnin, agent.sync_every, agent.memory_size) == (10000, 10000, 100000)
    assert (agent.epsilon.start, agent.epsilon.decay, agent.epsilon.min) == (1.0, 0.99999975, 0.1)
    env = compose_config([]).env
    assert (env.world, env.stage, env.rom_version, env.frame_skip, env.frame_size, env.frame_stack) \
        == (1, 1, "v0", 4, 84, 4)


def test_plateau_is_the_student_projects() -> None:
    scheduler = compose_config(["scheduler=plateau"]).scheduler
    assert (scheduler.factor, scheduler.patience) == (0.5, 10)


def test_action_sets_match_the_package() -> None:
    from gym_super_mario_bros.actions import COMPLEX_MOVEMENT, RIGHT_ONLY, SIMPLE_MOVEMENT

    assert compose_config(["action_set=simple"]).action_set.buttons == SIMPLE_MOVEMENT
    assert compose_config(["action_set=complex"]).action_set.buttons == COMPLEX_MOVEMENT
    assert compose_config(["action_set=right_only"]).action_set.buttons == [["right"], ["right", "A"]]
    right_run = compose_config(["action_set=right_run"]).action_set.buttons
    assert right_run == [b for b in RIGHT_ONLY if b != ["NOOP"]]


def test_schema_buttons_are_the_joypads() -> None:
    from nes_py.wrappers import JoypadSpace

    assert sorted(BUTTONS) == sorted(JoypadSpace.buttons())


def test_smoke_preset_is_tiny_and_consistent() -> None:
    config = compose_config(["experiment=smoke"])
    assert config.trainer.total_steps <= 1000
    assert config.agent.burnin < config.trainer.total_steps
    assert config.agent.memory_size <= 10000


def test_overrides_reach_nested_keys() -> None:
    config = compose_config(["agent.epsilon.decay=0.999", "env.world=4", "env.stage=2", "seed=9"])
    assert (config.agent.epsilon.decay, config.env.world, config.env.stage, config.seed) == (0.999, 4, 2, 9)
