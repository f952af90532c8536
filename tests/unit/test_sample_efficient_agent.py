"""The agent options of the sample-efficient presets, each against its formula: the dueling
head, importance-weighted losses with TD errors for new priorities, DrQ's random shifts, and
Adam's epsilon."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from mario_exp.agent.ddqn import DDQNAgent, DuelingOutput, QNetwork, shift_frames
from mario_exp.agent.replay import Batch
from mario_exp.config.schema import AgentConfig, SchedulerConfig

CPU = torch.device("cpu")


def random_batch(n: int = 8, seed: int = 1) -> Batch:
    g = torch.Generator().manual_seed(seed)
    frames = lambda: torch.randint(0, 256, (n, 4, 84, 84), dtype=torch.uint8, generator=g)  # noqa: E731
    return Batch(states=frames(), actions=torch.randint(0, 3, (n,), generator=g),
                 returns=torch.randn(n, generator=g), discounts=torch.full((n,), 0.729),
                 next_states=frames())


def test_dueling_q_is_value_plus_centred_advantages() -> None:
    torch.manual_seed(0)
    net = QNetwork(4, 84, 3, dueling=True)
    assert isinstance(net.head[-1], DuelingOutput)
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        hidden = net.head[:-1](net.features(frames.float() / 255.0))
        out = net.head[-1]
        advantages = out.advantage(hidden[:, :256])
        value = out.value(hidden[:, 256:])
        q = net(frames)
    assert torch.allclose(q, value + advantages - advantages.mean(1, keepdim=True), atol=1e-6)
    # The mean advantage is removed, so the mean Q over actions is the value stream itself.
    assert torch.allclose(q.mean(1, keepdim=True), value, atol=1e-6)
    # The streams share the tutorial's hidden layer: the same weights but for the last layer.
    plain = QNetwork(4, 84, 3)
    extra = sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == (256 * 3 + 3 + 256 + 1) - (512 * 3 + 3)


def test_dueling_target_net_in_bf16_keeps_fp32_outputs() -> None:
    net = QNetwork(4, 84, 2, dueling=True).to_bf16()
    q = net(torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8))
    assert q.dtype == torch.float32 and q.shape == (2, 2)


def test_weighted_loss_and_td_errors_follow_the_formula() -> None:
    torch.manual_seed(0)
    agent = DDQNAgent(3, 4, 84, AgentConfig(), SchedulerConfig(), CPU)
    batch = random_batch()
    batch.weights = torch.linspace(0.1, 1.0, 8)
    rows = torch.arange(8)
    with torch.no_grad():
        q = agent.online(batch.states)[rows, batch.actions]
        best = agent.online(batch.next_states).argmax(1)
        target = batch.returns + batch.discounts * agent.target(batch.next_states)[rows, best]
        expected = (batch.weights * F.smooth_l1_loss(q, target, reduction="none")).mean().item()
    step = agent.learn(batch)
    assert np.isclose(step.loss, expected, rtol=1e-5)
    assert np.allclose(step.td_errors, (target - q).abs().numpy(), rtol=1e-5, atol=1e-6)


def test_random_shift_is_a_crop_of_the_edge_padded_stack() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (6, 4, 84, 84), dtype=np.uint8)
    shifts = rng.integers(0, 9, (6, 2))
    shifted = shift_frames(torch.from_numpy(frames), torch.from_numpy(shifts), 4).numpy()
    for b in range(6):
        padded = np.pad(frames[b], ((0, 0), (4, 4), (4, 4)), mode="edge")
        dy, dx = shifts[b]
        assert np.array_equal(shifted[b], padded[:, dy:dy + 84, dx:dx + 84])
    centred = shift_frames(torch.from_numpy(frames), torch.full((6, 2), 4), 4)
    assert np.array_equal(centred.numpy(), frames)   # offset (pad, pad) is the identity


def test_learn_shifts_states_and_next_states_independently() -> None:
    """An update with shifts equals the same update on the stacks shifted beforehand."""
    config = AgentConfig(augment_shift=4)
    torch.manual_seed(0)
    augmented = DDQNAgent(3, 4, 84, config, SchedulerConfig(), CPU)
    torch.manual_seed(0)
    reference = DDQNAgent(3, 4, 84, config, SchedulerConfig(), CPU)
    batch = random_batch()
    batch.shifts = torch.from_numpy(np.random.default_rng(0).integers(0, 9, (2, 8, 2)))
    shifted = random_batch()
    shifted.states = shift_frames(batch.states, batch.shifts[0], 4)
    shifted.next_states = shift_frames(batch.next_states, batch.shifts[1], 4)
    assert augmented.learn(batch).loss == reference.learn(shifted).loss


def test_adam_eps_reaches_the_optimizer() -> None:
    agent = DDQNAgent(2, 4, 84, AgentConfig(adam_eps=1.5e-4), SchedulerConfig(), CPU)
    assert agent.optimizer.param_groups[0]["eps"] == 1.5e-4
