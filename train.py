"""Train Double DQN agents on Super Mario Bros from Hydra config groups.

    python train.py                                         # one run into outputs/runs/
    python train.py -m agent.batch_size=32,64 seed=1,2,3    # a sweep into outputs/multirun/
    python train.py --help                                  # the config groups and keys

Every job of the command line is composed and validated before any starts; a bad override
exits with status 2 and one line naming the key and what it accepts.
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from mario_exp.config import ConfigError, register_schema, to_config
from mario_exp.preflight import compose_jobs

CONF_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def run(cfg: DictConfig) -> None:
    from mario_exp.trainer import train  # torch loads here, after the cheap checks

    hydra_cfg = HydraConfig.get()
    overrides = ",".join(hydra_cfg.overrides.task) or "defaults"
    train(to_config(cfg), Path(hydra_cfg.runtime.output_dir), run_name=overrides)


def main() -> None:
    register_schema()
    try:
        configs = compose_jobs(sys.argv[1:], CONF_DIR)
        if configs:
            from mario_exp.agent import resolve_device

            for config in configs:
                resolve_device(config.trainer.device)
    except ConfigError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        sys.exit(2)
    run()


if __name__ == "__main__":
    main()
