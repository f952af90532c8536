"""The private Hydra API the preflight needs (mario_exp/config/hydra_internals.py), against the
installed Hydra: a release that moves or changes it fails here, by name, rather than somewhere
in the preflight. pyproject.toml pins hydra-core to the release these pass on."""
from __future__ import annotations

import copy

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException

from mario_exp.config.hydra_internals import apply_value_overrides, parse_command_line
from mario_exp.config.schema import register_schema, to_config
from tests.helpers import CONF


def test_parse_command_line_reads_the_flags_and_overrides_hydra_main_reads() -> None:
    args, unknown = parse_command_line(["-m", "--config-name", "other", "--config-path", "elsewhere",
                                        "agent.lr=0.001", "seed=1,2", "--no-such-flag"])
    assert args.multirun and (args.config_name, args.config_path) == ("other", "elsewhere")
    assert args.overrides == ["agent.lr=0.001", "seed=1,2"] and unknown == ["--no-such-flag"]
    args, unknown = parse_command_line(["--help", "--config-dir=/tmp"])
    assert args.help and args.config_dir == "/tmp" and not args.multirun and unknown == []
    # Every flag the preflight reads, each of which hands the command line to Hydra unchecked.
    for flags, name in ((["--hydra-help"], "hydra_help"), (["--info"], "info"),
                        (["--shell-completion"], "shell_completion"),
                        (["--experimental-rerun", "x.pickle"], "experimental_rerun")):
        assert getattr(parse_command_line(flags)[0], name), flags


@pytest.fixture
def composed():
    """The default composition and a parser of overrides, as the preflight holds them."""
    register_schema()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield compose("config"), OverridesParser.create()
    GlobalHydra.instance().clear()


def test_apply_value_overrides_gives_what_a_full_composition_gives(composed) -> None:
    base, parser = composed
    overrides = ["agent.batch_size=64", "agent.epsilon={start: 0.5, min: 0.2}", "trainer.eval_every=null",
                 "seed=9", "agent.batch_size=48"]
    cfg = copy.deepcopy(base)
    apply_value_overrides(parser.parse_overrides(overrides), cfg)
    assert to_config(cfg) == to_config(compose("config", overrides=overrides))
    assert (cfg.agent.batch_size, cfg.agent.epsilon.start, cfg.seed) == (48, 0.5, 9)
    assert base.agent.batch_size == 32  # the copy took the values


@pytest.mark.parametrize("override", ["agent.batsh_size=1", "+agent.batch_size=1", "agent.batch_size=abc",
                                      "~agent.lr"])
def test_apply_value_overrides_refuses_what_composition_refuses(composed, override: str) -> None:
    base, parser = composed
    with pytest.raises(ConfigCompositionException):
        compose("config", overrides=[override])
    with pytest.raises(ConfigCompositionException):
        apply_value_overrides(parser.parse_overrides([override]), copy.deepcopy(base))
