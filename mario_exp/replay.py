"""A replay buffer that stores each preprocessed uint8 frame once and builds the stacked
states when sampling.

The tutorial stores float32 state and next_state stacks: 225,792 bytes a transition. Here a
transition costs one 84x84 uint8 frame plus 7 bytes of action, reward, done and history
(7,063 bytes), so the default 100k capacity fits in 0.71 GB.

Slot i holds frame f_i, the action taken from it, the reward and done that followed, and how
many earlier frames of the same episode are available to stack (capped at stack - 1). The
state of slot i is frames i-stack+1..i of its episode, with the episode's first frame
repeated where the episode is younger than the stack (what gym's FrameStack does at reset);
its next state is the state of slot i+1. A terminal transition stores no next frame: its
next state is never used by the target, so the state itself is returned in its place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class Batch:
    states: torch.Tensor       # uint8 [B, stack, H, W]
    actions: torch.Tensor      # int64 [B]
    rewards: torch.Tensor      # float32 [B]
    dones: torch.Tensor        # float32 [B], 1.0 where the episode ended
    next_states: torch.Tensor  # uint8 [B, stack, H, W]


class ReplayBuffer:
    def __init__(self, capacity: int, frame_shape: tuple[int, int], stack: int,
                 device: torch.device) -> None:
        self.capacity = capacity
        self.stack = stack
        self.device = device
        # np.zeros maps pages lazily, so memory grows with what is stored, not the capacity.
        self.frames = np.zeros((capacity, *frame_shape), dtype=np.uint8)
        self.actions = np.zeros(capacity, dtype=np.uint8)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.bool_)
        self.history = np.zeros(capacity, dtype=np.uint8)
        self.cursor = 0        # the slot the next frame goes into
        self.count = 0         # slots written so far, at most capacity
        self.pending = False   # the newest slot has a frame but no action yet
        # Stack offsets, oldest first: a state is frames (i - 3, i - 2, i - 1, i).
        self._offsets = np.arange(stack - 1, -1, -1)

    # Every per-slot array: what a transition costs and what a checkpoint saves.
    _ARRAYS = ("frames", "actions", "rewards", "dones", "history")

    @property
    def bytes_per_transition(self) -> int:
        return sum(getattr(self, name).nbytes for name in self._ARRAYS) // self.capacity

    def start_episode(self, frame: np.ndarray) -> None:
        """Store the first frame of an episode (its action comes with the next `add`)."""
        self._write_frame(frame, history=0)

    def add(self, action: int, reward: float, done: bool, next_frame: np.ndarray) -> None:
        """Complete the newest slot's transition; `next_frame` opens the next slot unless done."""
        assert self.pending, "start_episode must come before add"
        last = (self.cursor - 1) % self.capacity
        self.actions[last] = action
        self.rewards[last] = reward
        self.dones[last] = done
        self.pending = False
        if not done:
            self._write_frame(next_frame, history=min(int(self.history[last]) + 1, self.stack - 1))

    def _write_frame(self, frame: np.ndarray, history: int) -> None:
        self.frames[self.cursor] = frame
        self.history[self.cursor] = history
        self.cursor = (self.cursor + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)
        self.pending = True

    def _sampleable(self) -> tuple[int, int]:
        """The range [low, high) of sampleable slots, counted from the oldest stored slot."""
        # Once the ring has wrapped, the oldest stack-1 slots may stack frames already overwritten.
        low = self.stack - 1 if self.count == self.capacity else 0
        # A pending slot has no action yet; it only serves as the next frame of the one before.
        high = self.count - 1 if self.pending else self.count
        return low, max(low, high)

    def __len__(self) -> int:
        low, high = self._sampleable()
        return high - low

    def _stack_indices(self, slots: np.ndarray) -> np.ndarray:
        back = np.minimum(self._offsets[None, :], self.history[slots][:, None])
        return (slots[:, None] - back) % self.capacity

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Draw batch_size transitions uniformly, with replacement (as SB3 and Dopamine do)."""
        low, high = self._sampleable()
        assert high > low, "sample() needs at least one complete transition"
        oldest = (self.cursor - self.count) % self.capacity
        slots = (oldest + rng.integers(low, high, size=batch_size)) % self.capacity
        state_idx = self._stack_indices(slots)
        next_idx = self._stack_indices((slots + 1) % self.capacity)
        dones = self.dones[slots]
        next_idx[dones] = state_idx[dones]
        return Batch(
            states=self._to_device(self.frames[state_idx]),
            actions=self._to_device(self.actions[slots].astype(np.int64)),
            rewards=self._to_device(self.rewards[slots]),
            dones=self._to_device(dones.astype(np.float32)),
            next_states=self._to_device(self.frames[next_idx]),
        )

    def state_dict(self) -> dict[str, Any]:
        """The stored slots as tensors (only the filled ones) and the ring's position."""
        filled = {name: torch.from_numpy(getattr(self, name)[:self.count]) for name in self._ARRAYS}
        return {**filled, "cursor": self.cursor, "count": self.count, "pending": self.pending}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        count = state["count"]
        if count > self.capacity:
            raise ValueError(f"the saved replay holds {count} slots, more than its capacity {self.capacity}")
        for name in self._ARRAYS:
            getattr(self, name)[:count] = state[name].numpy()
        self.cursor, self.count, self.pending = state["cursor"], count, state["pending"]

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)
