"""Figures as PNG bytes: learning curves (env steps, wall clock), final scores, heatmap.

Uses matplotlib's object API on the Agg canvas (no pyplot): no global figure state, no GUI
backend, and rendering happens in memory so nothing is written unless the whole analysis worked.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

METRIC_TITLES = {"x_pos": "x_pos (distance)", "reward": "episode reward"}
DPI = 100
# Each configuration's curve carries its own marker, a few per line, at positions staggered
# between configurations: a line drawn under another of the same values (two configurations
# that have not learned anything different yet) still shows its markers between the other's.
MARKERS = ["o", "s", "^", "v", "D", "P", "X", "<", ">", "*"]
MARKS_PER_LINE = 8


def _colors(n: int) -> list[tuple[float, ...]]:
    # Qualitative colours while they stay distinguishable, then an even sweep of a colormap.
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "turbo"]
    return [cmap(i if n <= 10 else i / max(n - 1, 1)) for i in range(n)]


def _markevery(n_points: int, index: int, n_lines: int) -> tuple[int, int]:
    """Every `step`-th point from an offset that differs for each of the `n_lines` lines."""
    step = max(1, n_points // MARKS_PER_LINE)
    return (index * step // max(n_lines, 1)) % step, step


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _time_scale(max_seconds: float) -> tuple[float, str]:
    if max_seconds > 2 * 3600:
        return 3600.0, "wall-clock time (h)"
    if max_seconds > 120:
        return 60.0, "wall-clock time (min)"
    return 1.0, "wall-clock time (s)"


def curves_figure(curves: pd.DataFrame, axis: str, order: list[str],
                  legend: dict[str, str], points: str) -> bytes:
    """curves_plot as PNG bytes."""
    return _png(curves_plot(curves, axis, order, legend, points))


def curves_plot(curves: pd.DataFrame, axis: str, order: list[str],
                legend: dict[str, str], points: str) -> Figure:
    """x_pos and reward against ``axis`` ("env_step" or "wall_time"), one line per config;
    ``points`` says what the curves are made of ("training episodes, 50-episode mean").

    Solid where every seed of the configuration covers the point, dashed where only some do
    (live runs, different budgets); the band is the 95% bootstrap CI of the mean across seeds.
    Each line has its own marker at staggered points (MARKERS), so identical lines stay visible.
    """
    # Constrained layout keeps the figure's caption, the two-line panel titles and the legend
    # beside the panels from overlapping.
    fig = Figure(figsize=(13, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    data = curves[curves["axis"] == axis]
    scale, xlabel = (1.0, "env steps") if axis == "env_step" else _time_scale(
        float(data["x"].max()) if len(data) else 0.0)
    colors = dict(zip(order, _colors(len(order))))
    for ax, metric in zip(axes, ("x_pos", "reward")):
        part = data[data["metric"] == metric]
        for index, label in enumerate(order):
            c = part[part["config"] == label]
            if c.empty:
                continue
            x = c["x"].to_numpy() / scale
            mean = c["mean"].to_numpy()
            full = (c["n"] == c["n_runs"]).to_numpy()
            color = colors[label]
            marks = {"marker": MARKERS[index % len(MARKERS)], "markersize": 5,
                     "markevery": _markevery(len(x), index, len(order))}
            ax.plot(x, np.where(full, mean, np.nan), color=color, lw=1.6,
                    label=legend.get(label, label), **marks)
            if not full.all():
                ax.plot(x, np.where(full, np.nan, mean), color=color, lw=1.0, ls="--", **marks)
            ax.fill_between(x, c["ci_lo"].to_numpy(), c["ci_hi"].to_numpy(), color=color,
                            alpha=0.18, lw=0)
        ax.set_title(f"{METRIC_TITLES[metric]}\n{points}", fontsize=10)
        ax.set_xlabel(xlabel)
        if axis == "env_step":
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, not 200000
        ax.grid(alpha=0.3)
    if order:
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False,
                       ncol=1 if len(order) <= 20 else 2)
    fig.suptitle("mean across seeds, shaded: 95% bootstrap CI; dashed: not all seeds reach here; "
                 "markers tell apart lines that coincide", fontsize=9)
    return fig


def final_scores_figure(summary: pd.DataFrame, finals: dict[str, list[float]], metric: str,
                        legend: dict[str, str]) -> bytes:
    """Every seed's final score as a dot, with the configuration's IQM and 95% CI."""
    labels = list(summary["config"])
    n = len(labels)
    fig = Figure(figsize=(8, 1.2 + 0.32 * max(n, 1)))
    ax = fig.subplots()
    ys = n - 1 - np.arange(n)  # best configuration (first row) at the top
    seed_x = np.concatenate([np.asarray(finals.get(lbl, []), dtype=float) for lbl in labels])
    seed_y = np.repeat(ys, [len(finals.get(lbl, [])) for lbl in labels]).astype(float)
    rng = np.random.default_rng(0)  # vertical jitter only, fixed so figures are reproducible
    ax.scatter(seed_x, seed_y + rng.uniform(-0.12, 0.12, seed_y.size), s=14, color="0.45",
               zorder=2)
    lo = summary[f"{metric}_ci_lo"].to_numpy(dtype=float)
    hi = summary[f"{metric}_ci_hi"].to_numpy(dtype=float)
    ax.hlines(ys, lo, hi, color="tab:blue", lw=3, alpha=0.6, zorder=1)  # NaN: no CI, no bar
    ax.scatter(summary[f"{metric}_iqm"].to_numpy(dtype=float), ys, marker="D", s=40,
               color="tab:blue", zorder=3)
    ax.set_yticks(ys, [legend.get(lbl, lbl) for lbl in labels], fontsize=8)
    ax.set_xlabel(f"final {METRIC_TITLES[metric]}, over the final window of env steps")
    ax.set_title("dots: seeds; diamond: IQM; bar: 95% bootstrap CI", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _sorted_values(values: pd.Series) -> list[str]:
    def key(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), "")
        except ValueError:
            return (1, 0.0, v)
    return sorted(values.astype(str).unique(), key=key)


def heatmap_figure(summary: pd.DataFrame, keys: list[str], metric: str) -> bytes:
    """Final-``metric`` IQM over the grid of exactly two swept hyperparameters."""
    row_key, col_key = keys
    rows, cols = _sorted_values(summary[row_key]), _sorted_values(summary[col_key])
    grid = np.full((len(rows), len(cols)), np.nan)
    seeds = np.zeros(grid.shape, dtype=int)
    for _, r in summary.iterrows():
        i, j = rows.index(str(r[row_key])), cols.index(str(r[col_key]))
        grid[i, j] = r[f"{metric}_iqm"]
        seeds[i, j] = r["scored"]
    fig = Figure(figsize=(1.6 + 1.1 * len(cols), 1.4 + 0.6 * len(rows)))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(len(rows)):
        for j in range(len(cols)):
            value = grid[i, j]
            text = f"{value:.0f}\nn={seeds[i, j]}" if np.isfinite(value) else "no runs"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if np.isfinite(value) and value < mid else "black")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(col_key)
    ax.set_ylabel(row_key)
    ax.set_title(f"final {METRIC_TITLES[metric]}: IQM across seeds", fontsize=10)
    fig.colorbar(image, ax=ax)
    return _png(fig)
