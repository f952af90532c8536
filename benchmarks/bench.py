"""Throughput and memory figures, one `name value unit` line each:

    python -m benchmarks.bench [--num-envs N] [--compression] [--precision fp32] [--env-worker]
                              [--sync-updates] [--skip-rss]

Compare with the tutorial's loop run right before or after on the same machine
(`python ../shared/baselines/tutorial_loop.py 3000 1000 2`); these machines are shared, so
compare ratios from one sitting, not figures from different days.
"""
from __future__ import annotations

import argparse
import dataclasses
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from mario_exp.agent.ddqn import DDQNAgent, resolve_precision
from mario_exp.agent.replay import ReplayBuffer
from mario_exp.config.schema import Config, PriorityConfig
from mario_exp.env.mario_env import MarioEnv, button_code
from mario_exp.env.vector_env import VectorEnv
from mario_exp.training.trainer import train

# Each NES frame of random right / right+A play: the tutorial's action set.
RIGHT_CODES = (button_code(["right"]), button_code(["right", "A"]))
CPU = torch.device("cpu")


def emulator_frames_per_second(frames: int, rng: np.random.Generator) -> float:
    """The bare emulator (SuperMarioBrosEnv.step, no wrappers), random right / right+A."""
    from gym_super_mario_bros import SuperMarioBrosEnv

    nes = SuperMarioBrosEnv(rom_mode="vanilla", target=(1, 1))
    nes.reset()
    start = time.perf_counter()
    for i in range(frames):
        if i % 4 == 0:  # hold each random action for 4 frames, as frame skip does
            code = RIGHT_CODES[rng.integers(2)]
        if nes.step(code)[2]:
            nes.reset()
    elapsed = time.perf_counter() - start
    nes.close()
    return frames / elapsed


