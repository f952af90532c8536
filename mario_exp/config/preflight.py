"""Compose every job of a `train.py` command line before Hydra launches any of them.

Hydra reports a bad override as several lines, and only when it reaches the job that has it,
after it has created the run folder (and, in a sweep, after earlier jobs have run for hours).
Here each job is composed and validated up front, and any failure becomes one `ConfigError`
line that names the key and what it accepts.

Jobs that choose the same config-group options (a sweep over seeds or batch sizes) share one
composition of those choices, then each gets its values the way Hydra applies them: composing
takes about 75 ms a job, applying values about 3, so a 100-job sweep is checked in well under
a second instead of 7 seconds.
"""
from __future__ import annotations

import copy
import itertools
import os
import re
import tempfile
from functools import partial
from pathlib import Path
from typing import Callable, TypeVar

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    ConfigTypeError,
    InterpolationResolutionError,
    OmegaConfBaseException,
    ValidationError,
)

from mario_exp.config.hydra_internals import apply_value_overrides, parse_command_line
from mario_exp.config.schema import (
    Config,
    ConfigError,
    register_schema,
    schema_keys,
    schema_type,
    to_config,
    unknown_key_message,
)

# The plugins' classes, as their configs name them in `_target_`.
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
# hydra-optuna-sweeper's, and experiment=hparams_search's wrapper of it.
OPTUNA_SWEEPERS = ("hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper",
                   "hydra_plugins.mario_exp_search.optuna_search.OptunaSearch")
# OmegaConf's names for the types of Hydra's own (and its plugins') structured configs.
_OMEGACONF_TYPES = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false",
                    "String": "a string"}
T = TypeVar("T")


def _parse(overrides: list[str], parser: OverridesParser) -> list[Override]:
    parsed = []
    for text in overrides:
        try:
            parsed.extend(parser.parse_overrides([text]))
        # ValueError: Python's own limit on the digits of an integer (4300), say.
        except (OverrideParseException, ValueError) as exc:
            raise ConfigError(f"{text[:80]}{'...' if len(text) > 80 else ''}: cannot parse this override "
                              f"({str(exc).splitlines()[0]})") from None
        if not parsed[-1].key_or_group:
            raise ConfigError(f"{text}: an override needs a key (key=value)")
    return parsed


def _candidates(override: Override) -> list[str]:
    """The values of one key that the jobs may get, as overrides. A sweep gives each of its
    values (choice, range, glob); an interval, a search space of the optuna sweeper, gives its
    two bounds: the schema's checks are ranges, so a space whose bounds pass passes whole."""
    key = override.get_key_element()
    if not override.is_sweep_override():
        return [f"{key}={override.get_value_element_as_str()}"]
    if override.is_interval_sweep():
        space = override.value()
        whole = "int" in space.tags or (isinstance(space.start, int) and isinstance(space.end, int))
        return [f"{key}={int(bound) if whole else float(bound)}" for bound in (space.start, space.end)]
    text = override.input_line
    try:
        values = [f"{key}={value}" for value in override.sweep_string_iterator()]
    except ValueError as exc:  # range(1,3,0)
        raise ConfigError(f"{text}: not a sweep ({exc})") from None
    if not values:
        # Hydra would launch 0 jobs, exit 0 and leave an empty sweep folder.
        raise ConfigError(f"{text}: sweeps over no values; a range(start, stop[, step]) must hold at "
                          "least one (stop is left out)")
    return values


def job_overrides(hydra_cfg: DictConfig, overrides: list[str], multirun: bool,
                  parser: OverridesParser) -> list[list[str]]:
    """The override list of each job the command line may start: the sweeper's `params` (a
    preset's seeds, a search space), then the command line's task overrides, which replace a
    param of the same key, as Hydra's sweepers merge them; then every combination."""
    params = hydra_cfg.sweeper.get("params") or {}
    # Hydra's own sweeper, which runs every combination; the others (optuna) search.
    searches = hydra_cfg.runtime.choices.get("hydra/sweeper") != "basic"
    if params and not multirun:
        # Without -m Hydra ignores them and would quietly run one job of the preset's defaults.
        raise ConfigError(f"hydra.sweeper.params: this preset sweeps {', '.join(params)}; run it "
                          "with -m (--multirun)")
    texts = [f"{key}={value}" for key, value in params.items()]
    parsed = _parse(texts, parser) + _parse(overrides, parser)
    by_key: dict[str, list[str]] = {}
    for override, text in zip(parsed, texts + overrides):
        if override.is_hydra_override():
            continue  # in every job's composition already (see compose_jobs)
        _check_value(override, text)
        if override.is_sweep_override() and not multirun:
            raise ConfigError(f"{text}: a sweep over several values needs -m (--multirun)")
        if override.is_interval_sweep() and not searches:
            raise ConfigError(f"{text}: an interval is a search space; search it with "
                              "hydra/sweeper=optuna (see experiment=hparams_search)")
        by_key[override.get_key_element()] = _candidates(override)
    return [list(job) for job in itertools.product(*by_key.values())]


