"""A replay buffer that stores each preprocessed uint8 frame once, optionally compressed, and
builds the stacked states when sampling.

The tutorial stores float32 state and next_state stacks: 225,792 bytes a transition. Here a
transition costs one 84x84 uint8 frame plus 7 bytes of action, reward, done and history:
7,063 bytes raw, or about 1.2 KB with the frame compressed by zstd (lossless; Mario's frames
are mostly flat colour), so 1M transitions fit in about 1.3 GB.

The ring is a sequence of rows, one row per loop step, with one slot per env. Slot (r, e)
holds env e's frame f, the action taken from it, the reward and done that followed, and how
many earlier frames of the same episode are available to stack (capped at stack - 1). The
state of a slot is its episode's frames r-stack+1..r in that env's column, with the episode's
first frame repeated where the episode is younger than the stack (what gym's FrameStack does
at reset); its next state is the state of slot (r + 1, e). After a terminal transition the
env starts a new episode, whose first frame opens the next row. A terminal transition's next
state is never used by the target, so the state itself is returned in its place.

With n_step = n > 1, a sampled slot stands for the n-step transition that starts there: the
discounted sum of its next n rewards in the same env, stopped early where the episode ended,
and the state n steps later (Sutton & Barto, section 7.1; Rainbow's multi-step targets). The
learner's target is then `returns + discounts * max-Q(next state)`, discounts being gamma ** n,
or 0 where the episode ended within the n steps; with n = 1 it is the one-step DQN target.

With a priority exponent > 0, slots are drawn in proportion to their priorities (a sum tree,
mario_exp/agent/priorities.py) instead of uniformly. A slot gets the largest priority seen so far
when its transition becomes sampleable (its n steps complete) and priority 0 while it cannot
be sampled (the newest rows, and the oldest ones whose stacks reach overwritten frames).
Each slot carries the stamp of the row write that filled it, so that a priority computed for
a transition is not given to the one that has overwritten it meanwhile.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import torch
import zstandard

from mario_exp.agent.priorities import SumTree
from mario_exp.config.schema import PriorityConfig


@dataclass
class Batch:
    states: torch.Tensor       # uint8 [B, stack, H, W]
    actions: torch.Tensor      # int64 [B]
    returns: torch.Tensor      # float32 [B]: the reward, or the discounted sum of n rewards
    discounts: torch.Tensor    # float32 [B]: gamma ** n, or 0.0 where the episode ended
    next_states: torch.Tensor  # uint8 [B, stack, H, W], the state n steps later
    # Random-shift augmentation (agent.augment_shift): int64 [2, B, 2], each state's and next
    # state's crop offset (dy, dx); None without augmentation.
    shifts: Optional[torch.Tensor] = None
    # Prioritized replay: float32 [B] importance-sampling weights, and the slots drawn with
    # their write stamps (numpy, for the new priorities); None with uniform replay.
    weights: Optional[torch.Tensor] = None
    slots: Optional[np.ndarray] = None
    stamps: Optional[np.ndarray] = None


# Frames in a checkpoint, whatever the store in memory: zstd level 3 over chunks of
# CHECKPOINT_CHUNK consecutive slots. Consecutive frames of a level share most of their pixels,
# so a chunk packs a frame of 1-1 into about 200 bytes, against 1.2 KB compressed alone and
# 7,056 raw: a full 100k replay is some 20 MB in a checkpoint instead of 706 MB. Packing costs
# about 10 us a frame (one second for 100k), unpacking a few (measured 2026-12-07 on the 50k
# frames of a training run; python -m benchmarks.checkpoint_bench times the whole write).
CHECKPOINT_CHUNK = 1000
CHECKPOINT_LEVEL = 3


def pack_frames(gather: Callable[[np.ndarray], np.ndarray], stored: int) -> dict[str, torch.Tensor]:
    """A checkpoint's frames, slots 0..stored-1 read through `gather` a chunk at a time (so a
    compressed store holds one chunk of raw frames, 7 MB, not the replay's): each chunk
    (CHECKPOINT_CHUNK frames, the last one fewer) compressed on its own, the blobs end to end
    with their lengths."""
    compressor = zstandard.ZstdCompressor(level=CHECKPOINT_LEVEL)
    blobs = [compressor.compress(np.ascontiguousarray(
                 gather(np.arange(start, min(start + CHECKPOINT_CHUNK, stored)))).data)
             for start in range(0, stored, CHECKPOINT_CHUNK)]
    lengths = np.fromiter((len(blob) for blob in blobs), dtype=np.int64, count=len(blobs))
    data = np.frombuffer(bytearray(b"".join(blobs)), dtype=np.uint8)
    return {"frame_chunk_lengths": torch.from_numpy(lengths), "frame_chunks": torch.from_numpy(data)}


def unpack_frames(state: dict[str, torch.Tensor], stored: int,
                  frame_shape: tuple[int, int]) -> Iterator[tuple[int, np.ndarray]]:
    """The frames of a checkpoint as (first slot, frames) pieces, from pack_frames' format or
    the two that came before it (checkpoints of runs begun before 2026-12-07): the raw array
    ("frames") and one zstd blob a frame ("frame_lengths", "frame_data")."""
    if "frames" in state:
        yield 0, state["frames"].numpy()
        return
    chunked = "frame_chunks" in state
    data = state["frame_chunks" if chunked else "frame_data"].numpy().tobytes()
    lengths = state["frame_chunk_lengths" if chunked else "frame_lengths"].numpy()
    decompressor = zstandard.ZstdDecompressor()
    start = 0
    for end, length in zip(np.cumsum(lengths).tolist(), lengths.tolist()):
        frames = np.frombuffer(decompressor.decompress(data[end - length:end]), dtype=np.uint8)
        frames = frames.reshape(-1, *frame_shape)
        yield start, frames
        start += len(frames)
    if start != stored:
        raise ValueError(f"the saved replay holds {start} frames where its counters say {stored}")


class RawFrames:
    """Frames as one uint8 array: 7,056 bytes a frame, the fastest to sample."""

    def __init__(self, slots: int, frame_shape: tuple[int, int]) -> None:
        # np.zeros maps pages lazily, so memory grows with what is stored, not the capacity.
        self.array = np.zeros((slots, *frame_shape), dtype=np.uint8)

    def write(self, slot: int, frame: np.ndarray) -> None:
        self.array[slot] = frame

    def gather(self, slots: np.ndarray) -> np.ndarray:
        """Frames at `slots` (any shape), as an array of shape slots.shape + frame shape."""
        return self.array[slots]

    def bytes_per_frame(self, stored: int) -> float:
        return float(self.array[0].nbytes)

    def state_dict(self, stored: int) -> dict[str, torch.Tensor]:
        return pack_frames(self.gather, stored)

    def load_state_dict(self, state: dict[str, torch.Tensor], stored: int) -> None:
        for start, frames in unpack_frames(state, stored, self.array.shape[1:]):
            self.array[start:start + len(frames)] = frames


class ZstdFrames:
    """Frames compressed one by one with zstd level 1: about 1.2 KB a frame on 1-1, 13 us to
    compress and 9 us to decompress, so a batch of 32 (160 distinct frames) costs ~1.5 ms."""

    def __init__(self, slots: int, frame_shape: tuple[int, int]) -> None:
        self.frame_shape = frame_shape
        self.blobs: list[bytes] = [b""] * slots
        self._compressor = zstandard.ZstdCompressor(level=1)
        self._decompressor = zstandard.ZstdDecompressor()

    def write(self, slot: int, frame: np.ndarray) -> None:
        compressed = self._compressor.compress(np.ascontiguousarray(frame).data)
        # zstd returns a 7 KB allocation shrunk in place, which leaves a hole in the heap that
        # the next 7 KB allocation cannot use: 5.4 KB of RSS a frame. A right-sized copy
        # keeps it at 1.3 KB (measured over a full ring turn).
        self.blobs[slot] = bytes(memoryview(compressed))

    def gather(self, slots: np.ndarray) -> np.ndarray:
        # A batch's state and next state share most frames: decompress each distinct one once.
        distinct, where = np.unique(slots, return_inverse=True)
        frames = np.empty((distinct.size, *self.frame_shape), dtype=np.uint8)
        for i, slot in enumerate(distinct.tolist()):
            frames[i] = np.frombuffer(self._decompressor.decompress(self.blobs[slot]),
                                      dtype=np.uint8).reshape(self.frame_shape)
        return frames[where.reshape(slots.shape)]

    def bytes_per_frame(self, stored: int) -> float:
        """Mean memory a stored frame takes: the bytes object and the list's pointer to it."""
        if stored == 0:
            return 0.0
        return sum(sys.getsizeof(blob) for blob in self.blobs[:stored]) / stored + 8

    def state_dict(self, stored: int) -> dict[str, torch.Tensor]:
        return pack_frames(self.gather, stored)

    def load_state_dict(self, state: dict[str, torch.Tensor], stored: int) -> None:
        for start, frames in unpack_frames(state, stored, self.frame_shape):
            for offset, frame in enumerate(frames):
                self.write(start + offset, frame)


