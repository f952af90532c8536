"""Reading run folders: robust episodes.csv, status inference, runs without episodes, grouping."""
import numpy as np
import pytest

from mario_exp.analysis.episodes import read_episodes_csv
from mario_exp.analysis.errors import AnalysisError
from mario_exp.analysis.groups import find_baseline, group_runs, mixed_config_keys
from mario_exp.analysis.runs import find_run_dirs, load_run
from mario_exp.analysis.synthetic import run_config, synthetic_episodes, with_overrides, write_run
from mario_exp.rundir.contract import (
    CONFIG_YAML,
    EPISODE_COLUMNS,
    EPISODE_COLUMNS_ADDED_LATER,
    EPISODES_CSV,
    EVAL_COLUMNS,
    EVALS_CSV,
    EVENT_FILES,
    STATUS_JSON,
)

HEADER = ",".join(EPISODE_COLUMNS) + "\n"
ROW = "{s},{e},5.0,300,100,0,0.9,0.5,1.2,0.001,{t},0,0\n"


def rows(n, start=1):
    return "".join(ROW.format(s=100 * i, e=i, t=float(i)) for i in range(start, start + n))


def test_clean_csv_reads_every_row(tmp_path):
    path = tmp_path / EPISODES_CSV
    path.write_text(HEADER + rows(5))
    read = read_episodes_csv(path)
    assert len(read.table) == 5 and read.bad_lines == 0 and not read.partial_last_line
    assert read.table["env_step"].tolist() == [100, 200, 300, 400, 500]


def test_empty_loss_and_q_are_kept_as_nan(tmp_path):
    path = tmp_path / EPISODES_CSV
    path.write_text(HEADER + "100,1,5.0,300,100,0,1.0,,,0.001,1.0,0,0\n")
    table = read_episodes_csv(path).table
    assert len(table) == 1 and np.isnan(table["loss"][0]) and np.isnan(table["q"][0])


def test_line_cut_mid_write_is_dropped_not_counted_as_garbled(tmp_path):
    path = tmp_path / EPISODES_CSV
    path.write_text(HEADER + rows(3) + "400,4,5.")
    read = read_episodes_csv(path)
    assert len(read.table) == 3 and read.partial_last_line and read.bad_lines == 0


@pytest.mark.parametrize("junk", [
    "garbage,line\n",                          # too few fields
    "1,2,3,4,5,6,7,8,9,10,11,12,13,14\n",      # too many fields
    "250,x,5.0,abc,100,0,0.9,0.5,1.2,0.001,2,0,0\n",  # text in numeric fields
    "\x00\x00\x00\x00\n",                      # NULs from a crash while flushing
    "150,2,5.0,300,100,0,0.9,0.5,1.2,0.001,1.5,0,0\n",  # env_step goes backwards
])
def test_garbled_line_mid_file_is_skipped_and_counted(tmp_path, junk):
    path = tmp_path / EPISODES_CSV
    path.write_text(HEADER + rows(2) + junk + rows(2, start=3))
    read = read_episodes_csv(path)
    assert read.bad_lines == 1
    assert read.table["env_step"].tolist() == [100, 200, 300, 400]


def test_wrong_header_is_not_read_as_episodes(tmp_path):
    path = tmp_path / EPISODES_CSV
    path.write_text("step,score\n1,2\n")
    assert not read_episodes_csv(path).header_ok


def test_episodes_csv_from_before_the_later_columns_still_reads(tmp_path):
    path = tmp_path / EPISODES_CSV
    older = [c for c in EPISODE_COLUMNS if c not in EPISODE_COLUMNS_ADDED_LATER]
    path.write_text(",".join(older) + "\n" + "100,1,5.0,300,100,0,0.9,0.5,1.2,0.001,1.0\n"
                    "200,2,5.0,300,100,0,0.9,0.5,1.2,0.001,2.0\n")
    read = read_episodes_csv(path)
    assert read.header_ok and read.bad_lines == 0 and read.table["env_step"].tolist() == [100, 200]


