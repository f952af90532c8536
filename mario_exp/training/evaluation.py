"""Near-greedy evaluation: every trainer.eval_every env steps and at the end, the online network
plays trainer.eval_episodes episodes on an emulator of its own with epsilon
trainer.eval_epsilon (a little noise, so that the episodes of one evaluation differ: the
emulator and a greedy policy are both deterministic).

Evaluation leaves training exactly as it was: its own emulator, and its own random generator
seeded from the run's seed and the evaluation's env step. So a run gives the same episodes.csv
with evaluation on or off, and a resumed run repeats the evaluations it lost without
checkpointing a generator.

Videos (videos/best.mp4 and latest.mp4, each with a GIF) show the furthest episode of the run
so far and of the latest evaluation. Only the actions of each evaluation episode are kept; the
emulator is deterministic, so replaying the chosen episode's actions renders it exactly, in
full colour. The checkpoint holds the two episodes' actions, which makes the videos right
after a resume too.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from mario_exp.agent.ddqn import DDQNAgent
from mario_exp.config.schema import Config
from mario_exp.env.mario_env import FrameStacks, MarioEnv
from mario_exp.rundir.atomic import write_atomic
from mario_exp.rundir.contract import (
    BEST_VIDEO,
    EVAL_VIDEO_TAG,
    GIF,
    LATEST_VIDEO,
    MP4,
    VIDEO_FILES,
    VIDEOS_DIR,
    EvalRecord,
)
from mario_exp.rundir.logbook import Logbook
from mario_exp.training.schedule import crossed
from mario_exp.training.video import EpisodeVideo, gif_size, video_fps, write_gif


@dataclass
class EpisodeResult:
    reward: float
    x_pos: int
    length: int                # agent steps
    flag: int
    truncated: int             # 1 if max_steps ended it, not the game
    actions: list[int] = field(default_factory=list)


def play_episode(env: MarioEnv, agent: DDQNAgent, epsilon: float, rng: np.random.Generator,
                 frame_stack: int, max_steps: Optional[int],
                 on_screen: Optional[Callable[[np.ndarray], None]] = None) -> EpisodeResult:
    """One episode from the level's start, epsilon-greedy on the agent's online network.
    `on_screen` gets every full-colour screen the episode shows (its start, then one a step)."""
    frame = env.reset()
    stack = FrameStacks(1, frame_stack, frame.shape[0])  # the trainer's stacking rule
    stack.reset(0, frame)
    if on_screen is not None:
        on_screen(env.screen)
    result = EpisodeResult(reward=0.0, x_pos=0, length=0, flag=0, truncated=0)
    done = False
    while not done and (max_steps is None or result.length < max_steps):
        action = agent.act(stack.states, [epsilon], rng, net=agent.online)[0]
        frame, reward, done, info = env.step(action)
        result.actions.append(action)
        result.reward += reward
        result.length += 1
        result.x_pos, result.flag = int(info["x_pos"]), int(info["flag_get"])
        if on_screen is not None:
            on_screen(env.screen)
        stack.push(0, frame)
    result.truncated = int(not done)
    return result


def _further(a: dict[str, Any], b: Optional[dict[str, Any]]) -> bool:
    """Whether episode `a` went further than `b` (x_pos, then reward); a tie keeps `b`."""
    return b is None or (a["x_pos"], a["reward"]) > (b["x_pos"], b["reward"])


class Evaluator:
    """Plays the evaluations of one run, logs them and keeps its two videos current."""

    def __init__(self, config: Config, run_dir: Path, state: Optional[dict[str, Any]]) -> None:
        """`state`: the checkpoint's (state_dict), or None for a run that starts afresh."""
        self.config = config
        self.env = MarioEnv(config.env, config.action_set)
        self.videos = run_dir / VIDEOS_DIR
        self.fps = video_fps(config.env.frame_skip)
        state = state or {"last_step": 0, "best": None, "latest": None}
        self.last_step: int = state["last_step"]      # env step of the latest evaluation
        # The episodes the videos show, as {env_step, eval_episode, x_pos, reward, actions}.
        self.best: Optional[dict[str, Any]] = state["best"]
        self.latest: Optional[dict[str, Any]] = state["latest"]
        # Videos on disk may come from evaluations after the checkpoint (they will be made
        # again) or from a run that started over: render the checkpoint's episodes afresh.
        for name in VIDEO_FILES:
            (self.videos / name).unlink(missing_ok=True)
        if config.trainer.eval_video:
            for name, episode in ((LATEST_VIDEO, self.latest), (BEST_VIDEO, self.best)):
                if episode is not None:
                    self._render(name, episode)

    @classmethod
    def create(cls, config: Config, run_dir: Path,
               resume: Optional[dict[str, Any]]) -> Optional["Evaluator"]:
        """The run's evaluator, or None when trainer.eval_every is null."""
        if config.trainer.eval_every is None:
            return None
        return cls(config, run_dir, None if resume is None else resume.get("evaluation"))

    def due(self, step: int, final: bool = False) -> bool:
        """Whether the loop, now at `step`, has passed an evaluation point since the latest
        evaluation (or, `final`, has ended without evaluating its last step)."""
        return crossed(self.last_step, step, self.config.trainer.eval_every) or (final and self.last_step != step)

    def evaluate(self, agent: DDQNAgent, step: int, wall_time: float, logbook: Logbook) -> None:
        """Play the evaluation at env step `step`; `wall_time`: the run's seconds so far."""
        trainer_cfg = self.config.trainer
        rng = np.random.default_rng([self.config.seed, step])
        started = time.perf_counter()
        records, episodes = [], []
        for number in range(1, trainer_cfg.eval_episodes + 1):
            result = play_episode(self.env, agent, trainer_cfg.eval_epsilon, rng,
                                  self.config.env.frame_stack, trainer_cfg.eval_max_steps)
            records.append(EvalRecord(
                env_step=step, eval_episode=number, reward=result.reward, x_pos=result.x_pos,
                length=result.length, flag=result.flag, truncated=result.truncated,
                epsilon=trainer_cfg.eval_epsilon,
                wall_time=round(wall_time + time.perf_counter() - started, 3)))
            episodes.append({"env_step": step, "eval_episode": number, "x_pos": result.x_pos,
                             "reward": result.reward, "actions": result.actions})
        logbook.evaluation(records)
        self.last_step = step
        self.latest = max(episodes, key=lambda e: (e["x_pos"], e["reward"]))  # first of equals
        new_best = _further(self.latest, self.best)
        if new_best:
            self.best = self.latest
        if trainer_cfg.eval_video:
            gif = self._render(LATEST_VIDEO, self.latest)
            logbook.video(EVAL_VIDEO_TAG, gif, gif_size(gif), step)
            if new_best:  # the same episode: copy rather than replay it again
                for suffix in (MP4, GIF):
                    data = (self.videos / f"{LATEST_VIDEO}{suffix}").read_bytes()
                    write_atomic(self.videos / f"{BEST_VIDEO}{suffix}", lambda handle: handle.write(data))  # noqa: B023

    def _render(self, name: str, episode: dict[str, Any]) -> bytes:
        """videos/<name>.mp4 and .gif of `episode`, by replaying its actions; the GIF's bytes."""
        self.videos.mkdir(parents=True, exist_ok=True)
        video = EpisodeVideo(self.videos / f"{name}{MP4}", self.fps)
        try:
            self.env.reset()
            video.add(self.env.screen)
            info: dict[str, Any] = {"x_pos": None}
            for action in episode["actions"]:
                _, _, _, info = self.env.step(action)
                video.add(self.env.screen)
            if info["x_pos"] is not None and int(info["x_pos"]) != episode["x_pos"]:
                raise RuntimeError(f"replaying evaluation episode {episode['eval_episode']} at step "
                                   f"{episode['env_step']} ended at x_pos {info['x_pos']}, not "
                                   f"{episode['x_pos']}: the emulator is not deterministic here")
        except BaseException:
            video.abort()
            raise
        gif = video.close()
        write_gif(self.videos / f"{name}{GIF}", gif)
        return gif

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers and lists: loads with torch.load(weights_only=True)."""
        return {"last_step": self.last_step, "best": self.best, "latest": self.latest}

    def close(self) -> None:
        self.env.close()
