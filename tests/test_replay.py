"""The replay buffer rebuilds exactly the stacks the agent saw, across episode boundaries and
wrap-around, and costs one frame (~7 KB) a transition."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from mario_exp.replay import ReplayBuffer
from mario_exp.trainer import FrameStack

SIZE, STACK = 6, 4


def frame(value: int) -> np.ndarray:
    return np.full((SIZE, SIZE), value, dtype=np.uint8)


def play(buffer: ReplayBuffer, episode_lengths: list[int]) -> list[tuple]:
    """Feed episodes of numbered frames; return every transition as the agent experienced it:
    (state ids, action, reward, done, next state ids) with FrameStack as the reference."""
    stack, expected, next_id = FrameStack(STACK, SIZE), [], 1
    for length in episode_lengths:
        stack.reset(frame(next_id))
        buffer.start_episode(frame(next_id))
        next_id += 1
        for t in range(length):
            state = tuple(stack.state[:, 0, 0])
            done = t == length - 1
            action, reward = next_id % 3, float(next_id) / 10
            buffer.add(action, reward, done, frame(next_id))
            stack.push(frame(next_id))
            expected.append((state, action, reward, done, state if done else tuple(stack.state[:, 0, 0])))
            next_id += 1
    return expected


def sampled(buffer: ReplayBuffer, n: int = 4000) -> set[tuple]:
    batch = buffer.sample(n, np.random.default_rng(0))
    assert batch.states.dtype == torch.uint8 and batch.states.shape == (n, STACK, SIZE, SIZE)
    assert batch.actions.dtype == torch.int64 and batch.rewards.dtype == torch.float32
    rows = set()
    for i in range(n):
        rows.add((tuple(batch.states[i, :, 0, 0].tolist()), int(batch.actions[i]),
                  round(float(batch.rewards[i]), 4), bool(batch.dones[i]),
                  tuple(batch.next_states[i, :, 0, 0].tolist())))
    return rows


def as_rows(expected: list[tuple]) -> set[tuple]:
    return {(s, a, round(r, 4), d, n) for s, a, r, d, n in expected}


def test_stacks_repeat_the_first_frame_at_episode_start() -> None:
    buffer = ReplayBuffer(100, (SIZE, SIZE), STACK, torch.device("cpu"))
    expected = play(buffer, [2, 6, 1])
    assert len(buffer) == 9
    assert sampled(buffer) == as_rows(expected)
    first_of_second_episode = expected[2]
    assert first_of_second_episode[0] == (4, 4, 4, 4)          # frame 4 opens episode 2
    assert expected[3][0] == (4, 4, 4, 5)


def test_unfinished_episode_is_sampled_up_to_its_last_complete_step() -> None:
    buffer = ReplayBuffer(100, (SIZE, SIZE), STACK, torch.device("cpu"))
    expected = play(buffer, [3])
    buffer.start_episode(frame(50))
    buffer.add(1, 5.0, False, frame(51))                       # the newest frame has no action yet
    expected.append(((50, 50, 50, 50), 1, 5.0, False, (50, 50, 50, 51)))
    assert sampled(buffer) == as_rows(expected)


def test_wrap_around_keeps_only_whole_stacks() -> None:
    buffer = ReplayBuffer(16, (SIZE, SIZE), STACK, torch.device("cpu"))
    expected = play(buffer, [7, 9, 11, 5])                     # 32 frames through 16 slots
    assert buffer.count == 16
    rows = sampled(buffer)
    # Whatever is sampled is a transition the agent really made, with its real stacks...
    assert rows <= as_rows(expected)
    # ...and every transition still fully stored is reachable: the newest 16 - (STACK - 1) slots.
    newest = {row for row in as_rows(expected) if min(row[0]) >= 32 - 16 + STACK}
    assert newest <= rows
    assert len(rows) == len(buffer) == 16 - (STACK - 1)


def test_terminal_transition_masks_its_next_state() -> None:
    buffer = ReplayBuffer(100, (SIZE, SIZE), STACK, torch.device("cpu"))
    play(buffer, [3, 3])
    batch = buffer.sample(500, np.random.default_rng(1))
    done = batch.dones.bool()
    assert done.any() and (~done).any()
    assert torch.equal(batch.next_states[done], batch.states[done])


def test_bytes_per_transition_is_one_frame() -> None:
    buffer = ReplayBuffer(100_000, (84, 84), 4, torch.device("cpu"))
    assert buffer.bytes_per_transition <= 7_100            # the tutorial's: 225,792
    assert buffer.bytes_per_transition * 100_000 < 1e9


def test_resident_memory_per_transition() -> None:
    """Fill 20k real slots in a fresh process and measure what the OS charges for them."""
    script = """
import os, numpy as np, torch
from mario_exp.replay import ReplayBuffer
def rss():  # current resident bytes (ru_maxrss is a peak, inflated by torch's import)
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
n = 20_000
rng = np.random.default_rng(0)
frames = rng.integers(0, 255, size=(64, 84, 84), dtype=np.uint8)
before = rss()
buffer = ReplayBuffer(n, (84, 84), 4, torch.device("cpu"))
buffer.start_episode(frames[0])
for i in range(1, n):
    buffer.add(i % 2, 1.0, i % 500 == 0, frames[i % 64])
    if i % 500 == 0:
        buffer.start_episode(frames[0])
after = rss()
print((after - before) / n)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    per_transition = float(result.stdout)
    assert 6_000 < per_transition <= 7_600, per_transition
