"""The env plays the real ROM: frames are gray uint8 of the configured size, an action is held
for frame_skip NES frames with their rewards summed, and every ROM version and level loads."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from gym_super_mario_bros import SuperMarioBrosEnv

from mario_exp.config.schema import ActionSetConfig, EnvConfig
from mario_exp.env.mario_env import MarioEnv, button_code
from mario_exp.env.vector_env import VectorEnv

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
    for steps in range(1, 2000):  # noqa: B007 (read after the loop)
        _, _, done, info = env.step(0)   # running right into the first Goomba
        if done:
            break
    assert done and not info["flag_get"] and steps < 2000
    env.close()


def test_frames_are_cv2_gray_and_area_resize_of_the_rgb_screen() -> None:
    """The fast path through the emulator's BGRx buffer gives the same pixels as converting
    the RGB screen nes-py shows to gray and area-averaging it to 84x84 (not the tutorial's
    torchvision resize: the docs say so, and no test claims they are equal)."""
    env = MarioEnv(EnvConfig(), RIGHT_JUMP)
    env.reset()
    rng = np.random.default_rng(2)
    for _ in range(300):
        frame = env.step_autoreset(int(rng.integers(2)))[0]
        gray = cv2.cvtColor(np.ascontiguousarray(env._nes.screen), cv2.COLOR_RGB2GRAY)
        assert np.array_equal(frame, cv2.resize(gray, (84, 84), interpolation=cv2.INTER_AREA))
    env.close()


def test_step_autoreset_starts_the_next_episode_and_reports_the_last() -> None:
    env, reference = MarioEnv(EnvConfig(), RIGHT_JUMP), MarioEnv(EnvConfig(), RIGHT_JUMP)
    env.reset()
    reference.reset()
    for _ in range(2000):
        frame, reward, done, info = env.step_autoreset(0)
        expected = reference.step(0)
        assert reward == expected[1] and done == expected[2] and info == expected[3]
        if done:
            assert np.array_equal(frame, reference.reset())
            break
        assert np.array_equal(frame, expected[0])
    assert done
    env.close()
    reference.close()


@pytest.mark.parametrize("num_envs", [1, 2])
def test_worker_processes_play_exactly_like_envs_in_process(num_envs: int) -> None:
    config = EnvConfig(num_envs=num_envs)
    local, workers = VectorEnv(config, RIGHT_JUMP, worker=False), VectorEnv(config, RIGHT_JUMP, worker=True)
    assert workers.n_actions == local.n_actions == 2
    first = local.reset()
    assert first.shape == (num_envs, 84, 84) and np.array_equal(first, workers.reset())
    rng = np.random.default_rng(3)
    ended = 0
    for _ in range(300):
        actions = rng.integers(2, size=num_envs).tolist()
        workers.step_async(actions)
        local.step_async(actions)
        mine, theirs = local.step_wait(), workers.step_wait()
        assert np.array_equal(mine.frames, theirs.frames) and np.array_equal(mine.rewards, theirs.rewards)
        assert np.array_equal(mine.dones, theirs.dones) and mine.infos == theirs.infos
        ended += int(mine.dones.sum())
    assert ended >= num_envs        # episodes ended and restarted in every env
    workers.close()
    local.close()
    assert not any(worker._process.is_alive() for worker in workers._envs)


def test_envs_side_by_side_play_independent_episodes() -> None:
    """Two envs given different actions show different frames: each is its own emulator."""
    envs = VectorEnv(EnvConfig(num_envs=2), RIGHT_JUMP, worker=True)
    envs.reset()
    for _ in range(20):
        envs.step_async([0, 1])
        played = envs.step_wait()
    assert not np.array_equal(played.frames[0], played.frames[1])
    envs.close()


def test_workers_left_open_do_not_block_the_interpreter_exit() -> None:
    """The workers ignore SIGTERM (the trainer decides when to stop), so multiprocessing's
    exit hook cannot terminate them: a process that forgets to close its envs must still exit."""
    import subprocess
    import sys

    script = ("from mario_exp.config.schema import ActionSetConfig, EnvConfig\n"
              "from mario_exp.env.vector_env import VectorEnv\n"
              "envs = VectorEnv(EnvConfig(num_envs=2), ActionSetConfig(), worker=True)\nenvs.reset()\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_a_dead_worker_is_a_clear_error() -> None:
    from mario_exp.env.vector_env import EnvWorker

    worker = EnvWorker(EnvConfig(), RIGHT_JUMP)
    worker.call_async("reset")
    worker.call_wait()
    worker._process.kill()
    worker._process.join()
    with pytest.raises(RuntimeError, match="the env worker process died"):
        worker.call_async("step", 0)
        worker.call_wait()
    worker.close()


def test_the_worker_exits_when_the_trainer_is_killed(tmp_path) -> None:
    """SIGKILL leaves no orphan emulator behind: the worker ends when its pipe closes."""
    import os
    import select
    import signal
    import subprocess
    import sys

    script = ("from mario_exp.config.schema import ActionSetConfig, EnvConfig\n"
              "from mario_exp.env.vector_env import EnvWorker\n"
              "w = EnvWorker(EnvConfig(), ActionSetConfig())\nw.call_async('reset')\nw.call_wait()\n"
              "print(w._process.pid, flush=True)\nimport time\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    worker = os.pidfd_open(worker_pid)   # readable once the worker has exited (zombie or reaped)
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        exited, _, _ = select.select([worker], [], [], 120)   # the event, not a polling loop
        if not exited:
            os.kill(worker_pid, signal.SIGKILL)
            raise AssertionError("the env worker outlived its trainer")
    finally:
        os.close(worker)


def test_holding_the_jump_button_jumps_once() -> None:
    """Why env.button_marks exists: [right, A] chosen again while A is held does not jump."""
    env = MarioEnv(EnvConfig(), RIGHT_JUMP)
    env.reset()
    ground = env.step(0)[3]["y_pos"]
    held = [env.step(1)[3]["y_pos"] for _ in range(30)]         # one jump, then walking
    assert max(held) > ground and held[-5:] == [ground] * 5
    env.step(0)                                                  # release A...
    again = [env.step(1)[3]["y_pos"] for _ in range(5)]          # ...and the next press jumps
    assert max(again) > ground
    env.close()


def test_button_marks_show_which_of_a_and_b_the_last_action_held() -> None:
    actions = ActionSetConfig(name="right_run", buttons=[["right"], ["right", "A"], ["right", "B"],
                                                         ["right", "A", "B"]])
    marked, plain = MarioEnv(EnvConfig(button_marks=True), actions), MarioEnv(EnvConfig(), actions)
    size = 84 // 12

    def marks(frame: np.ndarray) -> tuple[int, int]:
        a, b = frame[:size, :size], frame[:size, size:2 * size]
        assert len(np.unique(a)) == len(np.unique(b)) == 1   # solid squares
        return int(a[0, 0]), int(b[0, 0])

    frames = [(marked.reset(), plain.reset())]
    assert marks(frames[0][0]) == (0, 0)
    for action, expected in [(1, (255, 0)), (3, (255, 255)), (2, (0, 255)), (0, (0, 0)), (1, (255, 0))]:
        with_marks, without = marked.step(action)[0], plain.step(action)[0]
        assert marks(with_marks) == expected
        frames.append((with_marks, without))
    for with_marks, without in frames:   # the rest of the frame is the same as without marks
        assert np.array_equal(with_marks[:, 2 * size:], without[:, 2 * size:])
        assert np.array_equal(with_marks[size:], without[size:])
    marked.close()
    plain.close()


STAND_OR_WALK = ActionSetConfig(name="stand_or_walk", buttons=[["NOOP"], ["right"]])


def test_stall_steps_end_an_episode_that_gets_no_further() -> None:
    """Mario walks a little, then stands: the episode ends stall_steps steps after his
    furthest x_pos, flagged in info; a new episode counts afresh."""
    env = MarioEnv(EnvConfig(stall_steps=20), STAND_OR_WALK)
    for _ in range(2):
        env.reset()
        for _ in range(10):
            _, _, done, info = env.step(1)
        assert not done and info["x_pos"] > 40
        positions = []
        for _ in range(100):
            _, _, done, info = env.step(0)
            positions.append(info["x_pos"])
            if done:
                break
        # Mario slides on a few steps after letting go of right: the count starts after that.
        last_gain = max(i for i, x in enumerate(positions) if x > max([0, *positions[:i]]))
        assert done and info["stalled"] and len(positions) == last_gain + 1 + 20
        assert not info["flag_get"]
    env.close()


def test_without_stall_steps_standing_still_goes_on() -> None:
    env = MarioEnv(EnvConfig(), STAND_OR_WALK)
    env.reset()
    assert not any(env.step(0)[2] for _ in range(200))
    env.close()
