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


def test_worker_plays_exactly_like_the_env_in_process() -> None:
    from mario_exp.envs import EnvWorker

    local, worker = MarioEnv(EnvConfig(), RIGHT_JUMP), EnvWorker(EnvConfig(), RIGHT_JUMP)
    assert worker.n_actions == local.n_actions == 2
    assert np.array_equal(local.reset(), worker.reset())
    rng = np.random.default_rng(3)
    resets = 0
    for _ in range(400):
        action = int(rng.integers(2))
        worker.step_async(action)
        local.step_async(action)
        mine, theirs = local.step_wait(), worker.step_wait()
        assert np.array_equal(mine[0], theirs[0]) and mine[1:] == theirs[1:]
        if mine[2]:
            resets += 1
            assert np.array_equal(local.reset(), worker.reset())
    assert resets >= 1
    worker.close()
    local.close()
    assert not worker._process.is_alive()


def test_a_dead_worker_is_a_clear_error() -> None:
    from mario_exp.envs import EnvWorker

    worker = EnvWorker(EnvConfig(), RIGHT_JUMP)
    worker.reset()
    worker._process.kill()
    worker._process.join()
    with pytest.raises(RuntimeError, match="the env worker process died"):
        worker.step(0)
    worker.close()


def test_the_worker_exits_when_the_trainer_is_killed(tmp_path) -> None:
    """SIGKILL leaves no orphan emulator behind: the worker ends when its pipe closes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = ("from mario_exp.config import ActionSetConfig, EnvConfig\n"
              "from mario_exp.envs import EnvWorker\n"
              "w = EnvWorker(EnvConfig(), ActionSetConfig())\nw.reset()\n"
              "print(w._process.pid, flush=True)\nimport time\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{worker_pid}/stat") as stat:
            if stat.read().split()[2] == "Z":   # exited, waiting for its reaper
                return
        time.sleep(0.05)
    os.kill(worker_pid, signal.SIGKILL)
    raise AssertionError("the env worker outlived its trainer")
