"""The trainer's preprocessed Mario as a standard `gym.Env` (gym 0.26 API), for other libraries'
agents:

    from mario_exp.env.gym_env import MarioGymEnv
    env = MarioGymEnv()                       # 1-1, the tutorial's frames, actions [right], [right, A]
    obs, info = env.reset(seed=0)             # obs: uint8 (4, 84, 84), the last 4 frames
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

It wraps `envs.MarioEnv`, the same emulator, frame skip, gray resize and button marks that
train.py plays, and stacks frames as the trainer's `FrameStacks` do, so an observation is what
the network sees: Box(0, 255, (frame_stack, frame_size, frame_size), uint8), the oldest frame
first (channels first); a new episode starts with its first frame repeated. The action space
is Discrete(len(action_set.buttons)). The trainer keeps its own direct path (no per-step
checks, one frame a step into the replay); this class is the same game under the usual API.

An episode terminates when Mario dies, the timer runs out or he reaches the flag (the game's
own end of an episode); it is truncated only after `max_episode_steps` agent steps, when that
is given. The emulator is deterministic: `reset(seed=...)` seeds `self.np_random` as gym
expects, and the same actions give the same frames whatever the seed.
"""
from __future__ import annotations

from typing import Any, Optional

import gym
import numpy as np
from gym import spaces

from mario_exp.config.schema import ActionSetConfig, Config, EnvConfig
from mario_exp.env.mario_env import NES_FPS, FrameStacks, MarioEnv


class MarioGymEnv(gym.Env):
    """One level of Super Mario Bros, preprocessed as train.py's agent sees it."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": NES_FPS / EnvConfig().frame_skip}

    def __init__(self, env: Optional[EnvConfig] = None, action_set: Optional[ActionSetConfig] = None,
                 max_episode_steps: Optional[int] = None, render_mode: Optional[str] = None) -> None:
        env = env or EnvConfig()
        action_set = action_set or ActionSetConfig()
        if env.num_envs != 1:
            raise ValueError(f"env.num_envs={env.num_envs}: a gym.Env is one emulator (vectorise it "
                             "with gym.vector)")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode={render_mode!r}: one of {self.metadata['render_modes']} or None")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps={max_episode_steps}: a positive number of steps or None")
        self.metadata = {**self.metadata, "render_fps": NES_FPS / env.frame_skip}
        self.render_mode = render_mode
        self.max_episode_steps = max_episode_steps
        self._game = MarioEnv(env, action_set)
        self._stacks = FrameStacks(1, env.frame_stack, env.frame_size)
        self._steps = 0
        self.observation_space = spaces.Box(0, 255, self._stacks.states.shape[1:], np.uint8)
        self.action_space = spaces.Discrete(self._game.n_actions)

    @classmethod
    def from_config(cls, config: Config, **kwargs: Any) -> MarioGymEnv:
        """The env of a composed (or checkpointed) run config: its level, frames and actions."""
        return cls(config.env, config.action_set, **kwargs)

    def _observation(self) -> np.ndarray:
        return self._stacks.states[0].copy()  # the stack is updated in place on every step

    def reset(self, *, seed: Optional[int] = None,
              options: Optional[dict[str, Any]] = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._stacks.reset(0, self._game.reset())
        self._steps = 0
        return self._observation(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        frame, reward, done, info = self._game.step(int(action))
        self._stacks.push(0, frame)
        self._steps += 1
        terminated = bool(done)
        truncated = (not terminated and self.max_episode_steps is not None
                     and self._steps >= self.max_episode_steps)
        return self._observation(), float(reward), terminated, bool(truncated), dict(info)

    def render(self) -> Optional[np.ndarray]:
        """rgb_array: the last NES screen in full colour at native resolution (240x256x3)."""
        return self._game.screen if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        self._game.close()
