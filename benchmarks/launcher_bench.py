"""A sweep run one job at a time, then n jobs at a time through the joblib launcher: each
command's wall time and CPU-seconds, and how long the parallel one took relative to the other:

    python -m benchmarks.launcher_bench [--pairs 3] [--n-jobs 2] [OVERRIDE ...]

The sweep is the 4-job smoke sweep of docs/launchers.md (experiment=smoke agent.batch_size=32,64
agent.learn_every=5,10); an OVERRIDE replaces the one of the same key or adds one, e.g.
`agent.async_update=false` (jobs of one core each) or `trainer.total_steps=2000` (longer jobs).
The two commands alternate, so that a change in the machine's load hits both alike. These
machines are shared: compare the ratios of one sitting, not seconds across days.
"""
from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mario_exp.cli.common import OneLineParser, fail, positive_int
from mario_exp.rundir.contract import CONFIG_YAML

PROG = "python -m benchmarks.launcher_bench"
TRAIN = Path(__file__).resolve().parents[1] / "train.py"
SWEEP = ["experiment=smoke", "agent.batch_size=32,64", "agent.learn_every=5,10"]


@dataclass
class Timing:
    wall_s: float
    cpu_s: float          # the command's and all its processes', user + system
    jobs: int             # run folders the sweep left

    @property
    def cores(self) -> float:
        """CPU cores kept busy on average."""
        return self.cpu_s / self.wall_s


def sweep_overrides(extra: list[str]) -> list[str]:
    """The 4-job smoke sweep with `extra` in place of the overrides of the same key."""
    def key(override: str) -> str:
        return override.split("=", 1)[0].lstrip("+~")

    replaced = {key(o) for o in extra}
    return [o for o in SWEEP if key(o) not in replaced] + extra


def run_sweep(overrides: list[str], sweep_dir: Path) -> Timing:
    """`python train.py -m OVERRIDES` into `sweep_dir`, its output into sweep_dir.log."""
    log = sweep_dir.with_suffix(".log")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "w") as handle:
        status = subprocess.run([sys.executable, str(TRAIN), "-m", *overrides, f"hydra.sweep.dir={sweep_dir}"],
                                stdout=handle, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:  # the scratch folder goes with this exit: keep train.py's own line
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        own = [line for line in lines if line.startswith("train.py:")]
        fail(PROG, own[0].removeprefix("train.py: error: ") if own else
             f"train.py exited with status {status}; its last line: {lines[-1] if lines else '(none)'}",
             status if status > 0 else 1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    jobs = sum(1 for run in sweep_dir.iterdir() if (run / CONFIG_YAML).is_file())
    return Timing(wall, cpu, jobs)


def describe(label: str, timing: Timing) -> str:
    return f"{label} {timing.wall_s:.1f} s, {timing.cpu_s:.1f} CPU-s ({timing.cores:.2f} cores)"


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog=PROG, description=__doc__)
    parser.add_argument("--pairs", type=positive_int, default=3,
                        help="how many times to run the two commands (default 3)")
    parser.add_argument("--n-jobs", type=positive_int, default=2,
                        help="jobs at a time through the joblib launcher (default 2)")
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                        help="train.py overrides that change the sweep")
    args = parser.parse_args(argv)
    for override in args.overrides:
        if override.startswith(("hydra/launcher", "hydra.launcher", "hydra.sweep.dir")):
            fail(PROG, f"{override}: the bench sets the launcher and the sweep folder itself; "
                    "give only the sweep's overrides (and --n-jobs)")
    overrides = sweep_overrides(args.overrides)
    parallel = [*overrides, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"]
    print(f"sweep {' '.join(overrides)}")
    ratios, sequential_cores = [], []
    with tempfile.TemporaryDirectory(prefix="mario-exp-launcher-bench-") as scratch:
        for pair in range(1, args.pairs + 1):
            one = run_sweep(overrides, Path(scratch) / f"{pair}-sequential")
            many = run_sweep(parallel, Path(scratch) / f"{pair}-parallel")
            if one.jobs != many.jobs:
                fail(PROG, f"the sequential sweep left {one.jobs} runs, the parallel one {many.jobs}", 1)
            ratios.append(many.wall_s / one.wall_s)
            sequential_cores.append(one.cores)
            print(f"pair {pair} ({one.jobs} jobs): {describe('one at a time', one)}; "
                  f"{describe(f'{args.n_jobs} at a time', many)}; {ratios[-1]:.2f}x", flush=True)
    spread = f" of {len(ratios)} pairs; {min(ratios):.2f}x to {max(ratios):.2f}x" if len(ratios) > 1 else " of 1 pair"
    print(f"parallel_over_sequential {statistics.median(ratios):.2f}x (median{spread})")
    print(f"sequential_cores_busy {statistics.median(sequential_cores):.2f} "
          "(CPU-seconds over wall seconds, one job at a time)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the sweeps got the signal too; their runs were scratch
        fail(PROG, "interrupted", 130)
