"""The training loop: play, store, learn, sync, log, checkpoint. One call trains one run folder.

Step counting follows the tutorial: one step is one agent action (env.frame_skip NES frames);
burn-in, learn_every, sync_every, the epsilon decay and the budget all count these steps.
With env.num_envs = N, one loop iteration plays N steps, one in each env, and the steps are
numbered across envs, so learn_every keeps its meaning: one update per learn_every steps.

Updates run in a background thread (mario_exp/agent/learner.py). With agent.async_update the loop
waits for an iteration's updates only before the next iteration that learns; the iterations
in between act on the weights from before them (a lagged copy, the agent's actor). Without,
it waits at the end of the same iteration, as the tutorial's ordering needs.

A checkpoint can be taken after any step and resumes bit-identically on CPU: it holds the
networks, optimizer, scheduler, replay, every RNG and the loop's counters, plus the actions of
each env's unfinished episode. The NES emulator is deterministic, so replaying those actions into a
fresh emulator rebuilds its exact state, which nes-py cannot serialise.
"""
from __future__ import annotations

import logging
import math
import random
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch
from omegaconf import OmegaConf

from mario_exp.agent.ddqn import DDQNAgent, epsilon_at, resolve_device, resolve_precision
from mario_exp.agent.learner import BackgroundLearner, Update, UpdateResult
from mario_exp.agent.replay import ReplayBuffer
from mario_exp.config.schema import Config
from mario_exp.env.mario_env import FrameStacks
from mario_exp.env.vector_env import VectorEnv, VectorStep
from mario_exp.rundir.contract import FINISHED, INTERRUPTED, RUNNING, EpisodeRecord
from mario_exp.rundir.logbook import Logbook
from mario_exp.rundir.resumable import resume_conflicts
from mario_exp.training.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from mario_exp.training.evaluation import Evaluator
from mario_exp.training.frontier import Frontier
from mario_exp.training.schedule import crossed
from mario_exp.training.stops import TrainingDiverged, TrainingInterrupted

log = logging.getLogger(__name__)
# 2: per-env episode state (env.num_envs) and compressed replay frames.
# 3: n-step returns, the lagged actor and the update results not yet recorded.
# 4: priorities (replay and unrecorded results) and the dueling head's value stream. Its replay
#    frames are zstd chunks since 2026-12-07; the two frame formats before load too (replay.py).
CHECKPOINT_VERSION = 4


def seed_everything(seed: int) -> np.random.Generator:
    """Seed every RNG a run touches; returns the generator for exploration and sampling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


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
class EpisodeSoFar:
    """One env's unfinished episode."""

    reward: float = 0.0
    actions: list[int] = field(default_factory=list)  # replayed on a fresh emulator to resume
    tally: Tally = field(default_factory=Tally)
    # With env.frontier: the frontier's actions the episode began after (empty: the level's start).
    start: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "EpisodeSoFar":
        # "start" came after checkpoint format 4's first runs: theirs began at the level's start.
        return cls(state["reward"], state["actions"], Tally(**state["tally"]), state.get("start", []))


@dataclass
class LoopState:
    """The loop's state between two steps: what a checkpoint needs besides the big objects."""

    step: int = 0                  # steps played, across all envs
    episode: int = 0               # episodes finished, across all envs
    episodes: list[EpisodeSoFar] = field(default_factory=list)  # one per env
    interval_start: int = 0        # step at which the current log interval began
    interval_tally: Tally = field(default_factory=Tally)
    learn_from: int = 0            # first step that may learn: the burn-in, redone if the replay was not saved
    elapsed: float = 0.0           # wall seconds spent in earlier processes of this run

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "LoopState":
        return cls(**{**state, "episodes": [EpisodeSoFar.from_dict(e) for e in state["episodes"]],
                      "interval_tally": Tally(**state["interval_tally"])})


@dataclass
class RunSummary:
    env_steps: int
    episodes: int
    learn_steps: int
    target_syncs: int
    learning_steps_per_second: Optional[float]  # after burn-in, when the learner runs too


