"""A quick run's checkpoint: its size and how long writing and reading it take.

    python -m benchmarks.checkpoint_bench [--record 10000] [--steps-per-second 30]

Builds what experiment=quick checkpoints at its end (the dueling agent with Adam's moments and
a full 100k prioritized replay of real 1-1 frames) and writes it with the trainer's
save_checkpoint, then reads it back with load_checkpoint (CRC check included), in today's
frame format and in the raw-array format used before 2026-12-07, in one sitting. The replay
cycles through --record frames of random play; a checkpoint compresses 1,000 consecutive frames
at a time, so each chunk is real consecutive play. Prints one `name value unit` line each, and
the write's share of a quick run's wall time at --steps-per-second (150k steps, a checkpoint
every 25k and one at the end: 7 writes).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench import CPU, filled_replay, record_frames
from mario_exp.agent.ddqn import DDQNAgent
from mario_exp.agent.replay import ReplayBuffer
from mario_exp.config.schema import Config, PriorityConfig
from mario_exp.training.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint

QUICK_STEPS, QUICK_CHECKPOINT_EVERY = 150_000, 25_000


def quick_state(frames: np.ndarray) -> tuple[dict, ReplayBuffer, dict]:
    """The config, a full prioritized replay and the dueling agent's state after an update (so
    that Adam's moments exist), as at the end of a quick run."""
    config = Config()
    config.agent.dueling = True
    replay = filled_replay(config, frames, 100_000, False, PriorityConfig(exponent=0.6))
    agent = DDQNAgent(4, 4, 84, config.agent, config.scheduler, CPU, bf16=False)
    agent.learn(replay.sample(32, np.random.default_rng(0), 0.4))
    return asdict(config), replay, agent.state_dict()


def raw_replay_state(replay: ReplayBuffer) -> dict:
    """The replay's checkpoint state as before 2026-12-07: the frames as one raw array (a view
    of the buffer: no work at write time)."""
    state = replay.state_dict()
    del state["frame_chunk_lengths"], state["frame_chunks"]
    return {**state, "frames": torch.from_numpy(replay.frames.array[:replay.count * replay.n_envs])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", type=int, default=10_000, help="real frames of random play recorded")
    p.add_argument("--steps-per-second", type=float, default=30.0,
                   help="a quick run's speed, for the stall figure (default: 30)")
    args = p.parse_args()
    torch.set_num_threads(1)
    config, replay, agent = quick_state(record_frames(Config(), args.record, np.random.default_rng(0)))
    run_wall = QUICK_STEPS / args.steps_per_second
    writes = QUICK_STEPS // QUICK_CHECKPOINT_EVERY + 1
    raw_state = raw_replay_state(replay)
    for name, raw in (("raw_frames_before_2026_12_07", True), ("zstd_chunks", False)):
        with tempfile.TemporaryDirectory() as folder:
            run_dir = Path(folder)
            start = time.perf_counter()   # today's write packs the frames: timed with it
            save_checkpoint(run_dir, {"progress": {}, "config": config, "agent": agent,
                                      "replay": raw_state if raw else replay.state_dict()})
            write_s = time.perf_counter() - start
            size = checkpoint_path(run_dir).stat().st_size
            start = time.perf_counter()
            restored = ReplayBuffer(replay.rows, (84, 84), 4, CPU, n_step=replay.n_step,
                                    priority=replay.priority)
            restored.load_state_dict(load_checkpoint(checkpoint_path(run_dir))["replay"])
            read_s = time.perf_counter() - start
            assert np.array_equal(restored.frames.array, replay.frames.array)
        print(f"checkpoint_mb_{name} {size / 1e6:.1f} MB (quick's agent + 100k real frames)")
        print(f"checkpoint_write_s_{name} {write_s:.2f} s")
        print(f"checkpoint_read_s_{name} {read_s:.2f} s (CRC check, torch.load, replay unpacked)")
        print(f"checkpoint_stall_{name} {100 * writes * write_s / run_wall:.2f} % of a quick run "
              f"({writes} writes in {run_wall / 3600:.2f} h at {args.steps_per_second:g} steps/s)")


if __name__ == "__main__":
    main()
