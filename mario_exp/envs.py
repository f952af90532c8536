"""Super Mario Bros on the real NES emulator, as the agent sees it: discrete actions in,
gray uint8 frame_size x frame_size frames out, each action held for frame_skip NES frames.

The package's SuperMarioBrosEnv is stepped directly rather than through gym.make: gym.make
adds four API-compatibility wrappers to every NES frame, and nes-py's JoypadSpace cannot take
gym 0.26's reset(seed=...). The emulator itself is deterministic, so seeding lives with the
agent, not here.
"""
from __future__ import annotations

import contextlib
import io
import multiprocessing
import signal
from multiprocessing.connection import Connection
from typing import Optional, Union

import cv2
import numpy as np

# gym 0.26 prints a several-line "unmaintained / NumPy 2" banner to stderr when first imported
# (through gym_notices). We pin numpy<2 and know gym is frozen; silence it here, once.
with contextlib.redirect_stderr(io.StringIO()):
    from gym_super_mario_bros import SuperMarioBrosEnv
from nes_py.wrappers import JoypadSpace

from mario_exp.config import ActionSetConfig, EnvConfig

# The ROM variants behind SuperMarioBros-<world>-<stage>-v0..v3.
ROM_MODES = {"v0": "vanilla", "v1": "downsample", "v2": "pixel", "v3": "rectangle"}


def button_code(buttons: list[str]) -> int:
    """The NES controller byte for buttons held together, as JoypadSpace encodes them."""
    code = 0
    for button in buttons:
        code |= JoypadSpace._button_map[button]
    return code


class MarioEnv:
    """One Super Mario Bros level with the tutorial's SkipFrame, grayscale and resize."""

    def __init__(self, env: EnvConfig, action_set: ActionSetConfig) -> None:
        self._nes = SuperMarioBrosEnv(rom_mode=ROM_MODES[env.rom_version], target=(env.world, env.stage))
        self._codes = [button_code(buttons) for buttons in action_set.buttons]
        self._frame_skip = env.frame_skip
        self._size = (env.frame_size, env.frame_size)
        self._pending: Optional[int] = None

    @property
    def n_actions(self) -> int:
        return len(self._codes)

    @property
    def screen(self) -> np.ndarray:
        """The last NES screen in full colour at native resolution (240x256x3 uint8), a copy:
        the emulator overwrites its own buffer in place on every frame."""
        return self._nes.screen.copy()

    def reset(self) -> np.ndarray:
        """Start the level again; returns the first frame."""
        return self._preprocess(self._nes.reset())

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict]:
        """Hold `action` for frame_skip frames (fewer if the episode ends), summing rewards.

        Returns the last frame, the summed reward, whether the episode ended (Mario died, the
        timer ran out, or he reached the flag) and the emulator's info (x_pos, flag_get, ...).
        """
        code = self._codes[action]
        total = 0.0
        for _ in range(self._frame_skip):
            screen, reward, done, info = self._nes.step(code)
            total += reward
            if done:
                break
        return self._preprocess(screen), total, done, info

    def step_async(self, action: int) -> None:
        """Half of the step API EnvWorker overlaps with learning; here the step runs in step_wait."""
        self._pending = action

    def step_wait(self) -> tuple[np.ndarray, float, bool, dict]:
        return self.step(self._pending)

    def _preprocess(self, screen: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
        # INTER_AREA averages the pixels each output pixel covers: the anti-aliased downscale.
        return cv2.resize(gray, self._size, interpolation=cv2.INTER_AREA)

    def close(self) -> None:
        self._nes.close()


def _serve(conn: Connection, env_cfg: EnvConfig, action_set: ActionSetConfig) -> None:
    """The worker process: one MarioEnv answering reset / step / close over a pipe."""
    # Ctrl-C and SLURM's SIGTERM reach the whole process group; the trainer decides when to stop
    # and checkpoint, and the worker ends when its pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    env = MarioEnv(env_cfg, action_set)
    try:
        while True:
            try:
                command, action = conn.recv()
            except EOFError:
                break
            if command == "close":
                break
            try:
                conn.send(("ok", env.reset() if command == "reset" else env.step(action)))
            except Exception as exc:  # report it in the trainer, which marks the run failed
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        env.close()


class EnvWorker:
    """A MarioEnv in its own process: while it plays a step, the learner learns.

    Same interface as MarioEnv, and the same results: the trainer uses step_async / step_wait
    with either, so only where the emulator runs differs.
    """

    def __init__(self, env: EnvConfig, action_set: ActionSetConfig) -> None:
        self.n_actions = len(action_set.buttons)
        # spawn, not fork: forking a process that already runs torch's threads can deadlock.
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, env, action_set), daemon=True,
                                        name="mario-exp-env")
        self._process.start()
        child.close()

    def _died(self) -> RuntimeError:
        self._process.join(timeout=1)
        return RuntimeError(f"the env worker process died (exit code {self._process.exitcode})")

    def _send(self, command: str, action: Optional[int]) -> None:
        try:
            self._conn.send((command, action))
        except OSError:  # a broken pipe: the worker is gone
            raise self._died() from None

    def _receive(self) -> tuple:
        try:
            status, result = self._conn.recv()
        except EOFError:
            raise self._died() from None
        if status == "error":
            raise RuntimeError(f"the env worker failed: {result}")
        return result

    def reset(self) -> np.ndarray:
        self._send("reset", None)
        return self._receive()

    def step_async(self, action: int) -> None:
        self._send("step", action)

    def step_wait(self) -> tuple[np.ndarray, float, bool, dict]:
        return self._receive()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict]:
        self.step_async(action)
        return self.step_wait()

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send(("close", None))
            except OSError:
                pass
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()


def make_env(env: EnvConfig, action_set: ActionSetConfig, worker: bool) -> Union[MarioEnv, EnvWorker]:
    """The env the trainer plays: in a worker process (overlapping learning) or in this one."""
    return EnvWorker(env, action_set) if worker else MarioEnv(env, action_set)
