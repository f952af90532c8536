"""The typed config schema, registered in Hydra's ConfigStore, and its range checks.

Hydra merges every YAML of `conf/` into `Config`, so a wrong type or an unknown key fails at
composition. What types cannot say (ranges, choices, relations between keys) `validate`
checks, raising `ConfigError` with one line that names the key and what is allowed.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

# Buttons nes-py's JoypadSpace understands; an action is a combination pressed together.
BUTTONS = ("NOOP", "right", "left", "down", "up", "start", "select", "A", "B")
# gym-super-mario-bros ROM versions: SuperMarioBros-<world>-<stage>-v0..v3.
ROM_VERSIONS = ("v0", "v1", "v2", "v3")
SCHEDULERS = ("none", "plateau", "step")
EPSILON_SCHEDULES = ("exponential", "linear")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


class ConfigError(ValueError):
    """A config value outside what the project accepts; str() is the one-line message."""


@dataclass
class EpsilonConfig:
    """Epsilon-greedy exploration (agent.epsilon_at computes it).

    exponential: the tutorial's, max(min, start * decay ** (step - 1)); `fraction` unused.
    linear: from start down to min over `fraction` of trainer.total_steps, then min; `decay` unused.
    """

    schedule: str = "exponential"
    start: float = 1.0
    decay: float = 0.99999975
    min: float = 0.1
    fraction: float = 0.5


@dataclass
class PriorityConfig:
    """Prioritized experience replay (Schaul et al. 2016, proportional variant): a transition is
    drawn with probability p ** exponent / sum, p being its last |TD error| + offset; new ones
    come in at the largest priority seen. Importance-sampling weights (N * P) ** -weight_exponent,
    divided by the batch's largest, correct the bias; weight_exponent rises linearly from its
    value here at the first step to 1 at the end of trainer.total_steps."""

    exponent: float = 0.0         # alpha; 0 is uniform replay (the tutorial's), 0.6 is Rainbow's
    weight_exponent: float = 0.4  # beta at step 0, annealed to 1
    offset: float = 1e-6          # keeps a transition with a zero TD error drawable


@dataclass
class AgentConfig:
    """Double DQN hyperparameters; defaults are the PyTorch Mario tutorial's."""

    batch_size: int = 32
    learn_every: int = 3
    lr: float = 0.00025
    gamma: float = 0.9
    # Steps per TD target: 1 is the tutorial's one-step target; n sums n discounted rewards
    # and bootstraps from the state n steps later (see mario_exp/agent/replay.py).
    n_step: int = 1
    burnin: int = 10000
    sync_every: int = 10000
    memory_size: int = 100000
    # Run each update in the background while the next learn_every - 1 steps are played, those
    # steps acting on the weights before it (false: the tutorial's order, every action from
    # the newest weights). Deterministic either way; see docs/training.md "Learning in the background".
    async_update: bool = True
    # Store replay frames compressed (zstd, lossless): ~1.2 KB instead of 7 KB a transition,
    # at 15% fewer steps/s on 2 CPU cores; for replays too big for memory raw.
    replay_compression: bool = False
    epsilon: EpsilonConfig = field(default_factory=EpsilonConfig)
    # Dueling head (Wang et al. 2016): Q = V + A - mean(A), the value and advantage streams
    # sharing the tutorial's 512 hidden units, half each (agent.DuelingOutput says why).
    dueling: bool = False
    # Rewards are multiplied by this in the TD targets (episodes.csv keeps the env's own):
    # the env pays about +7 a step, so Q near 70 sits in the Huber loss's linear part.
    reward_scale: float = 1.0
    # Subtracted from the reward of a step on which Mario dies (an enemy, a pit, the timer; not
    # the flag, not env.stall_steps), before reward_scale, in the TD targets only. The env's own
    # death penalty is at most 15 while falling into a pit pays +x for the steps of the fall.
    death_penalty: float = 0.0
    adam_eps: float = 1e-8        # Adam's epsilon (torch's default; Rainbow and DrQ use 1.5e-4)
    # Random-shift augmentation of sampled stacks (DrQ, Kostrikov et al. 2021): each state and
    # next state is padded by this many pixels (edge pixels repeated) and cropped back at a
    # random offset; 0 is off. DrQ uses 4 on 84x84 frames.
    augment_shift: int = 0
    priority: PriorityConfig = field(default_factory=PriorityConfig)


@dataclass
class SchedulerConfig:
    """Learning-rate schedule. plateau: ReduceLROnPlateau on each episode's mean loss;
    step: StepLR, the rate times `gamma` every `step_size` learn updates."""

    name: str = "none"
    factor: float = 0.5
    patience: int = 10
    step_size: int = 50000
    gamma: float = 0.5


@dataclass
class ActionSetConfig:
    """The discrete actions the agent chooses from, each a list of buttons held together."""

    name: str = "right_only"
    buttons: list[list[str]] = field(default_factory=lambda: [["right"], ["right", "A"]])


