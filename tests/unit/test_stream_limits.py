"""A stream past the result's limits: a binary one past ``max_binary_bytes`` is stopped by the
middleware itself, which must leave the route's generator unwound (its ``finally`` run) by the
time the result is back, as a cancel does; a text one past ``max_result_chars`` is cut while the
route runs on (as documented)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from fastapi import FastAPI
from fastapi.responses import Response, StreamingResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response as StarletteResponse
from starlette.types import Receive, Scope, Send

from mcp_middleware import MCPMiddleware, toolcall
from tests.support import call_tool

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
GUARD = 10  # seconds: a deadlock guard only; nothing waits on time


@pytest.fixture(params=["asyncio", "asyncio-timed", "portable"])
def guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Each cancel guard: asyncio's without and with a time limit, and the anyio one."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", request.param == "portable")
    return {"call_timeout": 30.0} if request.param == "asyncio-timed" else {}


@pytest.fixture
def no_collector() -> Iterator[None]:
    """The cycle collector off: what is unwound is unwound by the call itself (its earlier state
    restored after)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def _passthrough(request: Request, call_next: RequestResponseEndpoint) -> StarletteResponse:
    return await call_next(request)


def _binary_app(
    state: list[str], awaits: bool, inner_bhm: bool = False, awaits_first: bool = False, **options: Any
) -> FastAPI:
    app = FastAPI()

    @app.get("/big", operation_id="big")
    async def big() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                if awaits_first:  # (fetch the rows, say, then yield ready-made chunks)
                    await anyio.lowlevel.checkpoint()
                for i in range(10):
                    if awaits:
                        await anyio.lowlevel.checkpoint()
                    state.append(f"yield {i}")
                    yield b"\xff" * 1000
            finally:
                state.append("finally")

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    if inner_bhm:  # an @app.middleware("http") inside ours: it re-sends the route's stream from a task of its own
        app.add_middleware(BaseHTTPMiddleware, dispatch=_passthrough)
    app.add_middleware(MCPMiddleware, max_binary_bytes=2500, **options)
    return app


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("era", ERAS)
async def test_a_binary_stream_past_its_limit_stops_the_route_and_unwinds_its_generator(
    guard: dict[str, Any], era: str
) -> None:
    """Review: the result was right, but the route's generator stayed paused at its yield (the
    limit was raised out of its ``send``, and Starlette does not close its iterator then) until
    the cycle collector ran. The route is now stopped as a cancel stops it: the chunk is dropped,
    the generator is cancelled at its next await, and its ``finally`` has run when the result is
    back."""
    state: list[str] = []
    with anyio.fail_after(GUARD):
        result = await call_tool(_binary_app(state, awaits=True, **guard), era, "big", {})
    assert result["isError"] is True
    assert result["content"] == [
        {"type": "text", "text": "Tool 'big' failed: the response exceeded the 2500-byte limit."}
    ]
    assert state == ["yield 0", "yield 1", "yield 2", "finally"]


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("era", ERAS)
async def test_a_binary_stream_past_its_limit_under_an_inner_base_http_middleware_unwinds_its_generator(
    guard: dict[str, Any], era: str
) -> None:
    """Review: under an inner ``BaseHTTPMiddleware`` the route's response runs in a task of the
    middleware's, and ours receives the chunks the middleware re-sends. Stopped by a cancellation
    that lands a loop step later, the route's task was by then blocked in the middleware's stream
    (the middleware kept pulling), and Starlette does not close its iterator when ``send`` raises:
    the generator stayed paused until the cycle collector ran. There the limit is raised out of
    the middleware's ``send`` (as before the route was stopped as a cancel does), its task group
    cancels the route's task where it waits, in the generator: its ``finally`` has run when the
    result is back."""
    state: list[str] = []
    with anyio.fail_after(GUARD):
        result = await call_tool(_binary_app(state, awaits=True, inner_bhm=True, **guard), era, "big", {})
        await anyio.lowlevel.checkpoint()  # (a cancellation left pending would land here)
    assert result["isError"] is True
    assert result["content"] == [
        {"type": "text", "text": "Tool 'big' failed: the response exceeded the 2500-byte limit."}
    ]
    assert state[-1] == "finally"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("era", ERAS)