def _check_group_choices(texts: list[str], parsed: list[Override]) -> None:
    """A config group takes the name of one of its options: `agent=null` or `agent=5` would
    fail deep in Hydra's defaults list with a ValueError that names no key."""
    loader = GlobalHydra.instance().config_loader()
    for text, override in zip(texts, parsed):
        parent, _, name = override.key_or_group.rpartition("/")
        if name not in loader.list_groups(parent) or override.is_sweep_override() or override.is_delete():
            continue
        if not isinstance(override.value(), (str, list, dict)):
            options = ", ".join(sorted(loader.get_group_options(override.key_or_group)))
            raise ConfigError(f"{text}: a config group takes the name of one of its options: {options}")


def _check_value(override: Override, text: str) -> None:
    """What composition accepts but would make another run than the one asked for."""
    key = override.key_or_group
    if override.is_delete() and (key in schema_keys("") or "." in key):
        # Deleting a top-level key (~seed) is accepted and quietly gives the schema's default.
        raise ConfigError(f"{text}: keys of the schema cannot be deleted; give it a value instead ({key}=...)")
    if not override.is_sweep_override() and "${now:" in str(override.value()):
        raise ConfigError(f"{text}: ${{now:...}} gives another value each time the command runs, so "
                          "a rerun could never resume the run; give a fixed value")


def explain(exc: Exception, overrides: list[str], config_name: str) -> str:
    """One line for a Hydra or OmegaConf composition error."""
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, MissingConfigException) and exc.options is not None and exc.missing_cfg_file:
        group, _, name = exc.missing_cfg_file.rpartition("/")
        return f"{group}={name}: unknown option; choose one of {', '.join(sorted(exc.options))}"
    cause = exc.__cause__ if isinstance(exc, ConfigCompositionException) else exc
    full_key = getattr(cause, "full_key", None)
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and full_key:
        if full_key.startswith("hydra."):
            return _unknown_hydra_key(full_key, overrides, config_name)
        return unknown_key_message(full_key)
    if isinstance(cause, InterpolationResolutionError) and full_key:
        return f"{full_key}: its interpolation cannot be resolved ({str(cause).splitlines()[0]})"
    if isinstance(cause, ConfigTypeError) and full_key and "deletion" in str(cause):
        return f"~{full_key}: keys of the schema cannot be deleted; give it a value instead ({full_key}=...)"
    if isinstance(cause, ValidationError) and full_key:
        given = {o.split("=", 1)[0].lstrip("+~"): o.split("=", 1)[-1] for o in overrides}
        value = given.get(full_key, "the given value")
        if full_key.startswith("hydra."):
            wanted = re.search(r"converted to (\w+)", str(cause))
            kind = _OMEGACONF_TYPES.get(wanted.group(1), wanted.group(1)) if wanted else "of another type"
            return f"{full_key}={value!r}: must be {kind}"
        return f"{full_key}={value!r}: must be {schema_type(full_key)}"
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _unknown_hydra_key(full_key: str, overrides: list[str], config_name: str) -> str:
    """`hydra.launcher.n_job: unknown key; hydra.launcher has n_jobs, backend, ...`, for the
    launcher and sweeper the command line chose."""
    groups = [o for o in overrides if o.startswith("hydra/")]
    parent = full_key.rpartition(".")[0]
    node = OmegaConf.select(compose(config_name, overrides=groups, return_hydra_config=True), parent)
    allowed = [str(k) for k in node.keys() if not str(k).startswith("_")] if isinstance(node, DictConfig) else []
    return f"{full_key}: unknown key; {parent} has {', '.join(allowed)}"


def check_launch(hydra_cfg: DictConfig) -> None:
    """What the launcher or the sweeper would only reject once jobs are due to start."""
    launcher, sweeper = hydra_cfg.launcher, hydra_cfg.sweeper
    if launcher.get("_target_") == JOBLIB_LAUNCHER and launcher.n_jobs == 0:
        raise ConfigError("hydra.launcher.n_jobs=0: must be a number of parallel jobs >= 1, or "
                          "negative: -1 for one job per core, -2 for all cores but one")
    # train.py's task returns one number, the final x_pos: a search has one direction.
    if sweeper.get("_target_") in OPTUNA_SWEEPERS and sweeper.direction not in ("maximize", "minimize"):
        raise ConfigError(f"hydra.sweeper.direction={sweeper.direction!r}: must be maximize (the "
                          "final x_pos, as experiment=hparams_search does) or minimize")


