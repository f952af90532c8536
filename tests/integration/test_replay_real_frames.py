"""What a replay transition costs on real frames of 1-1, recorded on the emulator: compressed
frames at most 1.5 KB each, and the resident memory the OS charges per transition, raw and
compressed. The buffer's logic on toy frames is unit/test_replay.py's."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mario_exp.agent.replay import ReplayBuffer
from tests.helpers import made_once
from tests.replay_helpers import CPU

# Real frames of 1-1 (random play), recorded once per test session in a fresh process.
RECORD = """
import numpy as np
from benchmarks.bench import record_frames
from mario_exp.config.schema import Config
np.save({path!r}, record_frames(Config(), 1500, np.random.default_rng(0)))
"""


@pytest.fixture(scope="session")
def real_frames(tmp_path_factory: pytest.TempPathFactory) -> str:
    def make(folder: Path) -> Path:
        subprocess.run([sys.executable, "-c", RECORD.format(path=str(folder / "frames.npy"))], check=True)
        return folder / "frames.npy"
    return str(made_once(tmp_path_factory, "real_frames", make))


def test_compressed_real_frames_cost_at_most_1_5_kb(real_frames) -> None:
    frames = np.load(real_frames)
    buffer = ReplayBuffer(len(frames), (84, 84), 4, CPU, compress=True)
    buffer.start(frames[:1])
    for image in frames[1:]:
        buffer.add(np.zeros(1), np.zeros(1), np.zeros(1, dtype=bool), image[None])
    assert buffer.bytes_per_transition <= 1_500, buffer.bytes_per_transition


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "compressed"])
def test_a_checkpoint_packs_real_frames_into_at_most_500_bytes(real_frames, compress) -> None:
    # About 240 B a frame on a quick run's replay (measured); random play's frames are busier.
    frames = np.load(real_frames)
    buffer = ReplayBuffer(len(frames), (84, 84), 4, CPU, compress=compress)
    buffer.start(frames[:1])
    for image in frames[1:]:
        buffer.add(np.zeros(1), np.zeros(1), np.zeros(1, dtype=bool), image[None])
    packed = buffer.state_dict()["frame_chunks"].numel()
    assert packed / len(frames) <= 500, packed / len(frames)


@pytest.mark.parametrize("compress, low, high", [(False, 6_000, 7_600), (True, 700, 1_600)],
                         ids=["raw", "compressed"])
def test_resident_memory_per_transition(real_frames, compress, low, high) -> None:
    """Fill 20k slots from real frames in a fresh process and measure what the OS charges."""
    script = f"""
import os, numpy as np, torch
from mario_exp.agent.replay import ReplayBuffer
def rss():  # current resident bytes (ru_maxrss is a peak, inflated by torch's import)
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
n = 20_000
frames = np.load({real_frames!r})
before = rss()
buffer = ReplayBuffer(n, (84, 84), 4, torch.device("cpu"), compress={compress})
buffer.start(frames[:1])
a, r = np.zeros(1, np.uint8), np.ones(1, np.float32)
for i in range(1, n):
    buffer.add(a, r, np.array([i % 500 == 0]), frames[i % len(frames)][None])
after = rss()
print((after - before) / n)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    per_transition = float(result.stdout)
    assert low < per_transition <= high, per_transition
