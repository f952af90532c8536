"""Runs -> tables, curves, figures, report, written as one analysis folder.

Everything is computed in memory first and written to a hidden temp folder that is renamed into
place at the end, so a failure never leaves a half-written analysis behind.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mario_exp.analysis import plots
from mario_exp.analysis.curves import band_frame, common_grid, smooth
from mario_exp.analysis.errors import AnalysisError
from mario_exp.analysis.evals import evaluation_means
from mario_exp.analysis.groups import RunGroup, find_baseline, group_runs, mixed_config_keys
from mario_exp.analysis.report import ReportContent, render_html, render_markdown
from mario_exp.analysis.runs import BUDGET_KEY, Run, display_path, find_run_dirs, load_runs
from mario_exp.analysis.scores import EXPLORATION_EPSILON, FINAL_FRAC, SMOOTH, X_THRESHOLD, score_run
from mario_exp.analysis.seeds_needed import MAX_SEEDS, N_INNER, N_STUDIES, NO_EFFECT, NO_SPREAD, POWER, TOO_FEW_SEEDS
from mario_exp.analysis.stats import N_BOOT
from mario_exp.analysis.summary import METRICS, Scored, config_summary
from mario_exp.analysis.tables import per_run_frame, scores_table, to_markdown, training_table
from mario_exp.rundir.contract import CONFIG_YAML, EVALS_CSV, FINISHED, INTERRUPTED, RUNNING, STATUSES

ANALYSIS_DIR = "analysis"
# Scored seeds each configuration needs before the analysis calls its comparison final rather
# than a screen: from 4 to 5 seeds an arm, the P(improvement) interval's error rate between
# identical arms falls to about 10% (2 seeds: 33%, 3: 19%; benchmarks/interval_errors.py).
FINAL_SEEDS = 5


@dataclass(frozen=True)
class Options:
    """What to analyse and how (analyze.py's command line)."""

    paths: list[Path] = field(default_factory=list)  # run/sweep folders; empty: all of outputs
    outputs: Path = Path("outputs")
    latest: bool = False  # only the newest sweep or single run under outputs
    out: Path | None = None  # default outputs/analysis/<date>/<time>
    metric: str = "x_pos"
    group_by: list[str] | None = None
    baseline: list[str] | None = None
    threshold: float = X_THRESHOLD
    final_frac: float = FINAL_FRAC
    smooth: int = SMOOTH
    grid: int = 200
    n_boot: int = N_BOOT
    seed: int = 0
    until: int | None = None  # score every run as it stood at this env step
    power: float = POWER  # of the seeds-needed estimate against the baseline
    command: str = ""


@dataclass(frozen=True)
class Result:
    """What analyze.py prints."""

    out_dir: Path
    tables: str
    warnings: list[str]
    standing: str   # "final: ..." or "screen: <why not final>"


def discover(opts: Options) -> list[Path]:
    """Run folders to analyse; AnalysisError when there are none."""
    skip = (opts.outputs / ANALYSIS_DIR,)
    if opts.latest:
        return find_run_dirs(latest_launch(opts.outputs), skip)
    if not opts.paths:
        if not opts.outputs.is_dir():
            raise AnalysisError(f"outputs folder '{opts.outputs}' does not exist; train first "
                                "(python train.py) or pass --outputs DIR or run folders")
        found = find_run_dirs(opts.outputs, skip)
        if not found:
            raise AnalysisError(f"no run folders under '{opts.outputs}' (a run folder contains "
                                f"{CONFIG_YAML}); train first with python train.py")
        return found
    found = []
    for path in opts.paths:
        if not path.is_dir():
            raise AnalysisError(f"'{path}' is not a folder (expected a run folder or a sweep "
                                "folder containing run folders)")
        runs = find_run_dirs(path, skip)
        if not runs:
            raise AnalysisError(f"no run folders under '{path}' (a run folder contains "
                                f"{CONFIG_YAML})")
        found.extend(runs)
    unique = {p.resolve(): p for p in found}  # a run listed twice is still one run
    return list(unique.values())


def latest_launch(outputs: Path) -> Path:
    """The newest sweep (multirun/<date>/<time>) or single run (runs/<date>/<time>)."""
    launches = [p for kind in ("multirun", "runs") for p in outputs.glob(f"{kind}/*/*")
                if p.is_dir() and find_run_dirs(p)]
    if not launches:
        raise AnalysisError(f"--latest found no sweep or run under '{outputs}/multirun' or "
                            f"'{outputs}/runs'; train first with python train.py")
    # Hydra names them <YYYY-MM-DD>/<HH-MM-SS>, so the name order is the time order.
    return max(launches, key=lambda p: (p.parent.name, p.name))


def analyse(opts: Options) -> Result:
    """Do the whole analysis and write it; returns the folder and the printed tables."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    runs = load_runs(discover(opts), opts.until)
    groups, swept = group_runs(runs, opts.group_by)
    baseline = find_baseline(groups, opts.baseline) if opts.baseline else None
    out_dir = _output_dir(opts)

    scored = {r.path: Scored(r, score_run(r.episodes, opts.final_frac, opts.threshold,
                                          opts.smooth, r.evals)) for r in runs}
    summary = config_summary(groups, swept, scored, opts.metric, baseline, opts.seed, opts.n_boot,
                             opts.power)
    labels = {r.path: g.label for g in groups for r in g.runs}
    order = list(summary["config"])
    legend = {g.label: (", ".join(f"{k}={g.settings[k]}" for k in swept) or g.label)
              for g in groups}
    by_label = {g.label: g for g in groups}

    warnings = [w for r in runs for w in r.warnings] + _sweep_warnings(runs, groups, summary)
    warnings += _seeds_needed_warnings(summary, opts.metric)
    if not opts.group_by:   # --group-by pools what differs in other keys on purpose
        warnings += _mixed_config_warnings(groups)
    source = curve_source(runs, scored)
    if source == "train" and any(len(r.evals) for r in runs):
        warnings.append(f"some runs have no {EVALS_CSV}: curves show training episodes for all runs")
    curves = _curves(groups, scored, opts, source)
    curves = curves.merge(summary[["config", *swept]], on="config", how="left")
    figures, captions = _figures(summary, curves, scored, by_label, swept, order, legend, opts,
                                 source)
    if not figures:
        warnings.append("no run has scored episodes yet: no figures")

    standing = comparison_standing(runs, summary, opts.until)
    baseline_label = baseline.label if baseline else None
    scores = scores_table(summary, swept, opts.metric, opts.threshold, baseline_label, opts.power)
    training = training_table(summary, swept)
    per_run = per_run_frame([scored[r.path] for r in runs], labels)
    data_files = ["summary.csv", "per_run.csv", "curves.csv", "summary.md"]
    content = ReportContent(
        title="mario-exp sweep analysis",
        facts=[*_facts(opts, runs, groups, baseline_label, started), ("standing", standing)],
        warnings=warnings, scores=scores, training=training, per_run=per_run,
        figures=figures, figure_captions=captions,
        definitions=_definitions(opts), data_files=data_files)
    files: dict[str, bytes] = {
        "summary.csv": summary.to_csv(index=False).encode(),
        "per_run.csv": per_run.to_csv(index=False).encode(),
        "curves.csv": curves.to_csv(index=False, float_format="%.6g").encode(),
        "summary.md": render_markdown(content).encode(),
        "report.html": render_html(content).encode(),
        **figures,
    }
    _write_atomically(out_dir, files)
    text = "\n\n".join([to_markdown(scores), to_markdown(training)])
    return Result(out_dir, text, warnings, standing)


def _output_dir(opts: Options) -> Path:
    if opts.out is not None:
        if opts.out.exists() and (not opts.out.is_dir() or any(opts.out.iterdir())):
            raise AnalysisError(f"--out '{opts.out}' already exists and is not an empty folder; "
                                "choose a new folder")
        return opts.out
    base = opts.outputs / ANALYSIS_DIR / time.strftime("%Y-%m-%d") / time.strftime("%H-%M-%S")
    out, n = base, 0
    while out.exists():  # two analyses in the same second
        n += 1
        out = base.with_name(f"{base.name}_{n}")
    return out


def _write_atomically(out_dir: Path, files: dict[str, bytes]) -> None:
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    try:
        tmp.mkdir(parents=True, exist_ok=False)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if out_dir.is_dir():
            out_dir.rmdir()  # checked empty in _output_dir; rename needs the name free
        tmp.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AnalysisError(f"cannot write analysis folder '{out_dir}': "
                            f"{exc.strerror or exc}") from exc


def curve_source(runs: list[Run], scored: dict[Path, Scored]) -> str:
    """"eval" when every scored run has evaluations: they were made at the same env steps in
    every run and without exploration noise, so they compare policies better than training
    episodes do. Otherwise "train", for all runs alike."""
    counted = [r for r in runs if scored[r.path].counts]
    return "eval" if counted and all(len(r.evals) for r in counted) else "train"


def _run_curve(run: Run, axis: str, metric: str, source: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """A run's (x, y) points: the mean of each evaluation, or its smoothed training episodes."""
    if source == "eval":
        means = evaluation_means(run.evals)
        return means[axis].to_numpy(dtype=float), means[metric].to_numpy(dtype=float)
    return (run.episodes[axis].to_numpy(dtype=float),
            smooth(run.episodes[metric].to_numpy(dtype=float), window))


def _curves(groups: list[RunGroup], scored: dict[Path, Scored], opts: Options,
            source: str) -> pd.DataFrame:
    """Long curves table: metric x axis x configuration x grid point, from `source`'s points."""
    parts = []
    for axis in ("env_step", "wall_time"):
        per_config: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = {
            m: {} for m in METRICS}
        end = 0.0
        for group in groups:
            for m in METRICS:
                per_config[m][group.label] = []
            for run in group.runs:
                if not scored[run.path].counts:
                    continue
                for m in METRICS:
                    # A run that counts has points, each with a finite step and wall time: the
                    # CSV readers drop any other row.
                    x, y = _run_curve(run, axis, m, source, opts.smooth)
                    end = max(end, float(x[-1]))
                    per_config[m][group.label].append((x, y))
        if end <= 0:
            continue
        grid = common_grid(end, opts.grid)
        for m in METRICS:
            frame = band_frame(per_config[m], grid, opts.seed)
            frame.insert(0, "axis", axis)
            frame.insert(0, "metric", m)
            frame.insert(0, "source", source)
            parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["source", "metric", "axis", "config", "x", "mean", "ci_lo",
                                     "ci_hi", "n", "n_runs"])
    return pd.concat(parts, ignore_index=True)


