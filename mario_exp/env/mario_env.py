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
from typing import Sequence

import cv2
import numpy as np

# gym 0.26 prints a several-line "unmaintained / NumPy 2" banner to stderr when first imported
# (through gym_notices). We pin numpy<2 and know gym is frozen; silence it here, once.
with contextlib.redirect_stderr(io.StringIO()):
    from gym_super_mario_bros import SuperMarioBrosEnv
from nes_py.wrappers import JoypadSpace

from mario_exp.config.schema import ActionSetConfig, EnvConfig

NES_FPS = 60  # frames the console shows a second; an agent step is env.frame_skip of them

# The ROM variants behind SuperMarioBros-<world>-<stage>-v0..v3.
ROM_MODES = {"v0": "vanilla", "v1": "downsample", "v2": "pixel", "v3": "rectangle"}


def button_code(buttons: list[str]) -> int:
    """The NES controller byte for buttons held together, as JoypadSpace encodes them."""
    code = 0
    for button in buttons:
        code |= JoypadSpace._button_map[button]
    return code


class FrameStacks:
    """The last `stack` frames each env's agent acts on; an episode starts with its first
    frame repeated."""

    def __init__(self, num_envs: int, stack: int, frame_size: int) -> None:
        self.states = np.zeros((num_envs, stack, frame_size, frame_size), dtype=np.uint8)

    def reset(self, env: int, frame: np.ndarray) -> None:
        self.states[env] = frame

    def push(self, env: int, frame: np.ndarray) -> None:
        state = self.states[env]
        state[:-1] = state[1:]
        state[-1] = frame


# The buttons whose press, not hold, does something (A jumps, B throws a fireball): whether the
# last action held them decides what the next one does, and a frame does not show it.
MARKED_BUTTONS = ("A", "B")


class MarioEnv:
    """One Super Mario Bros level with the tutorial's SkipFrame, then gray and an area-average
    resize (cv2 INTER_AREA on uint8). That resize is not the tutorial's (torchvision's
    antialiased bilinear): on 60 real frames the two differ by 2.2 gray levels on average and
    45 at most, at edges (measured; docs/layout.md says so too).

    With env.button_marks, each frame also shows which of A and B the last action held: a
    white square per button in the top-left corner (over the score), black when not held.
    Mario only jumps when A goes from released to pressed, so without the marks an agent that
    held [right, A] cannot tell from its frames whether choosing it again will jump or not.
    """

    def __init__(self, env: EnvConfig, action_set: ActionSetConfig) -> None:
        self._nes = SuperMarioBrosEnv(rom_mode=ROM_MODES[env.rom_version], target=(env.world, env.stage))
        self._codes = [button_code(buttons) for buttons in action_set.buttons]
        self._frame_skip = env.frame_skip
        self._size = (env.frame_size, env.frame_size)
        self._mark_size = max(2, env.frame_size // 12) if env.button_marks else 0
        self._held = 0  # the controller byte of the last action; 0 at an episode's start
        self._stall_steps = env.stall_steps
        self._furthest = -1   # the episode's furthest x_pos so far
        self._stalled_for = 0  # steps since it last grew
        # nes-py's `screen` is an RGB view that steps over the emulator's 32-bit BGRx pixels;
        # cv2 converts such a strided view 4x slower than the contiguous BGRx buffer behind
        # it, which gives the identical gray image (tested).
        height, width, _ = self._nes.screen.shape
        self._bgrx = self._nes.screen.base.reshape(height, width, 4)

    @property
    def n_actions(self) -> int:
        return len(self._codes)

    @property
    def screen(self) -> np.ndarray:
        """The last NES screen in full colour at native resolution (240x256x3 uint8), a copy:
        the emulator overwrites its own buffer in place on every frame."""
        return self._nes.screen.copy()

    def reset(self, actions: Sequence[int] = ()) -> np.ndarray:
        """Start the level again, then play `actions` (the start of an earlier episode, which
        the deterministic emulator replays exactly); returns the frame the agent goes on from.

        Raises RuntimeError if the actions end the episode: they are not the start of one that
        went on, or this emulator is not the one that played it."""
        self._nes.reset()
        self._held = 0
        self._furthest, self._stalled_for = -1, 0
        for action in actions:
            if self._advance(action)[1]:
                raise RuntimeError("replaying the start of an earlier episode ended the episode: "
                                   "another emulator or action set played it")
        return self._frame()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict]:
        """Hold `action` for frame_skip frames (fewer if the episode ends), summing rewards.

        Returns the last frame, the summed reward, whether the episode ended (Mario died, the
        timer ran out, he reached the flag, or with env.stall_steps he went that many steps
        without getting further: then info["stalled"] is True) and the emulator's info
        (x_pos, flag_get, ...).
        """
        reward, done, info = self._advance(action)
        return self._frame(), reward, done, info

    def _advance(self, action: int) -> tuple[float, bool, dict]:
        """`step` without the frame, which a replay needs only at its end."""
        code = self._held = self._codes[action]
        total = 0.0
        for _ in range(self._frame_skip):
            _, reward, done, info = self._nes.step(code)
            total += reward
            if done:
                break
        if info["x_pos"] > self._furthest:
            self._furthest, self._stalled_for = info["x_pos"], 0
        else:
            self._stalled_for += 1
        if self._stall_steps is not None and not done and self._stalled_for >= self._stall_steps:
            done, info = True, {**info, "stalled": True}
        return total, done, info

    def step_autoreset(self, action: int) -> tuple[np.ndarray, float, bool, dict]:
        """`step`, then, when the episode ended, `reset`: the frame returned is then the next
        episode's first, and info still describes the episode that ended."""
        frame, reward, done, info = self.step(action)
        if done:
            frame = self.reset()
        return frame, reward, done, info

    def _frame(self) -> np.ndarray:
        """The emulator's current screen as a small gray frame."""
        gray = cv2.cvtColor(self._bgrx, cv2.COLOR_BGRA2GRAY)
        # INTER_AREA averages the pixels each output pixel covers: the anti-aliased downscale.
        frame = cv2.resize(gray, self._size, interpolation=cv2.INTER_AREA)
        size = self._mark_size
        for i, button in enumerate(MARKED_BUTTONS if size else ()):
            held = self._held & JoypadSpace._button_map[button]
            frame[:size, i * size:(i + 1) * size] = 255 if held else 0
        return frame

    def close(self) -> None:
        self._nes.close()