def _run(tmp_path, name="run", episodes=None, status=None, total=500):
    return write_run(tmp_path / name, ["seed=1"], run_config(1, total), episodes, status)


def test_status_inferred_when_status_json_missing(tmp_path):
    table = synthetic_episodes(5, 0.5, np.random.default_rng(0))
    done = _run(tmp_path, "done", table, None, total=int(table["env_step"].iloc[-1]))
    short = _run(tmp_path, "short", table, None, total=10**9)
    assert load_run(done).status == "finished"
    killed = load_run(short)
    assert killed.status == "unknown" and "crashed or killed" in killed.warnings[0]


def test_until_scores_a_run_as_it_stood_at_that_step(tmp_path):
    table = synthetic_episodes(40, 0.5, np.random.default_rng(0))  # 8,800 steps
    end = int(table["env_step"].iloc[-1])
    stopped = {"status": "interrupted", "env_step": end, "total_steps": 20_000, "episodes": 40, "error": None}
    path = _run(tmp_path, "long", table, stopped, total=20_000)
    (path / EVALS_CSV).write_text(",".join(EVAL_COLUMNS) + "\n" + "".join(
        f"{step},1,10.0,500,50,0,0,0.05,1.0\n" for step in (2000, 4000, 6000, 8000)))
    assert load_run(path).status == "interrupted"
    run = load_run(path, until=4000)
    kept = table[table["env_step"] <= 4000]
    assert 0 < len(kept) < len(table) and run.episodes["env_step"].tolist() == kept["env_step"].tolist()
    assert run.evals["env_step"].tolist() == [2000, 4000]
    # It got that far, so it counts as a finished run of that budget: nothing provisional.
    assert (run.status, run.env_step, run.budget, run.warnings) == ("finished", 4000, 4000, [])
    # A run that stopped before the cut stays what it was.
    short = load_run(path, until=end + 1)
    assert (short.status, short.env_step, short.budget, len(short.episodes)) == ("interrupted", end, end + 1, 40)


def test_crashed_run_without_episodes_is_reported(tmp_path):
    path = _run(tmp_path, status={"status": "failed", "env_step": 0, "total_steps": 500,
                                  "episodes": 0, "error": "RuntimeError: emulator died"})
    run = load_run(path)
    assert run.status == "failed" and len(run.episodes) == 0
    assert run.warnings == [f"{run.name}: no episodes (failed: RuntimeError: emulator died)"]


def test_unreadable_config_and_status_become_warnings(tmp_path):
    path = _run(tmp_path, episodes=synthetic_episodes(3, 0.5, np.random.default_rng(0)))
    (path / CONFIG_YAML).write_text("a: [unclosed\n")
    (path / STATUS_JSON).write_text("{not json")
    run = load_run(path)
    assert len(run.episodes) == 3
    assert any("config.yaml unreadable" in w for w in run.warnings)
    assert any("status.json unreadable" in w for w in run.warnings)


def test_run_with_event_files_but_no_episodes_csv_has_no_episodes(tmp_path):
    # Every run writes episodes.csv when it starts: without it, TensorBoard's files are not read
    # in its place, and the run is reported as any run without episodes.
    path = _run(tmp_path, status={"status": "finished", "env_step": 500, "total_steps": 500,
                                  "episodes": 3, "error": None})
    (path / EVENT_FILES.replace("*", "1767225600.host.1.0")).write_bytes(b"\x00" * 64)
    run = load_run(path)
    assert run.source == "none" and len(run.episodes) == 0 and run.status == "finished"
    assert run.warnings == [f"{run.name}: no episodes (finished)"]


