"""python -m mario_exp.rundir.snapshot: a study's run folders without their heavy files."""
import numpy as np

from mario_exp.analysis.synthetic import run_config, synthetic_episodes, write_run
from mario_exp.rundir import snapshot
from mario_exp.rundir.contract import CHECKPOINT, EPISODES_CSV, MACHINES_JSON, STATUS_JSON
from mario_exp.rundir.machines import machines_text, this_machine
from tests.analysis_helpers import analyze


def _sweep(root):
    for job, seed in enumerate((1, 2)):
        run = write_run(root / f"{job}_seed={seed}", [f"seed={seed}"], run_config(seed, 2000),
                        synthetic_episodes(20, 0.5, np.random.default_rng(seed)),
                        {"status": "running", "env_step": 2000, "total_steps": 4000,
                         "episodes": 20, "error": None})
        for heavy in (CHECKPOINT, "events.out.tfevents.1.host.1.0", "videos/best.mp4", "train.log"):
            (run / heavy).parent.mkdir(parents=True, exist_ok=True)
            (run / heavy).write_bytes(b"x" * 1000)
        (run / "videos" / "best.gif").write_bytes(b"GIF89a")
        (run / MACHINES_JSON).write_text(machines_text(run, this_machine(0, "cpu fp32, 1 thread"), False))


def test_snapshot_keeps_what_the_analysis_reads_and_drops_the_rest(tmp_path):
    _sweep(tmp_path / "sweep")
    assert snapshot.main([str(tmp_path / "sweep"), str(tmp_path / "results" / "study")]) == 0
    copied = sorted(str(p.relative_to(tmp_path / "results" / "study"))
                    for p in (tmp_path / "results" / "study").rglob("*") if p.is_file())
    assert copied == sorted(f"{job}_seed={seed}/{name}" for job, seed in enumerate((1, 2))
                            for name in (".hydra/config.yaml", ".hydra/overrides.yaml",
                                         EPISODES_CSV, STATUS_JSON, MACHINES_JSON, "videos/best.gif"))
    proc = analyze(tmp_path / "results" / "study", "--out", tmp_path / "a", cwd=tmp_path)
    assert proc.returncode == 0 and "| 2 " in proc.stdout


def test_a_second_snapshot_replaces_the_files(tmp_path):
    _sweep(tmp_path / "sweep")
    dest = tmp_path / "results"
    snapshot.snapshot(tmp_path / "sweep", dest)
    (tmp_path / "sweep" / "0_seed=1" / STATUS_JSON).write_text('{"status": "finished"}')
    snapshot.snapshot(tmp_path / "sweep", dest)
    assert (dest / "0_seed=1" / STATUS_JSON).read_text() == '{"status": "finished"}'
    assert not [p for p in dest.rglob(".*tmp-*")]


def test_a_source_without_run_folders_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert snapshot.main([str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("python -m mario_exp.rundir.snapshot: error: no run folders")
    assert not (tmp_path / "out").exists()
