"""The agent's maths is the tutorial's Double DQN: targets from the target net at the online
net's argmax, SmoothL1 on the taken actions' Q, Adam; epsilon decays multiplicatively."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mario_exp.agent.ddqn import DDQNAgent, bf16_supported, epsilon_at
from mario_exp.agent.replay import Batch
from mario_exp.config.schema import AgentConfig, EpsilonConfig, SchedulerConfig

CPU = torch.device("cpu")


def make_agent(**scheduler: object) -> DDQNAgent:
    torch.manual_seed(0)
    return DDQNAgent(3, 4, 84, AgentConfig(gamma=0.9), SchedulerConfig(**scheduler), CPU)


def random_batch(n: int = 8) -> Batch:
    g = torch.Generator().manual_seed(1)
    frames = lambda: torch.randint(0, 256, (n, 4, 84, 84), dtype=torch.uint8, generator=g)  # noqa: E731
    return Batch(states=frames(), actions=torch.randint(0, 3, (n,), generator=g),
                 returns=torch.randn(n, generator=g), discounts=torch.where(torch.arange(n) % 3 == 0, 0.0, 0.729),
                 next_states=frames())


def test_learn_uses_double_dqn_targets() -> None:
    agent = make_agent()
    with torch.no_grad():  # make the target net differ from the online net
        for p in agent.target.parameters():
            p.add_(0.01 * torch.randn_like(p))
    batch = random_batch()
    rows = torch.arange(8)
    with torch.no_grad():
        q = agent.online(batch.states)[rows, batch.actions]
        best = agent.online(batch.next_states).argmax(1)
        target = batch.returns + batch.discounts * agent.target(batch.next_states)[rows, best]
        expected_loss = F.smooth_l1_loss(q, target).item()
    before = [p.clone() for p in agent.online.parameters()]
    loss, mean_q, td_errors = agent.learn(batch)
    assert td_errors is None  # uniform replay: no priorities to update
    assert np.isclose(loss, expected_loss, rtol=1e-5)
    assert np.isclose(mean_q, q.mean().item(), rtol=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.online.parameters()))
    assert agent.learn_steps == 1


def test_sync_copies_online_into_target() -> None:
    agent = make_agent()
    agent.learn(random_batch())
    assert any(not torch.equal(a, b) for a, b in zip(agent.online.parameters(), agent.target.parameters()))
    agent.sync_target()
    assert all(torch.equal(a, b) for a, b in zip(agent.online.parameters(), agent.target.parameters()))
    assert not any(p.requires_grad for p in agent.target.parameters())


def test_act_is_greedy_at_epsilon_zero_and_random_at_one() -> None:
    agent = make_agent()
    state = np.random.default_rng(0).integers(0, 256, (1, 4, 84, 84), dtype=np.uint8)
    greedy = agent.online(torch.from_numpy(state)).argmax().item()
    rng = np.random.default_rng(0)
    assert {agent.act(state, [0.0], rng)[0] for _ in range(20)} == {greedy}
    assert {agent.act(state, [1.0], rng)[0] for _ in range(200)} == {0, 1, 2}


def test_act_for_several_envs_draws_in_env_order() -> None:
    """Each env draws its explore coin (and its random action) in turn, so one env's choice
    does not depend on how many envs there are; greedy envs get their own argmax."""
    agent = make_agent()
    states = np.random.default_rng(1).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    greedy = agent.online(torch.from_numpy(states)).argmax(dim=1).tolist()
    epsilons = [0.0, 1.0, 0.0]
    rng, reference = np.random.default_rng(4), np.random.default_rng(4)
    actions = agent.act(states, epsilons, rng)
    expected = []
    for env, epsilon in enumerate(epsilons):
        expected.append(int(reference.integers(3)) if reference.random() < epsilon else greedy[env])
    assert actions == expected
    assert rng.random() == reference.random()   # the same draws were consumed


def test_fused_adam_takes_the_same_step_as_the_default_adam() -> None:
    agent = make_agent()
    reference = torch.optim.Adam([p.detach().clone().requires_grad_() for p in agent.online.parameters()],
                                 lr=0.00025)
    for _ in range(3):
        agent.learn(random_batch())
        for mine, theirs in zip(agent.online.parameters(), reference.param_groups[0]["params"]):
            theirs.grad = mine.grad.clone()
        reference.step()
    for mine, theirs in zip(agent.online.parameters(), reference.param_groups[0]["params"]):
        assert torch.allclose(mine, theirs, rtol=0, atol=1e-7)


@pytest.mark.skipif(not bf16_supported(CPU), reason="this CPU has no bf16 units")
def test_bf16_learn_step_stays_close_to_fp32() -> None:
    fp32, bf16 = make_agent(), make_agent()
    bf16.bf16 = True
    for _ in range(5):
        batch = random_batch()
        loss32, q32, _ = fp32.learn(batch)
        loss16, q16, _ = bf16.learn(batch)
        assert np.isclose(loss16, loss32, rtol=0.05) and np.isclose(q16, q32, rtol=0.05)


def test_epsilon_follows_the_tutorials_decay() -> None:
    eps = EpsilonConfig(start=1.0, decay=0.99999975, min=0.1)
    rate, by_loop = 1.0, []
    for _ in range(1000):  # the tutorial: act with the rate, then rate *= decay
        by_loop.append(rate)
        rate = max(0.1, rate * 0.99999975)
    # The exponential schedule ignores the budget, as the tutorial's does.
    assert np.allclose([epsilon_at(k, eps, 1000) for k in range(1, 1001)], by_loop, rtol=1e-12)
    assert 0.93 < epsilon_at(250_000, eps, 250_000) < 0.95  # why the tutorial's policy stays near random
    assert epsilon_at(10**8, eps, 10**8) == 0.1


def test_linear_epsilon_reaches_min_at_its_fraction_of_the_budget() -> None:
    eps = EpsilonConfig(schedule="linear", start=1.0, min=0.05, fraction=0.5)
    total = 1000
    assert epsilon_at(1, eps, total) == 1.0
    # Half-way through its 500 decaying steps, half-way between start and min.
    assert np.isclose(epsilon_at(251, eps, total), (1.0 + 0.05) / 2)
    assert np.isclose(epsilon_at(501, eps, total), 0.05)
    assert {epsilon_at(k, eps, total) for k in range(501, total + 1)} == {epsilon_at(501, eps, total)}
    falling = [epsilon_at(k, eps, total) for k in range(1, 502)]
    assert all(a > b for a, b in zip(falling, falling[1:]))
    # fraction=1: still falling at the budget's last step, one decrement (0.9 / 1000) above min.
    whole = EpsilonConfig(schedule="linear", start=1.0, min=0.1, fraction=1.0)
    assert np.isclose(epsilon_at(total, whole, total), 0.1 + 0.9 / total)


def test_step_scheduler_decays_per_learn_update() -> None:
    agent = make_agent(name="step", step_size=2, gamma=0.5)
    for _ in range(4):
        agent.learn(random_batch())
    assert np.isclose(agent.lr, 0.00025 * 0.25)


def test_plateau_scheduler_halves_after_patience_episodes() -> None:
    agent = make_agent(name="plateau", factor=0.5, patience=2)
    for loss in [1.0, 1.0, 1.0, 1.0]:
        agent.end_episode(loss)
    assert np.isclose(agent.lr, 0.00025 * 0.5)
    agent.end_episode(None)  # an episode without updates does not count
    assert np.isclose(agent.lr, 0.00025 * 0.5)
