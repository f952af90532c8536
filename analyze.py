"""Analyse mario-exp runs: comparison tables, learning curves and an HTML report.

    python analyze.py                                  # every run under outputs/
    python analyze.py outputs/multirun/2026-05-01/10-00-00 --baseline agent.batch_size=32

The command itself is mario_exp/cli/analyze.py (also installed as `mario-analyze`).
"""
import sys

from mario_exp.cli.analyze import main

if __name__ == "__main__":
    sys.exit(main())
