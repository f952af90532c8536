"""Frontier starts (env.frontier): the furthest training episode so far, and where along it the
next training episode begins.

An episode is kept as the actions it took from the level's start, so any point along it is
reached again by replaying a prefix of them on a fresh emulator (MarioEnv.reset), which is
deterministic. An episode that itself began part-way keeps the prefix it began after in front
of its own actions, so the frontier is always a path from the level's start.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mario_exp.config.schema import FrontierConfig


class Frontier:
    def __init__(self, config: FrontierConfig) -> None:
        self.config = config
        self.actions: list[int] = []  # the furthest episode's, from the level's start
        self.x_pos = -1               # where it ended

    def episode_ended(self, actions: list[int], x_pos: int) -> None:
        """A training episode that took `actions` from the level's start ended at `x_pos`; it
        becomes the frontier if it got further than every earlier one (a tie keeps the earlier)."""
        if x_pos > self.x_pos:
            self.actions, self.x_pos = list(actions), x_pos

    def next_start(self, rng: np.random.Generator) -> list[int]:
        """The actions the next training episode begins after: empty for the level's start,
        else a prefix of the frontier's, cut after a step drawn uniformly from its last
        `window` steps (all of them when null). One draw of `rng` decides whether, a second
        where; no frontier yet (or fraction 0) draws nothing."""
        if not self.actions or self.config.fraction == 0.0 or rng.random() >= self.config.fraction:
            return []
        length = len(self.actions)
        window = length if self.config.window is None else min(self.config.window, length)
        # A cut after step k (1..length-1) replays actions[:k]; k = length would replay the
        # whole episode into the end it met.
        cut = int(rng.integers(max(1, length - window), length)) if length > 1 else 0
        return self.actions[:cut]

    def state_dict(self) -> dict[str, Any]:
        return {"actions": list(self.actions), "x_pos": self.x_pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actions, self.x_pos = list(state["actions"]), int(state["x_pos"])
