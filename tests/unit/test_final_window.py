import math

from mario_exp.rundir.contract import EPISODE_COLUMNS
from mario_exp.rundir.final_window import final_metrics


def _write_episodes(path, rows):
    lines = [",".join(EPISODE_COLUMNS)]
    for step, x_pos, reward, flag in rows:
        lines.append(f"{step},1,{reward},{x_pos},10,{flag},0.5,,,0.00025,1.0,0,0")
    path.write_text("\n".join(lines) + "\n")


def test_final_metrics_average_the_episodes_of_the_last_tenth_of_steps(tmp_path):
    path = tmp_path / "episodes.csv"
    # The last episode ends at 1000, so the window is steps > 900: the last two rows.
    _write_episodes(path, [(500, 100, 10.0, 0), (901, 3000, 30.0, 1), (1000, 2000, 20.0, 0)])
    assert final_metrics(path) == {"final/x_pos": 2500.0, "final/reward": 25.0, "final/flag_rate": 0.5}


def test_final_metrics_of_a_run_without_episodes_are_nan(tmp_path):
    path = tmp_path / "episodes.csv"
    _write_episodes(path, [])
    assert all(math.isnan(v) for v in final_metrics(path).values())