def test_discovery_skips_analysis_folder_and_does_not_enter_runs(tmp_path):
    outputs = tmp_path / "outputs"
    a = _run(outputs / "runs" / "d", "a")
    _run(outputs / "analysis" / "d", "not-a-run")
    _run(a / "checkpoints", "nested")  # inside a run: ignored
    assert find_run_dirs(outputs, skip=(outputs / "analysis",)) == [a]


def composed(overrides, config=None):
    """run_config(1, 100), or `config`, as the overrides compose it."""
    return with_overrides(config or run_config(1, 100), overrides)


def _grouped(tmp_path, overrides_list, configs=None):
    runs = []
    for i, overrides in enumerate(overrides_list):
        config = configs[i] if configs else run_config(1, 100)
        path = write_run(tmp_path / str(i), overrides, config, None, None)
        runs.append(load_run(path))
    return runs


def test_grouping_drops_seed_and_hydra_keys(tmp_path):
    runs = _grouped(tmp_path, [
        ["experiment=smoke", "agent.batch_size=32", "seed=1"],
        ["experiment=smoke", "agent.batch_size=32", "seed=2", "hydra.verbose=true"],
        ["experiment=smoke", "agent.batch_size=64", "seed=1"],
    ])
    configs, swept = group_runs(runs)
    assert swept == ["agent.batch_size"]
    assert sorted(len(c.runs) for c in configs) == [1, 2]
    assert {c.label for c in configs} == {"experiment=smoke,agent.batch_size=32",
                                          "experiment=smoke,agent.batch_size=64"}


def test_overrides_that_compose_to_the_same_config_are_one_configuration(tmp_path):
    """A preset that came to choose what seeds 1 and 2 had to override, and a default spelt out."""
    right_run = composed(["action_set.name=right_run"])
    runs = _grouped(tmp_path, [
        ["experiment=flag", "action_set=right_run", "seed=1"],
        ["experiment=flag", "action_set=right_run", "seed=2"],
        ["experiment=flag", "seed=3"],
        ["experiment=flag", "agent.lr=0.00025", "seed=1"],
        ["experiment=flag", "seed=2", "agent.lr=0.00025"],
        ["experiment=flag", "agent.lr=0.001", "seed=1"],
    ], configs=[composed(["seed=1"], right_run), composed(["seed=2"], right_run), composed(["seed=3"], right_run),
                composed(["seed=1"]), composed(["seed=2"]), composed(["seed=1", "agent.lr=0.001"])])
    configs, swept = group_runs(runs)
    assert [(c.label, [r.seed for r in c.runs]) for c in configs] == [
        ("experiment=flag", [1, 2, 3]),                    # action_set=right_run, or the preset's
        ("experiment=flag,agent.lr=0.00025", [1, 2]),      # the same overrides in another order
        ("experiment=flag,agent.lr=0.001", [1])]
    assert swept == ["agent.lr"]


def test_a_run_resumed_on_newer_code_is_the_configuration_it_began_as(tmp_path):
    """Seed 1 resumed after env.frontier existed: its config.yaml has env.frontier's keys at the
    values that mean the old behaviour; seeds 2 and 3, not resumed since, lack them. One
    configuration; a run with frontier starts on stays another."""
    def with_frontier(seed, fraction):
        config = composed([f"seed={seed}"], run_config(1, 100))
        config["env"]["frontier"] = {"fraction": fraction, "window": None}
        return config
    runs = _grouped(tmp_path, [["experiment=flag", "seed=1"],
                               ["experiment=flag", "action_set=right_run", "seed=2"],
                               ["experiment=flag", "seed=3"],
                               ["experiment=flag", "env.frontier.fraction=0.5", "seed=1"]],
                    configs=[with_frontier(1, 0.0), composed(["seed=2"]), composed(["seed=3"]), with_frontier(1, 0.5)])
    configs, _ = group_runs(runs)
    assert [(c.label, [r.seed for r in c.runs]) for c in configs] == [
        ("experiment=flag", [1, 3, 2]), ("experiment=flag,env.frontier.fraction=0.5", [1])]


