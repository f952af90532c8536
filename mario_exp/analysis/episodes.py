"""Read one run's ``episodes.csv`` robustly.

The trainer appends and flushes a line per finished episode, so a live run can end mid-line and a
crash or a full disk can leave a garbled line. Those lines are dropped and counted instead of
failing the whole analysis.

Only the episodes that began at the level's start are kept: with env.frontier, the others began
part-way along the level (their start_step > 0), and their x_pos would flatter the run.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mario_exp.rundir.contract import EPISODE_COLUMNS, EPISODE_COLUMNS_ADDED_LATER, EPISODE_OPTIONAL, START_STEP

# The columns the analysis reads: all but the later ones, so that it reads the folders written
# before them too (start_step, where a file has it, only selects the level-start episodes).
COLUMNS = tuple(c for c in EPISODE_COLUMNS if c not in EPISODE_COLUMNS_ADDED_LATER)
# The optional ones (loss and q, before the first learn update) may be empty; every other field
# must be a number or the line is treated as garbled.
REQUIRED = tuple(c for c in COLUMNS if c not in EPISODE_OPTIONAL)


@dataclass(frozen=True)
class EpisodeRead:
    """Outcome of reading an episodes.csv: the clean table and what had to be dropped."""

    table: pd.DataFrame  # COLUMNS as float64, sorted by env_step; may be empty
    bad_lines: int  # complete lines that were dropped as garbled / out of order
    partial_last_line: bool  # file did not end with a newline: last line was cut mid-write
    header_ok: bool  # False: not an episodes.csv we understand (table is empty)


def empty_table() -> pd.DataFrame:
    """An episode table with no rows (burn-in, crashed run, unreadable file)."""
    return pd.DataFrame({c: np.empty(0) for c in COLUMNS})


def read_episodes_csv(path: Path) -> EpisodeRead:
    """Parse ``path``; never raises on bad content (OSError still propagates). Episodes that
    began part-way along the level are left out, not counted as bad lines."""
    data = path.read_bytes()
    partial = bool(data) and not data.endswith(b"\n")
    if partial:
        # The writer flushes whole lines, so anything after the last newline is a line still
        # being written (or cut by a crash): it is not a row yet.
        data = data[: data.rfind(b"\n") + 1]
    header, _, body = data.partition(b"\n")
    names = header.decode("utf-8", "replace").strip().split(",")
    if not set(COLUMNS) <= set(names):
        return EpisodeRead(empty_table(), 0, partial, header_ok=False)
    if not body.strip():
        return EpisodeRead(empty_table(), 0, partial, header_ok=True)

    # The C parser is ~20x faster than the python engine; it only raises on lines with too many
    # fields, which on_bad_lines="skip" drops. Lines with too few fields or junk text come back as
    # NaN / strings and are filtered below.
    frontier = START_STEP in names
    raw = pd.read_csv(io.BytesIO(data), usecols=list(COLUMNS) + ([START_STEP] if frontier else []),
                      on_bad_lines="skip", skip_blank_lines=True, encoding_errors="replace")
    cols = {}
    for c in COLUMNS:
        s = raw[c]
        if not pd.api.types.is_float_dtype(s) and not pd.api.types.is_integer_dtype(s):
            s = pd.to_numeric(s, errors="coerce")
        cols[c] = s.to_numpy(dtype=float, na_value=np.nan)
    ok = np.ones(len(raw), dtype=bool)
    for c in REQUIRED:
        ok &= np.isfinite(cols[c])
    # A step count is a whole number no run reaches beyond 2**53 (where float64 stops counting
    # in ones): a 23-digit env_step is a garbled line, not data.
    ok &= (cols["env_step"] == np.floor(cols["env_step"])) & (np.abs(cols["env_step"]) < 2.0**53)
    # env_step is cumulative: a row that does not move it forward cannot be a real episode end.
    steps = np.where(ok, cols["env_step"], -np.inf)
    prev_max = np.concatenate(([-np.inf], np.maximum.accumulate(steps)[:-1]))
    ok &= steps > prev_max
    kept = ok  # the rows of episodes that began at the level's start
    if frontier:
        start_step = pd.to_numeric(raw[START_STEP], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = ok & np.isfinite(start_step)
        kept = ok & (start_step == 0)
    table = pd.DataFrame({c: v[kept] for c, v in cols.items()})
    bad = body.count(b"\n") - int(ok.sum())
    if bad:
        # Only now pay for an exact count: blank lines are skipped, not garbled.
        bad = sum(1 for line in body.split(b"\n") if line.strip()) - int(ok.sum())
    return EpisodeRead(table, bad, partial, header_ok=True)