def load_resume_point(config: Config, run_dir: Path) -> Optional[dict[str, Any]]:
    """The run folder's checkpoint, if it has one this config may continue; else None.

    Raises CheckpointError for a corrupt checkpoint or one whose config differs in a key that
    changes the experiment (only trainer.* may change, e.g. a larger budget)."""
    path = checkpoint_path(run_dir)
    if not path.exists():
        return None
    payload = load_checkpoint(path)
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: written by another version of mario-exp (checkpoint format "
                              f"{payload.get('version')}, this one reads {CHECKPOINT_VERSION}); "
                              "start the run over in a new folder")
    conflicts = resume_conflicts(payload["config"], asdict(config))
    if conflicts:
        raise CheckpointError(f"cannot resume {run_dir}: " + "; ".join(conflicts)
                              + " (only trainer.* may change when resuming)")
    return payload


def already_finished(config: Config, step: int, episodes: int) -> bool:
    """Whether a run at `step` with `episodes` finished has reached this config's budget."""
    trainer_cfg = config.trainer
    return step >= trainer_cfg.total_steps or (
        trainer_cfg.max_episodes is not None and episodes >= trainer_cfg.max_episodes)


def _rng_states(rng: np.random.Generator) -> dict[str, Any]:
    legacy = np.random.get_state(legacy=False)
    legacy["state"]["key"] = legacy["state"]["key"].tolist()  # plain ints: weights_only-safe
    return {"generator": rng.bit_generator.state, "numpy": legacy, "python": random.getstate(),
            "torch": torch.get_rng_state()}


def _restore_rngs(rng: np.random.Generator, states: dict[str, Any]) -> None:
    rng.bit_generator.state = states["generator"]
    legacy = states["numpy"]
    legacy["state"]["key"] = np.asarray(legacy["state"]["key"], dtype=np.uint32)
    np.random.set_state(legacy)
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])


