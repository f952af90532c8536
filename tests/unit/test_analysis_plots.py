"""The learning-curve figure as a reader sees it: the caption clear of the panel titles, and a
configuration's line visible even under another of exactly the same values."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mario_exp.analysis.plots import curves_figure, curves_plot

CONFIGS = ["batch 64 / every 5", "batch 64 / every 10", "batch 32 / every 5", "batch 32 / every 10"]


def curves(n_points: int = 200) -> pd.DataFrame:
    """Curves for CONFIGS on both metrics; the two batch-32 configurations are identical."""
    x = np.linspace(0, 1000, n_points)
    rows = []
    for metric in ("x_pos", "reward"):
        for i, config in enumerate(CONFIGS):
            mean = 300 + x * (0.4 if "32" in config else 0.1 * (i + 1))
            rows.append(pd.DataFrame({"axis": "env_step", "metric": metric, "config": config, "x": x,
                                      "mean": mean, "ci_lo": mean - 50, "ci_hi": mean + 50,
                                      "n": 2, "n_runs": 2}))
    return pd.concat(rows, ignore_index=True)


def drawn(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def test_the_caption_does_not_overlap_the_panel_titles() -> None:
    fig = curves_plot(curves(), "env_step", CONFIGS, {}, "training episodes, 50-episode mean")
    renderer = drawn(fig)
    caption = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        title = ax.title.get_window_extent(renderer)
        assert not caption.overlaps(title), (caption, title)
        assert caption.y0 >= title.y1


def test_identical_lines_show_their_markers_at_different_points() -> None:
    fig = curves_plot(curves(), "env_step", CONFIGS, {}, "training episodes, 50-episode mean")
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        same = [lines[c] for c in CONFIGS[2:]]
        assert np.array_equal(same[0].get_ydata(), same[1].get_ydata())  # one drawn over the other
        marked = []
        for line in same:
            start, step = line.get_markevery()
            marked.append(set(range(start, len(line.get_xdata()), step)))
            assert len(marked[-1]) >= 5
        assert not marked[0] & marked[1]
        assert len({lines[c].get_marker() for c in CONFIGS}) == len(CONFIGS)
        legend = fig.axes[1].get_legend()
        assert [h.get_marker() for h in legend.legend_handles] == [lines[c].get_marker() for c in CONFIGS]


def test_the_png_is_written() -> None:
    png = curves_figure(curves(), "env_step", CONFIGS, {}, "training episodes, 50-episode mean")
    assert png.startswith(b"\x89PNG")
