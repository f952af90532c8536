"""Progress output of a real run: periodic log lines when nobody watches a terminal (a pipe, a
launcher, a CI log), a tqdm bar when stderr is a terminal."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from tests.helpers import REPO, run_train

ARGS = ["experiment=smoke", "trainer.total_steps=200", "trainer.eval_every=null"]
LINE = re.compile(r"\[mario_exp\.rundir\.console\]\[INFO\] - step (\d+)/200  [\d.]+ steps/s  episodes \d+  "
                  r"last x_pos (\d+|-)  epsilon [\d.]+  loss (-|[\d.]+)  ETA \d+:\d\d:\d\d$")


def test_without_a_terminal_progress_is_one_line_per_interval(tmp_path: Path) -> None:
    result = run_train(ARGS, tmp_path)      # stdout and stderr are pipes here
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "\r" not in output and "\x1b[" not in output
    progress = [line for line in output.splitlines() if "[mario_exp.rundir.console]" in line]
    assert [LINE.search(line).group(1) for line in progress] == ["100", "200"]   # log_every 100
    assert result.stderr == ""


def test_on_a_terminal_progress_is_a_bar(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # 160 columns
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *ARGS], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # a terminal's buffer is small: read while the run writes
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:   # EIO: the run closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout, _ = proc.communicate(timeout=300)
    reader.join(timeout=30)
    os.close(leader)
    assert proc.returncode == 0
    bar = b"".join(chunks).decode(errors="replace")
    assert "\r" in bar and "200/200" in bar and "step/s" in bar and "episodes" in bar
    # The interval lines still reach the log, printed above the bar.
    assert len([line for line in stdout.decode().splitlines() if LINE.search(line)]) == 2
