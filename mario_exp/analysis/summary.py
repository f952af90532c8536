"""Per-configuration numbers across seeds (the machine-readable summary.csv).

Which runs count: every run with episodes except failed ones. A crash is reported in the runs
column and as a warning, but its partial curve would be scored at a different horizon than its
siblings. Live and status-less runs are scored on what they have (the env-steps column shows it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mario_exp.analysis.groups import RunGroup
from mario_exp.analysis.runs import Run
from mario_exp.analysis.scores import EXPLORATION_EPSILON, RunScores
from mario_exp.analysis.seeds_needed import POWER, seeds_needed
from mario_exp.analysis.stats import bootstrap_ci, iqm, mean_std, own_stream, prob_improvement, prob_improvement_ci
from mario_exp.rundir.contract import FAILED, STATUSES

METRICS = ("x_pos", "reward")


@dataclass(frozen=True)
class Scored:
    """A run together with its scores (None: no episodes)."""

    run: Run
    scores: RunScores | None

    @property
    def counts(self) -> bool:
        """Whether this run enters the across-seed statistics."""
        return self.scores is not None and self.run.status != FAILED


def _finals(scored: list[Scored], metric: str) -> np.ndarray:
    return np.array([getattr(s.scores, f"final_{metric}") for s in scored if s.counts])


def config_summary(groups: list[RunGroup], swept: list[str], scored: dict[Path, Scored],
                   metric: str, baseline: RunGroup | None, seed: int,
                   n_boot: int, power: float = POWER) -> pd.DataFrame:
    """One row per configuration, sorted best first on ``metric``'s IQM. Each interval
    resamples with a stream of its own (stats.own_stream) from `seed`; so does each
    configuration's seeds-needed estimate against the baseline, at `power`."""
    base_finals = (_finals([scored[r.path] for r in baseline.runs], metric)
                   if baseline is not None else None)
    rows = []
    for group in groups:
        members = [scored[r.path] for r in group.runs]
        used = [s.scores for s in members if s.counts]
        row: dict[str, object] = {k: group.settings.get(k) for k in swept}
        row["config"] = group.label
        row["seeds"] = len(members)  # runs launched, whatever became of them
        row["scored"] = len(used)  # runs the statistics below are computed from
        for status in STATUSES:
            row[f"runs_{status}"] = sum(s.run.status == status for s in members)
        budgets = [r.budget for r in group.runs if r.budget is not None]
        row["budget_min"] = min(budgets) if budgets else np.nan
        row["budget_max"] = max(budgets) if budgets else np.nan
        steps = [r.env_step for r in group.runs
                 if r.env_step is not None and r.status != FAILED]
        row["steps_min"] = min(steps) if steps else np.nan
        row["steps_max"] = max(steps) if steps else np.nan
        for m in METRICS:
            values = [getattr(s, f"final_{m}") for s in used]
            ci = bootstrap_ci(values, own_stream(seed, f"final_{m}", values), "iqm", n_boot)
            mean, std = mean_std(values)
            row[f"{m}_iqm"] = iqm(values)
            row[f"{m}_ci_lo"], row[f"{m}_ci_hi"] = ci if ci else (np.nan, np.nan)
            row[f"{m}_mean"] = mean
            row[f"{m}_std"] = np.nan if std is None else std
        # Near-greedy evaluation scores, from the runs that have evals.csv.
        evaluated = [s for s in used if s.evaluations]
        row["evaluated"] = len(evaluated)
        for m in METRICS:
            values = [getattr(s, f"eval_final_{m}") for s in evaluated]
            ci = bootstrap_ci(values, own_stream(seed, f"eval_final_{m}", values), "iqm", n_boot)
            row[f"eval_{m}_iqm"] = iqm(values)
            row[f"eval_{m}_ci_lo"], row[f"eval_{m}_ci_hi"] = ci if ci else (np.nan, np.nan)
        row["eval_flag_rate"] = _mean([s.eval_final_flag_rate for s in evaluated])
        row["flag_rate"] = _mean([s.final_flag_rate for s in used])
        row["flag_seeds"] = sum(s.ever_flag for s in used)
        row["auc_x_pos"] = _mean([s.auc_x_pos for s in used])
        to_threshold = [s.steps_to_threshold for s in used]
        # Unreached runs are +inf, so the median is finite only if most seeds got there.
        row["steps_to_threshold"] = float(np.median(to_threshold)) if used else np.nan
        row["threshold_seeds"] = int(np.isfinite(to_threshold).sum())
        row["best_x_pos"] = max((s.best_x_pos for s in used), default=np.nan)
        row["wall_time"] = _median([s.wall_time for s in used])
        # What the configuration cost: the seeds' wall times added up, core-hours when each
        # run had a core to itself (one joblib job a core).
        row["run_hours"] = float(_finite([s.wall_time for s in used]).sum() / 3600) if used else np.nan
        row["steps_per_second"] = _median([s.steps_per_second for s in used])
        # Which CPUs spent those hours (a study's runs span machines), in order of first use.
        row["cpus"] = " + ".join(dict.fromkeys(cpu for s in members if s.counts for cpu in s.run.cpus))
        row["final_epsilon"] = _mean([s.final_epsilon for s in used])
        row["min_epsilon"] = _min([s.min_epsilon for s in used])
        row["final_loss"] = _mean([s.final_loss for s in used])
        row["final_q"] = _mean([s.final_q for s in used])
        # Every seed kept epsilon >= 0.5: the policies compared are still mostly random.
        row["exploration_only"] = bool(row["min_epsilon"] >= EXPLORATION_EPSILON)
        row.update(_improvement(group, baseline, base_finals, members, metric, seed, n_boot,
                                power))
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.sort_values(f"{metric}_iqm", ascending=False, na_position="last",
                             kind="stable").reset_index(drop=True)


def _improvement(group: RunGroup, baseline: RunGroup | None, base_finals: np.ndarray | None,
                 members: list[Scored], metric: str, seed: int, n_boot: int,
                 power: float) -> dict[str, object]:
    """P(improvement) over the baseline with its interval, and the seeds an arm its interval
    needs to exclude 0.5 (seeds_needed: a count, or empty with seeds_needed_note saying why)."""
    if baseline is None or base_finals is None:
        return {}
    none = {"p_improve": np.nan, "p_improve_lo": np.nan, "p_improve_hi": np.nan,
            "seeds_needed": np.nan, "seeds_needed_note": "", "seeds_needed_power_now": np.nan}
    if group is baseline:
        return none
    finals = _finals(members, metric)
    if finals.size == 0 or base_finals.size == 0:
        return {**none, "seeds_needed_note": "no scored seeds"}
    ci = prob_improvement_ci(finals, base_finals, own_stream(seed, "p_improve", finals, base_finals), n_boot)
    lo, hi = ci if ci else (np.nan, np.nan)
    needed = seeds_needed(finals, base_finals,
                          own_stream(seed, "seeds_needed", finals, base_finals), power)
    return {"p_improve": prob_improvement(finals, base_finals), "p_improve_lo": lo,
            "p_improve_hi": hi,
            "seeds_needed": np.nan if needed.seeds is None else needed.seeds,
            "seeds_needed_note": needed.reason, "seeds_needed_power_now": needed.power_now}


def _finite(values: list[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def _mean(values: list[float]) -> float:
    x = _finite(values)
    return float(x.mean()) if x.size else float("nan")


def _median(values: list[float]) -> float:
    x = _finite(values)
    return float(np.median(x)) if x.size else float("nan")


def _min(values: list[float]) -> float:
    x = _finite(values)
    return float(x.min()) if x.size else float("nan")
