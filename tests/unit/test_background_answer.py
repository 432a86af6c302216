"""A route with a ``BackgroundTasks`` task: its tools/call is answered at its last body message,
while the task still runs (over HTTP the client has the response then), not at the ticker's next tick.

The ticker is put out of reach (``_ticker.WATCH_AFTER`` an hour, and a keep-alive interval of
two): an answer that came only from a tick, or only once the app returned, never comes before the
test lets the task go, so the test fails (at the deadlock guard) instead of passing late. Nothing
here waits on time.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from mcp_middleware import MCPMiddleware, _ticker, toolcall
from tests.apps import mcp_of
from tests.support import Exchange, cancel_midway, cancelled, meta, modern_headers, request

pytestmark = pytest.mark.anyio

GUARD = 10  # seconds: a deadlock guard only
NO_TICK = 7200.0  # keepalive_interval: with WATCH_AFTER an hour, the ticker's period is an hour
ERAS = ["handshake", "modern"]


@pytest.fixture(autouse=True)
def _no_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ticker, "WATCH_AFTER", 3600.0)


class Job:
    """The background task a route adds: it says it started, waits until the test releases it
    (in a worker thread when ``sync``), then finishes or raises ``fails``."""

    def __init__(self, sync: bool, fails: Exception | None = None) -> None:
        self.sync = sync
        self.fails = fails
        self.started = threading.Event()
        self._let_go = threading.Event()  # the sync task's
        self._let_go_async = anyio.Event()  # the async task's
        self.finished = threading.Event()
        self.cancelled = threading.Event()

    def release(self) -> None:
        self._let_go.set()
        self._let_go_async.set()

    def _end(self) -> None:
        if self.fails is not None:
            raise self.fails
        self.finished.set()

    def run_sync(self, tag: str) -> None:
        self.started.set()
        self._let_go.wait()
        self._end()

    async def run_async(self, tag: str) -> None:
        self.started.set()
        try:
            await self._let_go_async.wait()
        except BaseException:
            self.cancelled.set()
            raise
        self._end()

    @property
    def task(self) -> Callable[[str], Any]:
        return self.run_sync if self.sync else self.run_async


def job_app(job: Job, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/jobs", operation_id="start_job")
    async def start_job(tag: str, background_tasks: BackgroundTasks) -> dict[str, str]:
        background_tasks.add_task(job.task, tag)
        return {"queued": tag}

    app.add_middleware(MCPMiddleware, **{"keepalive_interval": NO_TICK, **options})
    return app


def call(era: str, id: int = 1, tool: str = "start_job", arguments: Any = None) -> tuple[Any, dict[str, str] | None]:
    params: dict[str, Any] = {"name": tool, "arguments": {"tag": "a"} if arguments is None else arguments}
    if era == "modern":
        params["_meta"] = meta()
        return request("tools/call", params, id), modern_headers("tools/call", tool)
    return request("tools/call", params, id), None


async def answered_while_blocked(ex: Exchange, job: Job) -> None:
    """Run ``ex``: its whole reply must arrive while ``job`` is still held; then let it go."""
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await ex.done.wait()  # the whole reply, the background task held
                assert not job.finished.is_set()
            finally:
                job.release()  # (also when the test fails: a worker thread must not stay blocked)


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("era", ERAS)
async def test_the_result_goes_out_at_the_last_body_message_while_the_task_runs(era: str, sync: bool) -> None:
    job = Job(sync)
    app = job_app(job)
    body, headers = call(era)
    ex = Exchange(app, body, headers)
    await answered_while_blocked(ex, job)
    assert job.finished.is_set()  # the task ran to its end, after the answer
    assert not job.cancelled.is_set()
    result = ex.reply.result()
    assert result["content"] == [{"type": "text", "text": '{"queued":"a"}'}]
    assert not result.get("isError")
    assert ex.reply.more_flags[-1] is False
    assert sum(1 for chunk in ex.reply.chunks if b'"result"' in chunk) == 1
    assert len(mcp_of(app).server.registry) == 0  # the run left once the app returned


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("era", ERAS)
async def test_a_task_failing_after_the_answer_is_logged_not_sent(
    era: str, sync: bool, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job(sync, fails=RuntimeError("the e-mail server is down"))
    app = job_app(job)
    body, headers = call(era)
    ex = Exchange(app, body, headers)
    with caplog.at_level(logging.ERROR, logger="mcp_middleware.toolcall"):
        await answered_while_blocked(ex, job)
    sent = list(ex.reply.chunks)
    result = ex.reply.result()
    assert result["content"] == [{"type": "text", "text": '{"queued":"a"}'}]
    assert not result.get("isError")
    assert b"e-mail" not in b"".join(sent)
    logged = [r for r in caplog.records if "in its background work" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "e-mail server" in str(logged[0].exc_info[1])


@pytest.mark.parametrize("era", ERAS)
async def test_the_time_limit_is_lifted_at_the_answer_and_stops_nothing_after_it(era: str) -> None:
    """call_timeout covers the route up to its complete response (README): from the answer on, the
    running task is the app's, and no time limit is left on it."""
    job = Job(sync=False)
    app = job_app(job, call_timeout=30)
    body, headers = call(era)
    ex = Exchange(app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await ex.done.wait()
                registry = mcp_of(app).server.registry
                [run] = registry._calls.values()  # still in flight: its app runs the task
                assert isinstance(run, toolcall._ToolRun)
                assert run._guard is not None
                assert run._guard.when() is None
                assert not run.stopped()
                assert registry.active == 1  # the task counts against max_concurrent_calls
            finally:
                job.release()
    assert job.finished.is_set()
    assert not job.cancelled.is_set()
    assert not ex.reply.result().get("isError")


async def test_a_cancel_after_the_answer_leaves_the_result_and_the_task() -> None:
    """notifications/cancelled for a call already answered stops nothing (README: the route's
    response was complete; its background work runs on, as over HTTP)."""
    job = Job(sync=False)
    app = job_app(job)
    body, _ = call("handshake", id=9)
    ex = Exchange(app, body)
    reached = anyio.Event()

    async def answered_then_release() -> None:
        job.release()

    async def watch() -> None:
        await ex.done.wait()
        assert not job.finished.is_set()
        reached.set()

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await cancel_midway(ex, reached, cancelled(9), answered_then_release)
    assert job.finished.is_set()
    assert not job.cancelled.is_set()
    assert ex.reply.result()["content"][0]["text"] == '{"queued":"a"}'


async def test_closing_the_stream_after_the_answer_does_not_stop_the_task() -> None:
    """2026-07-28: the client closing its stream cancels the call (transports.mdx), but once
    answered there is nothing left to cancel: the task runs on."""
    job = Job(sync=False)
    app = job_app(job)
    body, headers = call("modern")
    ex = Exchange(app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await ex.done.wait()
                ex.disconnect.set()  # the client goes away
                for _ in range(20):
                    await anyio.lowlevel.checkpoint()
                assert not job.cancelled.is_set()
            finally:
                job.release()
    assert job.finished.is_set()
    assert not job.cancelled.is_set()


def session_app(add_task: bool, job: Job) -> FastAPI:
    """A route taking ``BackgroundTasks`` whose yield dependency writes the session after the
    response (FastAPI runs a request-scoped dependency's exit code after it), under an outer
    cookie-session middleware."""
    from tests.unit.test_middleware_order import CookieSession

    async def stamp(request: Request) -> AsyncIterator[None]:
        yield
        request.session["stamped"] = True

    app = FastAPI()

    @app.post("/visit", operation_id="visit", dependencies=[Depends(stamp)])
    async def visit(background_tasks: BackgroundTasks) -> dict[str, bool]:
        if add_task:
            background_tasks.add_task(job.task, "v")
        return {"ok": True}

    app.add_middleware(MCPMiddleware, keepalive_interval=NO_TICK)
    app.add_middleware(CookieSession)
    return app


async def test_a_route_that_adds_no_task_is_answered_when_its_app_returns() -> None:
    """A BackgroundTasks parameter with no task added is no background work: the call is answered
    once the app has returned, as before, so what the app does after the body (here a session
    write in a dependency's exit code) still reaches the reply."""
    job = Job(sync=False)
    app = session_app(False, job)
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, call("handshake", tool="visit", arguments={})[0]).run()
    assert reply.result()["content"][0]["text"] == '{"ok":true}'
    cookie = reply.headers["set-cookie"].partition("session=")[2].partition(";")[0]
    assert json.loads(base64.b64decode(cookie)) == {"stamped": True}


def streaming_session_app(stamped: anyio.Event) -> FastAPI:
    """A streamed route taking ``BackgroundTasks`` and adding no task (FastAPI still gives its
    ``StreamingResponse`` that empty background), whose yield dependency writes the session after
    the stream (FastAPI runs a request-scoped dependency's exit code once the response is sent),
    under an outer cookie-session middleware."""
    from tests.unit.test_middleware_order import CookieSession

    async def stamp(request: Request) -> AsyncIterator[None]:
        yield
        request.session["stamped"] = True
        stamped.set()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"ok":'
        yield b"true}"

    app = FastAPI()

    @app.post("/visit", operation_id="visit", dependencies=[Depends(stamp)])
    async def visit(background_tasks: BackgroundTasks) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="application/json")

    app.add_middleware(MCPMiddleware, keepalive_interval=NO_TICK)
    app.add_middleware(CookieSession)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_stream_whose_route_adds_no_task_is_held_for_a_dependencys_exit_code(era: str) -> None:
    """A streamed response's empty ``BackgroundTasks`` is no background work either: its result is
    held (a bounded number of loop steps, or until the app returns), not written at its last chunk,
    so a dependency's exit code that runs right after the stream (a session write) reaches the
    reply. Answered at the last chunk, the reply would go out before the write: no Set-Cookie."""
    stamped = anyio.Event()
    app = streaming_session_app(stamped)
    body, headers = call(era, tool="visit", arguments={})
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, body, headers).run()
    assert stamped.is_set()
    assert reply.result()["content"][0]["text"] == '{"ok":true}'
    cookie = reply.headers["set-cookie"].partition("session=")[2].partition(";")[0]
    assert json.loads(base64.b64decode(cookie)) == {"stamped": True}