class ReplayBuffer:
    def __init__(self, capacity: int, frame_shape: tuple[int, int], stack: int, device: torch.device,
                 n_envs: int = 1, compress: bool = False, n_step: int = 1, gamma: float = 0.9,
                 reward_scale: float = 1.0, augment_shift: int = 0,
                 priority: Optional[PriorityConfig] = None) -> None:
        self.rows = capacity // n_envs  # each env gets an equal share of the capacity
        self.n_envs = n_envs
        self.reward_scale = np.float32(reward_scale)
        self.augment_shift = augment_shift
        self.stack = stack
        self.n_step = n_step
        # gamma ** k in float32, k = 0..n: the reward weights, and the bootstrap discount.
        self._powers = np.array([gamma ** k for k in range(n_step + 1)], dtype=np.float32)
        self.device = device
        slots = self.rows * n_envs
        self.frames: Union[RawFrames, ZstdFrames] = (ZstdFrames if compress else RawFrames)(slots, frame_shape)
        self.actions = np.zeros(slots, dtype=np.uint8)
        self.rewards = np.zeros(slots, dtype=np.float32)
        self.dones = np.zeros(slots, dtype=np.bool_)
        self.history = np.zeros(slots, dtype=np.uint8)
        self.cursor = 0        # the row the next frames go into
        self.count = 0         # rows written so far, at most self.rows; the newest has no action yet
        self._columns = np.arange(n_envs)
        # Stack offsets, oldest first: a state is frames (r - 3, r - 2, r - 1, r).
        self._offsets = np.arange(stack - 1, -1, -1)
        self.priority = priority if priority is not None and priority.exponent > 0 else None
        if self.priority is not None:
            self.tree = SumTree(slots)
            self.max_priority = 1.0     # what a new transition gets: the largest priority yet
            self.rows_written = 0       # the stamp of the next row write
            self.stamps = np.zeros(slots, dtype=np.int64)

    # The per-slot arrays besides the frames: what a transition costs and what a checkpoint saves.
    _ARRAYS = ("actions", "rewards", "dones", "history")

    @property
    def bytes_per_transition(self) -> float:
        stored = self.count * self.n_envs
        return self.frames.bytes_per_frame(stored) + sum(getattr(self, name).itemsize for name in self._ARRAYS)

    def _slots(self, row: int) -> np.ndarray:
        return row * self.n_envs + self._columns

    def start(self, frames: np.ndarray) -> None:
        """Store the first frame of every env's episode (their actions come with the next `add`)."""
        self._write_row(frames, np.zeros(self.n_envs, dtype=np.uint8))

    def add(self, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray, next_frames: np.ndarray) -> None:
        """Complete the newest row's transitions and store each env's next frame: the frame
        that followed, or the first frame of its next episode where `dones`."""
        assert self.count > 0, "start must come before add"
        newest = self._slots((self.cursor - 1) % self.rows)
        self.actions[newest] = actions
        self.rewards[newest] = rewards
        self.dones[newest] = dones
        history = np.where(dones, 0, np.minimum(self.history[newest] + 1, self.stack - 1))
        self._write_row(next_frames, history.astype(np.uint8))

    def newest_frames(self) -> np.ndarray:
        """The frames of the newest row, the ones the envs show now."""
        return self.frames.gather(self._slots((self.cursor - 1) % self.rows))

    def _write_row(self, frames: np.ndarray, history: np.ndarray) -> None:
        slots = self._slots(self.cursor)
        for slot, frame in zip(slots.tolist(), frames):
            self.frames.write(slot, frame)
        self.history[slots] = history
        self.cursor = (self.cursor + 1) % self.rows
        self.count = min(self.count + 1, self.rows)
        if self.priority is not None:
            self._update_sampleable(slots)

    def _update_sampleable(self, written: np.ndarray) -> None:
        """Keep the tree's nonzero leaves exactly the sampleable slots after a row write: the
        new row and the oldest rows drop out, the row whose n steps just completed comes in."""
        self.stamps[written] = self.rows_written
        self.rows_written += 1
        low, high = self._sampleable()
        oldest = (self.cursor - self.count) % self.rows
        leaving = [(self.cursor - 1) % self.rows] + [(oldest + k) % self.rows for k in range(low)]
        entering = [(oldest + high - 1) % self.rows] if high > low else []
        rows = np.array(leaving + entering)
        slots = (rows[:, None] * self.n_envs + self._columns).ravel()
        priorities = np.zeros(slots.size)
        priorities[len(leaving) * self.n_envs:] = self.max_priority
        self.tree.set(slots, priorities)

    def update_priorities(self, slots: list[int], stamps: list[int], td_errors: list[float]) -> None:
        """New priorities (|TD error| + offset) ** exponent for the transitions an update sampled,
        skipping those overwritten or no longer sampleable since."""
        assert self.priority is not None, "update_priorities needs a priority exponent > 0"
        slot_array, stamp_array = np.asarray(slots, dtype=np.int64), np.asarray(stamps, dtype=np.int64)
        priorities = (np.asarray(td_errors, dtype=np.float64) + self.priority.offset) ** self.priority.exponent
        keep = (self.stamps[slot_array] == stamp_array) & (self.tree.leaves(slot_array) > 0)
        if keep.any():
            self.tree.set(slot_array[keep], priorities[keep])
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def _sampleable(self) -> tuple[int, int]:
        """The range [low, high) of sampleable rows, counted from the oldest stored row."""
        # Once the ring has wrapped, the oldest stack-1 rows may stack frames already overwritten.
        low = self.stack - 1 if self.count == self.rows else 0
        # The newest row has no action yet; it only serves as the next frame of the one before,
        # and an n-step transition needs the n - 1 rows after its own complete too.
        return low, max(low, self.count - self.n_step)

    def __len__(self) -> int:
        low, high = self._sampleable()
        return (high - low) * self.n_envs

    def _stack_slots(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        slots = rows * self.n_envs + columns
        back = np.minimum(self._offsets[None, :], self.history[slots][:, None])
        return ((rows[:, None] - back) % self.rows) * self.n_envs + columns[:, None]

    def sample(self, batch_size: int, rng: np.random.Generator, weight_exponent: float = 1.0) -> Batch:
        """Draw batch_size transitions with replacement (as SB3 and Dopamine do): uniformly,
        or in proportion to their priorities, with importance-sampling weights
        (N * P) ** -weight_exponent divided by the batch's largest (Dopamine's normalisation)."""
        low, high = self._sampleable()
        assert high > low, "sample() needs at least one complete transition"
        weights = None
        if self.priority is None:
            oldest = (self.cursor - self.count) % self.rows
            drawn = rng.integers(low * self.n_envs, high * self.n_envs, size=batch_size)
            rows, columns = (oldest + drawn // self.n_envs) % self.rows, drawn % self.n_envs
            slots = rows * self.n_envs + columns
        else:
            slots = self.tree.sample(batch_size, rng)
            rows, columns = slots // self.n_envs, slots % self.n_envs
            probabilities = self.tree.leaves(slots) / self.tree.total
            scaled = (len(self) * probabilities) ** -weight_exponent
            weights = self._to_device((scaled / scaled.max()).astype(np.float32))
        # The n transitions from each sampled one on, in its env; those after an episode's
        # end belong to the next episode and do not count.
        ahead = ((rows[:, None] + np.arange(self.n_step)) % self.rows) * self.n_envs + columns[:, None]
        dones_ahead = self.dones[ahead]
        counted = np.cumsum(dones_ahead, axis=1) - dones_ahead == 0
        returns = (self.rewards[ahead] * counted * self._powers[:-1]).sum(axis=1, dtype=np.float32)
        ended = (dones_ahead & counted).any(axis=1)
        taken = counted.sum(axis=1)
        discounts = np.where(ended, np.float32(0.0), self._powers[taken])
        state_slots = self._stack_slots(rows, columns)
        next_slots = self._stack_slots((rows + taken) % self.rows, columns)
        next_slots[ended] = state_slots[ended]
        stacks = self.frames.gather(np.concatenate([state_slots, next_slots]))
        shifts = None
        if self.augment_shift:
            shifts = self._to_device(rng.integers(0, 2 * self.augment_shift + 1, size=(2, batch_size, 2)))
        return Batch(
            states=self._to_device(stacks[:batch_size]),
            actions=self._to_device(self.actions[slots].astype(np.int64)),
            returns=self._to_device(returns * self.reward_scale),
            discounts=self._to_device(discounts),
            next_states=self._to_device(stacks[batch_size:]),
            shifts=shifts,
            weights=weights,
            slots=None if weights is None else slots,
            stamps=None if weights is None else self.stamps[slots],
        )

    def state_dict(self) -> dict[str, Any]:
        """The stored slots as tensors (only the filled ones) and the ring's position."""
        stored = self.count * self.n_envs
        filled = {name: torch.from_numpy(getattr(self, name)[:stored]) for name in self._ARRAYS}
        state = {**filled, **self.frames.state_dict(stored), "cursor": self.cursor, "count": self.count}
        if self.priority is not None:
            state["priorities"] = torch.from_numpy(self.tree.leaves(np.arange(stored)))
            state["stamps"] = torch.from_numpy(self.stamps[:stored].copy())
            state["max_priority"], state["rows_written"] = self.max_priority, self.rows_written
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        count = state["count"]
        if count > self.rows:
            raise ValueError(f"the saved replay holds {count} rows, more than its capacity {self.rows}")
        stored = count * self.n_envs
        for name in self._ARRAYS:
            getattr(self, name)[:stored] = state[name].numpy()
        self.frames.load_state_dict(state, stored)
        self.cursor, self.count = state["cursor"], count
        if self.priority is not None:
            self.tree.load_leaves(state["priorities"].numpy())
            self.stamps[:stored] = state["stamps"].numpy()
            self.max_priority, self.rows_written = state["max_priority"], state["rows_written"]

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(array)
        if self.device.type == "cuda":
            # Page-locked host memory lets the copy run asynchronously with the GPU's work.
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor
