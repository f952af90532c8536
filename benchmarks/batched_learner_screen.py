"""Screen: would several seeds' learn steps run cheaper as one batched computation?

    python -m benchmarks.batched_learner_screen [--threads 1] [--repeats 10]

Times quick's Double DQN update (dueling Nature CNN, 4 actions, Adam, one thread) as the
trainer runs it, for one net at batch 32, 64 and 128, and for K = 2 and 4 seeds' nets fused into
one: grouped convolutions (seed k's filters see only seed k's channels) and batched matrix
products for the dense layers, each seed with its own batch of 32 and its own loss, so the
update is K independent updates computed together (Adam is elementwise, so its step is each
seed's own). Prints one line per variant with the time per seed's update and the speed-up over
K updates one after another; fp32 and bf16 autocast. Random frames: the arithmetic does not
depend on the pixels.

Then the ceiling: the FLOPs of one update (torch's FlopCounterMode), the rate the update reaches,
and the rate of a large square matrix product at the same threads and precision, which no
batching of these small layers can beat.
"""
from __future__ import annotations

import argparse
import copy
import time
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mario_exp.agent.ddqn import QNetwork

BATCH, ACTIONS, STACK, SIZE = 32, 4, 4, 84
FLAT, HIDDEN = 3136, 512


class FusedSeeds(nn.Module):
    """K dueling Nature CNNs as one module: input [B, K*stack, H, W], Q-values [K, B, actions]."""

    def __init__(self, seeds: int) -> None:
        super().__init__()
        self.seeds = seeds
        self.features = nn.Sequential(
            nn.Conv2d(STACK * seeds, 32 * seeds, 8, stride=4, groups=seeds), nn.ReLU(),
            nn.Conv2d(32 * seeds, 64 * seeds, 4, stride=2, groups=seeds), nn.ReLU(),
            nn.Conv2d(64 * seeds, 64 * seeds, 3, stride=1, groups=seeds), nn.ReLU())
        self.hidden_w = nn.Parameter(torch.randn(seeds, FLAT, HIDDEN) * FLAT ** -0.5)
        self.hidden_b = nn.Parameter(torch.zeros(seeds, 1, HIDDEN))
        self.out_w = nn.Parameter(torch.randn(seeds, HIDDEN, ACTIONS + 1) * HIDDEN ** -0.5)
        self.out_b = nn.Parameter(torch.zeros(seeds, 1, ACTIONS + 1))

    @classmethod
    def from_networks(cls, nets: list[QNetwork]) -> "FusedSeeds":
        """The fused module computing exactly what each dueling QNetwork of `nets` computes."""
        fused = cls(len(nets))
        with torch.no_grad():
            for i in (0, 2, 4):   # the convolutions: seed k's filters are the k-th block
                fused.features[i].weight.copy_(torch.cat([n.features[i].weight for n in nets]))
                fused.features[i].bias.copy_(torch.cat([n.features[i].bias for n in nets]))
            fused.hidden_w.copy_(torch.stack([n.head[0].weight.t() for n in nets]))
            fused.hidden_b.copy_(torch.stack([n.head[0].bias[None] for n in nets]))
            # Output column 0 is the value stream (the hidden layer's second half), 1.. the
            # advantages (its first half), as DuelingOutput splits them.
            for k, net in enumerate(nets):
                duel = net.head[2]
                fused.out_w[k].zero_()
                fused.out_w[k, duel.split:, 0] = duel.value.weight[0]
                fused.out_w[k, :duel.split, 1:] = duel.advantage.weight.t()
                fused.out_b[k, 0, 0] = duel.value.bias[0]
                fused.out_b[k, 0, 1:] = duel.advantage.bias
        return fused

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else torch.float32
        h = self.features(frames.to(dtype).div_(255.0))
        h = h.reshape(h.shape[0], self.seeds, FLAT).transpose(0, 1)          # [K, B, FLAT]
        h = torch.relu(torch.baddbmm(self.hidden_b, h, self.hidden_w))
        with torch.autocast("cpu", enabled=False):
            out = torch.baddbmm(self.out_b, h.float(), self.out_w)
        value, advantage = out[..., :1], out[..., 1:]
        return value + advantage - advantage.mean(-1, keepdim=True)


