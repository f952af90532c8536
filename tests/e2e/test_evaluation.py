"""Near-greedy evaluation on the real emulator at the configured steps, its videos, and proof
that it leaves training's episodes exactly as they are. The runs the tests here make go
through train.py's job in this process (train_in_process): what they wrote is the point."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mario_exp.rundir.contract import EVAL_COLUMNS, EVALS_CSV
from mario_exp.training.schedule import crossed
from tests.helpers import decode_video, drop_clock, read_episodes, read_rows, single_run_dir, train_in_process


def read_evals(run_dir: Path) -> list[dict[str, str]]:
    return read_rows(run_dir / EVALS_CSV, EVAL_COLUMNS)


def furthest(rows: list[dict[str, str]]) -> dict[str, str]:
    """The episode a video must show: highest x_pos, then reward; the first of equals."""
    return max(rows, key=lambda r: (int(r["x_pos"]), float(r["reward"])))


def test_crossed_counts_evaluation_points_even_when_a_loop_step_skips_over_them() -> None:
    assert crossed(199, 200, 200) and not crossed(200, 201, 200)
    assert crossed(195, 205, 100)          # a vectorised loop going 195 -> 205 passed 200
    assert not crossed(0, 99, 100) and crossed(0, 250, 100)


def test_evaluations_run_at_the_configured_steps(smoke_run: Path) -> None:
    """experiment=smoke: eval_every 200 of 400 steps, 2 episodes capped at 50 steps each."""
    rows = read_evals(smoke_run)
    assert [(int(r["env_step"]), int(r["eval_episode"])) for r in rows] == [(200, 1), (200, 2), (400, 1), (400, 2)]
    for r in rows:
        length, truncated = int(r["length"]), int(r["truncated"])
        assert 1 <= length <= 50 and (truncated == 0 or length == 50)
        assert float(r["epsilon"]) == 0.05 and int(r["x_pos"]) > 0 and r["flag"] in ("0", "1")
    events = EventAccumulator(str(smoke_run), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    for name in ("reward", "x_pos", "flag"):
        logged = [(e.step, e.value) for e in events.Scalars(f"eval/{name}")]
        expected = [(step, np.mean([float(r[name]) for r in rows if int(r["env_step"]) == step]))
                    for step in (200, 400)]
        assert [s for s, _ in logged] == [200, 400]
        assert [v for _, v in logged] == [np.float32(v) for _, v in expected]
    # The latest evaluation's video, as an animated GIF in TensorBoard's image dashboard.
    assert [e.step for e in events.Images("eval/latest")] == [200, 400]


def test_the_last_step_is_evaluated_when_the_budget_is_no_multiple(tmp_path: Path) -> None:
    result = train_in_process(["experiment=smoke", "trainer.total_steps=250", "trainer.eval_every=100",
                               "trainer.eval_episodes=1", "trainer.eval_max_steps=10",
                               "trainer.eval_video=false"], tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = single_run_dir(tmp_path)
    assert [int(r["env_step"]) for r in read_evals(run_dir)] == [100, 200, 250]
    assert all(int(r["length"]) <= 10 for r in read_evals(run_dir))
    assert not (run_dir / "videos").exists()


def test_evaluation_changes_nothing_in_training(smoke_run: Path, tmp_path: Path) -> None:
    """The same seed gives the same episodes.csv with evaluation on (smoke_run) or off."""
    result = train_in_process(["experiment=smoke", "seed=7", "trainer.eval_every=null"], tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = single_run_dir(tmp_path)
    assert not (run_dir / "evals.csv").exists() and not (run_dir / "videos").exists()
    assert drop_clock(read_episodes(run_dir)) == drop_clock(read_episodes(smoke_run))


def test_videos_show_the_best_and_the_latest_episode_in_colour(smoke_run: Path) -> None:
    rows = read_evals(smoke_run)
    last = max(int(r["env_step"]) for r in rows)
    for name, episode in (("best", furthest(rows)),
                          ("latest", furthest([r for r in rows if int(r["env_step"]) == last]))):
        meta, frames = decode_video(smoke_run / "videos" / f"{name}.mp4")
        assert meta["codec"] == "h264" and meta["size"] == (256, 240) and meta["fps"] == 15.0
        # The level's first screen, then one screen per agent step of the episode.
        assert len(frames) == int(episode["length"]) + 1
        sky = frames[0][100:140, :].reshape(-1, 3).astype(int)   # the sky of 1-1 is blue
        assert np.median(sky[:, 2] - sky[:, 0]) > 50
        with Image.open(smoke_run / "videos" / f"{name}.gif") as gif:
            assert gif.size == (128, 120)
            assert gif.n_frames == math.ceil(len(frames) / 2)
