"""What the command-line entry points share: bad input is one line on stderr and exit status
2, never argparse's usage block or a traceback."""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn


def fail(prog: str, message: str, status: int = 2) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(status)


class OneLineParser(argparse.ArgumentParser):
    """argparse prints its usage before an error; the project's CLIs print one line."""

    def error(self, message: str) -> NoReturn:
        fail(self.prog, message)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


positive_int.__name__ = "positive integer"  # argparse names the type in its error message
