"""The two ways training ends early, raised by the trainer and caught by the train command.

They live away from torch, so that the command's main process can catch them without loading
torch: under the joblib, submitit and ray launchers it runs no job, and its imports only delay
the jobs'.
"""
from __future__ import annotations

import signal


class TrainingInterrupted(BaseException):
    """SIGINT or SIGTERM arrived and a checkpoint was written. A BaseException, like
    KeyboardInterrupt, so that a sweep stops rather than counting it as one failed job."""

    def __init__(self, signum: int, step: int) -> None:
        super().__init__(f"{signal.Signals(signum).name} at step {step}; checkpoint saved")
        self.signum = signum


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