def _figures(summary: pd.DataFrame, curves: pd.DataFrame, scored: dict[Path, Scored],
             by_label: dict[str, RunGroup], swept: list[str], order: list[str],
             legend: dict[str, str], opts: Options, source: str,
             ) -> tuple[dict[str, bytes], dict[str, str]]:
    if curves.empty:
        return {}, {}
    figures: dict[str, bytes] = {}
    captions: dict[str, str] = {}
    points = ("near-greedy evaluations" if source == "eval"
              else f"training episodes, {opts.smooth}-episode mean")
    for axis, name, what in (("env_step", "curves_env_steps.png", "env steps"),
                             ("wall_time", "curves_wall_time.png", "wall-clock time")):
        if (curves["axis"] == axis).any():
            figures[name] = plots.curves_figure(curves, axis, order, legend, points)
            captions[name] = f"x_pos and reward against {what} ({points}), mean of seeds with 95% CI"
    finals = {label: [getattr(scored[r.path].scores, f"final_{opts.metric}")
                      for r in by_label[label].runs if scored[r.path].counts]
              for label in order}
    name = f"final_{opts.metric}.png"
    figures[name] = plots.final_scores_figure(summary, finals, opts.metric, legend)
    captions[name] = f"final {opts.metric} per seed, IQM and 95% CI per configuration"
    if len(swept) == 2:
        name = f"heatmap_{opts.metric}.png"
        figures[name] = plots.heatmap_figure(summary, swept, opts.metric)
        captions[name] = f"final {opts.metric} IQM over {swept[0]} x {swept[1]}"
    return figures, captions


