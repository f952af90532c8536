"""The launcher benchmark really runs a sweep both ways and prints figures that agree with
each other; bad input is one line."""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from benchmarks.launcher_bench import main, sweep_overrides
from tests.helpers import NO_EVAL

PROG = "python -m benchmarks.launcher_bench"


def bench(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.launcher_bench", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def bench_in_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The bench's main() in this process: its exit status and what it printed, as the command's."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            status = 0
        except SystemExit as exc:
            status = exc.code
    return subprocess.CompletedProcess(["launcher_bench", *args], status, out.getvalue(), err.getvalue())


def test_overrides_replace_the_readme_sweeps_keys_and_add_the_others() -> None:
    assert sweep_overrides([]) == ["experiment=smoke", "agent.batch_size=32,64", "agent.learn_every=5,10"]
    assert sweep_overrides(["agent.batch_size=32", "agent.async_update=false"]) == [
        "experiment=smoke", "agent.learn_every=5,10", "agent.batch_size=32", "agent.async_update=false"]


def test_bench_runs_the_sweep_one_at_a_time_and_in_parallel_and_prints_the_ratio(tmp_path: Path) -> None:
    # Two jobs of 200 steps without evaluations: the real sweep, both ways, in about 15 s.
    result = bench(["--pairs", "1", "agent.batch_size=32", "trainer.total_steps=200", *NO_EVAL], tmp_path)
    assert result.returncode == 0, result.stderr
    sweep, pair, summary, cores = result.stdout.splitlines()
    assert sweep == ("sweep experiment=smoke agent.learn_every=5,10 agent.batch_size=32 trainer.total_steps=200 "
                     "trainer.eval_every=null")
    number = r"(\d+\.\d+)"
    match = re.fullmatch(
        rf"pair 1 \(2 jobs\): one at a time {number} s, {number} CPU-s \({number} cores\); "
        rf"2 at a time {number} s, {number} CPU-s \({number} cores\); {number}x", pair)
    assert match, pair
    one_wall, one_cpu, one_cores, many_wall, many_cpu, many_cores, ratio = map(float, match.groups())
    # The figures are the commands' own: each printed ratio is the quotient of printed figures
    # (up to their rounding), and the jobs' CPU time counts the launcher's worker processes.
    assert ratio == pytest.approx(many_wall / one_wall, abs=0.02)
    assert one_cores == pytest.approx(one_cpu / one_wall, abs=0.02)
    assert many_cores == pytest.approx(many_cpu / many_wall, abs=0.02)
    assert one_cpu > 2 and many_cpu > 2   # two jobs that each import torch and play 200 steps
    assert summary == f"parallel_over_sequential {ratio:.2f}x (median of 1 pair)"
    assert cores == f"sequential_cores_busy {one_cores:.2f} (CPU-seconds over wall seconds, one job at a time)"
    assert not list(tmp_path.iterdir())  # the runs went to a temporary folder, now removed


# The command itself for the first case; its main() in this process for the others.
@pytest.mark.parametrize("args, message, command", [
    (["agent.batch_size=abc"], "agent.batch_size='abc': must be an integer", bench),
    (["--n-jobs", "0"], "argument --n-jobs: invalid positive integer value: '0'", bench_in_process),
    (["hydra/launcher=submitit_local"], "hydra/launcher=submitit_local: the bench sets the launcher",
     bench_in_process),
], ids=["agent.batch_size=abc", "--n-jobs 0", "hydra/launcher=submitit_local"])
def test_bad_input_is_one_line_and_status_2(args: list[str], message: str,
                                            command: Callable[[list[str], Path], subprocess.CompletedProcess],
                                            tmp_path: Path) -> None:
    result = command(args, tmp_path)
    assert result.returncode == 2
    line, = result.stderr.splitlines()
    assert line.startswith(f"{PROG}: error: {message}")
