"""A client that drops the connection while its call runs: cancellation in 2026-07-28 only.

Handshake era (2025-03-26, 2025-06-18, 2025-11-25, and a request stating no revision):
transports.mdx, "Sending Messages to the Server": "Disconnection SHOULD NOT be interpreted as the
client cancelling its request. To cancel, the client SHOULD explicitly send an MCP
CancelledNotification." So the call is not cancelled: as over plain HTTP (uvicorn does not cancel
a route whose client leaves), the route's ``receive`` reports ``http.disconnect``, a streaming
response stops itself, a plain route runs to completion, and nothing more is written. 2026-07-28:
closing the stream MUST be treated as cancellation (the call is cancelled, as before).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.types import Message

from mcp_middleware import ClientRequestError, MCPContext, MCPMiddleware, mcp_context, toolcall
from tests.apps import mcp_of
from tests.support import BASE_HEADERS, Exchange, cancelled, meta, modern_headers, request
from tests.unit.test_shutdown_cancel import FakeUvicorn, cancelled_in_shutdown

pytestmark = pytest.mark.anyio

STOPPED_TEXT = "Connection closed: the call was stopped (cancelled, past its time limit, or its client left)"
GUARD = 10  # seconds: a deadlock guard only; nothing waits on time
# the handshake era as a request states it (None: no MCP-Protocol-Version header)
HANDSHAKE = [None, "2025-03-26", "2025-06-18", "2025-11-25"]


@pytest.fixture(params=["asyncio-native", "portable"])
def guard_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both watchers: asyncio's (started by the ticker, or the first chunk), and the anyio one of
    other backends (started with the call)."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", request.param == "portable")
    value: str = request.param
    return value


class Leaving(Exchange):
    """An exchange whose ``heard`` is set once the middleware has read the client's disconnect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heard = anyio.Event()

    async def receive(self) -> Message:
        message = await super().receive()
        if message["type"] == "http.disconnect":
            self.heard.set()  # (the watcher marks the call gone before it next yields)
        return message


class Orders:
    """An app with side-effecting routes a test holds and releases."""

    def __init__(self, **options: Any) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()
        self.stopped = anyio.Event()  # the route was cancelled
        self.done: list[Any] = []
        app = FastAPI()

        @app.post("/orders", operation_id="create_order")
        async def create_order(request: Request) -> dict[str, bool]:
            """Create an order (takes a while)."""
            self.entered.set()
            try:
                await self.release.wait()
            except BaseException:
                self.stopped.set()
                raise
            self.done.append(("order committed", await request.is_disconnected()))
            return {"ok": True}

        @app.get("/feed", operation_id="feed")
        async def feed() -> StreamingResponse:
            async def chunks() -> AsyncIterator[str]:
                try:
                    yield "first "
                    self.entered.set()
                    await anyio.sleep_forever()
                finally:
                    self.done.append("generator closed")

            async def after() -> None:
                self.done.append("background ran")

            return StreamingResponse(chunks(), media_type="text/plain", background=BackgroundTask(after))

        @app.post("/ask", operation_id="ask_later")
        async def ask_later(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, str]:
            self.entered.set()
            await self.release.wait()
            try:
                await ctx.list_roots()
            except ClientRequestError as exc:
                self.done.append(exc.error["message"])
            return {"asked": "yes"}

        app.add_middleware(MCPMiddleware, keepalive_interval=0.1, **options)
        self.app = app


def _call(name: str, version: str | None, id: int = 1) -> tuple[Any, dict[str, str]]:
    if version == "2026-07-28":
        return request("tools/call", {"name": name, "arguments": {}, "_meta": meta()}, id), modern_headers(
            "tools/call", name
        )
    headers = dict(BASE_HEADERS)
    if version is not None:
        headers["mcp-protocol-version"] = version
    return request("tools/call", {"name": name, "arguments": {}}, id), headers


async def _until_keepalive(ex: Exchange) -> None:
    """Until the reply carries a keep-alive: the call's watcher (which reads the client) runs."""
    while not any(c.startswith(b": keep-alive") for c in ex.reply.chunks):
        await ex.chunk_seen.wait()


async def _left(orders: Orders, ex: Leaving) -> None:
    """Start ``ex``; once its route runs and its watcher too, the client leaves, and is heard."""
    await orders.entered.wait()
    await _until_keepalive(ex)
    ex.disconnect.set()
    await ex.heard.wait()


def _nothing_answered(ex: Exchange) -> bool:
    return all(b'"result"' not in chunk and b'"error"' not in chunk for chunk in ex.reply.chunks)


@pytest.mark.parametrize("version", HANDSHAKE)
async def test_a_plain_route_runs_to_completion_after_its_client_leaves(version: str | None, guard_path: str) -> None:
    """The reviewer's order: committed, not aborted by a network blip; the route sees the
    disconnect as it would over HTTP, and nothing more is written."""
    orders = Orders()
    body, headers = _call("create_order", version)
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await _left(orders, ex)
            orders.release.set()
    assert orders.done == [("order committed", True)]
    assert not orders.stopped.is_set()
    assert _nothing_answered(ex)
    assert ex.reply.more_flags[-1] is True  # the stream was never ended: nobody reads it
    assert len(mcp_of(orders.app).server.registry) == 0


@pytest.mark.parametrize("header", ["2026-07-28", "2025-11-25", "2025-06-18"])
async def test_2026_07_28_still_cancels_a_call_whose_stream_closes(header: str, guard_path: str) -> None:
    """transports.mdx (2026-07-28): closing the stream MUST be treated as cancellation; also under
    a handshake revision's header (the claude.ai connectors', review s10b), as the envelope says."""
    orders = Orders()
    body, headers = _call("create_order", "2026-07-28")
    headers["mcp-protocol-version"] = header
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await _left(orders, ex)
            await orders.stopped.wait()
            orders.release.set()
    assert orders.done == []
    assert _nothing_answered(ex)


