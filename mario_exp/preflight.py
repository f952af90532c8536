"""Compose every job of a `train.py` command line before Hydra launches any of them.

Hydra reports a bad override as several lines, and only when it reaches the job that has it,
after it has created the run folder (and, in a sweep, after earlier jobs have run for hours).
Here each job is composed and validated up front, and any failure becomes one `ConfigError`
line that names the key and what it accepts.
"""
from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser  # the parser @hydra.main itself uses (hydra 1.3)
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from mario_exp.config import (Config, ConfigError, register_schema, schema_type, to_config,
                              unknown_key_message)


def _parse(overrides: list[str]) -> list:
    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed.extend(parser.parse_overrides([text]))
        except OverrideParseException as exc:
            raise ConfigError(f"{text}: cannot parse this override ({str(exc).splitlines()[0]})") from None
    return parsed


def job_overrides(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override list of each job the command line starts (the Cartesian product of sweeps)."""
    choices: list[list[str]] = []
    for override, text in zip(_parse(overrides), overrides):
        if not override.is_sweep_override():
            choices.append([text])
        elif not multirun:
            raise ConfigError(f"{text}: a sweep over several values needs -m (--multirun)")
        elif override.is_discrete_sweep() and override.value_type.name != "GLOB_CHOICE_SWEEP":
            key = override.get_key_element()
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        # Glob and interval sweeps are left to their sweeper; the other keys are still checked.
    return [list(job) for job in itertools.product(*choices)]


def explain(exc: Exception, overrides: list[str]) -> str:
    """One line for a Hydra or OmegaConf composition error."""
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, MissingConfigException) and exc.options is not None and exc.missing_cfg_file:
        group, _, name = exc.missing_cfg_file.rpartition("/")
        return f"{group}={name}: unknown option; choose one of {', '.join(sorted(exc.options))}"
    cause = exc.__cause__ if isinstance(exc, ConfigCompositionException) else exc
    full_key = getattr(cause, "full_key", None)
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and full_key:
        return unknown_key_message(full_key)
    if isinstance(cause, ValidationError) and full_key:
        given = {o.split("=", 1)[0].lstrip("+~"): o.split("=", 1)[-1] for o in overrides}
        value = given.get(full_key, "the given value")
        return f"{full_key}={value!r}: must be {schema_type(full_key)}"
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


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


def compose_jobs(argv: list[str], config_dir: Path) -> list[Config]:
    """Validate every job `train.py argv` would run; raise ConfigError for the first bad one."""
    args, unknown = get_args_parser().parse_known_args(argv)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown option; see python train.py --help")
    if args.help or args.hydra_help or args.info or args.shell_completion or args.experimental_rerun:
        return []  # nothing will be trained: let Hydra answer
    config_name = args.config_name or "config"
    if args.config_path:
        config_dir = (config_dir.parent / args.config_path).resolve()
    register_schema()
    configs = []
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        for job in job_overrides(args.overrides, args.multirun):
            try:
                configs.append(to_config(compose(config_name, overrides=job)))
            except (ConfigError, OmegaConfBaseException, ConfigCompositionException,
                    MissingConfigException, OverrideParseException) as exc:
                raise ConfigError(explain(exc, job)) from None
        if configs:
            hydra_cfg = compose(config_name, overrides=job, return_hydra_config=True).hydra
            key = "hydra.sweep.dir" if args.multirun else "hydra.run.dir"
            check_output_dir(key, Path(hydra_cfg.sweep.dir if args.multirun else hydra_cfg.run.dir))
    GlobalHydra.instance().clear()
    return configs