def test_the_same_overrides_stay_one_configuration_whatever_they_composed_to(tmp_path):
    """Runs made before and after a default changed, or with an unread config, are never split
    or joined by their configs: only other spellings of one config join."""
    runs = _grouped(tmp_path, [["agent.batch_size=64", "seed=1"], ["agent.batch_size=64", "seed=2"], ["seed=3"]],
                    configs=[composed(["seed=1", "agent.batch_size=64"]),
                             composed(["seed=2", "agent.batch_size=64", "agent.gamma=0.99"]),
                             composed(["seed=3", "agent.batch_size=64"])])
    (runs[2].path / CONFIG_YAML).write_text("[not a mapping")
    runs[2] = load_run(runs[2].path)
    configs, _ = group_runs(runs)
    assert [(c.label, len(c.runs)) for c in configs] == [("agent.batch_size=64", 2), ("(defaults)", 1)]
    # What differs inside the first is named (the analysis warns with it); nothing is named for
    # a configuration of one run.
    assert mixed_config_keys(configs[0]) == {"agent.gamma": ["0.9", "0.99"]}
    assert mixed_config_keys(configs[1]) == {}


def test_keys_a_run_predates_do_not_make_its_configuration_mixed(tmp_path):
    """One run resumed on code with env.frontier and trainer.schedule_horizon (their old
    behaviour's values stored), one begun before them: one config. A run whose config is
    unread is left out of the comparison, not the others."""
    resumed = composed(["seed=1"], run_config(1, 100))
    resumed["env"]["frontier"] = {"fraction": 0.0, "window": None}
    resumed["trainer"]["schedule_horizon"] = None
    runs = _grouped(tmp_path, [["experiment=flag", f"seed={seed}"] for seed in (1, 2, 3)],
                    configs=[resumed, composed(["seed=2"]), composed(["seed=3"])])
    configs, _ = group_runs(runs)
    assert len(configs) == 1 and mixed_config_keys(configs[0]) == {}
    (runs[2].path / CONFIG_YAML).write_text("[not a mapping")
    runs[2] = load_run(runs[2].path)
    runs[1] = load_run(write_run(tmp_path / "1b", ["experiment=flag", "seed=2"],
                                 composed(["seed=2", "agent.learn_every=1"]), None, None))
    configs, _ = group_runs(runs)
    assert mixed_config_keys(configs[0]) == {"agent.learn_every": ["1", "3"]}


def test_swept_key_missing_in_a_group_shows_its_config_value(tmp_path):
    runs = _grouped(tmp_path, [["agent.lr=0.001", "seed=1"], ["seed=2"]])
    configs, swept = group_runs(runs)
    assert swept == ["agent.lr"]
    assert sorted(c.settings["agent.lr"] for c in configs) == ["0.00025", "0.001"]


def test_group_by_config_key_and_unknown_key(tmp_path):
    runs = _grouped(tmp_path, [["agent.lr=0.001", "seed=1"], ["agent.lr=0.002", "seed=2"]])
    configs, swept = group_runs(runs, by=["env.world"])
    assert swept == ["env.world"] and len(configs) == 1 and len(configs[0].runs) == 2
    with pytest.raises(AnalysisError, match="no.such"):
        group_runs(runs, by=["no.such"])


def test_baseline_matches_numerically_and_rejects_ambiguity(tmp_path):
    runs = _grouped(tmp_path, [["agent.lr=1e-3", "agent.batch_size=32"],
                               ["agent.lr=2e-3", "agent.batch_size=32"]])
    configs, _ = group_runs(runs)
    assert find_baseline(configs, ["agent.lr=0.001"]).settings["agent.lr"] == "1e-3"
    with pytest.raises(AnalysisError, match="matches 2 configurations"):
        find_baseline(configs, ["agent.batch_size=32"])
    with pytest.raises(AnalysisError, match="matches no configuration"):
        find_baseline(configs, ["agent.lr=5"])
