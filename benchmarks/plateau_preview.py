"""When a run's learning rate would first fall under scheduler=plateau, read off runs made
without it.

    python -m benchmarks.plateau_preview results/quick-1-1 [--falls 5]

With the same seed on one CPU, a run with scheduler=plateau is the run without it, step for
step, until its rate first falls: the schedule only watches each episode's mean TD loss, and
changes nothing before it acts. So the step of that first fall is exact when read off a finished run of the
same config without the schedule: its episodes' mean losses (episodes.csv's loss column, the
value the trainer hands the schedule) fed, in order, to the trainer's own ReduceLROnPlateau
(agent/ddqn.make_lr_scheduler, scheduler=plateau's factor and patience). The falls after it
are what they would be had the run gone on unchanged, a guide only: after the first, the two
runs part. Prints, per run folder, `first_fall_step` and the steps of the first `--falls` falls
with the rate after the last of them.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
import yaml

from mario_exp.agent.ddqn import make_lr_scheduler
from mario_exp.config.schema import SchedulerConfig
from mario_exp.rundir.contract import CONFIG_YAML, EPISODES_CSV
from mario_exp.rundir.snapshot import run_folders


def plateau_falls(episodes: pd.DataFrame, lr: float, falls: int,
                  scheduler: SchedulerConfig) -> list[tuple[int, float]]:
    """(env step, rate after it) of each of the first `falls` falls of `scheduler` fed the
    episodes' mean losses in order; episodes without an update (no loss) are skipped, as the
    trainer skips them."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=lr)
    schedule = make_lr_scheduler(optimizer, scheduler)
    found: list[tuple[int, float]] = []
    for step, loss in zip(episodes["env_step"], episodes["loss"]):
        if pd.isna(loss):
            continue
        before = optimizer.param_groups[0]["lr"]
        schedule.step(float(loss))
        after = optimizer.param_groups[0]["lr"]
        if after < before:
            found.append((int(step), after))
            if len(found) == falls:
                break
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.plateau_preview", description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="a run folder made without a schedule, or a folder of them")
    p.add_argument("--falls", type=int, default=5, help="how many falls to list (default 5)")
    args = p.parse_args(argv)
    if args.falls < 1:
        p.exit(2, f"{p.prog}: error: --falls must be a positive integer, not {args.falls}\n")
    runs = run_folders(args.source)
    if not runs:
        p.exit(2, f"{p.prog}: error: no run folders under '{args.source}' (a run folder contains {CONFIG_YAML})\n")
    scheduler = SchedulerConfig(name="plateau")  # conf/scheduler/plateau.yaml sets the name alone
    print(f"# scheduler=plateau: factor {scheduler.factor}, patience {scheduler.patience} episodes")
    for run in runs:
        config = yaml.safe_load((run / CONFIG_YAML).read_text())
        if config["scheduler"]["name"] != "none":
            print(f"{run}: skipped (trained with scheduler={config['scheduler']['name']})")
            continue
        falls = plateau_falls(pd.read_csv(run / EPISODES_CSV), config["agent"]["lr"], args.falls, scheduler)
        if not falls:
            print(f"{run}: first_fall_step none (the rate never falls within the run)")
            continue
        steps = ", ".join(f"{step:,}" for step, _ in falls)
        print(f"{run}: first_fall_step {falls[0][0]}; falls at {steps}; rate after them "
              f"{falls[-1][1]:.3g} (from {config['agent']['lr']:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
