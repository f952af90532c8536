"""The only private Hydra API the project uses (hydra._internal, Hydra 1.3), kept here.

The preflight (mario_exp/config/preflight.py) checks a command line the way @hydra.main will
run it, and Hydra offers no public call for two of the steps @hydra.main itself takes:
- reading the command line: its flags (-m, --config-name, --help, ...) and overrides, from
  `hydra._internal.utils.get_args_parser`;
- applying overrides of values (`agent.lr=0.001`, `+key=1`, `~key`) to a config already
  composed from the config groups' choices, `ConfigLoaderImpl._apply_overrides_to_config`: the
  last step of every composition, which lets the preflight compose each choice of options once
  and give every job of a sweep its own values on a copy (hydra.compose would redo the whole
  composition for each job, 75 ms a job).
tests/unit/test_hydra_internals.py exercises both, so a Hydra release that moves or changes them
fails there, by name; pyproject.toml pins hydra-core to the release those tests pass on.
"""
from __future__ import annotations

import argparse

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig


def parse_command_line(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """@hydra.main's reading of `argv`: its flags and overrides, and any argument it does not know."""
    return get_args_parser().parse_known_args(argv)


def apply_value_overrides(overrides: list[Override], cfg: DictConfig) -> None:
    """Apply overrides of values to `cfg` in place, in order, as Hydra's composition does;
    raises ConfigCompositionException (or OmegaConf's errors) for one it refuses."""
    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)
