"""The Double DQN agent of the PyTorch Mario tutorial: online and target Nature CNNs, actions
from the online net, targets from the target net at the online net's argmax, SmoothL1 loss,
Adam. The trainer decides when it acts, learns and syncs; this module only knows how.
"""
from __future__ import annotations

import copy
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from mario_exp.config import AgentConfig, ConfigError, EpsilonConfig, SchedulerConfig
from mario_exp.replay import Batch


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when there is a GPU; asking for `cuda` without one is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device='cuda': no CUDA device is available here; use auto or cpu")
    return torch.device(name)


def epsilon_at(step: int, epsilon: EpsilonConfig, total_steps: int) -> float:
    """Exploration rate for the step-th action (1-based) of a run of `total_steps` steps.

    exponential: the tutorial multiplies epsilon by `decay` after every action, so its k-th
    action uses start * decay ** (k - 1), floored at min. linear: the first action uses start,
    and epsilon falls in equal steps to min over `fraction` of the budget, then stays there.
    """
    if epsilon.schedule == "linear":
        span = epsilon.fraction * total_steps
        if step - 1 >= span:
            return epsilon.min  # exactly: start + (min - start) * 1.0 can round above it
        return epsilon.start + (epsilon.min - epsilon.start) * (step - 1) / span
    return max(epsilon.min, epsilon.start * epsilon.decay ** (step - 1))


class QNetwork(nn.Module):
    """The Nature DQN convolutional network; takes uint8 frame stacks, scales them to [0, 1]."""

    def __init__(self, stack: int, frame_size: int, n_actions: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(stack, 32, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, stack, frame_size, frame_size)).shape[1]
        self.head = nn.Sequential(nn.Linear(flat, 512), nn.ReLU(), nn.Linear(512, n_actions))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(frames.float().div_(255.0)))


def make_lr_scheduler(optimizer: torch.optim.Optimizer, config: SchedulerConfig) -> Optional[Any]:
    if config.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.factor, patience=config.patience)
    if config.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    return None


class DDQNAgent:
    def __init__(self, n_actions: int, stack: int, frame_size: int, agent: AgentConfig,
                 scheduler: SchedulerConfig, device: torch.device) -> None:
        self.n_actions = n_actions
        self.gamma = agent.gamma
        self.device = device
        self.online = QNetwork(stack, frame_size, n_actions).to(device)
        self.target = copy.deepcopy(self.online)
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=agent.lr)
        self.loss_fn = nn.SmoothL1Loss()
        self.scheduler = make_lr_scheduler(self.optimizer, scheduler)
        self.learn_steps = 0
        self.target_syncs = 0

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def act(self, state: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
        """Epsilon-greedy on the online net's Q-values for one stacked state."""
        if rng.random() < epsilon:
            return int(rng.integers(self.n_actions))
        with torch.inference_mode():
            q = self.online(torch.from_numpy(state).unsqueeze(0).to(self.device))
        return int(q.argmax(dim=1).item())

    def learn(self, batch: Batch) -> tuple[float, float]:
        """One Double DQN update; returns the loss and the mean Q of the taken actions."""
        rows = torch.arange(batch.actions.shape[0], device=self.device)
        q_taken = self.online(batch.states)[rows, batch.actions]
        with torch.no_grad():
            best_next = self.online(batch.next_states).argmax(dim=1)
            q_next = self.target(batch.next_states)[rows, best_next]
            target = batch.rewards + (1.0 - batch.dones) * self.gamma * q_next
        loss = self.loss_fn(q_taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if isinstance(self.scheduler, torch.optim.lr_scheduler.StepLR):
            self.scheduler.step()
        self.learn_steps += 1
        return float(loss.item()), float(q_taken.detach().mean().item())

    def sync_target(self) -> None:
        self.target.load_state_dict(self.online.state_dict())
        self.target_syncs += 1

    def end_episode(self, mean_loss: Optional[float]) -> None:
        """ReduceLROnPlateau watches each episode's mean loss (episodes without updates skip)."""
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and mean_loss is not None:
            self.scheduler.step(mean_loss)

    def state_dict(self) -> dict[str, Any]:
        return {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "learn_steps": self.learn_steps,
            "target_syncs": self.target_syncs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.learn_steps = state["learn_steps"]
        self.target_syncs = state["target_syncs"]
