"""Sweeps through the real joblib, submitit and Ray launchers (Ray's only where its extra is
installed), and an Optuna search: jobs run in other processes, land in the same outputs/
layout, resume the same way, and train.py still reports every failed job once all have run.
The signal tests act when a job's own log (a FIFO in place of its train.log) says how far it is."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mario_exp.rundir.final_window import final_metrics
from tests.analysis_helpers import analyze
from tests.helpers import (
    NO_EVAL,
    PROGRESS,
    REPO,
    FifoLines,
    TrainProcess,
    episodes_without_clock,
    read_status,
    run_train,
)

# smoke_run's command, without the evaluations that no test here reads.
SMOKE = ["experiment=smoke", "seed=7", *NO_EVAL]
# The emulator in a process of its own, started from the launcher's worker process (loky's
# start method needs train.py's prepare_env_worker).
IN_A_WORKER = ["trainer.env_worker=true"]
# The first job diverges at once; the second is smoke_run's config (agent.lr is its default).
DIVERGING_AND_HEALTHY = ["agent.lr=1e30,0.00025"]
LAUNCHERS = {
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local"],
    # A local Ray instance of 2 CPUs, started by the launcher; the jobs run in its workers.
    "ray": ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"],
}
# Launchers of an optional extra: (their Hydra plugin's module, why the test is skipped without it).
OPTIONAL = {
    "ray": ("hydra_plugins.hydra_ray_launcher", "the ray extra is not installed (pip install -e '.[ray]', "
                                                "about 240 MB)"),
}


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_sweep_through_a_launcher_lands_in_outputs_and_reports_its_failed_job(
        launcher: str, smoke_run: Path, tmp_path: Path) -> None:
    if launcher in OPTIONAL:
        module, reason = OPTIONAL[launcher]
        pytest.importorskip(module, reason=reason)
    args = ["-m", *LAUNCHERS[launcher], *SMOKE, *IN_A_WORKER, *DIVERGING_AND_HEALTHY]
    result = run_train(args, tmp_path)
    # The failure happened in another process; it is still one line, and the exit status.
    assert result.returncode == 1, result.stderr
    line, = [x for x in result.stderr.splitlines() if x.startswith("train.py:")]
    assert line.startswith("train.py: error: ") and "agent.lr=1e+30" in line and "loss became" in line
    sweep, = (tmp_path / "outputs" / "multirun").glob("*/*")
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name.split("_", 1)[0] for p in jobs] == ["0", "1"]
    diverged, healthy = jobs
    assert read_status(diverged)["status"] == "failed" and read_status(healthy)["status"] == "finished"
    # The emulator ran in its own process inside the launcher's worker (trainer.env_worker),
    # and the run is the same run as with the basic launcher.
    assert episodes_without_clock(healthy) == episodes_without_clock(smoke_run)
    assert (healthy / ".hydra" / "overrides.yaml").is_file() and list(healthy.glob("events.out.tfevents.*"))
    assert "Traceback" not in result.stderr.split("train.py:")[-1]

    # A rerun in the same folder skips the finished job, as with the basic launcher.
    again = run_train([*args, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert again.returncode == 1
    assert "already finished" in (healthy / "train.log").read_text()


def test_sigterm_to_a_submitit_job_checkpoints_and_the_requeued_job_resumes(smoke_run: Path,
                                                                            tmp_path: Path) -> None:
    """What a cluster's time limit does: SIGTERM to the job's process (not to train.py), then
    the job is started again with the same overrides in the same folder."""
    sweep = tmp_path / "sweep"
    args = ["-m", *LAUNCHERS["submitit_local"], *SMOKE, "agent.lr=0.00025", f"hydra.sweep.dir={sweep}"]
    run_dir = sweep / "0_agent.lr=0.00025,experiment=smoke,seed=7,trainer.eval_every=null"
    job_log = FifoLines(run_dir / "train.log")   # the job's own log, as it writes it
    proc = TrainProcess(args, tmp_path)
    assert job_log.wait_for(PROGRESS + "100/400")   # training, 300 steps before its end
    job_pid, = [int(p.name) for p in (sweep / ".submitit").iterdir() if p.name.isdigit()]
    os.kill(job_pid, signal.SIGTERM)   # the local executor's job id is its process id
    returncode, stderr = proc.wait(timeout=300)
    job_log.close()
    assert returncode == 128 + signal.SIGTERM, stderr
    line, = [x for x in stderr.splitlines() if x.startswith("train.py:")]
    assert line.startswith("train.py: interrupted by SIGTERM at step ") and f"hydra.sweep.dir={sweep}" in line
    assert read_status(run_dir)["status"] == "interrupted"

    result = run_train(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert read_status(run_dir)["status"] == "finished"
    assert episodes_without_clock(run_dir) == episodes_without_clock(smoke_run)


def test_ctrl_c_stops_a_parallel_sweep_after_its_running_jobs_checkpoint(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    # Jobs of 250 steps: the signal comes at step 100 or soon after, and the rerun finishes them.
    args = ["-m", *LAUNCHERS["joblib"], "experiment=smoke", "seed=1,2,3", "trainer.total_steps=250", *NO_EVAL,
            f"hydra.sweep.dir={sweep}"]
    job_logs = [FifoLines(sweep / f"{n}_experiment=smoke,seed={n + 1},trainer.eval_every=null,trainer.total_steps=250"
                          / "train.log") for n in (0, 1)]
    proc = TrainProcess(args, tmp_path, start_new_session=True)
    # Both running jobs are past their start (signal handlers installed) before the signal.
    for job_log in job_logs:
        assert job_log.wait_for(PROGRESS + "100/250")
    os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C: the whole process group
    returncode, stderr = proc.wait(timeout=300)
    for job_log in job_logs:
        job_log.close()
    assert returncode == 128 + signal.SIGINT, stderr
    line, = [x for x in stderr.splitlines() if x.startswith("train.py:")]
    assert line.startswith("train.py: interrupted by SIGINT") and f"hydra.sweep.dir={sweep}" in line
    jobs = {p.name.split("_", 1)[0]: p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")}
    # The two running jobs wrote checkpoints; the third, not started, did not start a run.
    assert [read_status(jobs[n])["status"] for n in ("0", "1")] == ["interrupted", "interrupted"]
    assert not (jobs["2"] / "status.json").exists()

    result = run_train(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(read_status(p)["status"] == "finished" for p in jobs.values())


def test_exploration_warning_fires_once_for_the_tutorials_decay_and_not_for_linear(
        smoke_run: Path, tmp_path: Path) -> None:
    warning = "agent.epsilon: the exponential schedule is still at 1.00 at the last of 400 steps"
    assert (smoke_run / "train.log").read_text().count(warning) == 1
    result = run_train(["experiment=smoke", "agent.epsilon.schedule=linear", "trainer.total_steps=150", *NO_EVAL],
                       tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir, = (tmp_path / "outputs" / "runs").glob("*/*")
    assert "agent.epsilon" not in (run_dir / "train.log").read_text() + result.stdout + result.stderr
    rows = (run_dir / "episodes.csv").read_text().splitlines()[1:]
    # Linear over half of 150 steps from 1.0 to 0.1: an episode ending after step 76 used 0.1.
    assert all(float(r.split(",")[6]) == 0.1 for r in rows if int(r.split(",")[0]) > 76)


def test_optuna_search_runs_trials_in_parallel_stores_the_study_and_continues_it(tmp_path: Path) -> None:
    """Two trials at once, one of them refused (its folder holds run data without a checkpoint):
    the refused trial is recorded as failed, the search goes on, and the command ends with the
    job's one line, no traceback. Then the stored study continues, and a search whose only trial
    is refused ends with that line too."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper",
                        reason="the optuna extra is not installed (pip install -e '.[optuna]')")
    import optuna

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    # quick's env.stall_steps matters here: a trial stuck at a pipe for its whole budget would
    # finish no episode, and have no score. No evaluations: quick's 20 episodes at the end would
    # cost more than the trials' training.
    tiny = ["trainer.total_steps=200", "agent.burnin=50", "agent.memory_size=1000", "trainer.eval_every=null",
            "trainer.checkpoint_every=100", "trainer.log_every=50"]
    args = ["-m", "experiment=hparams_search", *tiny, f"hydra.sweeper.storage={storage}"]
    sweep = tmp_path / "first"
    refused = sweep / "1"
    refused.mkdir(parents=True)
    (refused / "episodes.csv").write_text("what a lost run left\n")
    result = run_train([*args, "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={sweep}"], tmp_path)  # one batch of two
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    # Optuna logs to stderr too; train.py's own lines are the job's error, once.
    line, = [line for line in result.stderr.splitlines() if line.startswith("train.py")]
    assert line.startswith(f"train.py: error: {refused}: holds run data"), result.stderr
    assert read_status(sweep / "0")["status"] == "finished"
    study = optuna.load_study(study_name="mario_x_pos", storage=storage)
    # A trial's value is what train.py's task returned: its run's final-window mean x_pos.
    score = final_metrics(sweep / "0" / "episodes.csv")["final/x_pos"]
    states = {t.number: (t.state, t.value) for t in study.trials}
    assert states[0] == (optuna.trial.TrialState.COMPLETE, pytest.approx(score))
    assert states[1] == (optuna.trial.TrialState.FAIL, None)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(score)

    # The same command with the same storage continues the study.
    more = run_train([*args, "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={tmp_path / 'more'}"], tmp_path)
    assert more.returncode == 0, more.stderr
    assert len(optuna.load_study(study_name="mario_x_pos", storage=storage).trials) == 3

    # A search in which no trial scores (its one trial refused, as above) ends the same way: the
    # job's line, no traceback, and no optimization_results.yaml without a best trial.
    alone = tmp_path / "alone"
    (alone / "0").mkdir(parents=True)
    (alone / "0" / "episodes.csv").write_text("what a lost run left\n")
    none = run_train(["-m", "experiment=hparams_search", *tiny, "hydra.sweeper.n_trials=1",
                      f"hydra.sweep.dir={alone}"], tmp_path)
    assert none.returncode == 2 and "Traceback" not in none.stderr, none.stderr
    line, = [line for line in none.stderr.splitlines() if line.startswith("train.py")]
    assert line.startswith(f"train.py: error: {alone / '0'}: holds run data"), none.stderr
    assert not (alone / "optimization_results.yaml").exists()

    # The analysis reads the trials like any sweep: one configuration each.
    shutil.rmtree(refused)
    analysis = analyze(sweep, tmp_path / "more", "--out", tmp_path / "analysis", cwd=tmp_path)
    assert analysis.returncode == 0, analysis.stderr
    per_run = (tmp_path / "analysis" / "per_run.csv").read_text().splitlines()
    assert len(per_run) == 1 + 2


@pytest.mark.parametrize("overrides, loads_torch", [
    (["experiment=smoke"], False),
    (["experiment=smoke", "trainer.precision=bf16"], True),
])
def test_the_command_process_loads_torch_only_to_check_a_bf16_or_cuda_request(
        overrides: list[str], loads_torch: bool) -> None:
    # Under joblib, submitit and ray, train.py's own process runs no job: torch there would only
    # delay the first job by its import time.
    code = ("import sys\n"
            "from mario_exp.cli import train\n"
            "from mario_exp.config.preflight import compose_jobs\n"
            "train.register_schema()\n"
            "try:\n"
            f"    train.check_hardware_requests(compose_jobs({overrides!r}, train.CONF_DIR))\n"
            "except train.ConfigError:\n"
            "    pass  # a CPU without bf16 units: refused, after loading torch to find out\n"
            "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(loads_torch)
