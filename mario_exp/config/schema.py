"""The typed config schema, registered in Hydra's ConfigStore: each key's type, default, allowed
values and one-line doc, written once.

A key is declared as `name: type = setting(default, allowed, doc)`. Hydra merges every YAML of
`conf/` into `Config`, so a wrong type or an unknown key fails at composition; `validate` then
applies each key's `allowed` check (and the RELATIONS between keys), raising `ConfigError` with
one line that names the key and what is allowed. The same declarations render
docs/configuration.md and `python train.py --help` (mario_exp/config/reference.py).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import Field, dataclass, field, fields, is_dataclass
from typing import Any, Callable, Iterator, Optional

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
# conf/hydra/default.yaml's help template calls this resolver for the keys' part of --help.
HELP_RESOLVER = "mario_exp.keys_help"


class ConfigError(ValueError):
    """A config value outside what the project accepts; str() is the one-line message."""


@dataclass(frozen=True)
class Allowed:
    """What a key accepts: `ok` is the check validate() applies, `text` says it in words (an
    error's "must be ...", the reference's and --help's allowed values)."""

    ok: Callable[[Any], bool]
    text: str


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def int_at_least(low: int) -> Allowed:
    return Allowed(lambda v: _is_int(v) and v >= low, f"an integer >= {low}")


def int_in(low: int, high: int) -> Allowed:
    return Allowed(lambda v: _is_int(v) and low <= v <= high, f"an integer in {low}..{high}")


def one_of(choices: tuple[str, ...]) -> Allowed:
    return Allowed(lambda v: v in choices, "one of " + ", ".join(choices))


def optional(allowed: Allowed) -> Allowed:
    return Allowed(lambda v: v is None or allowed.ok(v), f"null or {allowed.text}")


# inf passes `> 0` and makes the first update diverge; nan fails every comparison.
POSITIVE = Allowed(lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
NON_NEGATIVE = Allowed(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
UNIT = Allowed(lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")
OPEN_UNIT = Allowed(lambda v: 0.0 < v < 1.0, "a number in (0, 1)")
DECAY = Allowed(lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
BOOL = Allowed(lambda v: isinstance(v, bool), "true or false")
NAME = Allowed(bool, "a non-empty name")
ACTIONS = Allowed(lambda v: len(v) >= 2 and all(len(a) >= 1 and all(b in BUTTONS for b in a) for a in v),
                  "a list of at least two actions, each a list of buttons from " + ", ".join(BUTTONS))


def setting(default: Any, allowed: Allowed, doc: str) -> Any:
    """A key of the schema: its default, what it accepts, and its one-line doc (lower case, no
    final period: it is printed after the key). Why a default is what it is goes in a comment
    above the key."""
    metadata = {"allowed": allowed, "doc": doc}
    if isinstance(default, list):  # a dataclass default must not be shared and mutable
        return field(default_factory=lambda: [list(item) for item in default], metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class EpsilonConfig:
    """Epsilon-greedy exploration: how likely each step's action is a random one
    (`epsilon_at` in mario_exp/agent/ddqn.py computes it)."""

    schedule: str = setting("exponential", one_of(EPSILON_SCHEDULES),
                            "exponential (the tutorial's): max(min, start * decay ** (step - 1)); "
                            "linear: from start down to min over `fraction` of trainer.schedule_horizon, then min")
    start: float = setting(1.0, UNIT, "epsilon at the first step")
    # The tutorial's decay leaves epsilon at 0.94 after 250k steps: near random at any CPU budget.
    decay: float = setting(0.99999975, DECAY, "exponential only: epsilon's factor per agent step")
    min: float = setting(0.1, UNIT, "the floor epsilon falls to")
    fraction: float = setting(0.5, DECAY, "linear only: the share of trainer.schedule_horizon spent going from "
                              "start to min")


@dataclass
class PriorityConfig:
    """Prioritized experience replay (Schaul et al. 2016, proportional variant): a transition is
    drawn with probability p ** exponent / sum, p being its last |TD error| + offset; new ones
    come in at the largest priority seen. Importance-sampling weights (N * P) ** -weight_exponent,
    divided by the batch's largest, correct the bias."""

    exponent: float = setting(0.0, UNIT, "alpha: 0 is uniform replay (the tutorial's), 0.6 is Rainbow's")
    weight_exponent: float = setting(0.4, UNIT, "beta at the first step, rising linearly to 1 at the end "
                                     "of trainer.schedule_horizon")
    offset: float = setting(1e-6, POSITIVE, "added to each |TD error|, so a transition with a zero error "
                            "stays drawable")


@dataclass
class AgentConfig:
    """Double DQN hyperparameters; defaults are the PyTorch Mario tutorial's."""

    batch_size: int = setting(32, int_at_least(1), "transitions sampled per learn update")
    learn_every: int = setting(3, int_at_least(1), "agent steps between learn updates")
    lr: float = setting(0.00025, POSITIVE, "Adam's learning rate")
    gamma: float = setting(0.9, UNIT, "discount factor of the TD targets")
    # The returns are built at sample time from the one-step transitions (mario_exp/agent/replay.py).
    n_step: int = setting(1, int_in(1, 100), "steps per TD target: 1 is the tutorial's one-step target; n "
                          "sums n discounted rewards and bootstraps from the state n steps later")
    burnin: int = setting(10000, int_at_least(0), "agent steps of pure collection before the first update")
    sync_every: int = setting(10000, int_at_least(1), "agent steps between copies of the online net into "
                              "the target net")
    memory_size: int = setting(100000, int_at_least(1), "replay capacity in transitions (one uint8 frame "
                               "each: 7 KB raw, ~1.2 KB compressed)")
    # Deterministic either way; see docs/training.md "Learning in the background".
    async_update: bool = setting(True, BOOL, "run each update in the background while the next "
                                 "learn_every - 1 steps act on the weights before it; false: the tutorial's "
                                 "order, every action from the newest weights")
    # For replays too big for memory raw; the batches, and so the run, are the same either way.
    replay_compression: bool = setting(False, BOOL, "store replay frames zstd-compressed (lossless): ~1.2 KB "
                                       "instead of 7 KB a transition, at 15% fewer steps/s on 2 CPU cores")
    epsilon: EpsilonConfig = field(default_factory=EpsilonConfig)
    # The paper's second 3136 x 512 layer made a CPU learn step about a third slower
    # (DuelingOutput in mario_exp/agent/ddqn.py).
    dueling: bool = setting(False, BOOL, "dueling head (Wang et al. 2016): Q = V + A - mean(A), the value "
                            "and advantage streams sharing the tutorial's 512 hidden units, half each")
    # The env pays about +7 a step, so unscaled Q near 70 puts a death's TD error in the Huber
    # loss's linear part.
    reward_scale: float = setting(1.0, POSITIVE, "rewards are multiplied by this in the TD targets "
                                  "(episodes.csv keeps the env's own)")
    # The env's own death penalty is at most 15 while falling into a pit pays +x for the steps
    # of the fall.
    death_penalty: float = setting(0.0, NON_NEGATIVE, "subtracted from the reward of a step on which Mario "
                                   "dies (an enemy, a pit, the timer; not the flag, not env.stall_steps), "
                                   "before reward_scale, in the TD targets only")
    adam_eps: float = setting(1e-8, POSITIVE, "Adam's epsilon (torch's default; Rainbow and DrQ use 1.5e-4)")
    # DrQ (Kostrikov et al. 2021) uses 4 on 84x84 frames.
    augment_shift: int = setting(0, int_in(0, 16), "random-shift augmentation: each sampled state and next "
                                 "state is padded by this many pixels (edges repeated) and cropped back at a "
                                 "random offset; 0: off")
    priority: PriorityConfig = field(default_factory=PriorityConfig)


@dataclass
class SchedulerConfig:
    """Learning-rate schedule (the config group `scheduler` chooses `name`)."""

    name: str = setting("none", one_of(SCHEDULERS), "none: a constant rate (the tutorial's); plateau: "
                        "ReduceLROnPlateau on each episode's mean loss; step: StepLR")
    factor: float = setting(0.5, OPEN_UNIT, "plateau only: the rate is multiplied by this after `patience` "
                            "episodes without a lower mean loss")
    patience: int = setting(10, int_at_least(0), "plateau only: episodes without a lower mean loss before "
                            "the rate falls")
    step_size: int = setting(50000, int_at_least(1), "step only: learn updates between two falls of the rate")
    gamma: float = setting(0.5, DECAY, "step only: the rate is multiplied by this every `step_size` learn "
                           "updates")


@dataclass
class ActionSetConfig:
    """The discrete actions the agent chooses from (the config group `action_set`)."""

    name: str = setting("right_only", NAME, "the action set's name, as runs and the analysis show it")
    buttons: list[list[str]] = setting([["right"], ["right", "A"]], ACTIONS,
                                       "the actions, each a list of buttons held together")


@dataclass
class FrontierConfig:
    """Frontier starts: some training episodes begin part-way along the furthest training
    episode so far, its actions replayed on the (deterministic) emulator, so the agent practises
    the level's far part without first playing its start again; in the spirit of Backplay
    (Resnick et al. 2018) and Go-Explore's return-then-explore (Ecoffet et al. 2021), with the
    agent's own best episode for the demonstration. Evaluations always start at the level's
    start, and the scores (final window, analysis) count only the episodes that did."""

    fraction: float = setting(0.0, UNIT, "share of training episodes that begin part-way along the "
                              "furthest episode so far; 0: every episode begins at the level's start "
                              "(the tutorial's)")
    # The steps just before that episode's end lead into what ended it (a pit, an enemy): the
    # part the agent has yet to learn.
    window: Optional[int] = setting(None, optional(int_at_least(1)), "such an episode begins after a number of "
                                    "that episode's steps drawn uniformly from its last `window` (null: "
                                    "from all of them)")


@dataclass
class EnvConfig:
    """Which level, which ROM, and how frames become the network's input."""

    world: int = setting(1, int_in(1, 8), "the level's world: SuperMarioBros-<world>-<stage>-<rom_version>")
    stage: int = setting(1, int_in(1, 4), "the level's stage within its world")
    rom_version: str = setting("v0", one_of(ROM_VERSIONS), "v0 is the original ROM, v1..v3 simplified graphics")
    frame_skip: int = setting(4, int_in(1, 16), "NES frames per agent step (the action repeated, rewards "
                              "summed)")
    # The Nature CNN's three convolutions need at least 36 pixels a side.
    frame_size: int = setting(84, int_in(36, 240), "frames are converted to gray and resized to "
                              "frame_size x frame_size")
    frame_stack: int = setting(4, int_in(1, 16), "the network sees the last frame_stack frames")
    # A jump needs A released first, which the screen alone does not show (docs/training.md
    # "Button marks"; MarioEnv in mario_exp/env/mario_env.py draws them).
    button_marks: bool = setting(False, BOOL, "mark in each frame whether the last action held A and B; "
                                 "false: the tutorial's frames")
    num_envs: int = setting(1, int_in(1, 64), "emulators played side by side (each in its own process with "
                            "trainer.env_worker); steps, learn_every and sync_every count all of them")
    # Mario pressing right against a pipe otherwise fills the replay with thousands of identical frames.
    stall_steps: Optional[int] = setting(None, optional(int_at_least(1)), "end an episode, as a death would, "
                                         "after this many agent steps without a new furthest x_pos; null: "
                                         "only the level's timer (~2,400 steps) does")
    frontier: FrontierConfig = field(default_factory=FrontierConfig)


@dataclass
class TrainerConfig:
    """Budget and bookkeeping. Steps are agent steps (each `env.frame_skip` NES frames)."""

    total_steps: int = setting(500000, int_at_least(1), "the budget, in agent steps")
    # A run continued past its budget (rerun with a larger total_steps) would otherwise stretch its
    # schedules mid-run; fixing the horizon makes the continued run the longer run, step for step.
    schedule_horizon: Optional[int] = setting(None, optional(int_at_least(1)), "agent steps that the "
                                              "budget-relative schedules span (linear epsilon's fraction, "
                                              "the importance-sampling exponent's rise to 1); null: "
                                              "total_steps")
    max_episodes: Optional[int] = setting(None, optional(int_at_least(1)), "stop earlier after this many "
                                          "episodes; null: no limit")
    device: str = setting("auto", one_of(DEVICES), "auto: cuda when available, else cpu")
    precision: str = setting("auto", one_of(PRECISIONS), "learner arithmetic: auto is bf16 autocast where the "
                             "hardware has bf16 units, else fp32")
    # torch's multi-threaded CPU kernels are not bit-reproducible from one process to the next;
    # one thread is, so that is the default.
    threads: Optional[int] = setting(1, optional(int_at_least(1)), "torch CPU threads; null: torch's "
                                     "default (all cores), faster, but runs differ in the last digits")
    # Off by default: the learner already runs in a thread of its own beside the loop
    # (agent.async_update), and on two cores a third busy process and its pipe cost more than
    # they overlap (docs/performance.md, bench).
    env_worker: bool = setting(False, BOOL, "step each emulator in a process of its own (same results "
                               "either way); pays with env.num_envs > 1 and spare cores")
    log_every: int = setting(1000, int_at_least(1), "agent steps between train/* and perf/* TensorBoard points")
    checkpoint_every: int = setting(50000, int_at_least(1), "agent steps between checkpoints (one is always "
                                    "written at the end)")
    checkpoint_replay: bool = setting(True, BOOL, "save the replay in checkpoints, so a resumed run is "
                                      "bit-identical; false: smaller files, a resumed run refills its replay")
    eval_every: Optional[int] = setting(25000, optional(int_at_least(1)), "agent steps between near-greedy "
                                        "evaluations on an emulator of their own, and one at the end; null: "
                                        "none")
    eval_episodes: int = setting(5, int_at_least(1), "episodes per evaluation")
    eval_epsilon: float = setting(0.05, UNIT, "epsilon of evaluation episodes: a little noise, so the "
                                  "episodes of one evaluation differ")
    # An untrained greedy Mario stuck at a pipe plays until the timer ends (~2,400 steps).
    eval_max_steps: int = setting(1500, int_at_least(1), "agent steps an evaluation episode may last")
    eval_video: bool = setting(True, BOOL, "videos/best.mp4 and latest.mp4 (and GIFs) of the evaluation "
                               "episodes, the latest GIF in TensorBoard")
    # Starting over would delete logs that cannot be rebuilt, so it takes a request. A checkpoint,
    # when there is one, is always resumed.
    start_over: bool = setting(False, BOOL, "true: a run folder with run data but no checkpoint to resume "
                               "(its checkpoints/ deleted, say) is started over, its data deleted; false: "
                               "refused")

    @property
    def horizon(self) -> int:
        """The steps the budget-relative schedules span: schedule_horizon, else the budget."""
        return self.schedule_horizon or self.total_steps


@dataclass
class Config:
    """Top-level keys; each config group is a section of its own."""

    seed: int = setting(1, int_in(0, 2**32 - 1), "seeds python, numpy and torch; the same seed on CPU "
                        "gives the same episodes.csv")
    agent: AgentConfig = field(default_factory=AgentConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    action_set: ActionSetConfig = field(default_factory=ActionSetConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


@dataclass(frozen=True)
class Relation:
    """A rule between keys, checked once every key has passed its own: `key` must be `text`;
    `values` names what the other keys make that, for the error line."""

    key: str
    text: str
    holds: Callable[[Config], bool]
    values: Callable[[Config], str]


def _memory_needed(config: Config) -> int:
    agent, env = config.agent, config.env
    return max(agent.batch_size, env.num_envs * (env.frame_stack + agent.n_step + 1))


RELATIONS = [
    # The replay must hold the burn-in it is asked to collect before learning.
    Relation("agent.burnin", "<= agent.memory_size", lambda c: c.agent.burnin <= c.agent.memory_size,
             lambda c: str(c.agent.memory_size)),
    # A sampled transition needs a full frame history and the n_step frames after it inside
    # the buffer, which gives each env an equal share of the capacity.
    Relation("agent.memory_size", ">= max(agent.batch_size, env.num_envs * (env.frame_stack + agent.n_step + 1))",
             lambda c: c.agent.memory_size >= _memory_needed(c), lambda c: str(_memory_needed(c))),
    Relation("agent.epsilon.min", "<= agent.epsilon.start", lambda c: c.agent.epsilon.min <= c.agent.epsilon.start,
             lambda c: str(c.agent.epsilon.start)),
]


def sections(node: type = Config, path: str = "") -> Iterator[tuple[str, type]]:
    """Each dataclass of the schema with its path ("" for Config, then "agent", "agent.epsilon",
    ...), in the schema's order."""
    yield path, node
    for f in fields(node):
        if is_dataclass(f.default_factory):
            yield from sections(f.default_factory, f"{path}.{f.name}" if path else f.name)


def settings(node: type = Config, path: str = "") -> Iterator[tuple[str, Field]]:
    """Each key of the schema ("agent.batch_size", ...) and its field, in the schema's order; a
    field's metadata holds its `allowed` and `doc`."""
    for f in fields(node):
        key = f"{path}.{f.name}" if path else f.name
        if is_dataclass(f.default_factory):
            yield from settings(f.default_factory, key)
        else:
            yield key, f


def register_schema() -> None:
    """Make `config_schema` available to conf/config.yaml's defaults list, and the keys' part
    of `train.py --help` to the help template of conf/hydra/default.yaml."""
    ConfigStore.instance().store(name="config_schema", node=Config)
    if not OmegaConf.has_resolver(HELP_RESOLVER):
        OmegaConf.register_new_resolver(HELP_RESOLVER, _keys_help)


def _keys_help() -> str:
    # Imported when --help asks for it: the reference module reads this one.
    from mario_exp.config.reference import render_help

    return render_help()


def to_config(cfg: DictConfig) -> Config:
    """Turn a composed DictConfig into a validated `Config` instance."""
    _reject_unknown_keys(cfg, "")
    typed = OmegaConf.to_object(cfg)
    assert isinstance(typed, Config), "conf/config.yaml must list config_schema first"
    validate(typed)
    return typed


def _require(key: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: must be {allowed}")


def _leaf(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def validate(config: Config) -> None:
    """Raise ConfigError for the first value outside what its key allows, then for the first
    broken relation between keys."""
    for key, f in settings():
        value, allowed = _leaf(config, key), f.metadata["allowed"]
        _require(key, value, allowed.ok(value), allowed.text)
    for rule in RELATIONS:
        _require(rule.key, _leaf(config, rule.key), rule.holds(config), f"{rule.text} ({rule.values(config)})")


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