async def test_a_binary_stream_past_its_limit_that_never_awaits_runs_out_dropped(
    guard: dict[str, Any], era: str
) -> None:
    """A generator that never awaits is never reached by the cancellation: its chunks after the
    limit are dropped, and it ends, with the same result; no cancellation is left pending for
    the request (asyncio's guard cancels its task from the next turn of the loop, by then over)."""
    state: list[str] = []
    with anyio.fail_after(GUARD):
        result = await call_tool(_binary_app(state, awaits=False, **guard), era, "big", {})
        await anyio.lowlevel.checkpoint()  # (a cancellation left pending would land here)
    assert result["content"][0]["text"] == "Tool 'big' failed: the response exceeded the 2500-byte limit."
    assert state == [*(f"yield {i}" for i in range(10)), "finally"]
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("awaits_first", [False, True], ids=["never-awaits", "awaits-first"])
async def test_a_binary_stream_past_its_limit_that_never_awaits_under_an_inner_base_http_middleware_is_left_paused(
    guard: dict[str, Any], era: str, awaits_first: bool
) -> None:
    """Pins the documented exception (review, stream D1): under an inner ``BaseHTTPMiddleware``
    the route's ``StreamingResponse`` sends each chunk into the middleware's memory stream, which
    waits for the middleware's task to take it; a generator that does not await between its chunks
    is suspended only at its ``yield`` while that ``send`` waits, so the stop (raised out of the
    middleware's ``send``, its task group cancelling the route's task) lands in that ``send``, and
    Starlette does not close its iterator when ``send`` raises. The result is the limit's, no cancellation is left
    pending, and the generator's ``finally`` runs only when the cycle collector finds it. So is one
    that awaited before its first chunk, then yields ready-made ones (review rr3 D2: the README
    said "never awaits"): what matters is no await between its chunks."""
    state: list[str] = []
    app = _binary_app(state, awaits=False, inner_bhm=True, awaits_first=awaits_first, **guard)
    with anyio.fail_after(GUARD):
        result = await call_tool(app, era, "big", {})
        await anyio.lowlevel.checkpoint()  # (a cancellation left pending would land here)
    assert result["content"][0]["text"] == "Tool 'big' failed: the response exceeded the 2500-byte limit."
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    for _ in range(8):  # the route has unwound: nothing more of the generator runs without the collector
        await anyio.lowlevel.checkpoint()
    # stopped at the limit (the third chunk), the fourth pulled while the middleware took that one
    assert state == ["yield 0", "yield 1", "yield 2", "yield 3"]
    gc.collect()  # asyncio's finalizer hook schedules the generator's aclose()
    for _ in range(8):
        await anyio.lowlevel.checkpoint()
    assert state[-1] == "finally"


class _Chunks(Response):
    """A response that writes its chunks from the route's own task (no task of its own, as a
    StreamingResponse has under ASGI spec 2.3), awaiting nothing but ``send``."""

    def __init__(self, state: list[str], swallows: bool) -> None:
        super().__init__(media_type="application/octet-stream")
        self.state = state
        self.swallows = swallows  # awaits after each chunk, and takes a cancellation for its end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        try:
            for i in range(10):
                self.state.append(f"send {i}")
                await send({"type": "http.response.body", "body": b"\xff" * 1000, "more_body": True})
                if self.swallows:
                    try:
                        await anyio.lowlevel.checkpoint()
                    except anyio.get_cancelled_exc_class():
                        self.state.append("cancelled")
                        break
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.state.append("finally")


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("swallows", [False, True])
async def test_a_route_writing_past_the_limit_from_its_own_task_is_not_left_a_cancellation(
    guard: dict[str, Any], era: str, swallows: bool
) -> None:
    """The limit is met inside the route's ``send``, in the guard's own task: a cancellation
    requested there, were the route to return before its next await, could not be taken back on
    Python 3.11 (``uncancel`` leaves it pending) and would land in the middleware after the guard.
    The route's later chunks are dropped; the result is the limit's. A route that takes the
    cancellation and ends (``swallows``) leaves none requested either."""
    app = FastAPI()
    state: list[str] = []

    @app.get("/big", operation_id="big")
    async def big() -> Response:
        return _Chunks(state, swallows)

    app.add_middleware(MCPMiddleware, max_binary_bytes=2500, **guard)
    with anyio.fail_after(GUARD):
        result = await call_tool(app, era, "big", {})
        await anyio.lowlevel.checkpoint()  # (a cancellation left pending would land here)
    assert result["isError"] is True
    assert result["content"] == [
        {"type": "text", "text": "Tool 'big' failed: the response exceeded the 2500-byte limit."}
    ]
    sent = ["send 0", "send 1", "send 2", "cancelled"] if swallows else [f"send {i}" for i in range(10)]
    assert state == [*sent, "finally"]
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


@pytest.mark.parametrize("era", ERAS)
async def test_a_route_raising_as_it_unwinds_from_the_limit_still_gets_the_limits_result(
    guard: dict[str, Any], era: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What the stopped route raises on its way out (here a ValueError for the cancellation) is
    logged as its failure; the result is the limit's, which stopped it."""
    app = FastAPI()

    @app.get("/big", operation_id="big")
    async def big() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                try:
                    await anyio.lowlevel.checkpoint()
                except anyio.get_cancelled_exc_class():
                    raise ValueError("upstream reset") from None
                yield b"\xff" * 1000

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    app.add_middleware(MCPMiddleware, max_binary_bytes=2500, **guard)
    with anyio.fail_after(GUARD):
        result = await call_tool(app, era, "big", {})
    assert result["isError"] is True
    assert result["content"] == [
        {"type": "text", "text": "Tool 'big' failed: the response exceeded the 2500-byte limit."}
    ]
    assert [r.getMessage() for r in caplog.records if r.name == "mcp_middleware.toolcall"] == [
        "Tool 'big': the route raised ValueError"
    ]


@pytest.mark.parametrize("era", ERAS)
async def test_a_text_stream_past_its_limit_runs_on_and_is_cut(era: str) -> None:
    """As documented: text past ``max_result_chars`` is cut with a marker while the route runs on
    (nothing is raised, so nothing stops it)."""
    app = FastAPI()
    state: list[str] = []

    @app.get("/long", operation_id="long")
    async def long() -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            try:
                for _ in range(10):
                    await anyio.lowlevel.checkpoint()
                    yield "x" * 1000
            finally:
                state.append("finally")

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_middleware(MCPMiddleware, max_result_chars=2500)
    with anyio.fail_after(GUARD):
        result = await call_tool(app, era, "long", {})
    assert result.get("isError") is None
    assert result["content"][0]["text"] == "x" * 2500 + "\n[truncated: 7500 more characters were not included]"
    assert state == ["finally"]
