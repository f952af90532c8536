"""The Double DQN agent of the PyTorch Mario tutorial: online and target Nature CNNs, actions
from the online net, targets from the target net at the online net's argmax, SmoothL1 loss,
Adam. The replay hands it one-step or n-step returns with their discounts (agent.n_step).
The trainer decides when it acts, learns and syncs; this module only knows how.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, ContextManager, NamedTuple, Optional

import numpy as np
import torch
from torch import nn

from mario_exp.agent.replay import Batch
from mario_exp.config.schema import AgentConfig, ConfigError, EpsilonConfig, SchedulerConfig


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when there is a GPU; asking for `cuda` without one is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device='cuda': no CUDA device is available here; use auto or cpu")
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    """Whether `device` has bf16 arithmetic units: a GPU that reports it, or a CPU whose
    oneDNN kernels use AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(name: str, device: torch.device) -> bool:
    """Whether the learner runs under bf16 autocast: `auto` where the hardware has bf16
    units (the loss curves match fp32's, see docs/performance.md), `bf16` only there, `fp32` never."""
    if name == "bf16" and not bf16_supported(device):
        raise ConfigError(f"trainer.precision='bf16': this {device.type.upper()} has no bf16 "
                          "units; use auto or fp32")
    return name == "bf16" or (name == "auto" and bf16_supported(device))


def epsilon_at(step: int, epsilon: EpsilonConfig, horizon: int) -> float:
    """Exploration rate for the step-th action (1-based) of a run whose schedules span `horizon`
    steps (trainer.schedule_horizon, by default the budget).

    exponential: the tutorial multiplies epsilon by `decay` after every action, so its k-th
    action uses start * decay ** (k - 1), floored at min. linear: the first action uses start,
    and epsilon falls in equal steps to min over `fraction` of the horizon, then stays there.
    """
    if epsilon.schedule == "linear":
        span = epsilon.fraction * horizon
        if step - 1 >= span:
            return epsilon.min  # exactly: start + (min - start) * 1.0 can round above it
        return epsilon.start + (epsilon.min - epsilon.start) * (step - 1) / span
    return max(epsilon.min, epsilon.start * epsilon.decay ** (step - 1))


class DuelingOutput(nn.Module):
    """The dueling architecture's last layer (Wang et al. 2016): the hidden units split into a
    value stream and an advantage stream, and Q = V + A - mean(A). Every update then moves V
    for all actions at once, which matters where most actions are about as good as each other.

    The paper gives each stream its own 512 units over the convolutions; that second
    3136 x 512 layer made a CPU learn step a third slower (measured), so here the two streams
    share the width of the tutorial's one hidden layer, half each."""

    def __init__(self, hidden: int, n_actions: int) -> None:
        super().__init__()
        self.split = hidden // 2
        self.advantage = nn.Linear(self.split, n_actions)
        self.value = nn.Linear(hidden - self.split, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        advantages = self.advantage(hidden[:, :self.split])
        return self.value(hidden[:, self.split:]) + advantages - advantages.mean(dim=1, keepdim=True)


class QNetwork(nn.Module):
    """The Nature DQN convolutional network; takes uint8 frame stacks, scales them to [0, 1].
    With `dueling`, its last layer is a DuelingOutput."""

    def __init__(self, stack: int, frame_size: int, n_actions: int, dueling: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(stack, 32, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, stack, frame_size, frame_size)).shape[1]
        output = DuelingOutput(512, n_actions) if dueling else nn.Linear(512, n_actions)
        self.head = nn.Sequential(nn.Linear(flat, 512), nn.ReLU(), output)

    def to_bf16(self) -> "QNetwork":
        """Keep the hidden layers' weights in bf16 (for a net that is only evaluated, like the
        target net): what autocast would compute, without casting the weights every call."""
        self.features.to(torch.bfloat16)
        self.head[:-1].to(torch.bfloat16)
        return self

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        # The input goes straight from uint8 to the dtype the first convolution computes in:
        # bf16 under autocast or with bf16 weights (integers to 255 are exact in bf16, and
        # the division rounds once, as autocast's cast of the fp32 quotient would).
        device = frames.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) \
            else self.features[0].weight.dtype
        # The weights are channels_last (oneDNN's and cuDNN's fast convolutions take NHWC);
        # the 4-channel input is cheaper to leave NCHW (the first convolution reorders it)
        # than to transpose here: 0.2 ms instead of 0.7 ms a batch.
        hidden = self.head[:-1](self.features(frames.to(dtype).div_(255.0)))
        # The Q-values themselves stay fp32 in bf16 learning (bf16 would round a Q of 10 to
        # steps of 0.06); the last layer is 0.02% of the work.
        with torch.autocast(device, enabled=False):
            return self.head[-1](hidden.float())


def shift_frames(frames: torch.Tensor, shifts: torch.Tensor, pad: int) -> torch.Tensor:
    """DrQ's random shift: each stack of `frames` [B, C, H, W] padded by `pad` pixels that
    repeat its edges, then cropped back to H x W at offset `shifts[b]` = (dy, dx) in 0..2*pad.
    The same shift applies to all frames of a stack, so motion between them is kept."""
    _, _, height, width = frames.shape
    padded = nn.functional.pad(frames, (pad, pad, pad, pad), mode="replicate")
    # One slice per stack: 0.4 ms for a batch of 32 stacks of 4x84x84, against 10 ms for one
    # advanced-indexing gather of the same pixels (measured 2026-12-02, 1 thread).
    return torch.stack([padded[b, :, dy:dy + height, dx:dx + width]
                        for b, (dy, dx) in enumerate(shifts.tolist())])


