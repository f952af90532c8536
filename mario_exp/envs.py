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

    @property
    def n_actions(self) -> int:
        return len(self._codes)

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

    def _preprocess(self, screen: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
        # INTER_AREA averages the pixels each output pixel covers: the anti-aliased downscale.
        return cv2.resize(gray, self._size, interpolation=cv2.INTER_AREA)

    def close(self) -> None:
        self._nes.close()