def _update(online: nn.Module, target: nn.Module, optimizer: torch.optim.Optimizer, bf16: bool,
            states: torch.Tensor, q_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
            actions: torch.Tensor) -> None:
    """One Double DQN update as DDQNAgent.learn computes it (SmoothL1 on n-step-style targets)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        q_taken = q_of(online(states), actions).float()
        with torch.no_grad():
            best = online(states).argmax(-1)
            target_q = q_of(target(states), best).float() + 1.0
    loss = nn.functional.smooth_l1_loss(q_taken, target_q, reduction="none").mean(-1).sum()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _pick(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    return torch.gather(q, -1, actions[..., None])[..., 0]


def _timed_ms(fn: Callable[[], None], repeats: int) -> float:
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def _update_step(online: nn.Module, states: torch.Tensor, actions: torch.Tensor,
                 bf16: bool) -> Callable[[], None]:
    """One update of `online` (with its own target copy and Adam) on this batch, as a call."""
    online = online.to(memory_format=torch.channels_last)
    target = copy.deepcopy(online).requires_grad_(False)
    optimizer = torch.optim.Adam(online.parameters(), lr=2.5e-4, fused=True)
    return lambda: _update(online, target, optimizer, bf16, states, _pick, actions)


def _single_step(batch: int, bf16: bool) -> Callable[[], None]:
    states = torch.randint(0, 256, (batch, STACK, SIZE, SIZE), dtype=torch.uint8)
    return _update_step(QNetwork(STACK, SIZE, ACTIONS, dueling=True), states,
                        torch.randint(0, ACTIONS, (batch,)), bf16)


def single_ms(batch: int, bf16: bool, repeats: int) -> float:
    return _timed_ms(_single_step(batch, bf16), repeats)


def fused_ms(seeds: int, bf16: bool, repeats: int) -> float:
    states = torch.randint(0, 256, (BATCH, STACK * seeds, SIZE, SIZE), dtype=torch.uint8)
    step = _update_step(FusedSeeds(seeds), states, torch.randint(0, ACTIONS, (seeds, BATCH)), bf16)
    return _timed_ms(step, repeats)


def update_flops(bf16: bool) -> int:
    """Floating-point operations of one update at batch 32 (forwards, backward; not Adam's)."""
    step = _single_step(BATCH, bf16)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


MATMUL = 2048  # large enough that the product runs at the kernel's steady rate


def matmul_gflops(bf16: bool, repeats: int) -> float:
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = (torch.randn(MATMUL, MATMUL).to(dtype) for _ in range(2))
    ms = _timed_ms(lambda: torch.mm(a, b), repeats)
    return 2 * MATMUL ** 3 / ms / 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for bf16 in (True, False):
        precision = "bf16" if bf16 else "fp32"
        one = single_ms(BATCH, bf16, args.repeats)
        print(f"learn_ms_one_seed_batch_32_{precision} {one:.1f} ms")
        for batch in (64, 128):
            ms = single_ms(batch, bf16, args.repeats)
            print(f"learn_ms_one_seed_batch_{batch}_{precision} {ms:.1f} ms ({ms / one:.2f}x batch 32)")
        for seeds in (2, 4):
            ms = fused_ms(seeds, bf16, args.repeats)
            print(f"learn_ms_a_seed_{seeds}_fused_{precision} {ms / seeds:.1f} ms "
                  f"({one * seeds / ms:.2f}x {seeds} updates one after another)")
        flops = update_flops(bf16)
        peak = matmul_gflops(bf16, args.repeats)
        print(f"learn_gflops_one_seed_batch_32_{precision} {flops / one / 1e6:.0f} GFLOP/s "
              f"({flops / 1e9:.2f} GFLOP an update; {flops / one / 1e6 / peak:.0%} of a "
              f"{MATMUL}x{MATMUL} matrix product's {peak:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
