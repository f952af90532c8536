"""Each config key is written once, in the schema: docs/configuration.md is rendered from it
and is never stale, what the page says a key allows is what validation allows, and the group
files of conf/ hold only what makes them an option."""
from __future__ import annotations

from dataclasses import replace
from functools import reduce
from pathlib import Path

import pytest
import yaml

from mario_exp.config import reference
from mario_exp.config.schema import RELATIONS, Config, ConfigError, sections, settings, validate
from tests.helpers import CONF, REPO


@pytest.fixture(scope="module")
def page() -> str:
    # hparams_search's composition needs the optuna sweeper.
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper",
                        reason="the optuna extra is not installed (pip install -e '.[optuna]')")
    return reference.render_reference(CONF)


def test_the_committed_page_is_what_the_schema_renders(page: str) -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == page, f"docs/configuration.md is stale: run {reference.WRITE_COMMAND}"


def test_write_rewrites_the_page(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(reference, "PAGE", tmp_path / "configuration.md")
    monkeypatch.setattr(reference, "render_reference", lambda: page)
    reference.main(["--write"])
    assert (tmp_path / "configuration.md").read_text() == page
    assert capsys.readouterr().out == f"wrote {tmp_path / 'configuration.md'}\n"


def test_every_key_has_its_check_and_doc_on_the_page(page: str) -> None:
    for key, f in settings():
        allowed, doc = f.metadata["allowed"], f.metadata["doc"]
        assert doc and doc == " ".join(doc.split()) and not doc.endswith("."), key
        row = next(line for line in page.splitlines() if line.startswith(f"| `{key}` |"))
        # The key's own check, then its relations to other keys (below).
        assert f"| {reference.table_cell(allowed.text)}" in row and f" | {reference.table_cell(doc)} |" in row, key


# key -> a value its check refuses
REFUSED = {"agent.batch_size": 0, "env.world": 9, "agent.lr": float("inf"), "scheduler.name": "cosine",
           "trainer.eval_every": 0, "agent.dueling": "maybe", "action_set.buttons": [["right"], ["jump"]]}


@pytest.mark.parametrize("key,value", REFUSED.items(), ids=list(REFUSED))
def test_the_allowed_values_shown_are_the_ones_validation_applies(key: str, value: object) -> None:
    """The reference prints each key's allowed values from the check validate() runs."""
    shown = next(k.allowed for k in reference.keys(key.rpartition(".")[0]) if k.name == key)
    section, _, name = key.rpartition(".")
    config = Config()
    node = getattr(config, section) if section else config
    setattr(node, name, value)
    with pytest.raises(ConfigError) as refused:
        validate(config)
    assert str(refused.value) == f"{key}={value!r}: must be {shown}"


def test_relations_between_keys_are_shown_with_the_key_and_checked() -> None:
    for rule in RELATIONS:
        shown = next(k.allowed for k in reference.keys(rule.key.rpartition(".")[0]) if k.name == rule.key)
        assert shown.endswith(f", and {rule.text}")
    config = Config()
    config.agent = replace(config.agent, burnin=config.agent.memory_size + 1)
    with pytest.raises(ConfigError, match=r"^agent.burnin=100001: must be <= agent.memory_size \(100000\)$"):
        validate(config)


def test_group_files_hold_only_what_makes_them_an_option() -> None:
    """A group's YAML file sets a key only where it differs from the schema's default, or to
    name the option (scheduler.name, an action set's name and buttons). The presets
    (experiment/) are exempt: a preset's values are its own choices, and why, in comments."""
    defaults = Config()
    identity = {"scheduler.name", "action_set.name", "action_set.buttons"}
    for folder in sorted(p for p in CONF.iterdir() if p.is_dir() and p.name not in ("experiment", "hydra")):
        for path in sorted(folder.glob("*.yaml")):
            values = _leaves(yaml.safe_load(path.read_text()) or {}, folder.name)
            repeated = [k for k, v in values.items()
                        if k not in identity and reduce(getattr, k.split("."), defaults) == v]
            assert repeated == [], f"{path.relative_to(REPO)} repeats the schema's defaults of {repeated}"


def _leaves(values: dict, path: str) -> dict[str, object]:
    leaves: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            leaves.update(_leaves(value, f"{path}.{name}"))
        else:
            leaves[f"{path}.{name}"] = value
    return leaves


def test_help_lists_every_key_with_its_default_and_allowed_values() -> None:
    text = reference.render_help()
    for key in (k for path, _ in sections() for k in reference.keys(path)):
        assert f"  {key.name}={key.default}  [{key.allowed}]" in text
    assert "agent.epsilon: Epsilon-greedy exploration" in text
