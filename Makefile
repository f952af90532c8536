# Two commands on a fresh machine:  `make demo` (set up, short real sweep, analysis)
# and `make test` (set up, run the tests). Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Reinstall when the dependency list changes.
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint docs replication clean-outputs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,optuna]"
	touch $(STAMP)

setup: $(STAMP)

# The sweep the project exists for, with two seeds a configuration so the analysis has
# confidence intervals, at the smoke preset raised to 1000 steps a job (about 2 minutes in all
# on 2 cores); then the analysis of that sweep.
demo: setup
	$(PY) train.py -m experiment=smoke agent.batch_size=32,64 agent.learn_every=5,10 seed=1,2 trainer.total_steps=1000
	$(PY) analyze.py --latest

# One pytest-xdist worker per core (-n auto): most of the suite's time is train.py processes,
# which use one core each. Tests go to whichever worker is free; the session's shared runs are
# made once for all workers (tests/e2e/conftest.py).
test: setup
	$(PY) -m pytest -n auto

# The unit tier only, for the edit loop: in process, no emulator. A test's tier is its folder,
# so this is `pytest -m unit` without importing the other tiers' modules to deselect them.
test-fast: setup
	$(PY) -m pytest tests/unit

# ruff check with pyproject.toml's rules (CI runs it before the tests); the venv's pinned ruff.
lint: setup
	$(VENV)/bin/ruff check .

# docs/configuration.md, rendered from the schema and conf/ (tests/unit/test_reference.py fails
# when the committed page is stale).
docs: setup
	$(PY) -m mario_exp.config.reference --write

# docs/replication.md's studies, in its order, one joblib job a core: about 34 CPU-hours (17 h on
# 2 cores). Rerun it to go on: each sweep skips its finished jobs and resumes interrupted ones
# from their checkpoints. The sweep folders (checkpoints included) go under REPLICATION_RUNS;
# `python -m mario_exp.rundir.snapshot` copies a finished study into results/replication/.
REPLICATION_RUNS ?= outputs/replication
REPLICATE := $(PY) train.py -m hydra/launcher=joblib hydra.launcher.n_jobs=2
replication: setup
	$(REPLICATE) experiment=compare_learn_every seed=1,2,3,4,5 hydra.sweep.dir=$(REPLICATION_RUNS)/learn_every
	$(REPLICATE) experiment=quick seed=4,5 hydra.sweep.dir=$(REPLICATION_RUNS)/quick
	$(REPLICATE) experiment=compare_action_set action_set=right_only seed=1,2,3,4,5 hydra.sweep.dir=$(REPLICATION_RUNS)/action_set
	$(REPLICATE) experiment=compare_scheduler scheduler=plateau seed=1,2,3,4,5 hydra.sweep.dir=$(REPLICATION_RUNS)/scheduler
	$(REPLICATE) experiment=compare_batch_size agent.batch_size=64 seed=1,2,3,4,5 hydra.sweep.dir=$(REPLICATION_RUNS)/batch_size

# Run folders are never tracked; this empties outputs/ but keeps the folder.
clean-outputs:
	find outputs -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
