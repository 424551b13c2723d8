"""The inspector's sandbox under load: one sandbox per file version, a bounded cache, a bound on
sandboxes in the whole server."""

from __future__ import annotations


def test_the_inside_view_starts_one_sandbox_per_file_version(client, monkeypatch):
    from app.jobs import processes
    from tests.simulator_helpers import start, wait_finished

    run = wait_finished(client, start(client, epochs=2, checkpoint_every=1)["id"])
    assert run["status"] == "done"
    calls = []
    real = processes.call_limited

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(processes, "call_limited", counting)
    url = f"/components/checkpoint-simulator/runs/{run['id']}/inside?lang=en&file=ckpt-epoch-0001.pt"
    pages = [client.get(url) for _ in range(5)]
    assert all(p.status_code == 200 for p in pages) and len({p.text for p in pages}) == 1
    assert len(calls) == 1  # four answers came from the cache
    client.get(url.replace("0001", "0002"))
    assert len(calls) == 2


def test_the_inside_cache_is_bounded(tmp_path, monkeypatch):
    from app.jobs import processes
    from app.settings import Settings

    monkeypatch.setattr(processes, "call_limited", lambda settings, fn, path, *a: {"path": path})
    monkeypatch.setattr(processes, "CACHE_SIZE", 10)
    settings = Settings(data_dir=tmp_path)
    for i in range(30):
        f = tmp_path / f"{i}.pt"
        f.write_bytes(b"x")
        assert processes.call_cached(settings, len, str(f)) == {"path": str(f)}
    assert len(processes._cache) <= 10
