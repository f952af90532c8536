"""Benchmark: generate a synthetic sweep and time ``python analyze.py`` on it end to end.

    python -m benchmarks.analysis_bench            # 100 runs x 2000 episodes, 3 timed repeats

Prints ``name value unit`` lines; exits 1 when the median time is over the budget, so it can
guard the "100 runs analysed in at most 5 s" requirement in CI or a Makefile.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mario_exp.analysis.synthetic import write_sweep

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 5.0


def time_analysis(outputs: Path, repeat: int) -> list[float]:
    """Wall-clock seconds of each full ``analyze.py --outputs`` process (imports included)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(REPO / "analyze.py"), "--outputs",
                               str(outputs)], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"analyze.py failed:\n{proc.stderr}")
    return times


def main(argv: list[str] | None = None) -> int:
    """Generate, time, print; exit status 1 when over budget."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.analysis_bench", description=__doc__)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--episodes", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--budget", type=float, default=BUDGET_S, help="seconds (default: 5)")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="write the synthetic outputs/ here and keep it (default: a temp dir)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        outputs = args.keep if args.keep else Path(tmp) / "outputs"
        start = time.perf_counter()
        write_sweep(outputs, args.runs, args.episodes, args.seeds)
        generate = time.perf_counter() - start
        times = time_analysis(outputs, args.repeat)
    median = statistics.median(times)
    print(f"runs {args.runs} count")
    print(f"episodes {args.runs * args.episodes} count")
    print(f"generate_time {generate:.2f} s")
    print(f"analyze_time_median {median:.2f} s")
    print(f"analyze_time_max {max(times):.2f} s")
    print(f"analyze_budget {args.budget:g} s")
    return 0 if median <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
