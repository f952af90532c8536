"""Bad overrides are refused before anything runs, in one line naming the key and what is
allowed, and leave nothing behind.

Each case goes through the composer in this process (compose_jobs, the check train.py makes
before any job starts): it raises ConfigError, whose text is the whole line, and writes
nothing. That train.py prints that line as `train.py: error: <line>`, alone on stderr, and exits
with status 2 leaving no run folder is e2e/test_bad_input_commands.py's, once for each way an
error reaches it: from the composer, and from the hardware check (which loads torch in the
command process)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mario_exp.cli.train import check_hardware_requests
from mario_exp.config.preflight import compose_jobs
from mario_exp.config.schema import ConfigError
from tests.bad_input_helpers import HARDWARE, assert_refused
from tests.helpers import CONF

CASES = [
    # (arguments, words the one line must contain)
    (["agent.batch_size=abc"], ["agent.batch_size", "integer"]),
    (["agent.batch_size=-1"], ["agent.batch_size", ">= 1"]),
    (["agent.batsh_size=64"], ["agent.batsh_size", "unknown key", "batch_size"]),
    (["action_set=nope"], ["action_set=nope", "right_only", "right_run", "simple", "complex"]),
    (["env.world=9"], ["env.world", "1..8"]),
    (["env.stage=5"], ["env.stage", "1..4"]),
    (["trainer.total_steps=0"], ["trainer.total_steps", ">= 1"]),
    (["agent.burnin=200000"], ["agent.burnin", "agent.memory_size"]),
    (["env.rom_version=v7"], ["env.rom_version", "v0, v1, v2, v3"]),
    (["scheduler=cosine"], ["scheduler=cosine", "none, plateau, step"]),
    (["+agent.foo=1"], ["agent.foo", "unknown key"]),
    (["~agent.lr"], ["~agent.lr", "cannot be deleted", "agent.lr=..."]),
    (["agent.epsilon.decay=1.5"], ["agent.epsilon.decay", "(0, 1]"]),
    (["agent.lr=["], ["agent.lr=[", "cannot parse"]),
    (["trainer.eval_every=0"], ["trainer.eval_every", "null or an integer >= 1"]),
    (["trainer.eval_episodes=0"], ["trainer.eval_episodes", ">= 1"]),
    (["trainer.eval_epsilon=1.5"], ["trainer.eval_epsilon", "[0, 1]"]),
    (["trainer.eval_max_steps=0"], ["trainer.eval_max_steps", ">= 1"]),
    (["trainer.eval_video=maybe"], ["trainer.eval_video", "true or false"]),
    (["agent.batch_size=32,64"], ["agent.batch_size=32,64", "--multirun"]),
    (["env.num_envs=0"], ["env.num_envs", "1..64"]),
    (["env.num_envs=8", "agent.memory_size=40", "agent.burnin=10"], ["agent.memory_size", "env.num_envs"]),
    (["trainer.precision=fp16"], ["trainer.precision", "auto, fp32, bf16"]),
    (["agent.replay_compression=maybe"], ["agent.replay_compression", "true or false"]),
    (["agent.async_update=maybe"], ["agent.async_update", "true or false"]),
    (["agent.n_step=0"], ["agent.n_step", "1..100"]),
    (["env.button_marks=maybe"], ["env.button_marks", "true or false"]),
    # An n-step transition needs its n later frames in the buffer too.
    (["agent.n_step=50", "agent.memory_size=40", "agent.burnin=10"], ["agent.memory_size", "agent.n_step"]),
    # In a sweep, a bad value in any job stops the whole sweep before the first job starts.
    (["-m", "experiment=smoke", "env.world=1,9"], ["env.world", "1..8"]),
    # The sample-efficient options.
    (["agent.priority.exponent=1.5"], ["agent.priority.exponent", "[0, 1]"]),
    (["agent.priority.weight_exponent=-0.1"], ["agent.priority.weight_exponent", "[0, 1]"]),
    (["agent.priority.offset=0"], ["agent.priority.offset", "a finite number > 0"]),
    (["agent.reward_scale=0"], ["agent.reward_scale", "a finite number > 0"]),
    (["agent.reward_scale=-1"], ["agent.reward_scale", "a finite number > 0"]),
    (["agent.death_penalty=-5"], ["agent.death_penalty", "a finite number >= 0"]),
    (["agent.adam_eps=inf"], ["agent.adam_eps", "a finite number > 0"]),
    (["agent.lr=inf"], ["agent.lr", "a finite number > 0"]),
    (["agent.augment_shift=-2"], ["agent.augment_shift", "0..16"]),
    (["agent.dueling=maybe"], ["agent.dueling", "true or false"]),
    (["env.stall_steps=0"], ["env.stall_steps", "null or an integer >= 1"]),
    (["trainer.schedule_horizon=0"], ["trainer.schedule_horizon", "null or an integer >= 1"]),
    (["env.frontier.fraction=1.5"], ["env.frontier.fraction", "[0, 1]"]),
    (["env.frontier.window=0"], ["env.frontier.window", "null or an integer >= 1"]),
    # Exploration schedules.
    (["agent.epsilon.schedule=cosine"], ["agent.epsilon.schedule", "exponential, linear"]),
    (["agent.epsilon.schedule=linear", "agent.epsilon.fraction=0"], ["agent.epsilon.fraction", "(0, 1]"]),
    (["agent.epsilon.fraction=1.5"], ["agent.epsilon.fraction", "(0, 1]"]),
    # A preset's own sweep (its seeds) is checked like the command line's.
    (["-m", "experiment=compare_batch_size", "agent.burnin=200000"], ["agent.burnin", "agent.memory_size"]),
    # A preset that sweeps its seeds runs only as a sweep.
    (["experiment=compare_scheduler"], ["hydra.sweeper.params", "scheduler, seed", "-m"]),
    # Launchers.
    (["-m", "hydra/launcher=nope"], ["hydra/launcher=nope", "basic", "joblib", "submitit_local", "slurm"]),
    (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=abc"], ["hydra.launcher.n_jobs", "an integer"]),
    (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0"], ["hydra.launcher.n_jobs=0", ">= 1"]),
    (["-m", "hydra/launcher=joblib", "hydra.launcher.n_job=2"],
     ["hydra.launcher.n_job", "unknown key", "n_jobs"]),
    (["-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=soon"],
     ["hydra.launcher.timeout_min", "an integer"]),
    # A search space needs a sweeper that searches.
    (["-m", "agent.lr=interval(0.0001,0.001)"], ["agent.lr=interval", "hydra/sweeper=optuna"]),
]


@pytest.mark.parametrize("args,words", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_override_is_one_clear_line(workdir: Path, args: list[str], words: list[str]) -> None:
    assert_refused(args, words, workdir)


def test_outputs_that_is_a_file_is_refused_before_anything_starts(workdir: Path) -> None:
    (workdir / "outputs").write_text("a file where the outputs folder should be")
    with pytest.raises(ConfigError) as caught:
        compose_jobs(["experiment=smoke"], CONF)
    assert "cannot create run folders there" in str(caught.value) and "hydra.run.dir=outputs/runs/" in str(caught.value)
    assert [p.name for p in workdir.iterdir()] == ["outputs"] and (workdir / "outputs").is_file()


@pytest.mark.parametrize("need", sorted(HARDWARE))
def test_hardware_this_machine_lacks_is_a_config_error(need: str) -> None:
    args, available, expected = HARDWARE[need]
    if available():
        pytest.skip(f"this machine has what {args[-1]} asks for, so it is valid here")
    with pytest.raises(ConfigError) as caught:
        check_hardware_requests(compose_jobs(args, CONF))
    assert str(caught.value) == expected


OPTUNA_CASES = [
    # The bounds of a search space are checked like any value: a log interval reaching lr 0.
    (["-m", "experiment=hparams_search", "agent.lr=tag(log,interval(0,0.001))"], ["agent.lr=0.0", "> 0"]),
    (["-m", "experiment=hparams_search", "agent.epsilon.fraction=interval(0.5,2)"],
     ["agent.epsilon.fraction=2.0", "(0, 1]"]),
    (["-m", "experiment=hparams_search", "agent.batch_size=choice(32,0)"], ["agent.batch_size=0", ">= 1"]),
    (["-m", "experiment=hparams_search", "hydra.sweeper.direction=upward"], ["hydra.sweeper.direction"]),
]


@pytest.mark.parametrize("args,words", OPTUNA_CASES, ids=[" ".join(a) for a, _ in OPTUNA_CASES])
def test_bad_search_space_is_one_clear_line(workdir: Path, args: list[str], words: list[str]) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper",
                        reason="the optuna extra is not installed (pip install -e '.[optuna]')")
    assert_refused(args, words, workdir)
