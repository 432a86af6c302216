"""A call stopped (its time limit, a cancel, a 2026-07-28 client closing its stream) while its route
is inside an anyio shielded scope: a plain ``def`` route or dependency (Starlette runs it through
``anyio.to_thread.run_sync``, whose wait for the thread is shielded), or a shielded step of its own
(a database commit). On asyncio the guard's cancellation is the task's own, which went straight
through the shield: the route unwound while its thread ran on, freeing its ``max_concurrent_calls``
slot and the thread limiter's token, and a shielded step was cut off. Now the route is stopped once
it has left the shield, and its outcome still goes out at once. Threads wait on ``threading.Event``s
the tests set; nothing waits on time but the time limit itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from fastapi import Depends, FastAPI

from mcp_middleware import MCPMiddleware, _shields, toolcall
from mcp_middleware._run_handle import _RunHandle
from tests.apps import mcp_of
from tests.support import Exchange, cancelled, modern_headers, modern_request, request

pytestmark = pytest.mark.anyio

GUARD = 10  # seconds: a deadlock guard only
LIMIT = 1.0  # the time limit: the route reaches its blocked step long before it, even on a loaded host
TIMED_OUT = f"Tool 'work' timed out after {LIMIT:g} s and was cancelled."


@pytest.fixture(params=["asyncio-native", "portable"])
def guard_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both cancel guards: asyncio's, and the anyio one of other backends (which always waited)."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", request.param == "portable")
    value: str = request.param
    return value


class _Thread:
    """The route's worker thread: ``blocked`` once it waits, until ``release``; ``ended`` after."""

    def __init__(self) -> None:
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.ended = threading.Event()

    def run(self) -> None:
        self.blocked.set()
        try:
            self.release.wait(GUARD)
        finally:
            self.ended.set()

    async def reached(self) -> None:
        await anyio.to_thread.run_sync(self.blocked.wait, abandon_on_cancel=True)


@pytest.fixture
async def thread() -> AsyncIterator[_Thread]:
    thread = _Thread()
    try:
        yield thread
    finally:
        thread.release.set()  # whatever happened: no thread is left waiting


def _sync_app(thread: _Thread, where: str, **options: Any) -> FastAPI:
    """A tool whose plain ``def`` route (or its ``def`` dependency) blocks its worker thread."""
    app = FastAPI()

    def blocking() -> None:
        thread.run()

    if where == "route":

        @app.get("/work", operation_id="work")
        def work() -> dict[str, bool]:
            thread.run()
            return {"ok": True}

    else:

        @app.get("/work", operation_id="work", dependencies=[Depends(blocking)])
        async def work_with() -> dict[str, bool]:
            return {"ok": True}

    app.add_middleware(MCPMiddleware, **options)
    return app


def _call(era: str, id: int = 1) -> tuple[dict[str, Any], dict[str, str] | None]:
    params: dict[str, Any] = {"name": "work", "arguments": {}}
    if era == "modern":
        return modern_request("tools/call", params, id), modern_headers("tools/call", "work")
    return request("tools/call", params, id), None


def _options(how: str) -> dict[str, Any]:
    # a long keep-alive interval: the ticker's period is its longest (no tick answers for the guard)
    options: dict[str, Any] = {"max_concurrent_calls": 1, "keepalive_interval": 60}
    if how == "timeout":
        options["call_timeout"] = LIMIT
    return options


def _cancels(monkeypatch: pytest.MonkeyPatch) -> anyio.Event:
    """Set once a call is cancelled (``_RunHandle.cancel`` has run)."""
    done = anyio.Event()
    cancel = _RunHandle.cancel

    def recorded(self: _RunHandle, within: bool = False) -> None:
        cancel(self, within)
        done.set()

    monkeypatch.setattr(_RunHandle, "cancel", recorded)
    return done


async def _stop(how: str, app: FastAPI, ex: Exchange, cancelled_event: anyio.Event) -> None:
    """Stop the call ``how``; return once the stop has had every chance to unwind the route."""
    if how == "timeout":
        await ex.done.wait()  # the time limit's result
    elif how == "cancel":
        assert (await Exchange(app, cancelled(1)).run()).status == 202
        await cancelled_event.wait()
    else:  # a 2026-07-28 client closes its stream: the watcher reads it at a tick
        ex.disconnect.set()
        await cancelled_event.wait()
    await anyio.wait_all_tasks_blocked()  # a route cancelled through its shield would have unwound by now


HOWS = [("timeout", "handshake"), ("cancel", "handshake"), ("close", "modern")]


