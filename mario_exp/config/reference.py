"""The configuration reference, rendered from the schema: docs/configuration.md and the keys'
part of `python train.py --help`.

    python -m mario_exp.config.reference            # print the page
    python -m mario_exp.config.reference --write    # rewrite docs/configuration.md (make docs)

Every key's type, default, allowed values and doc come from its `setting(...)` in
mario_exp/config/schema.py (and the RELATIONS there); the config groups' options, what each
sets and what each preset sweeps, from composing conf/ with Hydra. tests/unit/test_reference.py
fails when the committed page differs from what this renders.
"""
from __future__ import annotations

import argparse
import textwrap
from dataclasses import Field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from mario_exp.config import CHECKOUT, CONF_DIR
from mario_exp.config.schema import RELATIONS, register_schema, sections, settings

PAGE = CHECKOUT / "docs" / "configuration.md"
WRITE_COMMAND = "make docs (python -m mario_exp.config.reference --write)"


class Key(NamedTuple):
    name: str      # agent.batch_size
    type: str      # as the schema annotates it: int, Optional[int], ...
    default: str   # as YAML and the command line write it: 32, null, true
    allowed: str   # what validate() accepts, in words
    doc: str


def show(value: Any) -> str:
    """A value as YAML and the command line write it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    return str(value)


def _default(f: Field) -> Any:
    return f.default_factory() if callable(f.default_factory) else f.default


def keys(path: str) -> Iterator[Key]:
    """The keys directly in the schema's section `path` ("" for the top level)."""
    for name, f in settings():
        if name.rpartition(".")[0] == path:
            allowed = [f.metadata["allowed"].text] + [r.text for r in RELATIONS if r.key == name]
            yield Key(name, str(f.type), show(_default(f)), ", and ".join(allowed), f.metadata["doc"])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_help() -> str:
    """Every key with its default, allowed values and doc, as `train.py --help` prints them."""
    lines = ["Override any key with key=value. Each is shown with its default and, in brackets, what it",
             "accepts. docs/configuration.md has the same, and what each option of a group sets.", ""]
    for path, node in sections():
        title = _one_line(node.__doc__ or "")
        lines.extend(textwrap.wrap(f"{path}: {title}" if path else title, width=100))
        for key in keys(path):
            # Not wrapped: `train.py --help | grep KEY` shows the whole line.
            lines.append(f"  {key.name}={key.default}  [{key.allowed}]")
            lines.extend(textwrap.wrap(key.doc, width=100, initial_indent=" " * 6, subsequent_indent=" " * 6))
        lines.append("")
    # Hydra fills the help template in with string.Template, which reads `$` as a placeholder.
    return "\n".join(lines).rstrip().replace("$", "$$")


class Option(NamedTuple):
    name: str
    about: str               # the first paragraph of the YAML file's leading comment
    sets: dict[str, str]     # key -> value, where it differs from the defaults
    sweeps: dict[str, str]   # hydra.sweeper.params: a preset's own sweep or search space


def _about(path: Path) -> str:
    """The first paragraph of a YAML file's leading comment, without a closing colon (the
    example command it introduces is left out)."""
    words = []
    for line in path.read_text().splitlines():
        text = line.removeprefix("#")
        if not line.startswith("#") or (words and (not text.strip() or text.startswith("   "))):
            break
        if not text.strip().startswith("@package"):
            words.append(text.strip())
    return " ".join(words).rstrip(":")


def _leaves(cfg: DictConfig) -> dict[str, str]:
    """Each key's value in a composed config, as show() writes it."""
    values = {}
    for name, _ in settings():
        value = OmegaConf.select(cfg, name)
        values[name] = show(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)
    return values


