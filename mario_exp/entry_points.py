"""The console scripts that installing the checkout puts on PATH, usable from any folder:

    mario-train   ...    # python train.py ...    (Hydra overrides, -m for a sweep, --help)
    mario-analyze ...    # python analyze.py ...
    mario-play    ...    # python -m mario_exp.play ...

train.py and analyze.py stay at the checkout's root, beside conf/, where `@hydra.main` finds
the configs (relative to train.py's own file). So the scripts run them as `python train.py`
would, as `__main__` from their own path: the same config search path, the same job names, the
same `__main__` for the launchers that pickle the task function. They are found beside the
installed package, which is the checkout's own in an editable install (`make setup`, `pip install
-e .`); a wheel built from the checkout carries the package only, and these two scripts say so.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

# mario_exp/ sits in the checkout's root in an editable install.
CHECKOUT = Path(__file__).resolve().parents[1]


def run_root_script(name: str, prog: str, needs: tuple[str, ...] = ()) -> None:
    """Run CHECKOUT/NAME as `python NAME` would, with this process's arguments."""
    script = CHECKOUT / name
    missing = [p for p in (name, *needs) if not (CHECKOUT / p).exists()]
    if missing:
        print(f"{prog}: error: {CHECKOUT} has no {' or '.join(missing)}: {prog} runs the checkout's "
              f"{name}; install the checkout in editable mode (pip install -e CHECKOUT)", file=sys.stderr)
        raise SystemExit(2)
    # runpy sets sys.argv[0] to the script and makes it __main__ while it runs.
    runpy.run_path(str(script), run_name="__main__")


def train() -> None:
    run_root_script("train.py", "mario-train", needs=("conf",))


def analyze() -> None:
    run_root_script("analyze.py", "mario-analyze")


def play() -> None:
    from mario_exp.play import main

    main()
