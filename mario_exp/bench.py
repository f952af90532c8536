"""Throughput and memory figures, one `name value unit` line each:

    python -m mario_exp.bench [--train-steps 2000] [--burnin 1000]

Compare with the tutorial's loop run right before or after on the same machine
(`python ../shared/baselines/tutorial_loop.py 3000 1000 2`); these machines are shared, so
compare ratios from one sitting, not figures from different days.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mario_exp.agent import DDQNAgent
from mario_exp.config import Config
from mario_exp.envs import MarioEnv, button_code
from mario_exp.replay import ReplayBuffer
from mario_exp.trainer import train

# Each NES frame of random right / right+A play: the tutorial's action set.
RIGHT_CODES = (button_code(["right"]), button_code(["right", "A"]))


def emulator_frames_per_second(frames: int, rng: np.random.Generator) -> float:
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
    env = MarioEnv(config.env, config.action_set)
    env.reset()
    start = time.perf_counter()
    for _ in range(steps):
        if env.step(int(rng.integers(env.n_actions)))[2]:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def filled_replay(config: Config, rng: np.random.Generator, transitions: int) -> ReplayBuffer:
    size = config.env.frame_size
    replay = ReplayBuffer(transitions + 1, (size, size), config.env.frame_stack, torch.device("cpu"))
    frames = rng.integers(0, 256, size=(256, size, size), dtype=np.uint8)
    replay.start_episode(frames[0])
    for i in range(1, transitions + 1):
        replay.add(i % 2, 1.0, False, frames[i % 256])
    return replay


def timed_ms(fn, repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-steps", type=int, default=2000, help="steps timed after burn-in")
    parser.add_argument("--burnin", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=Config().trainer.threads,
                        help="torch CPU threads (default: the trainer's default)")
    parser.add_argument("--in-process", action="store_true",
                        help="step the emulator in the trainer's process (trainer.env_worker=false)")
    args = parser.parse_args()
    config = Config()  # the tutorial's hyperparameters
    config.trainer.threads = args.threads
    config.trainer.env_worker = not args.in_process
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)

    fps = emulator_frames_per_second(4000, rng)
    print(f"emulator_frames_per_second {fps:.0f} frames/s")
    sps = env_steps_per_second(config, 1000, rng)
    print(f"env_steps_per_second {sps:.1f} steps/s")
    raw_step_ms = config.env.frame_skip / fps * 1000
    print(f"env_overhead_over_emulator {(1000 / sps - raw_step_ms) / raw_step_ms * 100:.1f} %")

    replay = filled_replay(config, rng, 5000)
    print(f"replay_bytes_per_transition {replay.bytes_per_transition} bytes")
    batch_size = config.agent.batch_size
    print(f"replay_sample_ms {timed_ms(lambda: replay.sample(batch_size, rng), 200):.3f} ms")
    agent = DDQNAgent(2, config.env.frame_stack, config.env.frame_size, config.agent, config.scheduler,
                      torch.device("cpu"))
    batch = replay.sample(batch_size, rng)
    print(f"learn_step_ms {timed_ms(lambda: agent.learn(batch), 50):.1f} ms ({args.threads} threads)")

    config.agent.burnin = args.burnin
    config.trainer.total_steps = args.burnin + args.train_steps
    config.trainer.log_every = config.trainer.total_steps
    with tempfile.TemporaryDirectory() as run_dir:
        summary = train(config, Path(run_dir), run_name="bench")
    print(f"train_steps_per_second {summary.learning_steps_per_second:.1f} steps/s")


if __name__ == "__main__":
    main()
