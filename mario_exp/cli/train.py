"""Train Double DQN agents on Super Mario Bros from Hydra config groups.

    python train.py                                         # one run into outputs/runs/
    python train.py -m agent.batch_size=32,64 seed=1,2,3    # a sweep into outputs/multirun/
    python train.py -m experiment=compare_batch_size hydra/launcher=joblib   # a preset, in parallel
    python train.py --help                                  # the config groups and keys

Every job of the command line is composed and validated before any starts; a bad override
exits with status 2 and one line naming the key and what it accepts. Rerunning a command in
an existing run folder (hydra.run.dir=... or hydra.sweep.dir=...) resumes it.
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import sys
import traceback
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mario_exp.config import CHECKOUT, CONF_DIR
from mario_exp.config.preflight import compose_jobs
from mario_exp.config.schema import Config, ConfigError, register_schema, to_config
from mario_exp.launch.outcomes import LEDGER, Outcome
from mario_exp.rundir.contract import CONFIG_YAML, EPISODES_CSV, FINAL_TAGS, HYDRA_YAML, OVERRIDES_YAML
from mario_exp.training.stops import TrainingDiverged, TrainingInterrupted

log = logging.getLogger("train")
# The process that runs main(); jobs of the joblib, submitit and ray launchers run in others.
MAIN_PID: Optional[int] = None


def save_hydra_files(run_dir: Path, cfg: DictConfig) -> None:
    """What Hydra's output_subdir would write, written only once the job may really start,
    so that a refused resume leaves the run's recorded config as it was."""
    hydra_cfg = HydraConfig.get()
    (run_dir / CONFIG_YAML).parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, run_dir / CONFIG_YAML)
    OmegaConf.save(OmegaConf.create({"hydra": hydra_cfg}), run_dir / HYDRA_YAML)
    OmegaConf.save(hydra_cfg.overrides.task, run_dir / OVERRIDES_YAML)


def warn_if_exploration_never_decays(config: Config) -> None:
    """A policy that still acts at random half the time by its last step measures exploration
    noise, not learning (the tutorial's decay at any CPU budget)."""
    from mario_exp.agent.ddqn import epsilon_at

    total = config.trainer.total_steps
    final = epsilon_at(total, config.agent.epsilon, config.trainer.horizon)
    if final >= 0.5:
        log.warning("agent.epsilon: the %s schedule is still at %.2f at the last of %d steps, never "
                    "below 0.5: this run's policy stays near random (agent.epsilon.schedule=linear "
                    "decays within the budget; see experiment=quick)",
                    config.agent.epsilon.schedule, final, total)


def prepare_env_worker(config: Config) -> None:
    """joblib's loky workers run with a multiprocessing start method of loky's own. A process
    they spawn (trainer.env_worker's emulator) inherits that name but cannot resolve it
    ("cannot find context for 'loky'") and dies before it starts; go back to a standard one."""
    method = multiprocessing.get_start_method(allow_none=True)
    if config.trainer.env_worker and method not in (None, *multiprocessing.get_all_start_methods()):
        multiprocessing.set_start_method("spawn", force=True)


def search_score(run_dir: Path, outcome: Outcome) -> Optional[float]:
    """The run's score for a hyperparameter search: mean x_pos over its final window; None for
    a job without one (failed, or no episode ended). Optuna's sweeper records a None as a
    failed trial and goes on; a NaN it refuses, and then stops the whole search on a traceback."""
    from mario_exp.rundir.final_window import final_metrics

    if outcome.status != 0:
        return None
    score = final_metrics(run_dir / EPISODES_CSV)[FINAL_TAGS["x_pos"]]
    return None if math.isnan(score) else score


def train_job(cfg: DictConfig, run_dir: Path) -> Outcome:
    """Train (or resume) one run folder. Every way it can end becomes an Outcome, but an
    interrupt, which raises TrainingInterrupted (a BaseException, like KeyboardInterrupt)."""
    # torch loads here, after the cheap checks of main().
    from mario_exp.rundir.lock import RunFolderError, RunLock
    from mario_exp.rundir.logbook import check_fresh_start, resume_logs
    from mario_exp.training.checkpoint import CheckpointError
    from mario_exp.training.trainer import already_finished, load_resume_point, train

    hydra_cfg = HydraConfig.get()
    config = to_config(cfg)
    prepare_env_worker(config)
    try:
        # Everything below, the checks included, runs as the folder's only writer.
        with RunLock(run_dir):
            resume = load_resume_point(config, run_dir)
            if resume is not None:
                loop = resume["progress"]  # the trainer's LoopState, as the checkpoint holds it
                step, episodes = loop["step"], loop["episode"]
                if already_finished(config, step, episodes):
                    log.info("already finished at step %d; nothing to do", step)
                    return Outcome(0)
                resume_logs(run_dir, step, episodes)  # refuses damaged logs before anything is written
            else:
                check_fresh_start(run_dir, asdict(config), config.trainer.start_over)
            warn_if_exploration_never_decays(config)
            save_hydra_files(run_dir, cfg)
            train(config, run_dir, run_name=",".join(hydra_cfg.overrides.task) or "defaults", resume=resume)
            return Outcome(0)
    except (CheckpointError, RunFolderError) as exc:  # bad input: the run folder is left as it was
        return Outcome(2, str(exc))
    except TrainingDiverged as exc:
        return Outcome(1, f"{run_dir}: {exc}")
    except OSError as exc:              # a full disk, a quota: atomic writes kept the last good files
        return Outcome(1, f"{run_dir}: cannot write {exc.filename or 'a file'}: {exc.strerror or exc}; "
                          "the last good checkpoint is kept (free some space and rerun to resume)")
    except Exception as exc:            # a bug: keep the traceback in the job's log
        with open(run_dir / f"{hydra_cfg.job.name}.log", "a") as job_log:
            traceback.print_exc(file=job_log)
        return Outcome(1, f"{run_dir}: {type(exc).__name__}: {exc} (traceback in its "
                          f"{hydra_cfg.job.name}.log)")