@dataclass
class EnvConfig:
    """Which level, which ROM, and how frames become the network's input."""

    world: int = 1
    stage: int = 1
    rom_version: str = "v0"
    frame_skip: int = 4
    frame_size: int = 84
    frame_stack: int = 4
    # Show in each frame whether the last action held A and B (see envs.MarioEnv).
    button_marks: bool = False
    # Emulators stepped side by side, each in its own worker process when trainer.env_worker.
    num_envs: int = 1
    # End an episode after this many agent steps without a new furthest x_pos, as a death
    # would end it (null: only the level's own timer, ~2,400 steps, does). Mario pressing right
    # against a pipe otherwise fills the replay with thousands of identical frames.
    stall_steps: Optional[int] = None


@dataclass
class TrainerConfig:
    """Budget and bookkeeping. Steps are agent steps (each `env.frame_skip` NES frames)."""

    total_steps: int = 500000
    max_episodes: Optional[int] = None
    device: str = "auto"
    # Learner arithmetic: bf16 autocast where the hardware has bf16 units (auto), or fp32.
    precision: str = "auto"
    # torch's multi-threaded CPU kernels are not bit-reproducible from one process to the next;
    # one thread is, so that is the default (null: torch's default, all cores).
    threads: Optional[int] = 1
    # Step each emulator in a process of its own (same results either way). Off by default: the
    # learner already runs in a thread of its own beside the loop (agent.async_update), and on
    # two cores a third busy process and its pipe cost more than they overlap (docs/performance.md, bench).
    env_worker: bool = False
    log_every: int = 1000
    checkpoint_every: int = 50000
    checkpoint_replay: bool = True
    # Near-greedy evaluation on its own emulator every eval_every steps and at the end (null: none).
    eval_every: Optional[int] = 25000
    eval_episodes: int = 5
    eval_epsilon: float = 0.05
    # An untrained greedy Mario stuck at a pipe plays until the timer ends (~2400 steps).
    eval_max_steps: int = 1500
    eval_video: bool = True
    # A folder with run data but no checkpoint to resume (its checkpoints/ deleted, say) is
    # refused, as starting over would delete logs that cannot be rebuilt; true deletes them and
    # starts over. A checkpoint, when there is one, is always resumed.
    start_over: bool = False


@dataclass
class Config:
    seed: int = 1
    agent: AgentConfig = field(default_factory=AgentConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    action_set: ActionSetConfig = field(default_factory=ActionSetConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def register_schema() -> None:
    """Make `config_schema` available to conf/config.yaml's defaults list."""
    ConfigStore.instance().store(name="config_schema", node=Config)


def to_config(cfg: DictConfig) -> Config:
    """Turn a composed DictConfig into a validated `Config` instance."""
    _reject_unknown_keys(cfg, "")
    typed = OmegaConf.to_object(cfg)
    assert isinstance(typed, Config), "conf/config.yaml must list config_schema first"
    validate(typed)
    return typed


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _require(key: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: must be {allowed}")


def _int_at_least(low: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: _is_int(v) and v >= low), f"an integer >= {low}"


def _int_in(low: int, high: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: _is_int(v) and low <= v <= high), f"an integer in {low}..{high}"


def _one_of(choices: tuple[str, ...]) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in choices), "one of " + ", ".join(choices)


def _optional(check: tuple[Callable[[Any], bool], str]) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v is None or check[0](v)), f"null or {check[1]}"


# inf passes `> 0` and makes the first update diverge; nan fails every comparison.
_POSITIVE = (lambda v: math.isfinite(v) and v > 0), "a finite number > 0"
_UNIT = (lambda v: 0.0 <= v <= 1.0), "a number in [0, 1]"
_OPEN_UNIT = (lambda v: 0.0 < v < 1.0), "a number in (0, 1)"
_DECAY = (lambda v: 0.0 < v <= 1.0), "a number in (0, 1]"
_BOOL = (lambda v: isinstance(v, bool)), "true or false"

# key -> (predicate, what is allowed); every leaf of Config but action_set.buttons.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": _int_in(0, 2**32 - 1),
    "agent.batch_size": _int_at_least(1),
    "agent.learn_every": _int_at_least(1),
    "agent.lr": _POSITIVE,
    "agent.gamma": _UNIT,
    "agent.n_step": _int_in(1, 100),
    "agent.burnin": _int_at_least(0),
    "agent.sync_every": _int_at_least(1),
    "agent.memory_size": _int_at_least(1),
    "agent.async_update": _BOOL,
    "agent.replay_compression": _BOOL,
    "agent.epsilon.schedule": _one_of(EPSILON_SCHEDULES),
    "agent.epsilon.start": _UNIT,
    "agent.epsilon.decay": _DECAY,
    "agent.epsilon.min": _UNIT,
    "agent.epsilon.fraction": _DECAY,
    "agent.dueling": _BOOL,
    "agent.reward_scale": _POSITIVE,
    "agent.death_penalty": ((lambda v: math.isfinite(v) and v >= 0), "a finite number >= 0"),
    "agent.adam_eps": _POSITIVE,
    "agent.augment_shift": _int_in(0, 16),
    "agent.priority.exponent": _UNIT,
    "agent.priority.weight_exponent": _UNIT,
    "agent.priority.offset": _POSITIVE,
    "scheduler.name": _one_of(SCHEDULERS),
    "scheduler.factor": _OPEN_UNIT,
    "scheduler.patience": _int_at_least(0),
    "scheduler.step_size": _int_at_least(1),
    "scheduler.gamma": _DECAY,
    "action_set.name": ((lambda v: bool(v)), "a non-empty name"),
    "env.world": _int_in(1, 8),
    "env.stage": _int_in(1, 4),
    "env.rom_version": _one_of(ROM_VERSIONS),
    "env.frame_skip": _int_in(1, 16),
    # The Nature CNN's three convolutions need at least 36 pixels a side.
    "env.frame_size": _int_in(36, 240),
    "env.frame_stack": _int_in(1, 16),
    "env.button_marks": _BOOL,
    "env.num_envs": _int_in(1, 64),
    "env.stall_steps": _optional(_int_at_least(1)),
    "trainer.total_steps": _int_at_least(1),
    "trainer.max_episodes": _optional(_int_at_least(1)),
    "trainer.device": _one_of(DEVICES),
    "trainer.precision": _one_of(PRECISIONS),
    "trainer.threads": _optional(_int_at_least(1)),
    "trainer.log_every": _int_at_least(1),
    "trainer.checkpoint_every": _int_at_least(1),
    "trainer.checkpoint_replay": _BOOL,
    "trainer.env_worker": _BOOL,
    "trainer.eval_every": _optional(_int_at_least(1)),
    "trainer.eval_episodes": _int_at_least(1),
    "trainer.eval_epsilon": _UNIT,
    "trainer.eval_max_steps": _int_at_least(1),
    "trainer.eval_video": _BOOL,
    "trainer.start_over": _BOOL,
}


