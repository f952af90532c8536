"""The training loop: play, store, learn, sync, log, checkpoint. One call trains one run folder.

Step counting follows the tutorial: one step is one agent action (env.frame_skip NES frames);
burn-in, learn_every, sync_every, the epsilon decay and the budget all count these steps.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from omegaconf import OmegaConf

from mario_exp.agent import DDQNAgent, epsilon_at, resolve_device
from mario_exp.checkpoint import save_checkpoint
from mario_exp.config import Config
from mario_exp.envs import MarioEnv
from mario_exp.logbook import EpisodeRecord, Logbook
from mario_exp.replay import ReplayBuffer

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed every RNG a run touches; returns the generator for exploration and sampling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


class FrameStack:
    """The last `stack` frames the agent acts on; an episode starts with its first frame repeated."""

    def __init__(self, stack: int, frame_size: int) -> None:
        self.state = np.zeros((stack, frame_size, frame_size), dtype=np.uint8)

    def reset(self, frame: np.ndarray) -> None:
        self.state[:] = frame

    def push(self, frame: np.ndarray) -> None:
        self.state[:-1] = self.state[1:]
        self.state[-1] = frame


@dataclass
class Tally:
    """Means of the learn updates since the last reset (per episode, or per log interval)."""

    losses: list[float] = field(default_factory=list)
    qs: list[float] = field(default_factory=list)

    def add(self, loss: float, q: float) -> None:
        self.losses.append(loss)
        self.qs.append(q)

    def means(self) -> tuple[Optional[float], Optional[float]]:
        if not self.losses:
            return None, None
        return float(np.mean(self.losses)), float(np.mean(self.qs))


@dataclass
class RunSummary:
    env_steps: int
    episodes: int
    learn_steps: int
    target_syncs: int
    learning_steps_per_second: Optional[float]  # after burn-in, when the learner runs too


def train(config: Config, run_dir: Path, run_name: str) -> RunSummary:
    """Train one agent per `config`, writing everything into `run_dir`."""
    rng = seed_everything(config.seed)
    device = resolve_device(config.trainer.device)
    if config.trainer.threads is not None:
        torch.set_num_threads(config.trainer.threads)
    logbook = Logbook(run_dir, run_name, OmegaConf.to_yaml(OmegaConf.structured(config)),
                      config.trainer.total_steps)
    env = MarioEnv(config.env, config.action_set)
    try:
        summary = _loop(config, env, device, rng, logbook, run_dir)
    except BaseException as exc:
        logbook.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        env.close()
        logbook.close()
    return summary


def _loop(config: Config, env: MarioEnv, device: torch.device, rng: np.random.Generator,
          logbook: Logbook, run_dir: Path) -> RunSummary:
    agent_cfg, trainer_cfg, env_cfg = config.agent, config.trainer, config.env
    agent = DDQNAgent(env.n_actions, env_cfg.frame_stack, env_cfg.frame_size, agent_cfg,
                      config.scheduler, device)
    replay = ReplayBuffer(agent_cfg.memory_size, (env_cfg.frame_size, env_cfg.frame_size),
                          env_cfg.frame_stack, device)
    stack = FrameStack(env_cfg.frame_stack, env_cfg.frame_size)

    def checkpoint(step: int, episode: int) -> None:
        save_checkpoint(run_dir / "checkpoints", {
            "agent": agent.state_dict(), "env_step": step, "episodes": episode,
            "config": asdict(config)})

    frame = env.reset()
    replay.start_episode(frame)
    stack.reset(frame)
    episode, ep_start_step, ep_reward = 0, 0, 0.0
    ep_tally, interval_tally = Tally(), Tally()
    start = interval_start = time.perf_counter()
    interval_step = 0
    burnin_end: Optional[float] = start if agent_cfg.burnin == 0 else None
    logbook.status("running", 0, 0)

    step = 0
    for step in range(1, trainer_cfg.total_steps + 1):
        epsilon = epsilon_at(step, agent_cfg.epsilon)
        action = agent.act(stack.state, epsilon, rng)
        frame, reward, done, info = env.step(action)
        replay.add(action, reward, done, frame)
        ep_reward += reward

        if step % agent_cfg.sync_every == 0:
            agent.sync_target()
        if step == agent_cfg.burnin:
            burnin_end = time.perf_counter()
        if step >= agent_cfg.burnin and step % agent_cfg.learn_every == 0 and len(replay) > 0:
            loss, q = agent.learn(replay.sample(agent_cfg.batch_size, rng))
            ep_tally.add(loss, q)
            interval_tally.add(loss, q)

        if done:
            episode += 1
            loss, q = ep_tally.means()
            logbook.episode(EpisodeRecord(
                env_step=step, episode=episode, reward=ep_reward, x_pos=int(info["x_pos"]),
                length=step - ep_start_step, flag=int(info["flag_get"]), epsilon=epsilon,
                loss=loss, q=q, lr=agent.lr, wall_time=round(time.perf_counter() - start, 3)))
            agent.end_episode(loss)
            if trainer_cfg.max_episodes is not None and episode >= trainer_cfg.max_episodes:
                break
            frame = env.reset()
            replay.start_episode(frame)
            stack.reset(frame)
            ep_start_step, ep_reward, ep_tally = step, 0.0, Tally()
        else:
            stack.push(frame)

        if step % trainer_cfg.log_every == 0:
            now = time.perf_counter()
            loss, q = interval_tally.means()
            sps = (step - interval_step) / (now - interval_start)
            logbook.scalars(step, {"train/loss": loss, "train/q": q, "train/epsilon": epsilon,
                                   "train/lr": agent.lr, "perf/steps_per_second": sps})
            logbook.status("running", step, episode)
            log.info("step %d/%d  episodes %d  %.1f steps/s  epsilon %.3f  loss %s",
                     step, trainer_cfg.total_steps, episode, sps, epsilon,
                     "-" if loss is None else f"{loss:.4f}")
            interval_start, interval_step, interval_tally = now, step, Tally()
        if step % trainer_cfg.checkpoint_every == 0:
            checkpoint(step, episode)

    checkpoint(step, episode)
    logbook.status("finished", step, episode)
    end = time.perf_counter()
    learning_sps = None
    if burnin_end is not None and step > agent_cfg.burnin:
        learning_sps = (step - agent_cfg.burnin) / (end - burnin_end)
    log.info("finished: %d steps, %d episodes, %d learn updates, %d target syncs in %.0f s%s",
             step, episode, agent.learn_steps, agent.target_syncs, end - start,
             "" if learning_sps is None else f"; {learning_sps:.1f} steps/s after burn-in")
    return RunSummary(step, episode, agent.learn_steps, agent.target_syncs, learning_sps)
