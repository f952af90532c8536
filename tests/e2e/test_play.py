"""python -m mario_exp.cli.play: a trained agent plays headless on the real emulator and writes a
video; bad input is one line and exit status 2. The command runs as a user runs it for a video
from a checkpoint file and for one bad input; the other cases call its main() in this process
(play_in_process), which prints the same lines and exits with the same status."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import decode_video, play_in_process, run_play

PROG = "python -m mario_exp.cli.play"


def test_play_writes_a_video_of_the_episodes_it_played(smoke_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "mario.mp4"
    result = play_in_process([str(smoke_run), "--episodes", "2", "--max-steps", "30", "--epsilon", "0.5",
                              "--out", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    lengths = [int(n) for n in re.findall(r"^episode \d: x_pos \d+, reward -?\d+, (\d+) steps", result.stdout, re.M)]
    assert len(lengths) == 2 and all(1 <= n <= 30 for n in lengths)
    meta, frames = decode_video(out)
    assert meta["size"] == (256, 240)
    assert len(frames) == sum(n + 1 for n in lengths)   # each episode: its start, then a frame a step
    assert f"video: {out} ({len(frames)} frames at 15 fps)" in result.stdout


def test_play_takes_a_checkpoint_file_and_defaults_to_the_run_videos(smoke_run: Path, tmp_path: Path) -> None:
    result = run_play([str(smoke_run / "checkpoints" / "last.pt"), "--max-steps", "5"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (smoke_run / "videos" / "play.mp4").is_file()
    (smoke_run / "videos" / "play.mp4").unlink()


@pytest.mark.parametrize("case", ["missing", "no checkpoint", "garbage", "truncated", "episodes 0", "epsilon 2"])
def test_bad_input_is_one_line(smoke_run: Path, tmp_path: Path, case: str) -> None:
    checkpoint = tmp_path / "last.pt"
    if case == "garbage":
        checkpoint.write_bytes(b"\x00not a checkpoint" * 50)
    if case == "truncated":
        data = (smoke_run / "checkpoints" / "last.pt").read_bytes()
        checkpoint.write_bytes(data[:len(data) // 2])
    (tmp_path / "empty_run").mkdir()
    args, needle = {
        "missing": ([str(tmp_path / "nowhere")], "no such file or folder"),
        "no checkpoint": ([str(tmp_path / "empty_run")], "no checkpoints/last.pt here"),
        "garbage": ([str(checkpoint)], "not a readable checkpoint"),
        "truncated": ([str(checkpoint)], "not a readable checkpoint"),
        "episodes 0": ([str(smoke_run), "--episodes", "0"], "--episodes"),
        "epsilon 2": ([str(smoke_run), "--epsilon", "2"], "--epsilon"),
    }[case]
    # The command itself for one case (a checkpoint it must load with torch); main() for the others.
    result = (run_play if case == "truncated" else play_in_process)(args, tmp_path)
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"{PROG}: error: ") and needle in line
    assert "Traceback" not in result.stderr and result.stdout == ""
