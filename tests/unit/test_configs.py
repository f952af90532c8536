"""Every config group option and preset composes into a valid Config, and the YAML says what
the issue and the tutorial say it does."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from mario_exp.config.schema import BUTTONS, Config, register_schema, to_config
from tests.helpers import CONF, compose_config

GROUPS = ["agent", "scheduler", "action_set", "env", "trainer", "experiment"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group: str, option: str) -> None:
    config = compose_config([f"{group}={option}"])
    if group in ("scheduler", "action_set"):
        assert getattr(config, group).name == option


def test_groups_have_the_options_the_issue_names() -> None:
    assert options("scheduler") == ["none", "plateau", "step"]
    assert options("action_set") == ["complex", "right_only", "right_run", "simple"]
    assert "smoke" in options("experiment")


def test_defaults_are_the_tutorials() -> None:
    agent = compose_config([]).agent
    assert (agent.batch_size, agent.learn_every, agent.lr, agent.gamma, agent.n_step) == (32, 3, 0.00025, 0.9, 1)
    assert (agent.burnin, agent.sync_every, agent.memory_size) == (10000, 10000, 100000)
    assert (agent.epsilon.start, agent.epsilon.decay, agent.epsilon.min) == (1.0, 0.99999975, 0.1)
    env = compose_config([]).env
    assert (env.world, env.stage, env.rom_version, env.frame_skip, env.frame_size, env.frame_stack) \
        == (1, 1, "v0", 4, 84, 4)


def test_plateau_is_the_student_projects() -> None:
    scheduler = compose_config(["scheduler=plateau"]).scheduler
    assert (scheduler.factor, scheduler.patience) == (0.5, 10)


def test_action_sets_match_the_package() -> None:
    from gym_super_mario_bros.actions import COMPLEX_MOVEMENT, RIGHT_ONLY, SIMPLE_MOVEMENT

    assert compose_config(["action_set=simple"]).action_set.buttons == SIMPLE_MOVEMENT
    assert compose_config(["action_set=complex"]).action_set.buttons == COMPLEX_MOVEMENT
    assert compose_config(["action_set=right_only"]).action_set.buttons == [["right"], ["right", "A"]]
    right_run = compose_config(["action_set=right_run"]).action_set.buttons
    assert right_run == [b for b in RIGHT_ONLY if b != ["NOOP"]]


def test_schema_buttons_are_the_joypads() -> None:
    from nes_py.wrappers import JoypadSpace

    assert sorted(BUTTONS) == sorted(JoypadSpace.buttons())


def test_smoke_preset_is_tiny_and_consistent() -> None:
    config = compose_config(["experiment=smoke"])
    assert config.trainer.total_steps <= 1000
    assert config.agent.burnin < config.trainer.total_steps
    assert config.agent.memory_size <= 10000


def test_overrides_reach_nested_keys() -> None:
    config = compose_config(["agent.epsilon.decay=0.999", "env.world=4", "env.stage=2", "seed=9"])
    assert (config.agent.epsilon.decay, config.env.world, config.env.stage, config.seed) == (0.999, 4, 2, 9)


def test_a_preset_sets_top_level_keys(tmp_path) -> None:
    """A preset (`# @package _global_`) can set a top-level key such as the seed: config.yaml's
    own values (`_self_`) are merged before the config groups' choices, not after them. The
    command line still wins over both."""
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "experiment" / "seeded.yaml").write_text(
        "# @package _global_\nseed: 42\ntrainer:\n  total_steps: 300\n")

    def seed_of(overrides: list[str]) -> tuple[int, int]:
        register_schema()
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            config = to_config(compose("config", overrides=overrides))
        return config.seed, config.trainer.total_steps

    assert seed_of(["experiment=seeded"]) == (42, 300)
    assert seed_of(["experiment=seeded", "seed=5"]) == (5, 300)
    assert seed_of([]) == (1, compose_config([]).trainer.total_steps)
    from mario_exp.config.preflight import compose_jobs  # what train.py checks before launching

    assert [c.seed for c in compose_jobs(["-m", "experiment=seeded", "seed=42,6"], conf)] == [42, 6]
    assert [c.seed for c in compose_jobs(["experiment=seeded"], conf)] == [42]


def compose_with_hydra(overrides: list[str]):
    register_schema()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


COMPARISONS = {  # preset -> (the key it compares, its two values), the maeng99 project's four
    "compare_batch_size": ("agent.batch_size", "32,64"),
    "compare_learn_every": ("agent.learn_every", "10,5"),
    "compare_scheduler": ("scheduler", "none,plateau"),
    "compare_action_set": ("action_set", "right_only,right_run"),
}


def test_experiment_presets_are_the_issues() -> None:
    assert options("experiment") == sorted(["smoke", "quick", "flag", "hparams_search", *COMPARISONS])


def test_sample_efficient_options_are_off_by_default() -> None:
    """The tutorial's defaults stay the tutorial's: each option needs a preset or an override."""
    agent, env = compose_config([]).agent, compose_config([]).env
    assert (agent.dueling, agent.reward_scale, agent.adam_eps, agent.augment_shift) == (False, 1.0, 1e-8, 0)
    assert agent.priority.exponent == 0.0 and env.stall_steps is None


def test_quick_preset_is_the_sample_efficient_recipe_with_an_update_every_step() -> None:
    from mario_exp.agent.ddqn import epsilon_at

    quick, tutorial = compose_config(["experiment=quick"]), compose_config([])
    agent = quick.agent
    assert quick.trainer.total_steps == 150_000 and agent.learn_every == 1
    assert agent.dueling and agent.priority.exponent == 0.6 and agent.augment_shift == 4
    assert agent.reward_scale == 0.1 and agent.adam_eps == 1.5e-4 and agent.n_step == 3
    assert quick.env.stall_steps == 50 and quick.env.button_marks and quick.trainer.eval_episodes == 20
    assert quick.action_set.name == "right_run" and len(quick.action_set.buttons) == 4
    # Exploration ends after the first 15k steps of the budget.
    assert epsilon_at(15_001, agent.epsilon, 150_000) == agent.epsilon.min == 0.05
    assert epsilon_at(14_000, agent.epsilon, 150_000) > agent.epsilon.min
    assert agent.burnin < 15_000 <= agent.memory_size
    # Still the tutorial's network, learning rate, discount and batch.
    assert (agent.lr, agent.gamma, agent.batch_size) == (tutorial.agent.lr, tutorial.agent.gamma,
                                                         tutorial.agent.batch_size)


def test_flag_preset_is_quick_trained_on_to_500k_steps() -> None:
    from mario_exp.agent.ddqn import epsilon_at

    flag, quick = compose_config(["experiment=flag"]), compose_config(["experiment=quick"])
    assert (flag.trainer.total_steps, flag.trainer.schedule_horizon) == (500_000, 150_000)
    # The schedules span quick's budget: exploration still ends after the first 15k steps.
    assert flag.trainer.horizon == quick.trainer.horizon == 150_000   # quick's: its budget
    assert epsilon_at(15_001, flag.agent.epsilon, flag.trainer.horizon) == flag.agent.epsilon.min
    # Everything else is quick's, so a quick run continued with experiment=flag is a flag run
    # (tests/e2e/test_sample_efficient_training.py runs one).
    assert replace(flag, trainer=replace(flag.trainer, total_steps=150_000, schedule_horizon=None)) == quick
    assert flag.agent.learn_every == 1


@pytest.mark.parametrize("preset", sorted(COMPARISONS))
def test_comparison_presets_sweep_their_key_over_three_seeds(preset: str) -> None:
    cfg = compose_with_hydra([f"experiment={preset}"])
    key, values = COMPARISONS[preset]
    assert dict(cfg.hydra.sweeper.params) == {key: values, "seed": "1,2,3"}
    assert cfg.hydra.sweeper._target_.endswith("BasicSweeper")
    # Everything else is experiment=quick's.
    assert to_config(cfg_without_hydra(cfg)) == compose_config(["experiment=quick"])


def cfg_without_hydra(cfg):
    from omegaconf import OmegaConf, open_dict

    cfg = OmegaConf.create(OmegaConf.to_container(cfg))  # a copy, no longer read-only
    with open_dict(cfg):
        del cfg["hydra"]
    return OmegaConf.merge(OmegaConf.structured(Config), cfg)


@pytest.mark.parametrize("preset", sorted(COMPARISONS))
def test_preflight_runs_a_presets_seeds_and_the_command_line_replaces_them(preset: str) -> None:
    from mario_exp.config.preflight import compose_jobs

    key, values = COMPARISONS[preset]
    leaf = key if "." in key else f"{key}.name"

    def value(config: Config) -> str:
        node = config
        for part in leaf.split("."):
            node = getattr(node, part)
        return str(node)

    jobs = compose_jobs(["-m", f"experiment={preset}"], CONF)
    assert sorted((value(c), c.seed) for c in jobs) == sorted(
        (v, s) for v in values.split(",") for s in (1, 2, 3))
    jobs = compose_jobs(["-m", f"experiment={preset}", "seed=7,8"], CONF)
    assert {c.seed for c in jobs} == {7, 8} and len(jobs) == 4


def test_hparams_search_preset_maximises_with_optuna_through_joblib() -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper",
                        reason="the optuna extra is not installed (pip install -e '.[optuna]')")
    cfg = compose_with_hydra(["experiment=hparams_search"])
    sweeper = cfg.hydra.sweeper
    # hydra-optuna-sweeper's sweeper, in the wrapper that ends a search without a score in one line.
    from mario_exp.config.preflight import OPTUNA_SWEEPERS

    assert sweeper._target_ == OPTUNA_SWEEPERS[1] and sweeper.direction == "maximize"
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert sweeper.n_jobs == cfg.hydra.launcher.n_jobs  # a batch of trials is one job per worker
    assert set(sweeper.params) >= {"agent.lr", "agent.batch_size"}
    assert to_config(cfg_without_hydra(cfg)).trainer == compose_config(["experiment=quick"]).trainer


def test_slurm_launcher_preset_sets_the_cluster_keys() -> None:
    launcher = compose_with_hydra(["hydra/launcher=slurm", "hydra.launcher.partition=gpu"]).hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu"
    assert launcher.max_num_timeout >= 1 and launcher.signal_delay_s >= 60
    for key in ("timeout_min", "gpus_per_node", "array_parallelism", "cpus_per_task", "mem_gb"):
        assert launcher[key] is not None


# Jobs of one command line, in the order a sweep would compose them: the preflight composes
# each choice of config-group options once and gives each job its values on a copy.
PREFLIGHT_JOBS = [
    [],
    ["seed=3", "agent.batch_size=64"],
    ["seed=4"],                                   # none of the job before's values
    ["experiment=smoke", "agent.batch_size=64"],
    ["agent.batch_size=64", "experiment=smoke"],  # a value before the group choice
    ["action_set=right_run", "agent.epsilon.schedule=linear", "agent.epsilon.fraction=0.3"],
    ["scheduler=plateau", "scheduler.patience=3"],
    ["scheduler=plateau"],
    ["experiment=quick", "trainer.total_steps=1000", "env.frame_skip=2"],
    ["agent.epsilon={start: 0.5, min: 0.2}"],     # a dict sets values
    ["trainer.eval_every=null", "trainer.threads=null"],
    # Bad ones: each must fail with the line a full composition gives.
    ["agent.batch_size=abc"],
    ["agent.batch_sizes=32"],
    ["action_set=nope"],
    ["+agent.extra=1"],
    ["~agent.lr"],
    ["experiment=smoke", "trainer.total_steps=-5"],
]


def test_preflight_composes_every_job_as_a_full_hydra_composition_does() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mario_exp.config.preflight import JobComposer, _composed
    from mario_exp.config.schema import ConfigError

    register_schema()
    GlobalHydra.instance().clear()
    shared_outcomes = []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        composer = JobComposer("config", ["hydra.job.chdir=false"], parser)
        for job in PREFLIGHT_JOBS:
            overrides = ["hydra.job.chdir=false", *job]
            outcomes = []
            for make in (lambda: composer.config(job),  # noqa: B023 (each is called in this loop)
                         lambda: to_config(compose("config", overrides=overrides))):  # noqa: B023
                try:
                    outcomes.append(_composed(make, overrides, "config"))
                except ConfigError as exc:
                    outcomes.append(f"ConfigError: {exc}")
            shared, full = outcomes
            assert shared == full, job
            shared_outcomes.append(shared)
    GlobalHydra.instance().clear()
    bad = [job for job, outcome in zip(PREFLIGHT_JOBS, shared_outcomes) if isinstance(outcome, str)]
    assert bad == PREFLIGHT_JOBS[-6:]
    assert shared_outcomes[1].agent.batch_size == 64 and shared_outcomes[2].agent.batch_size == 32
