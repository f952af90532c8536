"""Priorities for proportional prioritized replay (Schaul et al. 2016): a sum tree over the
replay's slots, so that drawing a slot with probability priority / total, and changing a
priority, each cost O(log N).

The tree is one float64 array: leaves at [size, 2 * size), node i the sum of nodes 2i and
2i + 1, the root at 1 (the layout of a binary heap). Every update recomputes the nodes above
the changed leaves as the sum of their two children, never by adding a difference, so a
node's value depends only on the current leaves: rebuilding the tree from its leaves (a
checkpoint holds only those) gives bit-identical sums, and so identical draws.
"""
from __future__ import annotations

import numpy as np


class SumTree:
    def __init__(self, capacity: int) -> None:
        self.size = 1 << max(0, capacity - 1).bit_length()  # the leaves, a power of two
        self.depth = self.size.bit_length() - 1
        self.nodes = np.zeros(2 * self.size, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def leaves(self, slots: np.ndarray) -> np.ndarray:
        return self.nodes[self.size + slots]

    def set(self, slots: np.ndarray, priorities: np.ndarray) -> None:
        """Give each of `slots` its priority (a slot listed twice keeps the last one)."""
        index = self.size + np.asarray(slots, dtype=np.int64)
        self.nodes[index] = priorities
        nodes = self.nodes
        for _ in range(self.depth):
            index = index >> 1   # a node listed twice is summed twice, to the same value
            nodes[index] = nodes[2 * index] + nodes[2 * index + 1]

    def find(self, masses: np.ndarray) -> np.ndarray:
        """For each mass in [0, total), the slot where the running sum of the leaves passes it.

        A descent never enters a subtree whose sum is 0, so a slot of priority 0 is never
        returned, even where rounding puts a mass at the very end of its neighbour's range."""
        masses = np.array(masses, dtype=np.float64)
        index = np.ones(masses.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = self.nodes[2 * index]
            right = (masses >= left) & (self.nodes[2 * index + 1] > 0)
            masses = np.where(right, masses - left, masses)
            index = 2 * index + right
        return index - self.size

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """`batch_size` slots, one from each of as many equal slices of the total mass
        (stratified, as in the paper): a batch spans the whole range of priorities."""
        bounds = np.arange(batch_size, dtype=np.float64) / batch_size
        masses = (bounds + rng.random(batch_size) / batch_size) * self.total
        return self.find(masses)

    def load_leaves(self, leaves: np.ndarray) -> None:
        """Set every leaf at once and rebuild the sums above them."""
        self.nodes[:] = 0.0
        self.nodes[self.size:self.size + leaves.size] = leaves
        for level in range(self.depth - 1, -1, -1):
            index = np.arange(1 << level, 2 << level)
            self.nodes[index] = self.nodes[2 * index] + self.nodes[2 * index + 1]
