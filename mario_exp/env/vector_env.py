"""Several MarioEnvs stepped together, each optionally in a process of its own (trainer.env_worker),
behind one interface: the trainer calls step_async, learns, then collects with step_wait.
"""
from __future__ import annotations

import multiprocessing
import signal
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Sequence, Union

import numpy as np

from mario_exp.config.schema import ActionSetConfig, EnvConfig
from mario_exp.env.mario_env import MarioEnv


def _serve(conn: Connection, env_cfg: EnvConfig, action_set: ActionSetConfig) -> None:
    """The worker process: one MarioEnv answering method calls over a pipe until it closes."""
    # Ctrl-C and SLURM's SIGTERM reach the whole process group; the trainer decides when to stop
    # and checkpoint, and the worker ends when its pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    env = MarioEnv(env_cfg, action_set)
    try:
        while True:
            try:
                method, args = conn.recv()
            except EOFError:
                break
            if method == "close":
                break
            try:
                conn.send(("ok", getattr(env, method)(*args)))
            except Exception as exc:  # report it in the trainer, which marks the run failed
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        env.close()


def _stop_worker(process: BaseProcess, conn: Connection) -> None:
    """Ask the worker to close its emulator; kill it if it does not within 10 s."""
    if process.is_alive():
        try:
            conn.send(("close", ()))
        except OSError:
            pass
        process.join(timeout=10)
    if process.is_alive():
        process.kill()
        process.join()
    conn.close()


class EnvWorker:
    """A MarioEnv in its own process, called like the env itself: `call_async` sends a method
    call and returns at once, so the trainer learns while the emulator plays; `call_wait`
    collects its result."""

    def __init__(self, env: EnvConfig, action_set: ActionSetConfig) -> None:
        # spawn, not fork: forking a process that already runs torch's threads can deadlock.
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, env, action_set), daemon=True,
                                        name="mario-exp-env")
        self._process.start()
        child.close()
        # Also at interpreter exit: multiprocessing's own exit hook would wait forever for a
        # worker that ignores SIGTERM.
        self._stop = weakref.finalize(self, _stop_worker, self._process, self._conn)

    def _died(self) -> RuntimeError:
        self._process.join(timeout=1)
        return RuntimeError(f"the env worker process died (exit code {self._process.exitcode})")

    def call_async(self, method: str, *args: Any) -> None:
        try:
            self._conn.send((method, args))
        except OSError:  # a broken pipe: the worker is gone
            raise self._died() from None

    def call_wait(self) -> Any:
        try:
            status, result = self._conn.recv()
        except EOFError:
            raise self._died() from None
        if status == "error":
            raise RuntimeError(f"the env worker failed: {result}")
        return result

    def close(self) -> None:
        self._stop()


class InProcessEnv:
    """A MarioEnv in this process behind EnvWorker's interface: the call runs in `call_wait`."""

    def __init__(self, env: EnvConfig, action_set: ActionSetConfig) -> None:
        self._env = MarioEnv(env, action_set)
        self._pending: tuple[str, tuple] = ("reset", ())

    def call_async(self, method: str, *args: Any) -> None:
        self._pending = (method, args)

    def call_wait(self) -> Any:
        method, args = self._pending
        return getattr(self._env, method)(*args)

    def close(self) -> None:
        self._env.close()


@dataclass
class VectorStep:
    frames: np.ndarray   # uint8 [N, H, W]; a new episode's first frame where done
    rewards: np.ndarray  # float32 [N]
    dones: np.ndarray    # bool [N]
    infos: list[dict]    # the emulator's info at the end of each env's step


class VectorEnv:
    """`env.num_envs` Mario envs stepped together, each restarting its episode when it ends.

    With `worker`, each env runs in its own process: they play their steps in parallel with
    each other and with the learner. Without, they run here one after another. The results
    are the same either way.
    """

    def __init__(self, env: EnvConfig, action_set: ActionSetConfig, worker: bool) -> None:
        self.n_actions = len(action_set.buttons)
        self.num_envs = env.num_envs
        self._envs: list[Union[EnvWorker, InProcessEnv]] = []
        try:
            for _ in range(env.num_envs):
                self._envs.append(EnvWorker(env, action_set) if worker else InProcessEnv(env, action_set))
        except BaseException:
            self.close()
            raise

    def _call_all(self, method: str, per_env_args: list[tuple]) -> list[Any]:
        for env, args in zip(self._envs, per_env_args):
            env.call_async(method, *args)
        return [env.call_wait() for env in self._envs]

    def reset(self) -> np.ndarray:
        """Start every env's level again; returns their first frames."""
        return np.stack(self._call_all("reset", [()] * self.num_envs))

    def step_async(self, actions: list[int]) -> None:
        for env, action in zip(self._envs, actions):
            env.call_async("step_autoreset", action)

    def step_wait(self) -> VectorStep:
        results = [env.call_wait() for env in self._envs]
        frames, rewards, dones, infos = zip(*results)
        return VectorStep(np.stack(frames), np.array(rewards, dtype=np.float32),
                          np.array(dones, dtype=np.bool_), list(infos))

    def reset_env(self, index: int, actions: Sequence[int]) -> np.ndarray:
        """Start env `index`'s level again and play `actions` there (MarioEnv.reset); its frame."""
        env = self._envs[index]
        env.call_async("reset", list(actions))
        return env.call_wait()

    def step_env(self, index: int, action: int) -> tuple[np.ndarray, float, bool, dict]:
        """One plain step of one env (no restart): for replaying an unfinished episode."""
        env = self._envs[index]
        env.call_async("step", action)
        return env.call_wait()

    def close(self) -> None:
        for env in self._envs:
            env.close()
