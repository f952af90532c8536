"""Train Double DQN agents on Super Mario Bros from Hydra config groups.

    python train.py                                         # one run into outputs/runs/
    python train.py -m agent.batch_size=32,64 seed=1,2,3    # a sweep into outputs/multirun/
    python train.py --help                                  # the config groups and keys

The command itself is mario_exp/cli/train.py (also installed as `mario-train`).
"""
from mario_exp.cli.train import main

if __name__ == "__main__":
    main()
