"""MarioGymEnv on the real emulator: it passes gym's own checker, and its observations are the
frame stacks the trainer's agent acts on."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from gym.utils.env_checker import check_env

from mario_exp.config.schema import ActionSetConfig, EnvConfig
from mario_exp.env.gym_env import MarioGymEnv
from mario_exp.env.mario_env import FrameStacks, MarioEnv
from tests.helpers import compose_config


@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
def test_passes_gyms_env_checker_without_a_warning(render_mode) -> None:
    env = MarioGymEnv(render_mode=render_mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    # gym's checker reports a problem as a "WARN: ..." UserWarning (its own use of the
    # deprecated np.bool8 is numpy's DeprecationWarning, about gym, not about this env).
    assert [str(w.message) for w in caught if "WARN" in str(w.message)] == []
    if render_mode:
        assert env.render().shape == (240, 256, 3)
    env.close()


def test_spaces_follow_the_config() -> None:
    config = compose_config(["action_set=simple", "env.frame_stack=2", "env.frame_size=60"])
    env = MarioGymEnv.from_config(config)
    assert env.observation_space.shape == (2, 60, 60) and env.observation_space.dtype == np.uint8
    assert env.action_space.n == len(config.action_set.buttons) == 7
    obs, info = env.reset(seed=1)
    assert obs.shape == (2, 60, 60) and obs.dtype == np.uint8 and info == {}
    env.close()


def test_observations_are_the_trainers_frame_stacks() -> None:
    env_cfg, actions = EnvConfig(button_marks=True), ActionSetConfig()
    gym_env, game = MarioGymEnv(env_cfg, actions), MarioEnv(env_cfg, actions)
    stacks = FrameStacks(1, env_cfg.frame_stack, env_cfg.frame_size)
    obs, _ = gym_env.reset(seed=3)
    stacks.reset(0, game.reset())
    assert np.array_equal(obs, stacks.states[0]) and (obs[0] == obs[-1]).all()
    rng = np.random.default_rng(0)
    for _ in range(60):
        action = int(rng.integers(2))
        obs, reward, terminated, truncated, info = gym_env.step(action)
        frame, expected_reward, done, expected_info = game.step(action)
        stacks.push(0, frame)
        assert np.array_equal(obs, stacks.states[0])
        assert (reward, terminated, truncated, info) == (expected_reward, done, False, expected_info)
        assert type(reward) is float and type(terminated) is bool
        if terminated:
            break
    gym_env.close()
    game.close()


def test_death_terminates_and_the_step_limit_truncates() -> None:
    env = MarioGymEnv()
    env.reset()
    terminated = truncated = False
    steps = 0
    while not (terminated or truncated) and steps < 2000:
        _, _, terminated, truncated, info = env.step(0)   # running right into the first Goomba
        steps += 1
    assert terminated and not truncated and not info["flag_get"] and steps < 2000
    env.close()

    env = MarioGymEnv(max_episode_steps=5)
    env.reset()
    ends = [env.step(1)[2:4] for _ in range(5)]
    assert ends == [(False, False)] * 4 + [(False, True)]
    first, _ = env.reset()      # a new episode: the step count starts again
    assert env.step(1)[3] is False and (first[0] == first[-1]).all()
    env.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="num_envs"):
        MarioGymEnv(EnvConfig(num_envs=2))
    with pytest.raises(ValueError, match="render_mode"):
        MarioGymEnv(render_mode="human")
    env = MarioGymEnv()
    env.reset()
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(2)
    env.close()
