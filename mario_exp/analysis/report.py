"""The two report documents: ``summary.md`` and a self-contained ``report.html``.

The HTML embeds its figures as base64 so it opens from disk (file://) with no server and still
works after being copied or mailed on its own.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import pandas as pd

from mario_exp.analysis.tables import to_markdown


@dataclass(frozen=True)
class ReportContent:
    """Everything both documents show."""

    title: str
    facts: list[tuple[str, str]]  # (what, value) lines: runs, metric, window, ...
    warnings: list[str]
    scores: pd.DataFrame  # formatted (string) tables
    training: pd.DataFrame
    per_run: pd.DataFrame
    figures: dict[str, bytes]  # file name -> PNG
    figure_captions: dict[str, str]
    definitions: list[str]
    data_files: list[str]


def render_markdown(c: ReportContent) -> str:
    """summary.md: tables, warnings and definitions; figures linked by file name."""
    out = [f"# {c.title}", ""]
    out += [f"- {what}: {value}" for what, value in c.facts] + [""]
    if c.warnings:
        out += ["## Warnings", ""] + [f"- {w}" for w in c.warnings] + [""]
    out += ["## Comparison", "", to_markdown(c.scores), ""]
    out += ["## Training cost and health", "", to_markdown(c.training), ""]
    if c.figures:
        out += ["## Figures", ""]
        out += [f"![{c.figure_captions.get(name, name)}]({name})" for name in c.figures] + [""]
    out += ["## Definitions", ""] + [f"- {d}" for d in c.definitions] + [""]
    out += ["Data: " + ", ".join(f"`{f}`" for f in c.data_files), ""]
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1600px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;white-space:nowrap}
th{background:#f3f3f3}
tr:nth-child(even) td{background:#fafafa}
.warn{color:#8a4b00}
figure{margin:1em 0}
figcaption{font-size:13px;color:#555}
img{max-width:100%}
.scroll{overflow-x:auto}
"""


def _table_html(frame: pd.DataFrame) -> str:
    return '<div class="scroll">' + frame.to_html(index=False, border=0, na_rep="-") + "</div>"


def render_html(c: ReportContent) -> str:
    """report.html: the whole analysis in one file, figures inlined."""
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(c.title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{esc(c.title)}</h1><ul>"]
    parts += [f"<li>{esc(what)}: {esc(value)}</li>" for what, value in c.facts]
    parts.append("</ul>")
    if c.warnings:
        parts.append("<h2>Warnings</h2><ul class='warn'>")
        parts += [f"<li>{esc(w)}</li>" for w in c.warnings]
        parts.append("</ul>")
    parts += ["<h2>Comparison</h2>", _table_html(c.scores),
              "<h2>Training cost and health</h2>", _table_html(c.training)]
    if c.figures:
        parts.append("<h2>Figures</h2>")
        for name, png in c.figures.items():
            data = base64.b64encode(png).decode("ascii")
            caption = esc(c.figure_captions.get(name, name))
            parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{caption}'>"
                         f"<figcaption>{caption} ({esc(name)})</figcaption></figure>")
    parts.append("<h2>Definitions</h2><ul>")
    parts += [f"<li>{esc(d)}</li>" for d in c.definitions]
    parts.append("</ul><h2>Every run</h2><details><summary>per-run table "
                 f"({len(c.per_run)} runs)</summary>")
    parts.append(_table_html(c.per_run))
    parts.append("</details><p>Data: ")
    parts.append(", ".join(f"<a href='{esc(f)}'>{esc(f)}</a>" for f in c.data_files))
    parts.append("</p></body></html>")
    return "\n".join(parts)
