"""Train Double DQN agents on Super Mario Bros from Hydra config groups.

    python train.py                                         # one run into outputs/runs/
    python train.py -m agent.batch_size=32,64 seed=1,2,3    # a sweep into outputs/multirun/
    python train.py --help                                  # the config groups and keys

Every job of the command line is composed and validated before any starts; a bad override
exits with status 2 and one line naming the key and what it accepts. Rerunning a command in
an existing run folder (hydra.run.dir=... or hydra.sweep.dir=...) resumes it.
"""
from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mario_exp.config import ConfigError, register_schema, to_config
from mario_exp.preflight import compose_jobs

CONF_DIR = Path(__file__).resolve().parent / "conf"
log = logging.getLogger("train")

# Jobs that failed, as (exit status, one line); reported once every job of a sweep has run.
FAILED: list[tuple[int, str]] = []
# How to resume the job that is running, for the message if it is interrupted.
RESUME_HINT: list[str] = []


def save_hydra_files(run_dir: Path, cfg: DictConfig) -> None:
    """What Hydra's output_subdir would write, written only once the job may really start,
    so that a refused resume leaves the run's recorded config as it was."""
    hydra_cfg = HydraConfig.get()
    folder = run_dir / ".hydra"
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": hydra_cfg}), folder / "hydra.yaml")
    OmegaConf.save(hydra_cfg.overrides.task, folder / "overrides.yaml")


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def run(cfg: DictConfig) -> None:
    # torch loads here, after the cheap checks of main().
    from mario_exp.checkpoint import CheckpointError
    from mario_exp.trainer import TrainingDiverged, already_finished, load_resume_point, train

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    RESUME_HINT[:] = [f"hydra.sweep.dir={run_dir.parent}" if multirun else f"hydra.run.dir={run_dir}"]
    config = to_config(cfg)
    try:
        resume = load_resume_point(config, run_dir)
        if resume is not None:
            step, episodes = resume["progress"]["step"], resume["progress"]["episode"]
            if already_finished(config, step, episodes):
                log.info("already finished at step %d; nothing to do", step)
                return
        save_hydra_files(run_dir, cfg)
        train(config, run_dir, run_name=",".join(hydra_cfg.overrides.task) or "defaults", resume=resume)
    except CheckpointError as exc:      # bad input: the run folder is left as it was
        FAILED.append((2, str(exc)))
    except TrainingDiverged as exc:
        FAILED.append((1, f"{run_dir}: {exc}"))
    except Exception as exc:            # a bug: keep the traceback in the job's log
        with open(run_dir / f"{hydra_cfg.job.name}.log", "a") as job_log:
            traceback.print_exc(file=job_log)
        FAILED.append((1, f"{run_dir}: {type(exc).__name__}: {exc} (traceback in its "
                          f"{hydra_cfg.job.name}.log)"))


def main() -> None:
    register_schema()
    try:
        configs = compose_jobs(sys.argv[1:], CONF_DIR)
        if configs:
            from mario_exp.agent import resolve_device, resolve_precision

            for config in configs:
                resolve_precision(config.trainer.precision, resolve_device(config.trainer.device))
    except ConfigError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        sys.exit(2)

    from mario_exp.trainer import TrainingInterrupted

    try:
        run()
    except TrainingInterrupted as exc:
        print(f"train.py: interrupted by {exc}; to resume, run the same command with "
              f"{RESUME_HINT[0]}", file=sys.stderr)
        sys.exit(128 + exc.signum)
    for _, line in FAILED:
        print(f"train.py: error: {line}", file=sys.stderr)
    if FAILED:
        sys.exit(max(status for status, _ in FAILED))


if __name__ == "__main__":
    main()