def comparison_standing(runs: list[Run], summary: pd.DataFrame, until: int | None) -> str:
    """Whether the figures are a final comparison or a screen, and why a screen: runs that have
    not finished their budgets, configurations with fewer than FINAL_SEEDS scored seeds, or
    scores cut at --until rather than at the runs' own budgets."""
    reasons = []
    unfinished = sum(r.status != FINISHED for r in runs)
    if unfinished:
        reasons.append(f"{unfinished} of {len(runs)} runs have not finished their budgets")
    few = int((summary["scored"] < FINAL_SEEDS).sum())
    if few:
        reasons.append(f"{few} of {len(summary)} configurations have fewer than {FINAL_SEEDS} "
                       "scored seeds")
    if until is not None:
        reasons.append(f"scored at env step {until:,} (--until), not at the runs' budgets")
    if reasons:
        return "screen: " + "; ".join(reasons)
    return f"final: every run finished its budget, {FINAL_SEEDS} or more seeds a configuration"


def _sweep_warnings(runs: list[Run], groups: list[RunGroup], summary: pd.DataFrame) -> list[str]:
    """Problems of the comparison as a whole, one line each."""
    out = []
    budgets = sorted({r.budget for r in runs if r.budget is not None})
    if len(budgets) > 1:
        listed = (", ".join(map(str, budgets)) if len(budgets) <= 4
                  else f"{len(budgets)} values from {budgets[0]} to {budgets[-1]}")
        out.append(f"runs have different budgets ({BUDGET_KEY}: {listed}): each final "
                   "score covers the end of its own run; compare the curves at equal env steps")
    running = sum(r.status == RUNNING for r in runs)
    if running:
        out.append(f"{running} run(s) still running: their scores are provisional")
    interrupted = sum(r.status == INTERRUPTED for r in runs)
    if interrupted:
        out.append(f"{interrupted} run(s) interrupted: rerun their command in the same folder to "
                   "resume them; their scores are provisional")
    for group in groups:
        seeds = [r.seed for r in group.runs]
        repeated = sorted({str(s) for s in seeds if seeds.count(s) > 1})
        if repeated:
            out.append(f"{group.label}: several runs share seed {', '.join(repeated)} "
                       "(repeats, not independent seeds)")
    for row in summary[summary["exploration_only"]].itertuples():
        out.append(f"{row.config}: epsilon never went below {EXPLORATION_EPSILON} "
                   "(its comparison measures exploration noise, not learned policies)")
    return out


