"""A frontier start on the real emulator: resetting with an earlier episode's first actions puts
Mario exactly where that episode was after them, and the episode goes on as it did."""
from __future__ import annotations

import numpy as np
import pytest

from mario_exp.config.schema import ActionSetConfig, EnvConfig
from mario_exp.env.mario_env import MarioEnv
from mario_exp.env.vector_env import VectorEnv

RIGHT_RUN = ActionSetConfig(name="right_run", buttons=[["right"], ["right", "A"], ["right", "B"], ["right", "A", "B"]])
STAND_OR_WALK = ActionSetConfig(name="stand_or_walk", buttons=[["NOOP"], ["right"]])


def test_a_reset_with_actions_continues_the_episode_exactly() -> None:
    config = EnvConfig(button_marks=True, stall_steps=30)
    actions = list(np.random.default_rng(5).integers(0, 4, size=120))
    played, resumed = MarioEnv(config, RIGHT_RUN), MarioEnv(config, RIGHT_RUN)
    played.reset()
    steps = [played.step(a) for a in actions]
    frame = resumed.reset(actions[:70])
    assert np.array_equal(frame, steps[69][0])   # the button marks of action 70 included
    for action, (frame, reward, done, info) in zip(actions[70:], steps[70:]):
        again = resumed.step(action)
        assert np.array_equal(again[0], frame) and again[1:] == (reward, done, info)
        if done:
            break
    assert steps[-1][3]["x_pos"] > 300   # Mario got somewhere: the comparison covered his moves
    played.close()
    resumed.close()


def test_actions_that_end_the_episode_are_refused() -> None:
    env = MarioEnv(EnvConfig(stall_steps=5), STAND_OR_WALK)
    with pytest.raises(RuntimeError, match="ended the episode"):
        env.reset([0] * 10)   # standing still for 10 steps: stalled after 5
    env.close()


def test_a_vector_env_resets_one_env_with_actions() -> None:
    envs = VectorEnv(EnvConfig(num_envs=2), STAND_OR_WALK, worker=True)
    first = envs.reset()
    walked = envs.reset_env(1, [1] * 15)   # walking right, before the first goomba
    assert np.array_equal(envs.reset_env(0, []), first[0]) and not np.array_equal(walked, first[1])
    envs.close()
