"""The env plays the real ROM: frames are gray uint8 of the configured size, an action is held
for frame_skip NES frames with their rewards summed, and every ROM version and level loads."""
from __future__ import annotations

import numpy as np
import pytest
from gym_super_mario_bros import SuperMarioBrosEnv

from mario_exp.config import ActionSetConfig, EnvConfig
from mario_exp.envs import MarioEnv, button_code

RIGHT_JUMP = ActionSetConfig(name="right_only", buttons=[["right"], ["right", "A"]])


def test_frames_are_gray_uint8_of_the_configured_size() -> None:
    env = MarioEnv(EnvConfig(frame_size=60), RIGHT_JUMP)
    first = env.reset()
    frame, reward, done, info = env.step(0)
    assert first.shape == frame.shape == (60, 60) and frame.dtype == np.uint8
    assert 0 < frame.mean() < 255 and isinstance(reward, float) and not done
    assert {"x_pos", "flag_get"} <= info.keys()
    env.close()


def test_frame_skip_repeats_the_action_and_sums_rewards() -> None:
    env = MarioEnv(EnvConfig(frame_skip=4), RIGHT_JUMP)
    raw = SuperMarioBrosEnv(rom_mode="vanilla", target=(1, 1))
    env.reset()
    raw.reset()
    for _ in range(30):
        _, reward, _, info = env.step(0)
        raw_rewards = [raw.step(button_code(["right"]))[1] for _ in range(4)]
        assert reward == sum(raw_rewards)
        assert info["x_pos"] == raw._x_position
    assert info["x_pos"] > 100            # holding right for 120 frames moves Mario right
    env.close()
    raw.close()


def test_a_jump_action_presses_a() -> None:
    env = MarioEnv(EnvConfig(), RIGHT_JUMP)
    env.reset()
    heights = [env.step(1)[3]["y_pos"] for _ in range(6)]
    assert max(heights) > heights[0]
    env.close()


@pytest.mark.parametrize("rom_version", ["v0", "v1", "v2", "v3"])
def test_every_rom_version_loads(rom_version: str) -> None:
    env = MarioEnv(EnvConfig(rom_version=rom_version), RIGHT_JUMP)
    assert env.reset().shape == (84, 84)
    env.close()


def test_target_level_is_loaded() -> None:
    env = MarioEnv(EnvConfig(world=4, stage=2), RIGHT_JUMP)
    env.reset()
    info = env.step(0)[3]
    assert (info["world"], info["stage"]) == (4, 2)
    env.close()


def test_an_episode_ends_when_mario_dies() -> None:
    env = MarioEnv(EnvConfig(), RIGHT_JUMP)
    env.reset()
    for steps in range(1, 2000):
        _, _, done, info = env.step(0)   # running right into the first Goomba
        if done:
            break
    assert done and not info["flag_get"] and steps < 2000
    env.close()
