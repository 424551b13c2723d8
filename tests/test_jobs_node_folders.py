"""A worker node runs only jobs whose folders lie under its own DATA_DIR (issue 33.8): a task read
from Redis carries absolute paths, and whoever can write to that Redis must not make a node write
(or read) anywhere else."""

from __future__ import annotations

import json

import pytest
import redis

from app.jobs import relay
from app.jobs.protocol import Job, Resume
from app.jobs.redis_keys import READ_ALL, Keys
from app.settings import Settings
from tests.conftest import RedisServer


@pytest.fixture
def node_settings(tmp_path):
    return Settings(data_dir=tmp_path / "node-data")


def job(settings: Settings, **kw) -> Job:
    return Job(
        **{"task": "train", "run_id": "r1", "run_dir": str(settings.runs_dir / "r1"), "config": {}, **kw}
    )


def test_folders_under_the_nodes_data_dir_are_accepted(node_settings):
    s = node_settings
    assert relay.outside_data_dir(job(s), s) is None
    resumed = job(
        s, task="resume", resume=Resume(str(s.runs_dir / "r0" / "checkpoints" / "c.pt"), "everything")
    )
    assert relay.outside_data_dir(resumed, s) is None
    assert relay.outside_data_dir(job(s, task="finetune", pretrained_dir=str(s.pretrained_path)), s) is None


@pytest.mark.parametrize(
    "where",
    [
        lambda s: {"run_dir": "/etc/cron.d"},
        lambda s: {"run_dir": str(s.runs_dir / ".." / ".." / "elsewhere")},  # climbs out
        lambda s: {"task": "resume", "resume": Resume("/root/.ssh/id_rsa", "everything")},
        lambda s: {"task": "finetune", "pretrained_dir": "/etc"},
        lambda s: {"task": "pretrain", "config": {"sources": ["x"], "outs": {"x": "/tmp/x.pt"}}},
    ],
)
def test_anything_else_is_refused(node_settings, where):
    refused = relay.outside_data_dir(job(node_settings, **where(node_settings)), node_settings)
    assert refused and "outside its DATA_DIR" in refused


def test_a_symlink_out_of_the_data_dir_is_refused(node_settings, tmp_path):
    node_settings.runs_dir.mkdir(parents=True)
    (node_settings.runs_dir / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert relay.outside_data_dir(
        job(node_settings, run_dir=str(node_settings.runs_dir / "link")), node_settings
    )


def test_a_refused_job_never_starts_and_the_web_node_reads_why(node_settings, tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    try:
        settings = node_settings.model_copy(update={"redis_url": server.url})
        client = redis.Redis.from_url(server.url)
        keys = Keys("web:r1:abcd")
        client.set(keys.ack, READ_ALL)  # as a web node that read everything
        wire = job(settings, run_dir=str(tmp_path / "not-the-nodes")).to_wire()
        assert relay.run(wire, keys.name, settings, "node@test") == "refused"
        events = [json.loads(fields[b"e"]) for _, fields in client.xrange(keys.events)]
        assert [e["type"] for e in events] == ["error", "exit"]
        assert "outside its DATA_DIR" in events[0]["error"] and events[1]["code"] == 1
        assert not (tmp_path / "not-the-nodes").exists()
    finally:
        server.stop()
