"""Prioritized replay: the sum tree draws in proportion to priorities and survives a
checkpoint bit for bit; the buffer gives priority exactly to the transitions uniform replay
could draw (through episode ends, wrap-around, several envs and n-step returns), new ones at
the largest priority; updates follow (|TD error| + offset) ** exponent and skip overwritten
slots; importance-sampling weights follow (N * P) ** -beta over the batch's largest."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mario_exp.agent.priorities import SumTree
from mario_exp.agent.replay import ReplayBuffer
from mario_exp.config.schema import PriorityConfig
from tests.replay_helpers import CPU, SIZE, STACK, as_rows, play, sampled, sampled_n_step

PRIORITY = PriorityConfig(exponent=0.6, weight_exponent=0.4, offset=1e-6)


def test_find_matches_a_running_sum_and_skips_zero_leaves() -> None:
    rng = np.random.default_rng(0)
    leaves = rng.random(37) * (rng.random(37) > 0.3)   # a third of them 0
    tree = SumTree(37)
    tree.set(np.arange(37), leaves)
    assert tree.size == 64 and np.isclose(tree.total, leaves.sum())
    masses = np.concatenate([rng.random(2000) * tree.total, [0.0, np.nextafter(tree.total, 0)]])
    expected = np.searchsorted(np.cumsum(leaves), masses, side="right")
    found = tree.find(masses)
    assert np.all(leaves[found] > 0)
    exact = np.cumsum(leaves)[np.minimum(expected, 36)] - masses > 1e-9   # away from rounding
    assert np.array_equal(found[exact], expected[exact])


def test_stratified_draws_are_proportional_to_priorities() -> None:
    tree = SumTree(8)
    priorities = np.array([1.0, 2.0, 0.0, 4.0, 1.0, 0.0, 0.5, 7.5])
    tree.set(np.arange(8), priorities)
    rng = np.random.default_rng(1)
    counts = np.bincount(np.concatenate([tree.sample(32, rng) for _ in range(2000)]), minlength=8)
    share = counts / counts.sum()
    assert np.allclose(share, priorities / priorities.sum(), atol=0.01)
    assert counts[2] == counts[5] == 0


def test_rebuilt_tree_is_bit_identical_to_the_updated_one() -> None:
    rng = np.random.default_rng(2)
    tree = SumTree(1000)
    for _ in range(300):   # many small updates, as training makes them
        slots = rng.integers(0, 1000, 32)
        tree.set(slots, rng.random(32) ** 0.6)
    rebuilt = SumTree(1000)
    rebuilt.load_leaves(tree.leaves(np.arange(1000)))
    assert np.array_equal(rebuilt.nodes, tree.nodes)


def prioritized(capacity: int, **kwargs) -> ReplayBuffer:
    return ReplayBuffer(capacity, (SIZE, SIZE), STACK, CPU, priority=PRIORITY, **kwargs)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "compressed"])
def test_new_transitions_make_the_same_drawable_set_as_uniform_replay(compress) -> None:
    """Three envs through a wrap: with every priority at its initial maximum, prioritized
    draws reach exactly the transitions uniform replay reaches, and nothing else."""
    uniform = ReplayBuffer(3 * 20, (SIZE, SIZE), STACK, CPU, n_envs=3, compress=compress)
    buffer = prioritized(3 * 20, n_envs=3, compress=compress)
    expected = play(uniform, [[5, 2], [7], [1, 3, 4]], steps=47)
    play(buffer, [[5, 2], [7], [1, 3, 4]], steps=47)
    rows = sampled(buffer, n=8000)
    assert rows == sampled(uniform, n=8000) and rows <= as_rows(expected)
    leaves = buffer.tree.leaves(np.arange(60))
    assert set(leaves.tolist()) == {0.0, 1.0} and int(leaves.sum()) == len(buffer) == 3 * (20 - 1 - (STACK - 1))


@pytest.mark.parametrize("n", [1, 3])
def test_n_step_transitions_are_drawable_once_their_n_steps_are_stored(n) -> None:
    uniform = ReplayBuffer(2 * 16, (SIZE, SIZE), STACK, CPU, n_envs=2, n_step=n, gamma=0.8)
    buffer = prioritized(2 * 16, n_envs=2, n_step=n, gamma=0.8)
    for b in (uniform, buffer):
        play(b, [[7, 9, 11, 5], [4, 13]], steps=40)
    assert sampled_n_step(buffer) == sampled_n_step(uniform)
    assert int(buffer.tree.leaves(np.arange(32)).sum()) == len(buffer) == 2 * (16 - (STACK - 1) - n)


def test_updates_set_priorities_and_raise_the_maximum_for_new_transitions() -> None:
    buffer = prioritized(100)
    play(buffer, [[50]], steps=20)
    batch = buffer.sample(4, np.random.default_rng(0))
    td = [0.5, 2.0, 0.0, 3.0]
    buffer.update_priorities(batch.slots.tolist(), batch.stamps.tolist(), td)
    # A slot drawn twice keeps its last priority, as the later update would set it.
    last = {slot: error for slot, error in zip(batch.slots.tolist(), td)}
    for slot, error in last.items():
        assert np.isclose(buffer.tree.leaves(np.array([slot]))[0], (error + 1e-6) ** 0.6)
    assert np.isclose(buffer.max_priority, (3.0 + 1e-6) ** 0.6)
    buffer.add(np.array([0]), np.array([1.0]), np.array([False]), np.zeros((1, SIZE, SIZE), np.uint8))
    entering = buffer.count - 2   # the row whose one step just completed (n_step 1, no wrap yet)
    assert np.isclose(buffer.tree.leaves(np.array([entering]))[0], buffer.max_priority)


def test_a_priority_for_an_overwritten_transition_is_dropped() -> None:
    buffer = prioritized(16)
    play(buffer, [[100]], steps=10)
    batch = buffer.sample(8, np.random.default_rng(0))
    for _ in range(16):   # a whole turn of the ring: every sampled slot is written again
        buffer.add(np.array([1]), np.array([0.0]), np.array([False]), np.zeros((1, SIZE, SIZE), np.uint8))
    after_turn = buffer.tree.leaves(np.arange(16)).copy()
    buffer.update_priorities(batch.slots.tolist(), batch.stamps.tolist(), [9.0] * 8)
    assert np.any(buffer.tree.leaves(batch.slots) > 0)   # some are drawable again, as new ones
    assert np.array_equal(buffer.tree.leaves(np.arange(16)), after_turn)


def test_importance_weights_follow_the_formula() -> None:
    buffer = prioritized(100)
    play(buffer, [[30, 40]], steps=60)
    rng = np.random.default_rng(4)
    slots = np.arange(60)
    live = buffer.tree.leaves(slots) > 0
    buffer.tree.set(slots[live], rng.random(live.sum()) + 0.1)
    batch = buffer.sample(16, np.random.default_rng(5), weight_exponent=0.7)
    probabilities = buffer.tree.leaves(batch.slots) / buffer.tree.total
    raw = (len(buffer) * probabilities) ** -0.7
    assert np.allclose(batch.weights.numpy(), raw / raw.max(), rtol=1e-6)
    assert batch.weights.max() == 1.0 and batch.weights.dtype == torch.float32


def test_checkpointed_priorities_sample_the_same() -> None:
    buffer = prioritized(40, n_envs=2, n_step=3)
    play(buffer, [[4, 9], [6]], steps=33)
    batch = buffer.sample(8, np.random.default_rng(0))
    buffer.update_priorities(batch.slots.tolist(), batch.stamps.tolist(), np.linspace(0, 3, 8).tolist())
    restored = prioritized(40, n_envs=2, n_step=3)
    restored.load_state_dict(buffer.state_dict())
    assert np.array_equal(restored.tree.nodes, buffer.tree.nodes)
    assert restored.max_priority == buffer.max_priority and restored.rows_written == buffer.rows_written
    a, b = (x.sample(32, np.random.default_rng(7), 0.5) for x in (buffer, restored))
    assert np.array_equal(a.slots, b.slots) and torch.equal(a.weights, b.weights)
    assert torch.equal(a.states, b.states)


def test_reward_scale_multiplies_the_returns() -> None:
    plain = ReplayBuffer(100, (SIZE, SIZE), STACK, CPU, n_step=3, gamma=0.8)
    scaled = ReplayBuffer(100, (SIZE, SIZE), STACK, CPU, n_step=3, gamma=0.8, reward_scale=0.1)
    for b in (plain, scaled):
        play(b, [[5, 8]], steps=30)
    a, b = (x.sample(64, np.random.default_rng(2)) for x in (plain, scaled))
    assert torch.allclose(b.returns, a.returns * 0.1, rtol=1e-6)
    assert torch.equal(a.discounts, b.discounts)


def test_augmented_batches_carry_shifts_in_range() -> None:
    buffer = ReplayBuffer(100, (SIZE, SIZE), STACK, CPU, augment_shift=2)
    play(buffer, [[5, 8]], steps=30)
    batch = buffer.sample(500, np.random.default_rng(2))
    assert batch.shifts.shape == (2, 500, 2)
    assert set(batch.shifts.unique().tolist()) == {0, 1, 2, 3, 4}
