"""app/components/labs.py: waiting for a sandbox costs no thread of the pages' pool."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx

from app.main import create_app

# Distinct questions (no cache hit): each one needs its own sandbox process.
FIXES = [
    ("renamed_layer", "strict_false"),
    ("renamed_layer", "rename_keys"),
    ("size_mismatch", "strict_false"),
    ("dataparallel_prefix", "consume_prefix"),
    ("dataparallel_prefix", "strict_false"),
    ("cuda_checkpoint", "map_location"),
    ("compile_prefix", "strict_false"),
    ("size_mismatch", "shape_filter"),
]


def test_lab_requests_wait_for_a_sandbox_without_holding_a_thread(settings):
    from app.components.loading_clinic.service import FIX_IDS

    asked = [(c, f) for c, f in FIXES if f in FIX_IDS[c]]
    assert len(asked) >= 6, FIX_IDS  # the test needs that many distinct questions
    app = create_app(settings.model_copy(update={"sandboxes_max": 1}))
    # An event loop of its own, in a thread: after a browser test, Playwright's sync API keeps one
    # running in this thread.
    with ThreadPoolExecutor(1) as pool:
        peak, answers = pool.submit(anyio.run, _ask_all, app, asked).result()
    assert answers == [200] * len(asked)
    # One sandbox place: one request at a time holds a thread, the others wait on the event loop
    # (before, each waited on a lock inside its own thread: one thread per waiting request).
    assert peak <= 2, peak


async def _ask_all(app, asked: list[tuple[str, str]]) -> tuple[int, list[int]]:
    threads = anyio.to_thread.current_default_thread_limiter()
    peak, answers = 0, []

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:

        async def ask(case_id: str, fix_id: str) -> None:
            r = await client.get(f"/api/loading-clinic/cases/{case_id}/fixes/{fix_id}", timeout=120)
            answers.append(r.status_code)

        async def watch(done: anyio.Event) -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, threads.borrowed_tokens)
                await anyio.sleep(0.02)

        done = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, done)
            async with anyio.create_task_group() as askers:
                for case_id, fix_id in asked:
                    askers.start_soon(ask, case_id, fix_id)
            done.set()
    return peak, answers