@pytest.mark.parametrize(("how", "era"), HOWS)
@pytest.mark.parametrize("where", ["route", "dependency"])
async def test_a_stopped_sync_route_keeps_its_slot_and_thread_token_until_its_thread_returns(
    how: str, era: str, where: str, guard_path: str, thread: _Thread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review D1/D3: on asyncio a stopped ``def`` route (or ``def`` dependency) unwound at once while its
    thread ran on: the call left ``registry.active`` (the next call was not busy: 300 threads ran
    under max_concurrent_calls=10) and anyio's thread limiter got its token back (plain HTTP routes lost
    their back-pressure too). Now the call counts, and the token stays borrowed, until the thread returns;
    its outcome still goes out at once (the timeout result while the thread runs)."""
    app = _sync_app(thread, where, **_options(how))
    stopped = _cancels(monkeypatch)
    body, headers = _call(era)
    ex = Exchange(app, body, headers)
    limiter = anyio.to_thread.current_default_thread_limiter()
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await thread.reached()
                registry = mcp_of(app).server.registry
                await _stop(how, app, ex, stopped)
                assert not thread.ended.is_set()
                assert registry.active == 1  # its route has not returned: it still counts
                assert limiter.borrowed_tokens == 1  # and its thread still holds its token
                next_body, next_headers = _call(era, id=2)
                busy = (await Exchange(app, next_body, next_headers).run()).result()
                assert busy["isError"] is True
                assert "The server is busy" in busy["content"][0]["text"]
            finally:
                thread.release.set()
    assert thread.ended.is_set()
    assert registry.active == 0
    assert limiter.borrowed_tokens == 0
    if how == "timeout":
        result = ex.reply.result()
        assert result["isError"] is True
        assert result["content"][0]["text"] == TIMED_OUT


class _Commit:
    """A route's shielded step (a commit), then an await that only a stop ends."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.inside = anyio.Event()
        self.finish = anyio.Event()


def _shield_app(commit: _Commit, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/work", operation_id="work")
    async def work() -> dict[str, bool]:
        commit.events.append("start")
        try:
            with anyio.CancelScope(shield=True):
                commit.inside.set()
                await commit.finish.wait()
                commit.events.append("shielded step finished")
            await anyio.sleep_forever()  # (stopped here, once out of its shield)
        except anyio.get_cancelled_exc_class():
            commit.events.append("stopped")
            raise
        return {"ok": True}

    app.add_middleware(MCPMiddleware, **options)
    return app


@pytest.mark.parametrize(("how", "era"), HOWS)
async def test_a_shielded_step_completes_after_a_stop_then_the_route_stops(
    how: str, era: str, guard_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review D2: a route's ``with anyio.CancelScope(shield=True)`` step was interrupted by the time
    limit or a cancel on asyncio (events ``['start']``); the portable guard let it finish. Now it
    finishes on asyncio too and the route is stopped at its next await after it; the call's outcome
    went out while the step ran, and the call counted until the route unwound."""
    commit = _Commit()
    app = _shield_app(commit, **_options(how))
    stopped = _cancels(monkeypatch)
    body, headers = _call(era)
    ex = Exchange(app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await commit.inside.wait()
                registry = mcp_of(app).server.registry
                await _stop(how, app, ex, stopped)
                assert commit.events == ["start"]  # still in its step
                assert registry.active == 1
                if how != "close":
                    await ex.done.wait()  # its outcome goes out while the step runs
                    assert commit.events == ["start"]
            finally:
                commit.finish.set()
    assert commit.events == ["start", "shielded step finished", "stopped"]
    assert registry.active == 0
    if how == "timeout":
        assert ex.reply.result()["content"][0]["text"] == TIMED_OUT
    elif how == "cancel":
        assert all(b'"result"' not in chunk for chunk in ex.reply.chunks)


@pytest.mark.parametrize("missing", ["module", "states", "fields"])
@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_without_anyio_s_internals_a_stop_cancels_at_once_as_before(
    missing: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another anyio, whose internals the shield check reads differently: the stop goes through at
    once, as before (the shielded step is interrupted), and nothing hangs."""
    if missing == "module":
        monkeypatch.setattr(_shields, "_BACKEND", "anyio._backends._not_there")
    elif missing == "states":
        monkeypatch.setattr(_shields, "_STATES", "_no_task_states")
    else:
        monkeypatch.setattr(_shields, "_SCOPE", "_no_cancel_scope")
    commit = _Commit()
    app = _shield_app(commit, **_options(how))
    stopped = _cancels(monkeypatch)
    body, headers = _call("handshake")
    ex = Exchange(app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await commit.inside.wait()
            await _stop(how, app, ex, stopped)
            assert ex.done.is_set()
    assert commit.events == ["start", "stopped"]  # cut off in its step (as before the shield check)


async def test_the_shield_check_reads_only_the_task_s_own_scopes() -> None:
    """Shielded: inside a shielded scope of the task's own, however deeply nested in unshielded ones;
    not outside it, not in a child task of a task group whose parent is shielded (that scope is its
    parent task's), nor in a task anyio knows nothing of."""
    me = asyncio.current_task()
    assert me is not None
    seen: dict[str, bool] = {}

    async def child() -> None:
        task = asyncio.current_task()
        assert task is not None
        seen["child of a shielded task"] = _shields.shielded(task)

    async def plain() -> bool:
        task = asyncio.current_task()
        assert task is not None
        return _shields.shielded(task)

    seen["outside"] = _shields.shielded(me)
    with anyio.CancelScope(shield=True):
        with anyio.CancelScope():
            seen["nested in a shield"] = _shields.shielded(me)
            await anyio.lowlevel.checkpoint()
        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
        seen["a task anyio does not know"] = await asyncio.get_running_loop().create_task(plain())
    seen["after"] = _shields.shielded(me)
    assert seen == {
        "outside": False,
        "nested in a shield": True,
        "child of a shielded task": False,
        "a task anyio does not know": False,
        "after": False,
    }
