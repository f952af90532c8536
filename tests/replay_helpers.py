"""What the replay buffer's tests share: toy episodes (small frames that carry their id) played
into a buffer with FrameStacks as the reference for the stacks the agent saw, the transitions a
buffer samples, by frame ids, and the device they run on."""
from __future__ import annotations

import numpy as np
import torch

from mario_exp.agent.replay import ReplayBuffer
from mario_exp.env.mario_env import FrameStacks

SIZE, STACK = 6, 4
CPU = torch.device("cpu")


def frame(frame_id: int) -> np.ndarray:
    """A frame that carries its id in its first two pixels (ids go past 255)."""
    image = np.zeros((SIZE, SIZE), dtype=np.uint8)
    image[0, 0], image[0, 1] = frame_id % 256, frame_id // 256
    return image


def ids(stacks: torch.Tensor | np.ndarray) -> tuple[int, ...]:
    """The frame ids of one stacked state."""
    stacks = np.asarray(stacks, dtype=np.int64)
    return tuple((stacks[:, 0, 0] + 256 * stacks[:, 0, 1]).tolist())


def play(buffer: ReplayBuffer, episode_lengths: list[list[int]], steps: int) -> list[tuple]:
    """Run len(episode_lengths) envs side by side for `steps` rows, env e playing episodes of
    the lengths episode_lengths[e] in turn; return every transition as the agent experienced
    it, (state ids, action, reward, done, next state ids), with FrameStacks as the reference."""
    n_envs = len(episode_lengths)
    stacks, expected, next_id = FrameStacks(n_envs, STACK, SIZE), [], 1
    episode = [0] * n_envs   # index into the env's episode lengths
    played = [0] * n_envs    # steps into the current episode
    first = []
    for env in range(n_envs):
        first.append(frame(next_id))
        stacks.reset(env, frame(next_id))
        next_id += 1
    buffer.start(np.stack(first))
    for _ in range(steps):
        actions, rewards, dones, frames = [], [], [], []
        for env in range(n_envs):
            lengths = episode_lengths[env]
            played[env] += 1
            done = played[env] == lengths[episode[env] % len(lengths)]
            action, reward = next_id % 3, float(next_id) / 10
            state = ids(stacks.states[env])
            frames.append(frame(next_id))   # the next frame, or the next episode's first
            if done:
                stacks.reset(env, frame(next_id))
                episode[env] += 1
                played[env] = 0
                expected.append((state, action, reward, True, state))
            else:
                stacks.push(env, frame(next_id))
                expected.append((state, action, reward, False, ids(stacks.states[env])))
            actions.append(action)
            rewards.append(reward)
            dones.append(done)
            next_id += 1
        buffer.add(np.array(actions), np.array(rewards), np.array(dones), np.stack(frames))
    return expected


def sampled(buffer: ReplayBuffer, n: int = 4000, seed: int = 0) -> set[tuple]:
    batch = buffer.sample(n, np.random.default_rng(seed))
    assert batch.states.dtype == torch.uint8 and batch.states.shape == (n, STACK, SIZE, SIZE)
    assert batch.actions.dtype == torch.int64 and batch.returns.dtype == batch.discounts.dtype == torch.float32
    return {(ids(batch.states[i]), int(batch.actions[i]), round(float(batch.returns[i]), 4),
             bool(batch.discounts[i] == 0), ids(batch.next_states[i])) for i in range(n)}


def as_rows(expected: list[tuple]) -> set[tuple]:
    return {(s, a, round(r, 4), d, n) for s, a, r, d, n in expected}


def sampled_n_step(buffer: ReplayBuffer, n: int = 8000) -> dict[tuple, tuple]:
    batch = buffer.sample(n, np.random.default_rng(2))
    return {ids(batch.states[i]): (int(batch.actions[i]), float(batch.returns[i]), float(batch.discounts[i]),
                                   ids(batch.next_states[i])) for i in range(n)}
