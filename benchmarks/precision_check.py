"""Does bf16 autocast learn like fp32? Loss and Q curves of both, side by side:

    python -m benchmarks.precision_check [--updates 1000] [--seeds 3] [--transitions 6000]

Fills a replay with real transitions of random play on 1-1, then trains a fresh agent per
seed and precision on it: the same initial weights and the same batches for fp32 and bf16 of
one seed, so the difference between them is the arithmetic's alone. Each window's mean loss
and mean Q are printed for both, with the fp32 spread across seeds as the yardstick for noise.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from mario_exp.agent.ddqn import DDQNAgent, bf16_supported
from mario_exp.agent.replay import ReplayBuffer
from mario_exp.config.schema import Config
from mario_exp.env.mario_env import MarioEnv

CPU = torch.device("cpu")


def random_play_replay(config: Config, transitions: int, rng: np.random.Generator) -> ReplayBuffer:
    size = config.env.frame_size
    replay = ReplayBuffer(transitions + 1, (size, size), config.env.frame_stack, CPU, compress=True,
                          n_step=config.agent.n_step, gamma=config.agent.gamma)
    env = MarioEnv(config.env, config.action_set)
    replay.start(env.reset()[None])
    for _ in range(transitions):
        action = int(rng.integers(env.n_actions))
        frame, reward, done, _ = env.step_autoreset(action)
        replay.add(np.array([action]), np.array([reward]), np.array([done]), frame[None])
    env.close()
    return replay


def learning_curves(config: Config, replay: ReplayBuffer, seed: int, bf16: bool, updates: int,
                    sync_every: int) -> np.ndarray:
    """[updates, 2]: the loss and mean Q of each update of a fresh agent."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    agent = DDQNAgent(len(config.action_set.buttons), config.env.frame_stack, config.env.frame_size,
                      config.agent, config.scheduler, CPU, bf16)
    curve = np.empty((updates, 2))
    for update in range(updates):
        if update % sync_every == 0:
            agent.sync_target()
        step = agent.learn(replay.sample(config.agent.batch_size, rng))
        curve[update] = step.loss, step.q
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--transitions", type=int, default=6000)
    parser.add_argument("--window", type=int, default=100, help="updates per printed mean")
    parser.add_argument("--sync-every", type=int, default=250, help="updates between target syncs")
    args = parser.parse_args()
    if not bf16_supported(CPU):
        parser.exit(2, "precision_check: this CPU has no bf16 units; nothing to compare\n")
    torch.set_num_threads(1)
    config = Config()
    replay = random_play_replay(config, args.transitions, np.random.default_rng(0))
    curves = {name: np.stack([learning_curves(config, replay, seed, name == "bf16", args.updates, args.sync_every)
                              for seed in range(1, args.seeds + 1)])
              for name in ("fp32", "bf16")}
    windows = args.updates // args.window
    print("updates  loss fp32 (seed sd)  loss bf16  gap/sd   Q fp32 (seed sd)  Q bf16  gap/sd")
    worst = 0.0
    for w in range(windows):
        cut = slice(w * args.window, (w + 1) * args.window)
        row = []
        for metric in (0, 1):
            per_seed = {name: curves[name][:, cut, metric].mean(axis=1) for name in curves}
            spread = per_seed["fp32"].std(ddof=1)
            gap = abs(per_seed["bf16"].mean() - per_seed["fp32"].mean()) / spread
            worst = max(worst, gap)
            row.append(f"{per_seed['fp32'].mean():9.4f} ({spread:.4f})  {per_seed['bf16'].mean():9.4f}  {gap:6.2f}")
        print(f"{(w + 1) * args.window:7d}  " + "   ".join(row))
    print(f"precision_max_gap_in_seed_sds {worst:.2f} (bf16 vs fp32, over windows of loss and Q)")


if __name__ == "__main__":
    main()