@pytest.mark.parametrize("version", [*HANDSHAKE, "2026-07-28"])
async def test_a_streaming_response_stops_itself_when_its_client_leaves(version: str | None, guard_path: str) -> None:
    """Handshake era: the route hears ``http.disconnect`` and its ``StreamingResponse`` ends its
    generator, then runs its background task, as over HTTP. 2026-07-28: the call is cancelled
    (its generator closed too, no background)."""
    orders = Orders()
    body, headers = _call("feed", version)
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await orders.entered.wait()  # it streamed: its watcher runs from its first chunk
            ex.disconnect.set()
    if version == "2026-07-28":
        assert orders.done == ["generator closed"]
    else:
        assert orders.done == ["generator closed", "background ran"]
    assert _nothing_answered(ex)
    assert len(mcp_of(orders.app).server.registry) == 0


@pytest.mark.parametrize("version", HANDSHAKE)
async def test_notifications_cancelled_still_cancels_a_call_whose_client_left(
    version: str | None, guard_path: str
) -> None:
    orders = Orders()
    body, headers = _call("create_order", version, id=42)
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await _left(orders, ex)
            assert (await Exchange(orders.app, cancelled(42), headers).run()).status == 202
            await orders.stopped.wait()
    assert orders.done == []
    assert _nothing_answered(ex)


async def test_the_time_limit_still_stops_a_call_whose_client_left() -> None:
    orders = Orders(call_timeout=0.5)
    body, headers = _call("create_order", "2025-11-25")
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await _left(orders, ex)
            await orders.stopped.wait()  # never released: the limit cancels it
    assert orders.done == []
    assert _nothing_answered(ex)


async def test_a_call_whose_client_left_keeps_its_slot_until_its_route_returns() -> None:
    orders = Orders(max_concurrent_calls=1)
    body, headers = _call("create_order", "2025-11-25")
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await _left(orders, ex)
            busy = await Exchange(orders.app, _call("create_order", "2025-11-25", id=2)[0], headers).run()
            assert busy.result()["isError"] is True
            assert "The server is busy" in busy.result()["content"][0]["text"]
            orders.release.set()
    assert orders.done == [("order committed", True)]


@pytest.mark.parametrize("version", HANDSHAKE)
async def test_a_question_asked_after_the_client_left_fails_at_once(version: str | None, guard_path: str) -> None:
    """Nobody can answer it: it fails as a stopped call's question does, nothing is sent, and the
    route goes on (here it returns, its result dropped)."""
    orders = Orders()
    body, headers = _call("ask_later", version)
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await _left(orders, ex)
            orders.release.set()
    assert orders.done == [STOPPED_TEXT]
    assert all(b"roots/list" not in chunk for chunk in ex.reply.chunks)
    assert _nothing_answered(ex)
    assert len(mcp_of(orders.app).server.pending) == 0


class LeavingOnce(Exchange):
    """A server that hands the app ``http.disconnect`` once, then blocks on ``receive`` (Hypercorn:
    its receive is a queue get; uvicorn repeats the message)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.told = False

    async def receive(self) -> Message:
        if self.told:
            await anyio.sleep_forever()
        message = await super().receive()
        self.told = message["type"] == "http.disconnect"
        return message


async def test_a_batch_call_that_starts_after_its_client_left_hears_the_disconnect_at_once(guard_path: str) -> None:
    """2025-03-26 batch, the client gone during its first call, on a server that reports the
    disconnect once: the later calls run (nothing cancels them) and see the disconnect at once, from
    the middleware, which knows the client left: a streaming one stops itself (it used to stream
    forever into the abandoned response, the request never ending and holding its slot), a plain
    one sees ``is_disconnected()``."""
    orders = Orders()
    orders.release.set()
    _, headers = _call("feed", "2025-03-26")
    batch = [_call("feed", "2025-03-26", id=1)[0], _call("feed", None, id=2)[0], _call("create_order", None, id=3)[0]]
    ex = LeavingOnce(orders.app, batch, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await orders.entered.wait()
            ex.disconnect.set()
    assert orders.done[:2] == ["generator closed", "background ran"]  # the first call, as over HTTP
    assert orders.done.count("background ran") == 2
    assert orders.done[-1] == ("order committed", True)
    assert _nothing_answered(ex)
    assert mcp_of(orders.app).server.registry.active == 0
    assert len(mcp_of(orders.app).server.registry) == 0


@pytest.fixture
def uvicorn_server() -> Iterator[FakeUvicorn]:
    server = FakeUvicorn()
    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        yield server
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_uvicorn_past_its_graceful_timeout_cancels_a_call_whose_client_left(uvicorn_server: FakeUvicorn) -> None:
    """uvicorn, past its graceful timeout, cancels the request's task: the route is cancelled
    with it, and nobody is written to (not even the shutdown's error)."""
    orders = Orders()
    body, headers = _call("create_order", "2025-11-25")
    ex = Leaving(orders.app, body, headers)
    seen = anyio.Event()

    async def leave() -> None:
        await _left(orders, ex)
        seen.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(leave)
        await cancelled_in_shutdown(ex, orders.entered, uvicorn_server, seen)
    assert orders.stopped.is_set()
    assert orders.done == []
    assert _nothing_answered(ex)
    assert len(mcp_of(orders.app).server.registry) == 0
