"""The agent's updates and target syncs, run in order in one background thread, so that the
learner computes while the loop acts and the emulators play.

The loop hands over one iteration's operations at a time; when it waits for them is its
choice (see the trainer): right after the emulators' step, as the tutorial's ordering needs,
or only before the next iteration that learns (agent.async_update). Either way the updates
run one after another on the same weights, so the results do not depend on timing.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import torch

from mario_exp.agent.ddqn import DDQNAgent
from mario_exp.agent.replay import Batch


@dataclass
class Update:
    """A learn update (with its batch) or, without one, a target sync, due at `step`."""

    step: int
    batch: Optional[Batch] = None


@dataclass
class UpdateResult:
    step: int
    loss: float
    q: float
    # Prioritized replay: the sampled transitions (slot and the write stamp it had) and their
    # |TD errors|, which the loop turns into new priorities at a point fixed by the step
    # numbers, never by the thread's timing (see Trainer._record_update_results). Plain lists, so
    # that a checkpoint holding unrecorded results loads with weights_only.
    slots: Optional[list[int]] = None
    stamps: Optional[list[int]] = None
    td_errors: Optional[list[float]] = None


class BackgroundLearner:
    def __init__(self, agent: DDQNAgent) -> None:
        self._agent = agent
        # One worker: operations run in the order they were submitted. Its torch ops use as
        # many CPU threads as the loop's (one, by default, for bit-reproducibility).
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mario-exp-learner",
                                        initializer=torch.set_num_threads,
                                        initargs=(torch.get_num_threads(),))
        self._running: list[Future[list[UpdateResult]]] = []

    def submit(self, updates: list[Update]) -> None:
        self._running.append(self._pool.submit(self._apply, updates))

    def _apply(self, updates: list[Update]) -> list[UpdateResult]:
        results = []
        for update in updates:
            if update.batch is None:
                self._agent.sync_target()
            else:
                batch = update.batch
                learned = self._agent.learn(batch)
                result = UpdateResult(update.step, learned.loss, learned.q)
                if learned.td_errors is not None and batch.slots is not None:
                    result.slots, result.stamps = batch.slots.tolist(), batch.stamps.tolist()
                    result.td_errors = learned.td_errors.tolist()
                results.append(result)
        return results

    @property
    def busy(self) -> bool:
        """Whether submitted operations are not yet collected by `wait`."""
        return bool(self._running)

    def wait(self) -> list[UpdateResult]:
        """Block until everything submitted has run; the learn results, in step order."""
        results = [result for future in self._running for result in future.result()]
        self._running = []
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