# Why a configuration has no seeds-needed estimate, as a warning's sentence.
_NO_ESTIMATE = {
    TOO_FEW_SEEDS: "it or the baseline has fewer than 2 scored seeds, and an estimate "
                             "resamples each arm's spread (run at least 2 seeds of each)",
    NO_SPREAD: "every seed of each arm has the same final {metric}, so there is "
                             "no spread to resample",
    NO_EFFECT: "its seeds and the baseline's tie (P = 0.50): no observed effect, so "
                        "no number of seeds separates them at it",
}


def _seeds_needed_warnings(summary: pd.DataFrame, metric: str) -> list[str]:
    """One line for each configuration compared with the baseline that has no estimate."""
    if "seeds_needed_note" not in summary:
        return []
    return [f"{row.config}: no seeds-needed estimate: "
            + _NO_ESTIMATE[row.seeds_needed_note].format(metric=metric)
            for row in summary.itertuples() if row.seeds_needed_note in _NO_ESTIMATE]


def _mixed_config_warnings(groups: list[RunGroup], shown: int = 3) -> list[str]:
    """A configuration whose runs composed to different configs, one line each: the same
    overrides meant another recipe when some of its runs were made."""
    out = []
    for group in groups:
        mixed = mixed_config_keys(group)
        mixed.pop(BUDGET_KEY, None)   # the budgets' own warning says that one
        if not mixed:
            continue
        listed = "; ".join(f"{key}: {', '.join(values)}" for key, values in list(mixed.items())[:shown])
        more = f"; and {len(mixed) - shown} more keys" if len(mixed) > shown else ""
        out.append(f"{group.label}: its runs composed to different configs ({listed}{more}), as when a "
                   f"preset or a default changed between them; --group-by {next(iter(mixed))} tells them apart")
    return out


