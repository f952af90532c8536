"""When periodic work is due. One loop iteration may advance the step count by more than one
(env.num_envs steps), so "every N steps" means "a multiple of N was passed", not "step % N == 0".
"""
from __future__ import annotations


def crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]: the loop, going from step
    `before` to step `after`, reached the end of an interval."""
    return after // every > before // every