def _leaf(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def validate(config: Config) -> None:
    """Raise ConfigError for the first value outside its allowed range or choice."""
    for key, (ok, allowed) in RULES.items():
        value = _leaf(config, key)
        _require(key, value, ok(value), allowed)

    agent, env = config.agent, config.env
    # The replay must hold the burn-in it is asked to collect before learning.
    _require("agent.burnin", agent.burnin, agent.burnin <= agent.memory_size,
             f"<= agent.memory_size ({agent.memory_size})")
    # A sampled transition needs a full frame history and the n_step frames after it inside
    # the buffer, which gives each env an equal share of the capacity.
    minimum = max(agent.batch_size, env.num_envs * (env.frame_stack + agent.n_step + 1))
    _require("agent.memory_size", agent.memory_size, agent.memory_size >= minimum,
             f">= {minimum} (agent.batch_size and env.num_envs * (env.frame_stack + agent.n_step + 1))")
    _require("agent.epsilon.min", agent.epsilon.min, agent.epsilon.min <= agent.epsilon.start,
             f"<= agent.epsilon.start ({agent.epsilon.start})")

    buttons = config.action_set.buttons
    _require("action_set.buttons", buttons, len(buttons) >= 2,
             "a list of at least two actions, each a list of buttons")
    for action in buttons:
        _require("action_set.buttons", action,
                 len(action) >= 1 and all(b in BUTTONS for b in action),
                 "lists of buttons from " + ", ".join(BUTTONS))


def _schema_node(path: str) -> Any:
    """The default dataclass instance at `path` ("" is the root), or None if there is none."""
    node: Any = Config()
    for part in filter(None, path.split(".")):
        node = getattr(node, part, None)
    return node if is_dataclass(node) else None


def schema_keys(path: str) -> list[str]:
    """The keys the schema allows directly under `path` ("" for the top level)."""
    node = _schema_node(path)
    return [f.name for f in fields(node)] if node is not None else []


def schema_type(key: str) -> str:
    """A reader's name for the type the schema expects at `key`, e.g. 'an integer'."""
    parent, _, name = key.rpartition(".")
    node = _schema_node(parent)
    kind = next((str(f.type) for f in fields(node) if f.name == name), "") if node else ""
    if _schema_node(key) is not None:
        return "a group of keys: " + ", ".join(schema_keys(key))
    for marker, reader in (("int", "an integer"), ("float", "a number"), ("bool", "true or false"),
                           ("list", "a list"), ("str", "a string")):
        if marker in kind:
            return ("null or " if "Optional" in kind else "") + reader
    return "a value of the schema's type"


def unknown_key_message(full_key: str) -> str:
    """`agent.batsh_size: unknown key (did you mean batch_size?); agent has ...`."""
    parent, _, name = full_key.rpartition(".")
    allowed = schema_keys(parent)
    guess = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {guess[0]}?)" if guess else ""
    return f"{full_key}: unknown key{hint}; {parent or 'the top level'} has {', '.join(allowed)}"


def _reject_unknown_keys(node: DictConfig, path: str) -> None:
    """Keys added with `+key=value` bypass the schema's struct mode; refuse them here."""
    allowed = schema_keys(path)
    for key in node:
        full_key = f"{path}.{key}" if path else str(key)
        if key not in allowed:
            raise ConfigError(unknown_key_message(full_key))
        child = node[key]
        if isinstance(child, DictConfig) and _schema_node(full_key) is not None:
            _reject_unknown_keys(child, full_key)
