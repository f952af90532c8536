"""The replay buffer rebuilds exactly the stacks the agent saw, across episode boundaries,
wrap-around and several envs; compressed and raw frames give identical batches; a transition
costs one frame (~7 KB raw). What it costs on real frames of the emulator, compressed (~1.2 KB)
and as the OS charges it, is integration/test_replay_real_frames.py's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mario_exp.agent.replay import CHECKPOINT_CHUNK, ReplayBuffer
from tests.replay_helpers import CPU, SIZE, STACK, as_rows, play, sampled, sampled_n_step


@pytest.fixture(params=[False, True], ids=["raw", "compressed"])
def compress(request) -> bool:
    return request.param


def test_stacks_repeat_the_first_frame_at_episode_start(compress) -> None:
    buffer = ReplayBuffer(100, (SIZE, SIZE), STACK, CPU, compress=compress)
    expected = play(buffer, [[2, 6, 1]], steps=9)
    assert len(buffer) == 9
    assert sampled(buffer) == as_rows(expected)
    assert expected[2][0] == (3, 3, 3, 3)         # frame 3, the first of episode 2, repeated
    assert expected[3][0] == (3, 3, 3, 4)


def test_unfinished_episode_is_sampled_up_to_its_last_complete_step(compress) -> None:
    buffer = ReplayBuffer(100, (SIZE, SIZE), STACK, CPU, compress=compress)
    expected = play(buffer, [[3, 100]], steps=5)   # the second episode is still running
    assert len(buffer) == 5                          # the newest frame has no action yet
    assert sampled(buffer) == as_rows(expected)


def test_wrap_around_keeps_only_whole_stacks(compress) -> None:
    buffer = ReplayBuffer(16, (SIZE, SIZE), STACK, CPU, compress=compress)
    expected = play(buffer, [[7, 9, 11, 5]], steps=31)   # 32 frames through 16 slots
    assert buffer.count == 16
    rows = sampled(buffer)
    # Whatever is sampled is a transition the agent really made, with its real stacks...
    assert rows <= as_rows(expected)
    # ...and every transition still fully stored is reachable: the 16 slots but the oldest
    # STACK - 1 (their stacks reach overwritten frames) and the newest (no action yet).
    newest = {row for row in as_rows(expected) if min(row[0]) >= 32 - 16 + STACK}
    assert newest <= rows
    assert len(rows) == len(buffer) == 16 - (STACK - 1) - 1


def test_several_envs_keep_their_episodes_apart(compress) -> None:
    """Three envs, episodes of different lengths ending at different rows, through a wrap."""
    buffer = ReplayBuffer(3 * 20, (SIZE, SIZE), STACK, CPU, n_envs=3, compress=compress)
    expected = play(buffer, [[5, 2], [7], [1, 3, 4]], steps=30)
    assert buffer.rows == 20 and buffer.count == 20
    rows = sampled(buffer, n=8000)
    assert rows <= as_rows(expected)                 # every stack within one env's episode
    assert len(rows) == len(buffer) == 3 * (20 - 1 - (STACK - 1))
    assert {row for row in rows if row[3]}           # terminal ones among them


def test_terminal_transition_masks_its_next_state(compress) -> None:
    buffer = ReplayBuffer(100, (SIZE, SIZE), STACK, CPU, compress=compress)
    play(buffer, [[3, 3]], steps=6)
    batch = buffer.sample(500, np.random.default_rng(1))
    done = batch.discounts == 0
    assert done.any() and (~done).any()
    assert torch.equal(batch.next_states[done], batch.states[done])


def test_compressed_and_raw_buffers_return_identical_batches() -> None:
    rng = np.random.default_rng(5)
    buffers = [ReplayBuffer(500, (84, 84), 4, CPU, n_envs=2, compress=c) for c in (False, True)]
    images = rng.integers(0, 4, size=(50, 84, 84), dtype=np.uint8) * 60   # flat-ish, like Mario
    for buffer in buffers:
        buffer.start(images[:2])
    for i in range(700):
        step = (np.array([i % 2, 1 - i % 2]), np.array([0.5, -1.0]), np.array([i % 37 == 0, i % 53 == 0]),
                images[[i % 50, (i * 7) % 50]])
        for buffer in buffers:
            buffer.add(*step)
    raw, compressed = (b.sample(64, np.random.default_rng(9)) for b in buffers)
    for name in ("states", "actions", "returns", "discounts", "next_states"):
        assert torch.equal(getattr(raw, name), getattr(compressed, name)), name


def test_checkpointed_buffer_samples_the_same(compress) -> None:
    buffer = ReplayBuffer(40, (SIZE, SIZE), STACK, CPU, n_envs=2, compress=compress)
    play(buffer, [[4, 9], [6]], steps=33)
    restored = ReplayBuffer(40, (SIZE, SIZE), STACK, CPU, n_envs=2, compress=compress)
    restored.load_state_dict(buffer.state_dict())
    assert sampled(restored, seed=3) == sampled(buffer, seed=3)
    assert np.array_equal(restored.newest_frames(), buffer.newest_frames())


def test_checkpoint_chunks_cross_over_and_load_into_either_store(compress) -> None:
    # More slots than a checkpoint chunk holds, saved from one store and loaded into the other.
    slots = CHECKPOINT_CHUNK * 2 + 500
    buffer = ReplayBuffer(slots, (SIZE, SIZE), STACK, CPU, compress=compress)
    play(buffer, [[37, 300, 11]], steps=slots + 200)
    state = buffer.state_dict()
    assert len(state["frame_chunk_lengths"]) == 3
    other = ReplayBuffer(slots, (SIZE, SIZE), STACK, CPU, compress=not compress)
    other.load_state_dict(state)
    assert sampled(other, seed=5) == sampled(buffer, seed=5)


def test_a_partly_filled_buffer_checkpoints_only_its_frames(compress) -> None:
    buffer = ReplayBuffer(CHECKPOINT_CHUNK * 2, (SIZE, SIZE), STACK, CPU, compress=compress)
    play(buffer, [[9, 14]], steps=CHECKPOINT_CHUNK + 30)
    restored = ReplayBuffer(CHECKPOINT_CHUNK * 2, (SIZE, SIZE), STACK, CPU, compress=compress)
    restored.load_state_dict(buffer.state_dict())
    assert sampled(restored, seed=2) == sampled(buffer, seed=2)
    assert np.array_equal(restored.newest_frames(), buffer.newest_frames())


def _in_an_earlier_format(buffer: ReplayBuffer, compress: bool) -> dict:
    """buffer's state as checkpoints before 2026-12-07 held its frames: the raw array, or one
    zstd blob a frame (replay compression on)."""
    import zstandard
    state = buffer.state_dict()
    del state["frame_chunk_lengths"], state["frame_chunks"]
    frames = buffer.frames.gather(np.arange(buffer.count * buffer.n_envs))
    if not compress:
        return {**state, "frames": torch.from_numpy(frames)}
    blobs = [zstandard.ZstdCompressor(level=1).compress(f.tobytes()) for f in frames]
    return {**state, "frame_lengths": torch.tensor([len(b) for b in blobs]),
            "frame_data": torch.frombuffer(bytearray(b"".join(blobs)), dtype=torch.uint8)}


def test_checkpoints_in_earlier_formats_still_load(compress) -> None:
    buffer = ReplayBuffer(40, (SIZE, SIZE), STACK, CPU, n_envs=2, compress=compress)
    play(buffer, [[4, 9], [6]], steps=33)
    restored = ReplayBuffer(40, (SIZE, SIZE), STACK, CPU, n_envs=2, compress=compress)
    restored.load_state_dict(_in_an_earlier_format(buffer, compress))
    assert sampled(restored, seed=3) == sampled(buffer, seed=3)


def test_bytes_per_transition_is_one_frame() -> None:
    buffer = ReplayBuffer(100_000, (84, 84), 4, CPU)
    assert buffer.bytes_per_transition <= 7_100            # the tutorial's: 225,792
    assert buffer.bytes_per_transition * 100_000 < 1e9


def n_step_reference(expected: list[tuple], n_envs: int, n: int, gamma: float) -> dict[tuple, tuple]:
    """The n-step transitions of one-step `expected` (in play order, envs interleaved), written
    out the textbook way: state ids -> (action, return, discount, next state ids). A transition
    is sampleable once the n - 1 after it in its env are complete, episode end or not."""
    reference = {}
    for env in range(n_envs):
        played = expected[env::n_envs]
        for t in range(len(played) - n + 1):
            state, action = played[t][0], played[t][1]
            total = 0.0
            for k in range(n):
                _, _, reward, done, next_state = played[t + k]
                total += gamma ** k * reward
                if done:
                    reference[state] = (action, total, 0.0, state)
                    break
            else:
                reference[state] = (action, total, gamma ** n, next_state)
    return reference


def assert_same_transitions(got: dict[tuple, tuple], reference: dict[tuple, tuple]) -> None:
    for state, (action, total, discount, next_state) in got.items():
        want = reference[state]
        assert (action, next_state) == (want[0], want[3]), state
        assert np.isclose(total, want[1], rtol=1e-6) and np.isclose(discount, want[2], rtol=1e-6), state


@pytest.mark.parametrize("n", [1, 3, 5])
def test_n_step_returns_stop_at_episode_ends(compress, n) -> None:
    """Two envs, episodes shorter and longer than n, ending at different rows."""
    buffer = ReplayBuffer(200, (SIZE, SIZE), STACK, CPU, n_envs=2, compress=compress, n_step=n, gamma=0.8)
    expected = play(buffer, [[2, 6, 1, 4], [7, 3]], steps=30)
    reference = n_step_reference(expected, 2, n, 0.8)
    got = sampled_n_step(buffer)
    assert len(buffer) == len(reference) == 2 * (30 - n + 1)
    assert got.keys() == reference.keys()
    assert_same_transitions(got, reference)
    assert any(d == 0.0 for _, _, d, _ in got.values()) and any(d > 0 for _, _, d, _ in got.values())


def test_n_step_through_wrap_around(compress) -> None:
    n = 3
    buffer = ReplayBuffer(2 * 16, (SIZE, SIZE), STACK, CPU, n_envs=2, compress=compress, n_step=n, gamma=0.8)
    expected = play(buffer, [[7, 9, 11, 5], [4, 13]], steps=40)
    got = sampled_n_step(buffer)
    assert_same_transitions(got, n_step_reference(expected, 2, n, 0.8))
    # The oldest STACK - 1 rows stack overwritten frames; the newest n rows lack later steps.
    assert len(got) == len(buffer) == 2 * (16 - (STACK - 1) - n)
