"""Analyse mario-exp runs: comparison tables, learning curves and an HTML report.

    python analyze.py                                  # every run under outputs/
    python analyze.py outputs/multirun/2026-05-01/10-00-00 --baseline agent.batch_size=32

Writes outputs/analysis/<date>/<time>/ (summary.md, summary.csv, per_run.csv, curves.csv, PNG
figures, report.html), prints the comparison table and the report's path.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from mario_exp.analysis.errors import AnalysisError
from mario_exp.analysis.pipeline import Options, analyse
from mario_exp.analysis.scores import FINAL_FRAC, SMOOTH, X_THRESHOLD
from mario_exp.analysis.seeds_needed import POWER
from mario_exp.analysis.stats import N_BOOT
from mario_exp.analysis.summary import METRICS
from mario_exp.cli.common import OneLineParser, fail, positive_int

PROG = "analyze.py"


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise ValueError(text)
    return value


_fraction.__name__ = "fraction in (0, 1]"


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise ValueError(text)
    return value


_probability.__name__ = "probability strictly between 0 and 1"


def build_parser() -> argparse.ArgumentParser:
    """The command line (also used by the README's usage block)."""
    p = OneLineParser(prog=PROG, description="Compare mario-exp runs across seeds and "
                      "configurations: tables, curves, report.html.")
    p.add_argument("paths", nargs="*", type=Path, metavar="RUN_OR_SWEEP",
                   help="run folders or folders containing runs (e.g. one sweep); "
                        "default: every run under --outputs")
    p.add_argument("--outputs", type=Path, default=Path("outputs"), metavar="DIR",
                   help="outputs root to scan and to write analysis/ into (default: outputs)")
    p.add_argument("--latest", action="store_true",
                   help="analyse only the newest sweep (or single run) under --outputs")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="analysis folder to create (default: OUTPUTS/analysis/<date>/<time>)")
    p.add_argument("--metric", choices=METRICS, default="x_pos",
                   help="headline metric: row order, P(improvement), heatmap (default: x_pos)")
    p.add_argument("--group-by", nargs="+", metavar="KEY",
                   help="group runs by these config keys instead of their overrides minus seed")
    p.add_argument("--baseline", nargs="+", metavar="KEY=VALUE",
                   help="configuration to compare against with P(improvement), "
                        "e.g. agent.batch_size=32")
    p.add_argument("--threshold", type=float, default=X_THRESHOLD, metavar="X",
                   help=f"x_pos for the steps-to-threshold column (default: {X_THRESHOLD:g})")
    p.add_argument("--final-frac", type=_fraction, default=FINAL_FRAC, metavar="F",
                   help=f"final window as a fraction of env steps (default: {FINAL_FRAC:g})")
    p.add_argument("--smooth", type=positive_int, default=SMOOTH, metavar="N",
                   help=f"episodes in the trailing mean of the curves (default: {SMOOTH})")
    p.add_argument("--grid", type=positive_int, default=200, metavar="N",
                   help="points on the common curve grid (default: 200)")
    p.add_argument("--bootstrap", type=positive_int, default=N_BOOT, metavar="N",
                   help=f"bootstrap resamples for confidence intervals (default: {N_BOOT})")
    p.add_argument("--until", type=positive_int, metavar="STEPS",
                   help="score every run as it stood at this env step (episodes and evaluations "
                        "after it left out), to compare runs of different budgets at one step")
    p.add_argument("--power", type=_probability, default=POWER, metavar="P",
                   help="with --baseline, the power of the seeds-needed column: seeds an arm "
                        "for which a study's P(improvement) interval excludes 0.5 this often "
                        f"(default: {POWER:g})")
    p.add_argument("--seed", type=int, default=0,
                   help="rng seed of the bootstrap, for reproducible intervals (default: 0)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.grid < 2:
        fail(PROG, f"--grid must be at least 2, got {args.grid}")
    if args.latest and args.paths:
        fail(PROG, "--latest picks the folder itself; do not also pass run or sweep folders")
    opts = Options(paths=args.paths, outputs=args.outputs, latest=args.latest, out=args.out,
                   metric=args.metric, group_by=args.group_by, baseline=args.baseline,
                   threshold=args.threshold,
                   final_frac=args.final_frac, smooth=args.smooth, grid=args.grid,
                   n_boot=args.bootstrap, seed=args.seed, until=args.until, power=args.power,
                   command=shlex.join([PROG, *(sys.argv[1:] if argv is None else argv)]))
    try:
        result = analyse(opts)
    except AnalysisError as exc:
        fail(PROG, str(exc))
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    print(result.tables)
    print(f"\nstanding: {result.standing}")
    print(f"\nanalysis: {result.out_dir}")
    print(f"report: {(result.out_dir / 'report.html').resolve()}")
    return 0