def check_output_dir(key: str, path: Path) -> None:
    """Fail before any job starts if the run folders cannot be created where Hydra will put them.

    Probes by creating (and removing) a folder: permission bits say nothing for root or for a
    read-only mount."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mario-exp-probe-", dir=existing))
    except OSError:
        raise ConfigError(f"{key}={path}: cannot create run folders there ({existing} is not a "
                          "writable folder)") from None


class JobComposer:
    """The Config of each job, composing each distinct choice of config-group options once.

    Hydra composes a job in two steps: the defaults list (the config groups' options, chosen
    by overrides like `action_set=right_run`) makes a config; then every other override (a
    value, like `agent.batch_size=64`, `+key=1` or `~key`) is applied to it in order. Here the
    first step's result is kept per choice of options, and a copy takes each job's values."""

    def __init__(self, config_name: str, hydra_overrides: list[str], parser: OverridesParser) -> None:
        self.config_name = config_name
        self.hydra_overrides = hydra_overrides
        self.parser = parser
        self.loader = GlobalHydra.instance().config_loader()
        self._groups: dict[str, list[str]] = {}  # parent group -> its groups (20 ms a listing)
        self._by_choices: dict[tuple[str, ...], DictConfig] = {}

    def _is_group_choice(self, override: Override) -> bool:
        """Hydra's own rule (defaults_list.Overrides): a key that names a config group, with a
        value that is not a dict, chooses an option; anything else sets a value."""
        parent, _, name = override.key_or_group.rpartition("/")
        if parent not in self._groups:
            self._groups[parent] = self.loader.list_groups(parent)
        return name in self._groups[parent] and not isinstance(override.value(), dict)

    def config(self, job: list[str]) -> Config:
        parsed = self.parser.parse_overrides(job)
        is_choice = [self._is_group_choice(o) for o in parsed]
        choices = tuple(o.input_line for o, choice in zip(parsed, is_choice) if choice)
        values = [o for o, choice in zip(parsed, is_choice) if not choice]
        if choices not in self._by_choices:
            self._by_choices[choices] = compose(self.config_name, overrides=self.hydra_overrides + list(choices))
        cfg = copy.deepcopy(self._by_choices[choices])
        apply_value_overrides(values, cfg)
        return to_config(cfg)


def compose_jobs(argv: list[str], config_dir: Path) -> list[Config]:
    """Validate every job `train.py argv` would run; raise ConfigError for the first bad one."""
    args, unknown = parse_command_line(argv)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown option; see python train.py --help")
    if args.help or args.hydra_help or args.info or args.shell_completion or args.experimental_rerun:
        return []  # nothing will be trained: let Hydra answer
    config_name = args.config_name or "config"
    if args.config_path:
        config_dir = (config_dir.parent / args.config_path).resolve()
        if not config_dir.is_dir():
            raise ConfigError(f"--config-path={args.config_path}: no such folder ({config_dir})")
    if args.config_dir and not Path(args.config_dir).is_dir():
        raise ConfigError(f"--config-dir={args.config_dir}: no such folder")
    register_schema()
    configs = []
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        # glob(...) sweeps over a group's options need the config loader to list them.
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        parsed = _parse(args.overrides, parser)
        _check_group_choices(args.overrides, parsed)
        # What Hydra composes before the sweeper starts: the command line without its sweeps.
        # It holds the launcher, the sweeper and its params (a preset's seeds, a search space).
        fixed = [text for text, o in zip(args.overrides, parsed) if not o.is_sweep_override()]
        hydra_overrides = [text for text, o in zip(args.overrides, parsed) if o.is_hydra_override()]
        hydra_cfg = _composed(lambda: compose(config_name, overrides=fixed, return_hydra_config=True).hydra,
                              fixed, config_name)
        check_launch(hydra_cfg)
        composer = JobComposer(config_name, hydra_overrides, parser)
        for job in job_overrides(hydra_cfg, args.overrides, args.multirun, parser):
            configs.append(_composed(partial(composer.config, job), hydra_overrides + job, config_name))
        if configs:
            key = "hydra.sweep.dir" if args.multirun else "hydra.run.dir"
            folder = _composed(lambda: str(OmegaConf.select(hydra_cfg, key.removeprefix("hydra."))),
                               fixed, config_name)
            if not folder.strip():
                raise ConfigError(f"{key}='': must be a folder; an empty one would train into the "
                                  "working directory")
            check_output_dir(key, Path(folder))
    GlobalHydra.instance().clear()
    return configs


def _composed(make: Callable[[], T], overrides: list[str], config_name: str) -> T:
    """make() (a composition), with its errors turned into one ConfigError line."""
    try:
        return make()
    except (ConfigError, OmegaConfBaseException, ConfigCompositionException,
            MissingConfigException, OverrideParseException) as exc:
        raise ConfigError(explain(exc, overrides, config_name)) from None