def make_lr_scheduler(optimizer: torch.optim.Optimizer, config: SchedulerConfig) -> Optional[Any]:
    if config.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.factor, patience=config.patience)
    if config.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    return None


class LearnStep(NamedTuple):
    """What one update reports: its loss, the mean Q of the taken actions and, when the batch
    carried importance-sampling weights (prioritized replay), each transition's |TD error|,
    its new priority before the exponent."""

    loss: float
    q: float
    td_errors: Optional[np.ndarray]


class DDQNAgent:
    """With `lagged_actor`, actions come from a copy of the online net that `refresh_actor`
    brings up to date, so that the loop can act while an update changes the online net."""

    def __init__(self, n_actions: int, stack: int, frame_size: int, agent: AgentConfig,
                 scheduler: SchedulerConfig, device: torch.device, bf16: bool = False,
                 lagged_actor: bool = False) -> None:
        self.n_actions = n_actions
        self.device = device
        self.bf16 = bf16
        self.online = QNetwork(stack, frame_size, n_actions, agent.dueling).to(
            device, memory_format=torch.channels_last)
        self.target = copy.deepcopy(self.online)
        self.target.requires_grad_(False)
        if bf16:
            # The target net is only evaluated: holding its weights in bf16 saves autocast
            # converting them on every update (a fifth of a CPU learn step, measured).
            self.target.to_bf16()
        self.actor = copy.deepcopy(self.online).requires_grad_(False) if lagged_actor else self.online
        # fused: one kernel for the whole update instead of a dozen passes over the 1.7M
        # weights; the same arithmetic as the default implementation, 10 ms less a step on CPU.
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=agent.lr, eps=agent.adam_eps, fused=True)
        self.loss_fn = nn.SmoothL1Loss()
        self.augment_shift = agent.augment_shift
        self.scheduler = make_lr_scheduler(self.optimizer, scheduler)
        self.learn_steps = 0
        self.target_syncs = 0

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def describe_learner(self) -> str:
        """Where and how it learns, as a run's machines.json records it: "cpu bf16, 1 thread",
        "cuda (NVIDIA H100 80GB HBM3) fp32"."""
        precision = "bf16" if self.bf16 else "fp32"
        if self.device.type == "cuda":
            return f"cuda ({torch.cuda.get_device_name(self.device)}) {precision}"
        threads = torch.get_num_threads()
        return f"{self.device.type} {precision}, {threads} thread{'s' if threads > 1 else ''}"

    def _autocast(self) -> ContextManager[Any]:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def refresh_actor(self) -> None:
        """Copy the online net's weights into the actor (nothing to do without a lagged one)."""
        if self.actor is not self.online:
            with torch.no_grad():
                for mine, online in zip(self.actor.parameters(), self.online.parameters()):
                    mine.copy_(online)

    def act(self, states: np.ndarray, epsilons: list[float], rng: np.random.Generator,
            net: Optional[QNetwork] = None) -> list[int]:
        """Epsilon-greedy actions for a batch of stacked states, one per env, from `net`
        (default: the actor).

        For each env in order, one uniform draw decides exploring (then one more picks the
        action); the greedy ones share a single forward pass, in fp32 even when learning in
        bf16: autocast would convert the weights for every call, 2.5 ms instead of 0.9 ms
        for one state."""
        actions: list[Optional[int]] = []
        for epsilon in epsilons:
            actions.append(int(rng.integers(self.n_actions)) if rng.random() < epsilon else None)
        greedy = [i for i, action in enumerate(actions) if action is None]
        if greedy:
            with torch.inference_mode():
                q = (net or self.actor)(torch.from_numpy(states[greedy]).to(self.device))
            for i, action in zip(greedy, q.argmax(dim=1).tolist()):
                actions[i] = action
        return actions  # type: ignore[return-value]

    def learn(self, batch: Batch) -> LearnStep:
        """One Double DQN update (see LearnStep for what it returns)."""
        rows = torch.arange(batch.actions.shape[0], device=self.device)
        states, next_states = batch.states, batch.next_states
        if batch.shifts is not None:
            states = shift_frames(states, batch.shifts[0], self.augment_shift)
            next_states = shift_frames(next_states, batch.shifts[1], self.augment_shift)
        with self._autocast():
            q_taken = self.online(states)[rows, batch.actions].float()
            # Two forwards of the online net, not one over state and next state together:
            # the backward pass would then run over twice the batch (measured 25% slower).
            with torch.no_grad():
                best_next = self.online(next_states).argmax(dim=1)
                q_next = self.target(next_states)[rows, best_next].float()
                target = batch.returns + batch.discounts * q_next
        if batch.weights is None:
            loss = self.loss_fn(q_taken, target)
            td_errors = None
        else:
            loss = (batch.weights * nn.functional.smooth_l1_loss(q_taken, target, reduction="none")).mean()
            td_errors = (target - q_taken).detach().abs().cpu().numpy()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if isinstance(self.scheduler, torch.optim.lr_scheduler.StepLR):
            self.scheduler.step()
        self.learn_steps += 1
        return LearnStep(float(loss.item()), float(q_taken.detach().mean().item()), td_errors)

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
            "actor": self.actor.state_dict() if self.actor is not self.online else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.learn_steps = state["learn_steps"]
        self.target_syncs = state["target_syncs"]
        if self.actor is not self.online:
            self.actor.load_state_dict(state["actor"])