class Trainer:
    def __init__(self, config: Config, run_dir: Path, resume: Optional[dict[str, Any]]) -> None:
        self.config = config
        self.run_dir = run_dir
        self.rng = seed_everything(config.seed)
        device = resolve_device(config.trainer.device)
        if config.trainer.threads is not None:
            torch.set_num_threads(config.trainer.threads)
        env_cfg, agent_cfg = config.env, config.agent
        self.env = VectorEnv(env_cfg, config.action_set, config.trainer.env_worker)
        self.agent = DDQNAgent(self.env.n_actions, env_cfg.frame_stack, env_cfg.frame_size, agent_cfg,
                               config.scheduler, device, resolve_precision(config.trainer.precision, device),
                               lagged_actor=agent_cfg.async_update)
        self.learner = BackgroundLearner(self.agent)
        self._unrecorded: list[UpdateResult] = []  # updates done, their loss not yet in the tallies
        self.replay = ReplayBuffer(agent_cfg.memory_size, (env_cfg.frame_size, env_cfg.frame_size),
                                   env_cfg.frame_stack, device, env_cfg.num_envs, agent_cfg.replay_compression,
                                   agent_cfg.n_step, agent_cfg.gamma, agent_cfg.reward_scale,
                                   agent_cfg.augment_shift, agent_cfg.priority)
        self.stacks = FrameStacks(env_cfg.num_envs, env_cfg.frame_stack, env_cfg.frame_size)
        self.loop = LoopState(episodes=[EpisodeSoFar() for _ in range(env_cfg.num_envs)],
                              learn_from=agent_cfg.burnin)
        self.frontier = Frontier(env_cfg.frontier) if env_cfg.frontier.fraction > 0 else None
        self._stop_signal: Optional[int] = None
        self.evaluator: Optional[Evaluator] = None
        self._clock_start = time.perf_counter()
        try:
            if resume is None:
                frames = self.env.reset()
                self.replay.start(frames)
                for env, frame in enumerate(frames):
                    self.stacks.reset(env, frame)
            else:
                self._restore(resume)
            self.evaluator = Evaluator.create(config, run_dir, resume)
        except BaseException:
            self.close()  # no env worker process outlives a failed start
            raise

    def close(self) -> None:
        self.learner.close()
        self.env.close()
        if self.evaluator is not None:
            self.evaluator.close()

    # --- checkpoints ---------------------------------------------------------------------
    def _checkpoint(self, logbook: Logbook) -> None:
        self._wait_for_updates()
        self.loop.elapsed = self._wall_time()
        save_checkpoint(self.run_dir, {
            "version": CHECKPOINT_VERSION,
            "config": asdict(self.config),
            # The LoopState under the key that checkpoint format 4 has (and load_checkpoint
            # checks): runs in flight resume from checkpoints written so.
            "progress": asdict(self.loop),
            "agent": self.agent.state_dict(),
            "replay": self.replay.state_dict() if self.config.trainer.checkpoint_replay else None,
            "rng": _rng_states(self.rng),
            "evaluation": None if self.evaluator is None else self.evaluator.state_dict(),
            "unrecorded_updates": [asdict(result) for result in self._unrecorded],
            "frontier": None if self.frontier is None else self.frontier.state_dict(),
        })
        logbook.checkpoint_saved(self.loop.step)
        self._clock_start = time.perf_counter()

    def _restore(self, payload: dict[str, Any]) -> None:
        self.loop = LoopState.from_dict(payload["progress"])
        self.agent.load_state_dict(payload["agent"])
        self._unrecorded = [UpdateResult(**result) for result in payload["unrecorded_updates"]]
        # Rebuild each unfinished episode by replaying its actions on a fresh emulator (after
        # the frontier's it began after, if any).
        frames = self.env.reset()
        for env, episode in enumerate(self.loop.episodes):
            if episode.start:
                frames[env] = self.env.reset_env(env, episode.start)
            self.stacks.reset(env, frames[env])
            for action in episode.actions:
                frames[env], _, done, _ = self.env.step_env(env, action)
                if done:
                    raise CheckpointError("replaying the unfinished episode ended it early: the "
                                          "emulator is not the one the checkpoint was made with")
                self.stacks.push(env, frames[env])
        if payload["replay"] is not None:
            self.replay.load_state_dict(payload["replay"])
            if not np.array_equal(self.replay.newest_frames(), frames):
                raise CheckpointError("replaying the unfinished episode gave other frames than the "
                                      "checkpoint's replay holds: another emulator made it")
        else:
            # Saved without its replay: start an empty one at the current frames (its first
            # stacks repeat them) and fill it for a burn-in before learning again.
            self.replay.start(frames)
            self.loop.learn_from = self.loop.step + self.config.agent.burnin
        _restore_rngs(self.rng, payload["rng"])
        if self.frontier is not None and payload.get("frontier") is not None:
            self.frontier.load_state_dict(payload["frontier"])

    # --- the loop ------------------------------------------------------------------------
    def _wall_time(self) -> float:
        return self.loop.elapsed + time.perf_counter() - self._clock_start

    def _finished(self) -> bool:
        return already_finished(self.config, self.loop.step, self.loop.episode)

    @contextmanager
    def _signals_checkpoint(self) -> Iterator[None]:
        """SIGINT/SIGTERM finish the current step, write a checkpoint and stop; a second
        signal stops at once."""
        def request_stop(signum: int, _frame: Any) -> None:
            if self._stop_signal is not None:
                raise KeyboardInterrupt
            self._stop_signal = signum

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def run(self, logbook: Logbook) -> RunSummary:
        trainer_cfg, loop = self.config.trainer, self.loop
        learning_since: Optional[tuple[int, float]] = None
        interval_clock = time.perf_counter()
        logbook.status(RUNNING, loop.step, loop.episode)
        with self._signals_checkpoint():
            while not self._finished():
                before = loop.step
                learning = self._step(logbook)
                if learning and learning_since is None:
                    learning_since = (loop.step, time.perf_counter())
                if crossed(before, loop.step, trainer_cfg.log_every):
                    now = time.perf_counter()
                    self._log_interval(logbook, (loop.step - loop.interval_start) / (now - interval_clock))
                    interval_clock = now
                if self._stop_signal is None:
                    self._evaluate_if_due(logbook)
                if crossed(before, loop.step, trainer_cfg.checkpoint_every) or self._stop_signal is not None:
                    self._checkpoint(logbook)
                if self._stop_signal is not None:
                    logbook.status(INTERRUPTED, loop.step, loop.episode)
                    raise TrainingInterrupted(self._stop_signal, loop.step)
        # The last updates' losses stay unrecorded, in the checkpoint: a larger budget goes
        # on recording them where an uninterrupted run would.
        self._evaluate_if_due(logbook, final=True)
        self._checkpoint(logbook)
        logbook.status(FINISHED, loop.step, loop.episode)
        logbook.final_metrics(loop.step)
        learning_sps = None
        if learning_since is not None and loop.step > learning_since[0]:
            learning_sps = (loop.step - learning_since[0]) / (time.perf_counter() - learning_since[1])
        log.info("finished: %d steps, %d episodes, %d learn updates, %d target syncs in %.0f s%s",
                 loop.step, loop.episode, self.agent.learn_steps, self.agent.target_syncs, self._wall_time(),
                 "" if learning_sps is None else f"; {learning_sps:.1f} steps/s while learning")
        return RunSummary(loop.step, loop.episode, self.agent.learn_steps, self.agent.target_syncs, learning_sps)

    def _evaluate_if_due(self, logbook: Logbook, final: bool = False) -> None:
        if self.evaluator is not None and self.evaluator.due(self.loop.step, final):
            self._wait_for_updates()  # evaluate the newest weights
            self.evaluator.evaluate(self.agent, self.loop.step, self._wall_time(), logbook)

    def _step(self, logbook: Logbook) -> bool:
        """One step in every env; returns whether the learner is past its burn-in."""
        agent_cfg, loop = self.config.agent, self.loop
        steps = range(loop.step + 1, loop.step + 1 + self.env.num_envs)  # this iteration's step numbers
        learn_steps = [step for step in steps if step >= loop.learn_from and step % agent_cfg.learn_every == 0
                       and len(self.replay) > 0]
        if learn_steps:
            # The earlier updates are done before this iteration acts (with async updates,
            # the iterations since the last that learned acted without them).
            self._record_update_results()
            self.agent.refresh_actor()
        epsilons = [epsilon_at(step, agent_cfg.epsilon, self.config.trainer.horizon) for step in steps]
        actions = self.agent.act(self.stacks.states, epsilons, self.rng)
        # Learn while the emulators play the actions (in their worker processes, when there
        # are): this iteration's updates sample the transitions stored before it.
        self.env.step_async(actions)
        updates = []
        for step in steps:
            if step % agent_cfg.sync_every == 0:
                updates.append(Update(step))
            if step in learn_steps:
                batch = self.replay.sample(agent_cfg.batch_size, self.rng, self._weight_exponent(step))
                updates.append(Update(step, batch))
        if updates:
            self.learner.submit(updates)
        played = self.env.step_wait()
        if not agent_cfg.async_update:
            self._record_update_results()
        starts = self._frontier_starts(played, actions)
        self.replay.add(np.asarray(actions), self._learning_rewards(played), played.dones, played.frames)
        loop.step = steps[-1]
        for env, (step, action, episode) in enumerate(zip(steps, actions, loop.episodes)):
            episode.reward += float(played.rewards[env])
            episode.actions.append(action)
            if played.dones[env]:
                self._end_episode(logbook, env, step, epsilons[env], played.infos[env], starts[env])
                self.stacks.reset(env, played.frames[env])  # the env's next episode has begun
            else:
                self.stacks.push(env, played.frames[env])
        return loop.step >= loop.learn_from

    def _frontier_starts(self, played: VectorStep, actions: list[int]) -> list[list[int]]:
        """With env.frontier, where each env whose episode just ended begins its next one: the
        frontier (updated by the episodes that ended) decides, and an env that begins part-way
        gets the frame there in `played.frames`, in place of the level's first. One list of
        actions per env, empty for the level's start."""
        starts: list[list[int]] = [[] for _ in played.dones]
        if self.frontier is None:
            return starts
        for env, episode in enumerate(self.loop.episodes):
            if played.dones[env]:
                path = episode.start + episode.actions + [actions[env]]
                self.frontier.episode_ended(path, int(played.infos[env]["x_pos"]))
        for env in np.flatnonzero(played.dones):
            starts[env] = self.frontier.next_start(self.rng)
            if starts[env]:
                played.frames[env] = self.env.reset_env(int(env), starts[env])
        return starts

    def _learning_rewards(self, played: VectorStep) -> np.ndarray:
        """The rewards the replay stores for the TD targets: the env's, less agent.death_penalty
        where Mario died (episodes.csv and TensorBoard keep the env's own)."""
        penalty = self.config.agent.death_penalty
        if not penalty:
            return played.rewards
        died = [done and not info["flag_get"] and not info.get("stalled", False)
                for done, info in zip(played.dones, played.infos)]
        return played.rewards - np.float32(penalty) * np.asarray(died, dtype=np.float32)

    def _weight_exponent(self, step: int) -> float:
        """Prioritized replay's importance-sampling exponent: from its start value at step 0
        up to 1 at the end of the schedule horizon, linearly."""
        start = self.config.agent.priority.weight_exponent
        return start + (1.0 - start) * min(1.0, step / self.config.trainer.horizon)

    def _wait_for_updates(self) -> None:
        """Wait for the learner to finish the submitted updates (for a checkpoint, an
        evaluation, the lr schedule) and hold their results, unrecorded: their priorities and
        losses are written back at the usual point (_record_update_results), so the replay and
        the logs do not depend on when this waited."""
        for result in self.learner.wait():
            if not math.isfinite(result.loss):
                raise TrainingDiverged(f"the loss became {result.loss} at step {result.step}; the last "
                                       "good checkpoint is kept (try a lower agent.lr)")
            self._unrecorded.append(result)

    def _record_update_results(self) -> None:
        """Wait for the submitted updates, then write every unrecorded result back: the new
        priorities of its sampled transitions into the replay, its loss and Q into the tallies.

        Called at points the step numbers fix (before an iteration that learns samples, or
        right after the step with the tutorial's ordering), so that which priorities a batch
        is drawn with never depends on when the background updates happened to finish."""
        self._wait_for_updates()
        for result in self._unrecorded:
            if result.td_errors is not None:
                self.replay.update_priorities(result.slots, result.stamps, result.td_errors)
            for episode in self.loop.episodes:
                episode.tally.add(result.loss, result.q)
            self.loop.interval_tally.add(result.loss, result.q)
        self._unrecorded = []

    def _settled_lr(self) -> float:
        """The learning rate after the submitted updates: with a schedule, an update running in
        the background may change it, so wait for them first."""
        if self.agent.scheduler is not None:
            self._wait_for_updates()
        return self.agent.lr

    def _end_episode(self, logbook: Logbook, env: int, step: int, epsilon: float, info: dict,
                     next_start: list[int]) -> None:
        """Log the episode env finished at `step`, and start counting its next one, which
        begins after the actions `next_start` (env.frontier; empty: at the level's start)."""
        loop = self.loop
        lr = self._settled_lr()  # also: the plateau schedule below must not change it mid-update
        episode = loop.episodes[env]
        loop.episode += 1
        loss, q = episode.tally.means()
        logbook.episode(EpisodeRecord(
            env_step=step, episode=loop.episode, reward=episode.reward, x_pos=int(info["x_pos"]),
            length=len(episode.actions), flag=int(info["flag_get"]), epsilon=epsilon, loss=loss, q=q,
            lr=lr, wall_time=round(self._wall_time(), 3), env=env, start_step=len(episode.start)))
        self.agent.end_episode(loss)
        loop.episodes[env] = EpisodeSoFar(start=next_start)

    def _log_interval(self, logbook: Logbook, steps_per_second: float) -> None:
        loop = self.loop
        loss, q = loop.interval_tally.means()
        epsilon = epsilon_at(loop.step, self.config.agent.epsilon, self.config.trainer.horizon)
        logbook.interval_scalars(loop.step, loss=loss, q=q, epsilon=epsilon, lr=self._settled_lr(),
                                 steps_per_second=steps_per_second)
        logbook.status(RUNNING, loop.step, loop.episode)
        logbook.show_interval(loop.step, loop.episode, steps_per_second, epsilon, loss)
        loop.interval_start, loop.interval_tally = loop.step, Tally()


def train(config: Config, run_dir: Path, run_name: str,
          resume: Optional[dict[str, Any]] = None) -> RunSummary:
    """Train one agent per `config` in `run_dir`, continuing from `resume` (see
    load_resume_point) when given. Marks the run failed in status.json if anything raises."""
    if resume is not None:
        loop = resume["progress"]
        log.info("resuming from step %d (%d episodes)", loop["step"], loop["episode"])
    trainer = Trainer(config, run_dir, resume)
    resume_at = None if resume is None else (trainer.loop.step, trainer.loop.episode)
    logbook = Logbook(run_dir, config.trainer.total_steps, resume_at, trainer.agent.describe_learner())
    if resume is None:
        logbook.describe_run(run_name, OmegaConf.to_yaml(OmegaConf.structured(config)))
        logbook.hparams(asdict(config), evaluation=config.trainer.eval_every is not None)
    try:
        return trainer.run(logbook)
    except TrainingInterrupted:
        raise
    except BaseException as exc:
        logbook.fail(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        trainer.close()
        logbook.close()
