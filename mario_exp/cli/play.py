"""Watch a trained agent play, from a run folder or a checkpoint file.

    python -m mario_exp.cli.play outputs/runs/2026-11-21/09-48-48                 # writes videos/play.mp4
    python -m mario_exp.cli.play RUN_DIR/checkpoints/last.pt --episodes 3 --out mario.mp4 --epsilon 0

Headless by default: it plays on the real emulator and writes an MP4 (full colour, native
256x240, real time). When DISPLAY is set it also opens a window (nes-py's pyglet viewer) and
plays in real time; --no-window keeps it headless. Bad input is one line and exit status 2.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from omegaconf import OmegaConf

from mario_exp.agent.ddqn import DDQNAgent
from mario_exp.cli.common import OneLineParser, fail, positive_int
from mario_exp.config.schema import Config
from mario_exp.env.mario_env import MarioEnv
from mario_exp.rundir.contract import CHECKPOINT, PLAY_VIDEO
from mario_exp.training.checkpoint import CheckpointError, checkpoint_path, load_checkpoint
from mario_exp.training.evaluation import play_episode
from mario_exp.training.video import EpisodeVideo, video_fps

PROG = "python -m mario_exp.cli.play"


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(text)
    return value


_probability.__name__ = "number in [0, 1]"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description="Play a trained mario-exp agent and write a video.")
    p.add_argument("path", type=Path, metavar="RUN_DIR_OR_CHECKPOINT",
                   help=f"a run folder (its {CHECKPOINT} is used) or a checkpoint file")
    p.add_argument("--episodes", type=positive_int, default=1, help="episodes to play (1)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"the MP4 to write (default: RUN_DIR/{PLAY_VIDEO})")
    p.add_argument("--epsilon", type=_probability, default=None,
                   help="exploration rate (default: the run's trainer.eval_epsilon)")
    p.add_argument("--max-steps", type=positive_int, default=None,
                   help="stop an episode after this many agent steps (default: play until the "
                        "game ends it)")
    p.add_argument("--seed", type=int, default=0, help="seed of the exploration noise (0)")
    p.add_argument("--no-window", action="store_true", help="never open a window")
    return p


def find_checkpoint(path: Path) -> Path:
    """The checkpoint file `path` names: itself, or a run folder's checkpoints/last.pt."""
    if not path.exists():
        fail(PROG, f"{path}: no such file or folder")
    if path.is_dir():
        checkpoint = checkpoint_path(path)
        if not checkpoint.is_file():
            fail(PROG, f"{path}: no {checkpoint.relative_to(path)} here (a run folder has one after "
                 "its first checkpoint)")
        return checkpoint
    return path


def check_out(out: Path) -> None:
    """Fail in one line, before playing, where the video could not be written: the encoder
    would fail only at the end, with ffmpeg's traceback."""
    if out.is_dir():
        fail(PROG, f"--out {out}: is a folder; give the MP4 file to write, e.g. {out / Path(PLAY_VIDEO).name}")
    if not out.parent.is_dir():
        fail(PROG, f"--out {out}: folder {out.parent} does not exist")
    try:
        # Probe by writing: permission bits say nothing for root or for a read-only mount.
        handle, probe = tempfile.mkstemp(prefix=".mario-exp-probe-", dir=out.parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        fail(PROG, f"--out {out}: cannot write in {out.parent} ({exc.strerror})")


def load_agent(checkpoint: Path) -> tuple[Config, DDQNAgent]:
    """The run's config and its agent with the checkpoint's online network, on the CPU."""
    try:
        payload = load_checkpoint(checkpoint)
        config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), payload["config"]))
        agent = DDQNAgent(len(config.action_set.buttons), config.env.frame_stack, config.env.frame_size,
                          config.agent, config.scheduler, torch.device("cpu"))
        agent.online.load_state_dict(payload["agent"]["online"])
    except CheckpointError as exc:
        fail(PROG, str(exc))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        fail(PROG, f"{checkpoint}: not a mario-exp checkpoint this version can play "
             f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    return config, agent


class Window:
    """nes-py's own pyglet viewer, paced to real time."""

    def __init__(self, fps: float) -> None:
        from nes_py._image_viewer import ImageViewer  # pyglet: import only with a display

        self._viewer = ImageViewer(caption="mario-exp play", height=240, width=256)
        self._period = 1.0 / fps
        self._next = time.perf_counter()

    def show(self, screen: np.ndarray) -> None:
        self._viewer.show(screen)
        self._next += self._period
        time.sleep(max(0.0, self._next - time.perf_counter()))

    def close(self) -> None:
        self._viewer.close()


def main(argv: Optional[list[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    checkpoint = find_checkpoint(args.path)
    config, agent = load_agent(checkpoint)
    # The run folder's, for a checkpoint where CHECKPOINT puts it (one folder down).
    out = args.out or checkpoint.parent.parent / PLAY_VIDEO
    check_out(out)
    epsilon = config.trainer.eval_epsilon if args.epsilon is None else args.epsilon
    fps = video_fps(config.env.frame_skip)
    env = MarioEnv(config.env, config.action_set)
    video = EpisodeVideo(out, fps)
    window = Window(fps) if os.environ.get("DISPLAY") and not args.no_window else None

    def on_screen(screen: np.ndarray) -> None:
        video.add(screen)
        if window is not None:
            window.show(screen)

    rng = np.random.default_rng(args.seed)
    try:
        for number in range(1, args.episodes + 1):
            result = play_episode(env, agent, epsilon, rng, config.env.frame_stack, args.max_steps, on_screen)
            ending = ("reached the flag" if result.flag else
                      "stopped at --max-steps" if result.truncated else "Mario died")
            print(f"episode {number}: x_pos {result.x_pos}, reward {result.reward:.0f}, "
                  f"{result.length} steps, {ending}")
        video.close()
    except BaseException:
        video.abort()
        raise
    finally:
        env.close()
        if window is not None:
            window.close()
    print(f"video: {out} ({video.frames} frames at {fps:g} fps)")


if __name__ == "__main__":
    main()