def _facts(opts: Options, runs: list[Run], groups: list[RunGroup], baseline: str | None,
           started: str) -> list[tuple[str, str]]:
    counts = ", ".join(f"{sum(r.status == s for r in runs)} {s}"
                       for s in STATUSES
                       if any(r.status == s for r in runs))
    sources = ([display_path(latest_launch(opts.outputs))] if opts.latest
               else [display_path(p) for p in opts.paths] or [display_path(opts.outputs)])
    facts = [("generated", started),
             ("runs", f"{len(runs)} in {len(groups)} configurations ({counts})"),
             ("from", ", ".join(sources)),
             ("headline metric", f"final {opts.metric} (rows sorted by its IQM)"),
             ("baseline", baseline or "none (pass --baseline KEY=VALUE for P(improvement))")]
    if opts.until is not None:
        facts.append(("cut at", f"env step {opts.until:,}: every run as it stood then (--until)"))
    if opts.command:
        facts.append(("command", opts.command))
    return facts


def _definitions(opts: Options) -> list[str]:
    pct = f"{opts.final_frac:.0%}"
    return [
        f"final score of a run: mean over its episodes ending in the last {pct} of the env "
        "steps up to its last finished episode",
        "IQM: interquartile mean across seeds (mean of the middle 50%; plain mean below 4 "
        f"seeds); [95% CI]: percentile bootstrap over seeds, {opts.n_boot} resamples, "
        f"rng seed {opts.seed}; rough with few seeds and absent with one",
        "mean +- std: across seeds, sample standard deviation",
        "wall time: median over the seeds of a run's wall-clock time; run-hours: the seeds' "
        "wall times added up (core-hours when each run had a core of its own); CPU: the CPU "
        "models that trained the seeds (their machines.json; runs from before 2026-12-08 have none)",
        "flag rate: fraction of final-window episodes that reached the flag, mean over seeds; "
        "flag seeds: seeds that reached the flag at least once",
        "x_pos AUC: area under the x_pos-vs-env-step curve divided by the env steps, i.e. the "
        "mean x_pos per env step of training (mean over seeds)",
        f"steps to x_pos {opts.threshold:g}: first env step where the {opts.smooth}-episode "
        "mean x_pos reaches it, median over seeds ('> budget' when most seeds never do), "
        "(k/n) seeds that reached it",
        "best x_pos: the furthest any seed got in any episode",
        "eval final: the same final window over the evaluation episodes of evals.csv (the "
        "trainer's near-greedy evaluations every trainer.eval_every env steps), IQM and 95% CI "
        "across the seeds that have them; when every run has evaluations the curves show their "
        "means (no smoothing: each point already averages trainer.eval_episodes episodes)",
        "P(metric > baseline): probability that a random seed of the configuration beats a "
        "random seed of the baseline on the final score (ties count half), with a 95% "
        "bootstrap CI",
        f"seeds needed ({opts.power:.0%} power): seeds an arm for which {opts.power:.0%} of "
        "simulated studies get a P(metric > baseline) interval that excludes 0.5, at the "
        "observed effect: each study draws its seeds from the observed ones (a smoothed "
        f"bootstrap), {N_STUDIES} studies of {N_INNER} resamples for each seed count tried up "
        f"to {MAX_SEEDS}; a planning figure, as uncertain as the observed effect",
        f"eps never < {EXPLORATION_EPSILON}: every seed kept epsilon >= {EXPLORATION_EPSILON}, "
        "so the policies compared act mostly at random",
        "statistics use every run with episodes except failed ones; still-running runs are "
        "scored on what they have so far (see env steps)",
        "curves: each run smoothed with a trailing mean, interpolated onto a common grid only "
        "inside its own range (no extrapolation), mean across seeds with a 95% bootstrap CI "
        "band where at least 2 seeds cover the point",
    ]