def env_steps_per_second(config: Config, steps: int, rng: np.random.Generator) -> float:
    """One MarioEnv in this process: emulator, frame skip, gray and resize."""
    env = MarioEnv(config.env, config.action_set)
    env.reset()
    start = time.perf_counter()
    for _ in range(steps):
        env.step_autoreset(int(rng.integers(env.n_actions)))
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def vector_env_steps_per_second(config: Config, num_envs: int, steps: int, rng: np.random.Generator) -> float:
    """Agent steps/s, counted across envs, of num_envs worker processes and no learner."""
    env = VectorEnv(dataclasses.replace(config.env, num_envs=num_envs), config.action_set, worker=True)
    try:
        env.reset()
        start = time.perf_counter()
        for _ in range(steps // num_envs):
            env.step_async(rng.integers(env.n_actions, size=num_envs).tolist())
            env.step_wait()
        elapsed = time.perf_counter() - start
    finally:
        env.close()
    return steps // num_envs * num_envs / elapsed


def record_frames(config: Config, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Real preprocessed frames of random play on 1-1, for the replay figures."""
    env = MarioEnv(config.env, config.action_set)
    frames = [env.reset()]
    for _ in range(steps):
        frames.append(env.step_autoreset(int(rng.integers(env.n_actions)))[0])
    env.close()
    return np.stack(frames)


def filled_replay(config: Config, frames: np.ndarray, transitions: int, compress: bool,
                  priority: Optional[PriorityConfig] = None) -> ReplayBuffer:
    size = config.env.frame_size
    replay = ReplayBuffer(transitions + 1, (size, size), config.env.frame_stack, CPU, compress=compress,
                          n_step=config.agent.n_step, gamma=config.agent.gamma, priority=priority)
    replay.start(frames[:1])
    for i in range(1, transitions + 1):
        replay.add(np.array([i % 2]), np.array([1.0]), np.array([False]), frames[i % len(frames)][None])
    return replay


def timed_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def replay_peak_rss_bytes(capacity: int) -> int:
    """Peak RSS of a fresh process that builds the agent and a compressed replay of
    `capacity` transitions and fills it, from real frames, one and a half times round."""
    script = f"""
import numpy as np, torch
from mario_exp.agent.ddqn import DDQNAgent
from benchmarks.bench import record_frames
from mario_exp.config.schema import Config, PriorityConfig
from mario_exp.agent.replay import ReplayBuffer
config = Config()
torch.set_num_threads(1)
agent = DDQNAgent(2, 4, 84, config.agent, config.scheduler, torch.device("cpu"))
frames = record_frames(config, 3000, np.random.default_rng(0))
replay = ReplayBuffer({capacity}, (84, 84), 4, torch.device("cpu"), compress=True)
replay.start(frames[:1])
a, r, d = np.zeros(1, np.uint8), np.ones(1, np.float32), np.zeros(1, bool)
for i in range(1, {capacity} * 3 // 2):
    replay.add(a, r, d, frames[i % len(frames)][None])
replay.sample(32, np.random.default_rng(0))
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-steps", type=int, default=2000, help="steps timed after burn-in")
    parser.add_argument("--burnin", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=Config().trainer.threads,
                        help="torch CPU threads (default: the trainer's default)")
    parser.add_argument("--env-worker", action="store_true",
                        help="step each emulator in its own process (trainer.env_worker=true)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--compression", action="store_true", help="agent.replay_compression=true")
    parser.add_argument("--sync-updates", action="store_true",
                        help="agent.async_update=false: the tutorial's ordering, every action from the newest weights")
    parser.add_argument("--num-envs", type=int, default=1, help="env.num_envs for the training figure")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 1M-transition RSS figure (~1 min)")
    args = parser.parse_args()
    config = Config()  # the tutorial's hyperparameters
    config.trainer.threads = args.threads
    config.trainer.env_worker = args.env_worker
    config.trainer.precision = args.precision
    config.agent.replay_compression = args.compression
    config.agent.async_update = not args.sync_updates
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)

    fps = emulator_frames_per_second(4000, rng)
    raw_steps = fps / config.env.frame_skip
    print(f"emulator_frames_per_second {fps:.0f} frames/s")
    print(f"emulator_agent_steps_per_second {raw_steps:.1f} steps/s (frame skip {config.env.frame_skip})")
    sps = env_steps_per_second(config, 1000, rng)
    print(f"env_steps_per_second {sps:.1f} steps/s (1 env, in process)")
    print(f"env_overhead_over_emulator {(raw_steps / sps - 1) * 100:.1f} %")
    for num_envs in (1, 2):
        vsps = vector_env_steps_per_second(config, num_envs, 3000, rng)
        print(f"env_steps_per_second_{num_envs}_workers {vsps:.1f} steps/s "
              f"({vsps / raw_steps:.2f}x the bare emulator)")

    frames = record_frames(config, 2000, rng)
    batch_size = config.agent.batch_size
    for compress in (False, True):
        replay = filled_replay(config, frames, 5000, compress)
        name = "compressed" if compress else "raw"
        print(f"replay_bytes_per_transition_{name} {replay.bytes_per_transition:.0f} bytes")
        print(f"replay_sample_ms_{name} {timed_ms(lambda: replay.sample(batch_size, rng), 200):.3f} ms")  # noqa: B023

    bf16 = resolve_precision(args.precision, CPU)
    agent = DDQNAgent(2, config.env.frame_stack, config.env.frame_size, config.agent, config.scheduler, CPU, bf16)
    batch = replay.sample(batch_size, rng)
    learn_ms = timed_ms(lambda: agent.learn(batch), 50)
    precision = "bf16" if bf16 else "fp32"
    print(f"learn_step_ms {learn_ms:.1f} ms ({precision}, {args.threads} threads)")

    # Prioritized replay at the flag preset's size: a draw of a batch from a full 100k
    # buffer, and the update of the drawn transitions' priorities that follows each learn step.
    priority = PriorityConfig(exponent=0.6)
    prioritized = filled_replay(config, frames, 100_000, False, priority)

    def sample_and_update() -> None:
        drawn = prioritized.sample(batch_size, rng, 0.4)
        prioritized.update_priorities(drawn.slots.tolist(), drawn.stamps.tolist(), rng.random(batch_size).tolist())
    print(f"replay_sample_ms_prioritized {timed_ms(sample_and_update, 200):.3f} ms "
          "(batch 32 from 100k transitions, with its priority update)")
    options = dataclasses.replace(config.agent, dueling=True, augment_shift=4, priority=priority)
    flag_agent = DDQNAgent(2, config.env.frame_stack, config.env.frame_size, options, config.scheduler, CPU, bf16)
    flag_batch = dataclasses.replace(prioritized.sample(batch_size, rng, 0.4),
                                     shifts=torch.from_numpy(rng.integers(0, 9, (2, batch_size, 2))))
    print(f"learn_step_ms_sample_efficient {timed_ms(lambda: flag_agent.learn(flag_batch), 50):.1f} ms "
          "(dueling, random shifts, importance weights)")
    state = frames[None, :config.env.frame_stack]
    act_ms = timed_ms(lambda: agent.act(state, [0.0], rng), 200)
    print(f"act_ms {act_ms:.2f} ms (one greedy forward)")
    every = config.agent.learn_every
    # One env, the tutorial's ordering: each step's action waits for the update before it.
    limit = 1000 / (learn_ms / every + act_ms)
    print(f"learner_only_steps_per_second {limit:.1f} steps/s (learn every {every}: learn / {every} + act, "
          "the ceiling with sync updates)")
    # Async updates: acting overlaps the update too, so the learner alone bounds the loop.
    print(f"learner_bound_steps_per_second {1000 * every / learn_ms:.1f} steps/s (learn every {every}: "
          f"learn / {every}, the ceiling with async updates)")

    config.agent.burnin = args.burnin
    config.trainer.total_steps = args.burnin + args.train_steps
    config.trainer.log_every = config.trainer.total_steps
    config.trainer.eval_every = None  # the training loop's own speed, without evaluation episodes
    config.env.num_envs = args.num_envs
    with tempfile.TemporaryDirectory() as run_dir:
        summary = train(config, Path(run_dir), run_name="bench")
    updates = "async updates" if config.agent.async_update else "sync updates"
    where = "worker processes" if args.env_worker else "in process"
    print(f"train_steps_per_second {summary.learning_steps_per_second:.1f} steps/s "
          f"(batch {batch_size}, learn every {config.agent.learn_every}, {precision}, {args.num_envs} envs "
          f"{where}, {updates})")

    if not args.skip_rss:
        rss = replay_peak_rss_bytes(1_000_000)
        print(f"peak_rss_1m_compressed_replay {rss / 2**30:.2f} GiB (agent + 1M transitions, filled 1.5x)")


if __name__ == "__main__":
    main()