# An absolute config_path: Hydra reads a relative one against the package (pkg://), and conf/
# is not inside it. The job name, from this module's name, is "train", as for `python train.py`.
@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def run(cfg: DictConfig) -> Optional[float]:
    """One job. Returns the run's final-window mean x_pos, the value a hyperparameter search
    (experiment=hparams_search) maximises: None for a job without a score (search_score), or
    one that did not run to its end (skipped or interrupted)."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    sweep_dir = Path(hydra_cfg.sweep.dir) if multirun else None
    job_num = hydra_cfg.job.num if multirun else 0  # a single run has no job number
    if LEDGER.stop_requested(sweep_dir):
        log.info("not started: the command was asked to stop")
        return None
    try:
        outcome = train_job(cfg, run_dir)
    except TrainingInterrupted as exc:
        hint = f"hydra.run.dir={run_dir}" if sweep_dir is None else f"hydra.sweep.dir={sweep_dir}"
        LEDGER.record(sweep_dir, job_num, Outcome(
            128 + exc.signum, f"interrupted by {exc}; to resume, run the same command with {hint}"))
        if os.getpid() == MAIN_PID:
            raise  # the basic launcher runs jobs here: the signal stops the whole command at once
        return None  # a job of its own (a cluster's time limit): the others go on
    LEDGER.record(sweep_dir, job_num, outcome)
    return search_score(run_dir, outcome)


@contextmanager
def stop_jobs_on_signal() -> Iterator[list[int]]:
    """While a sweep's launcher runs, SIGINT/SIGTERM in this process ask the jobs not yet
    started to skip themselves; the running ones got the signal too (one process group) and
    checkpoint. Waiting for them, rather than dying, lets their checkpoints complete. A second
    signal, or one outside a sweep and outside training (which checkpoints), stops at once."""
    received: list[int] = []

    def request_stop(signum: int, _frame: Any) -> None:
        first = not received
        received.append(signum)
        if not first or LEDGER.folder is None:
            raise KeyboardInterrupt
        LEDGER.request_stop(LEDGER.folder.parent)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def report(outcomes: list[Outcome], signals: list[int]) -> int:
    """One line per failed job, then how to resume an interrupted command; the exit status."""
    failed = [o for o in outcomes if o.status in (1, 2)]
    interrupted = [o for o in outcomes if o.status > 128]
    for outcome in failed:
        print(f"train.py: error: {outcome.line}", file=sys.stderr)
    if interrupted:
        more = f" ({len(interrupted)} jobs were interrupted)" if len(interrupted) > 1 else ""
        print(f"train.py: {interrupted[0].line}{more}", file=sys.stderr)
        return interrupted[0].status
    if signals:
        where = f"hydra.sweep.dir={LEDGER.folder.parent}" if LEDGER.folder else "the same run folder"
        print(f"train.py: interrupted by {signal.Signals(signals[0]).name}; to resume, run the same "
              f"command with {where}", file=sys.stderr)
        return 128 + signals[0]
    return max((o.status for o in failed), default=0)


def check_hardware_requests(configs: list[Config]) -> None:
    """Refuse, before any job starts, a job that asks for a GPU or bf16 units this machine
    lacks. Only those explicit requests can fail (auto falls back), and only they load torch
    here: under the joblib, submitit and ray launchers this process runs no job, and each of
    its seconds of imports is a second before the first job starts."""
    requests = [c for c in configs if c.trainer.device == "cuda" or c.trainer.precision == "bf16"]
    if requests:
        from mario_exp.agent.ddqn import resolve_device, resolve_precision

        for config in requests:
            resolve_precision(config.trainer.precision, resolve_device(config.trainer.device))


def main() -> None:
    """`python train.py ...` and `mario-train ...`: Hydra's command line, -m for a sweep."""
    global MAIN_PID
    if not CONF_DIR.is_dir():  # a wheel carries the package only
        print(f"train.py: error: {CHECKOUT} has no conf/: training composes the checkout's "
              "configs; install the checkout itself (pip install -e CHECKOUT)", file=sys.stderr)
        sys.exit(2)
    register_schema()
    try:
        check_hardware_requests(compose_jobs(sys.argv[1:], CONF_DIR))
    except ConfigError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        sys.exit(2)

    MAIN_PID = os.getpid()
    # The submitit and ray launchers start jobs as new Python processes (on a cluster, on other
    # machines, with this environment): they must import this checkout's mario_exp, as train.py does.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))
    with stop_jobs_on_signal() as signals:
        try:
            run()
        except TrainingInterrupted:
            pass  # a job running in this process was interrupted; its outcome is recorded
        except KeyboardInterrupt:
            name = signal.Signals(signals[0]).name if signals else "SIGINT"
            print(f"train.py: interrupted by {name} before a checkpoint could be written; rerun "
                  "the same command to resume from the last one", file=sys.stderr)
            sys.exit(128 + (signals[0] if signals else signal.SIGINT))
    sys.exit(report(LEDGER.outcomes(), signals))

