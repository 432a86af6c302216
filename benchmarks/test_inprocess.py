"""In-process latency: each MCP call beside the direct call of the same route, same session, same loop.

Run:  pytest benchmarks/            (``pytest`` alone runs ``tests/`` only)

No sockets and no httpx: requests go through the raw ASGI driver of ``benchmarks.common``. Each
round runs ``BENCH_BATCH`` (default 20) requests back to back inside one ``run_until_complete`` on
a loop that lives for the whole module, so neither loop start-up nor loop entry is measured; the
pytest-benchmark table shows times per round, the closing MCP/direct table per request.

Groups (the first member of each is the baseline the ratios are taken against):

* ``protocol``     direct GET /items/1 │ initialize │ server/discover │ tools/list (both eras)
* ``get_item``     direct GET /items/1?q=x │ tools/call get_item (both eras)
* ``create_item``  direct POST /items │ tools/call create_item (both eras)
* ``stream-first`` time to the first body chunk of /stream │ same through MCP with a progressToken
* ``stream-full``  all of /stream (8 tokens) │ same through MCP, one progress event per token
* ``pass-through`` GET /items/1 on the bare app │ the same on the app with the middleware
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from starlette.types import ASGIApp

from benchmarks.app import app, bare
from benchmarks.common import (
    ITEM_ARGS,
    NEW_ITEM,
    Exchange,
    HttpRequest,
    direct_create_item,
    direct_get_item,
    direct_stream,
    mcp_initialize,
    mcp_request,
    mcp_tool_call,
)

BATCH = max(1, int(os.environ.get("BENCH_BATCH", "20")))
STREAM_ROUNDS = max(5, int(os.environ.get("BENCH_STREAM_ROUNDS", "150")))
STREAM_TOKENS = 8
# first-chunk benchmarks: the tokens after the first are far away, and the client leaves after it
FAR = 60_000.0  # ms

Check = Callable[[Exchange], None]


# -- checks: every benchmark first proves that its request does what it claims ---------------------
def _json(status: int, **expected: Any) -> Check:
    def check(ex: Exchange) -> None:
        assert ex.status == status, (ex.status, ex.body)
        value = ex.messages()[0]
        for key, want in expected.items():
            assert value[key] == want, (key, value)

    return check


def _mcp_result(*keys: str, structured: dict[str, Any] | None = None) -> Check:
    def check(ex: Exchange) -> None:
        assert ex.status == 200, (ex.status, ex.body)
        final = ex.messages()[-1]
        assert "result" in final, final
        result = final["result"]
        assert not result.get("isError"), result
        for key in keys:
            assert key in result, (key, result)
        if structured is not None:
            assert result["structuredContent"] == structured, result

    return check


def _stream_text(ex: Exchange) -> str:
    if ex.content_type.startswith("text/event-stream"):
        msgs = ex.messages()
        return "".join(m["params"]["message"] for m in msgs if m.get("method") == "notifications/progress")
    return ex.body.decode()


def _stream_complete(ex: Exchange) -> None:
    assert ex.status == 200, (ex.status, ex.body)
    assert _stream_text(ex) == "".join(f"tok{i} " for i in range(STREAM_TOKENS)), ex.body
    if ex.content_type.startswith("text/event-stream"):
        _mcp_result("content")(ex)


def _first_chunk(ex: Exchange) -> None:
    assert ex.status == 200, (ex.status, ex.body)
    assert ex.chunks, "no chunk"
    assert b"tok0" in ex.chunks[0], ex.chunks[0]


ITEM = {"name": "Hammer", "price": 12.5, "tags": ["tools"], "id": 1, "q": "x"}
CREATED = {**NEW_ITEM, "id": 42, "q": None}

_direct_get = _json(200, id=1, q="x")

# (group, id, app, request, check, baseline)
Case = tuple[str, str, ASGIApp, HttpRequest, Check, bool]
CASES: list[Case] = [
    ("protocol", "direct GET /items/1", bare, direct_get_item(), _direct_get, True),
    ("protocol", "initialize", app, mcp_initialize(), _mcp_result("protocolVersion", "serverInfo"), False),
    ("protocol", "server/discover", app, mcp_request("modern", "server/discover"), _mcp_result(), False),
    (
        "protocol",
        "tools/list handshake",
        app,
        mcp_request("handshake", "tools/list"),
        _mcp_result("tools"),
        False,
    ),
    ("protocol", "tools/list 2026", app, mcp_request("modern", "tools/list"), _mcp_result("tools"), False),
    ("get_item", "direct GET /items/1?q=x", bare, direct_get_item(), _direct_get, True),
    (
        "get_item",
        "tools/call handshake",
        app,
        mcp_tool_call("handshake", "get_item", ITEM_ARGS),
        _mcp_result(structured=ITEM),
        False,
    ),
    (
        "get_item",
        "tools/call 2026",
        app,
        mcp_tool_call("modern", "get_item", ITEM_ARGS),
        _mcp_result(structured=ITEM),
        False,
    ),
    ("create_item", "direct POST /items", bare, direct_create_item(), _json(201, id=42), True),
    (
        "create_item",
        "tools/call handshake",
        app,
        mcp_tool_call("handshake", "create_item", NEW_ITEM),
        _mcp_result(structured=CREATED),
        False,
    ),
    (
        "create_item",
        "tools/call 2026",
        app,
        mcp_tool_call("modern", "create_item", NEW_ITEM),
        _mcp_result(structured=CREATED),
        False,
    ),
    ("stream-full", "direct GET /stream", bare, direct_stream(STREAM_TOKENS), _stream_complete, True),
    (
        "stream-full",
        "tools/call handshake +progress",
        app,
        mcp_tool_call("handshake", "stream", {"n": STREAM_TOKENS}, progress_token="p"),
        _stream_complete,
        False,
    ),
    (
        "stream-full",
        "tools/call 2026 +progress",
        app,
        mcp_tool_call("modern", "stream", {"n": STREAM_TOKENS}, progress_token="p"),
        _stream_complete,
        False,
    ),
    ("pass-through", "bare app", bare, direct_get_item(), _direct_get, True),
    ("pass-through", "app + MCPMiddleware", app, direct_get_item(), _direct_get, False),
]

FIRST_CHUNK_CASES: list[Case] = [
    ("stream-first", "direct GET /stream", bare, direct_stream(STREAM_TOKENS, FAR), _first_chunk, True),
    (
        "stream-first",
        "tools/call handshake +progress",
        app,
        mcp_tool_call("handshake", "stream", {"n": STREAM_TOKENS, "delay_ms": FAR}, progress_token="p"),
        _first_chunk,
        False,
    ),
    (
        "stream-first",
        "tools/call 2026 +progress",
        app,
        mcp_tool_call("modern", "stream", {"n": STREAM_TOKENS, "delay_ms": FAR}, progress_token="p"),
        _first_chunk,
        False,
    ),
]


def _params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(target, request, check, baseline, id=f"{group}: {name}", marks=pytest.mark.benchmark(group=group))
        for group, name, target, request, check, baseline in cases
    ]


@pytest.mark.parametrize(("target", "request_", "check", "baseline"), _params(CASES))
def test_latency(
    benchmark: BenchmarkFixture,
    loop: asyncio.AbstractEventLoop,
    target: ASGIApp,
    request_: HttpRequest,
    check: Check,
    baseline: bool,
) -> None:
    check(loop.run_until_complete(Exchange(request_).run(target)))  # also warms the catalog up

    async def batch() -> None:
        for _ in range(BATCH):
            await Exchange(request_).run(target)

    benchmark.extra_info.update(requests_per_round=BATCH, baseline=baseline)
    benchmark(lambda: loop.run_until_complete(batch()))
    check(loop.run_until_complete(Exchange(request_).run(target)))


@pytest.mark.parametrize(("target", "request_", "check", "baseline"), _params(FIRST_CHUNK_CASES))
def test_first_chunk(
    benchmark: BenchmarkFixture,
    loop: asyncio.AbstractEventLoop,
    target: ASGIApp,
    request_: HttpRequest,
    check: Check,
    baseline: bool,
) -> None:
    """Measured: from calling the app to the first token's chunk reaching ``send``. Not measured:
    the client then going away (``http.disconnect``) and the route being stopped."""
    open_: list[tuple[asyncio.Task[Exchange], Exchange]] = []

    async def start(count: int) -> None:
        for _ in range(count):
            first: asyncio.Future[None] = loop.create_future()
            ex = Exchange(request_, first)
            task = loop.create_task(ex.run(target))
            await first
            open_.append((task, ex))

    async def leave() -> None:
        for _, ex in open_:
            ex.disconnect()
        await asyncio.gather(*(task for task, _ in open_))

    def teardown() -> None:
        loop.run_until_complete(leave())
        for _, ex in open_:
            check(ex)
        open_.clear()

    loop.run_until_complete(start(1))
    teardown()
    benchmark.extra_info.update(requests_per_round=BATCH, baseline=baseline)
    benchmark.pedantic(  # type: ignore[no-untyped-call]  # pytest-benchmark leaves it unannotated
        lambda: loop.run_until_complete(start(BATCH)),
        teardown=teardown,
        rounds=STREAM_ROUNDS,
        warmup_rounds=3,
    )
    if open_:  # --benchmark-disable runs the target once and skips the teardown
        teardown()
