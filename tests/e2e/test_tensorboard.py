"""`tensorboard --logdir` on a real smoke sweep: a real TensorBoard server lists every job with
its scalars, and the HParams dashboard has each job once, with its hyperparameters and final
metrics, in the job's own folder (no timestamped sub-runs)."""
from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from mario_exp.rundir.final_window import final_metrics
from tests.helpers import HPARAMS_TAGS, hparams_summaries, read_episodes, read_scalars


def jobs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))


def session_hparams(value) -> dict:
    data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
    return {k: v.number_value if v.HasField("number_value") else v.string_value
            for k, v in data.session_start_info.hparams.items()}


def test_hparams_once_per_job_in_its_own_folder_with_final_metrics(smoke_sweep: Path) -> None:
    for job in jobs(smoke_sweep):
        # No sub-run folders with event files: TensorBoard shows the job once.
        assert not [p for p in job.rglob("events.out.tfevents.*") if p.parent != job]
        found = hparams_summaries(job)
        assert [len(found[tag]) for tag in HPARAMS_TAGS] == [1, 1], job.name
        hparams = session_hparams(found[hparams_metadata.SESSION_START_INFO_TAG][0])
        config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        for key in ("agent.batch_size", "agent.learn_every", "agent.lr", "seed", "trainer.total_steps"):
            section, _, name = key.rpartition(".")
            assert hparams[key] == pytest.approx((config[section] if section else config)[name])
        assert hparams["action_set.name"] == config["action_set"]["name"]
        scalars = read_scalars(job)
        expected = final_metrics(job / "episodes.csv")
        for tag, value in expected.items():  # NaN: no episode ended within the budget
            assert scalars.get(tag) == (None if math.isnan(value) else [(400, pytest.approx(value))])
        assert [step for step, _ in scalars["final/eval_x_pos"]] == [400]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"X-XSRF-Protected": "1",
                                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_serves_every_job_of_a_sweep(smoke_sweep: Path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(smoke_sweep),
                               "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    names = [job.name for job in jobs(smoke_sweep)]
    try:
        deadline = time.monotonic() + 120
        runs: list[str] = []
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read()
            try:
                runs = get_json(f"{base}/data/runs")
                tags = get_json(f"{base}/data/plugin/scalars/tags")
                if sorted(runs) == names and all("final/eval_x_pos" in tags.get(n, {}) for n in names):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(1)
        assert sorted(runs) == names
        with_episodes = [job.name for job in jobs(smoke_sweep) if len(read_episodes(job))]
        assert with_episodes
        for name in names:
            # Evaluations happen in every job; training episodes where one ended within the
            # budget (at 400 steps a random Mario can stand at a pipe for all of them).
            expected = ["eval/reward", "eval/x_pos", "final/eval_x_pos"]
            expected += ["episode/reward", "episode/x_pos"] if name in with_episodes else []
            assert set(expected) <= set(tags[name]), (name, sorted(tags[name]))
            assert ("episode/x_pos" in tags[name]) == (name in with_episodes)
        # The HParams dashboard: one session per job, with its batch size.
        groups = get_json(f"{base}/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS"],
            "colParams": [{"hparam": "agent.batch_size"}, {"metric": {"tag": "final/eval_x_pos"}}],
            "startIndex": 0, "sliceSize": 100})
        sessions = [s for g in groups["sessionGroups"] for s in g["sessions"]]
        assert sorted(s["name"] for s in sessions) == names
    finally:
        server.kill()
        server.wait()
