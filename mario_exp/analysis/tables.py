"""Human-readable tables: the per-run frame and the formatted summary tables (markdown/HTML).

Cells say what is missing instead of inventing it: one seed gives "(1 seed: no CI)", a threshold
never reached gives "> budget". Plain ASCII so the terminal table prints under any locale.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import pandas as pd

from mario_exp.analysis.seeds_needed import POWER
from mario_exp.analysis.summary import Scored
from mario_exp.rundir.contract import FINISHED, STATUSES

DASH = "-"


def _nan(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_num(v: object) -> str:
    """Compact number: 3 significant-ish digits, integers for large values."""
    if _nan(v):
        return DASH
    x = float(v)  # type: ignore[arg-type]
    if x != 0 and abs(x) < 0.01:
        return f"{x:.2g}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def fmt_steps(v: object) -> str:
    """Env steps as 950, 12.3k, 1.25M."""
    if _nan(v):
        return DASH
    x = float(v)  # type: ignore[arg-type]
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g}M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.0f}"


def fmt_duration(seconds: object) -> str:
    """Wall-clock time as 42s, 12.5 min, 3.2 h."""
    if _nan(seconds):
        return DASH
    s = float(seconds)  # type: ignore[arg-type]
    if s < 60:
        return f"{s:.0f}s"
    return f"{s / 60:.1f} min" if s < 3600 else f"{s / 3600:.1f} h"


def fmt_iqm(row: pd.Series, metric: str, seeds: str = "scored") -> str:
    """IQM with its 95% CI, or why there is no CI; `seeds` names the column counting the
    seeds behind it ("evaluated" for the evaluation's eval_* metrics)."""
    n = int(row[seeds])
    if n == 0:
        return DASH
    value = fmt_num(row[f"{metric}_iqm"])
    if n == 1:
        return f"{value} (1 seed: no CI)"
    return f"{value} [{fmt_num(row[f'{metric}_ci_lo'])}, {fmt_num(row[f'{metric}_ci_hi'])}]"


def fmt_mean_std(row: pd.Series, metric: str) -> str:
    """mean +- sample std; a single seed has no std."""
    n = int(row["scored"])
    if n == 0:
        return DASH
    if n == 1:
        return f"{fmt_num(row[f'{metric}_mean'])} (1 seed: no std)"
    return f"{fmt_num(row[f'{metric}_mean'])} +- {fmt_num(row[f'{metric}_std'])}"


def fmt_seeds(row: pd.Series) -> str:
    """Seeds launched, and how many have scores when that is fewer (no episodes, failed)."""
    seeds, scored = int(row["seeds"]), int(row["scored"])
    return str(seeds) if scored == seeds else f"{seeds} ({scored} scored)"


def fmt_runs(row: pd.Series) -> str:
    """'3 done', '2 done, 1 running, 1 failed'."""
    parts = [f"{int(row[f'runs_{s}'])} {'done' if s == FINISHED else s}" for s in STATUSES
             if int(row[f"runs_{s}"])]
    return ", ".join(parts) or DASH


def fmt_env_steps(row: pd.Series) -> str:
    """Env steps reached (range when seeds differ) over the budget."""
    if _nan(row["steps_min"]):
        return DASH
    lo, hi = row["steps_min"], row["steps_max"]
    reached = fmt_steps(lo)
    if fmt_steps(hi) != reached:
        reached = f"{reached}-{fmt_steps(hi)}"
    if _nan(row["budget_max"]):
        return reached
    budget = fmt_steps(row["budget_max"])
    if row["budget_min"] != row["budget_max"]:
        budget = f"{fmt_steps(row['budget_min'])}-{budget}"
    return f"{reached}/{budget}"


def fmt_threshold(row: pd.Series) -> str:
    """Median env steps to the x_pos threshold with k/n seeds; '> budget' when not reached."""
    n = int(row["scored"])
    if n == 0:
        return DASH
    reached = f"({int(row['threshold_seeds'])}/{n})"
    value = row["steps_to_threshold"]
    if math.isinf(value):
        horizon = row["budget_max"] if not _nan(row["budget_max"]) else row["steps_max"]
        return f"> {fmt_steps(horizon)} {reached}"
    return f"{fmt_steps(value)} {reached}"


def fmt_improvement(row: pd.Series, baseline: str | None) -> str:
    """P(config beats baseline) with its CI; 'baseline' on the baseline's own row."""
    if row["config"] == baseline:
        return "baseline"
    if _nan(row.get("p_improve")):
        return DASH
    value = f"{row['p_improve']:.2f}"
    if _nan(row["p_improve_lo"]):
        return f"{value} (no CI: <2 seeds)"
    return f"{value} [{row['p_improve_lo']:.2f}, {row['p_improve_hi']:.2f}]"


def fmt_seeds_needed(row: pd.Series, baseline: str | None) -> str:
    """Seeds an arm for P(improvement)'s interval to exclude 0.5, or why there is no count."""
    if row["config"] == baseline:
        return "baseline"
    if not _nan(row.get("seeds_needed")):
        return str(int(row["seeds_needed"]))
    return str(row.get("seeds_needed_note") or DASH)


def fmt_note(row: pd.Series) -> str:
    """Warnings a reader must see next to the numbers."""
    notes = []
    if int(row["scored"]) == 0:
        notes.append("no scored runs")
    if row["exploration_only"]:
        notes.append("eps never < 0.5: compares exploration noise")
    return "; ".join(notes)


def _key_columns(summary: pd.DataFrame, swept: list[str]) -> dict[str, pd.Series]:
    if swept:
        return {k: summary[k].astype(str) for k in swept}
    return {"config": summary["config"]}


def _per_row(summary: pd.DataFrame, fmt: Callable[[pd.Series], str]) -> pd.Series:
    return pd.Series([fmt(r) for _, r in summary.iterrows()], index=summary.index, dtype=object)


def scores_table(summary: pd.DataFrame, swept: list[str], metric: str, threshold: float,
                 baseline: str | None, power: float = POWER) -> pd.DataFrame:
    """The comparison table: what each configuration scored and how sure we are."""
    cols = _key_columns(summary, swept)
    cols["seeds"] = _per_row(summary, fmt_seeds)
    cols["runs"] = _per_row(summary, fmt_runs)
    cols["env steps"] = _per_row(summary, fmt_env_steps)
    order = [metric] + [m for m in ("x_pos", "reward") if m != metric]
    for m in order:
        cols[f"final {m} IQM [95% CI]"] = _per_row(summary, lambda r, m=m: fmt_iqm(r, m))
        cols[f"final {m} mean +- std"] = _per_row(summary, lambda r, m=m: fmt_mean_std(r, m))
    if summary["evaluated"].sum() > 0:  # only sweeps with evaluation get these columns
        cols[f"eval final {metric} IQM [95% CI]"] = _per_row(
            summary, lambda r: fmt_iqm(r, f"eval_{metric}", seeds="evaluated"))
        cols["eval flag rate"] = summary["eval_flag_rate"].map(fmt_num)
    cols["flag rate"] = summary["flag_rate"].map(fmt_num)
    cols["flag seeds"] = _per_row(
        summary, lambda r: f"{int(r['flag_seeds'])}/{int(r['scored'])}" if r["scored"] else DASH)
    cols["x_pos AUC"] = summary["auc_x_pos"].map(fmt_num)
    cols[f"steps to x_pos {threshold:g}"] = _per_row(summary, fmt_threshold)
    cols["best x_pos"] = summary["best_x_pos"].map(fmt_num)
    if baseline is not None:
        cols[f"P({metric} > baseline)"] = _per_row(summary,
                                                   lambda r: fmt_improvement(r, baseline))
        cols[f"seeds needed ({power:.0%} power)"] = _per_row(
            summary, lambda r: fmt_seeds_needed(r, baseline))
    cols["note"] = _per_row(summary, fmt_note)
    return pd.DataFrame(cols)


def training_table(summary: pd.DataFrame, swept: list[str]) -> pd.DataFrame:
    """Cost and training-health columns (medians / means over the scored seeds)."""
    cols = _key_columns(summary, swept)
    cols["wall time"] = summary["wall_time"].map(fmt_duration)
    cols["run-hours"] = summary["run_hours"].map(fmt_num)
    cols["steps/s"] = summary["steps_per_second"].map(fmt_num)
    cols["CPU"] = summary["cpus"].map(lambda cpus: cpus if isinstance(cpus, str) and cpus else DASH)
    cols["final eps"] = summary["final_epsilon"].map(fmt_num)
    cols["min eps"] = summary["min_epsilon"].map(fmt_num)
    cols["final loss"] = summary["final_loss"].map(fmt_num)
    cols["final Q"] = summary["final_q"].map(fmt_num)
    return pd.DataFrame(cols)


def to_markdown(table: pd.DataFrame) -> str:
    """Pipe table with padded columns: valid markdown and readable in a terminal."""
    header = [str(c) for c in table.columns]
    body = [[str(v) for v in row] for row in table.itertuples(index=False)]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def per_run_frame(scored: list[Scored], labels: dict[Path, str]) -> pd.DataFrame:
    """Every run: folder, status, configuration, overrides and its own scores."""
    rows = []
    for s in scored:
        run = s.run
        row: dict[str, object] = {
            "run": run.name, "config": labels[run.path], "seed": run.seed,
            "status": run.status, "in_statistics": s.counts, "error": run.error or "",
            "overrides": " ".join(run.overrides), "source": run.source, "budget": run.budget,
            "env_step_reached": run.env_step,
        }
        if s.scores is not None:
            row.update(s.scores.as_dict())
        else:
            row["episodes"] = 0
        row["warnings"] = " | ".join(run.warnings)
        rows.append(row)
    return pd.DataFrame(rows)