def group_options(conf_dir: Path) -> dict[str, tuple[str, list[Option]]]:
    """Each config group of conf_dir (not Hydra's own): its default option and its options."""
    register_schema()
    GlobalHydra.instance().clear()
    groups = {}
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        base = compose("config", return_hydra_config=True)
        defaults = _leaves(base)
        for folder in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name != "hydra"):
            options = []
            for path in sorted(folder.glob("*.yaml")):
                cfg = compose("config", overrides=[f"{folder.name}={path.stem}"], return_hydra_config=True)
                sets = {k: v for k, v in _leaves(cfg).items() if v != defaults[k]}
                sweeps = {str(k): str(v) for k, v in (cfg.hydra.sweeper.get("params") or {}).items()}
                options.append(Option(path.stem, _about(path), sets, sweeps))
            groups[folder.name] = (show(base.hydra.runtime.choices.get(folder.name)), options)
    GlobalHydra.instance().clear()
    return groups


def table_cell(text: str) -> str:
    """Text for a Markdown table cell: `|` would end the cell (inside code too); outside code,
    `<world>` would be read as HTML and `*` as emphasis."""
    parts = text.replace("|", "\\|").split("`")
    parts[::2] = [part.replace("<", "\\<").replace("*", "\\*") for part in parts[::2]]
    return "`".join(parts)


def render_reference(conf_dir: Path = CONF_DIR) -> str:
    """docs/configuration.md."""
    out = [
        "# Configuration reference",
        "",
        f"<!-- Generated by {WRITE_COMMAND} from mario_exp/config/schema.py and conf/: edit those, "
        "not this page. tests/unit/test_reference.py fails when it is stale. -->",
        "",
        "Every key of a training run, with its type, default, the values it accepts and what it does, "
        "as the schema (`mario_exp/config/schema.py`) declares it; `python train.py --help` prints the "
        "same. Set any key on the command line (`python train.py agent.batch_size=64`); a value it does "
        "not accept is refused in one line before any job starts. The config groups' options and the "
        "presets set other values than these defaults: `python train.py --cfg job [OVERRIDES]` prints "
        "what a command line composes. Why each preset chooses its values: the comments in its YAML file "
        "and [Presets](presets.md). Where a sweep's jobs run (`hydra/launcher`): [Launchers](launchers.md).",
        "",
        "## Config groups",
        "",
        "`conf/config.yaml`'s defaults list picks the option of each group shown as the default; "
        "`group=option` on the command line picks another (`python train.py scheduler=plateau`). An "
        "option *sets* the keys where it differs from the defaults.",
    ]
    for group, (default, options) in group_options(conf_dir).items():
        out += ["", f"### `{group}` (default: `{default}`)", "", "| option | what it is | sets |", "|---|---|---|"]
        for option in options:
            sets = ", ".join(f"`{k}={v}`" for k, v in option.sets.items()) or "the defaults"
            if option.sweeps:
                sets += "; sweeps " + ", ".join(f"`{k}` over `{v}`" for k, v in option.sweeps.items())
            out.append(f"| `{option.name}` | {table_cell(option.about)} | {table_cell(sets)} |")
    out += ["", "## Keys"]
    for path, node in sections():
        out += ["", f"### `{path}`" if path else "### Top level", "", table_cell(_one_line(node.__doc__ or "")),
                "", "| key | type | default | allowed | what it does |", "|---|---|---|---|---|"]
        for key in keys(path):
            allowed, doc = table_cell(key.allowed), table_cell(key.doc)
            out.append(f"| `{key.name}` | `{key.type}` | `{key.default}` | {allowed} | {doc} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    """`python -m mario_exp.config.reference [--write]`."""
    parser = argparse.ArgumentParser(prog="python -m mario_exp.config.reference",
                                     description="Render the configuration reference from the schema.")
    parser.add_argument("--write", action="store_true",
                        help=f"rewrite {PAGE} instead of printing it")
    args = parser.parse_args(argv)
    page = render_reference()
    if args.write:
        PAGE.write_text(page)
        print(f"wrote {PAGE}")
    else:
        print(page, end="")


if __name__ == "__main__":
    main()
