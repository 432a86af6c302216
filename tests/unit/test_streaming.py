"""Issue 3: a streaming route reaches the client chunk by chunk; cancelling the call stops the route."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator
from contextvars import ContextVar
from functools import partial
from http import HTTPStatus
from types import SimpleNamespace
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import orjson
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_middleware import MCPContext, MCPMiddleware, _ticker, declare, mcp_context, toolcall
from mcp_middleware.dispatch import SubRequest
from mcp_middleware.sse import KEEPALIVE, encode_event
from tests.apps import Gates, build_app, mcp_of
from tests.support import (
    BASE_HEADERS,
    Exchange,
    cancel_midway,
    cancelled,
    left_for_the_collector,
    meta,
    modern_headers,
    request,
)

pytestmark = pytest.mark.anyio

STREAMING_TOOLS = ["stream_plain", "stream_fastapi_sse", "stream_starlette_sse", "stream_jsonl"]
EXPECTED_MESSAGES = {
    "stream_plain": ["t0 ", "t1 ", "t2 "],
    "stream_fastapi_sse": ['"t0 "', '"t1 "', '"t2 "'],  # fastapi.sse JSON-encodes each data value
    "stream_starlette_sse": ["t0 ", "t1 ", "t2 "],
    "stream_jsonl": [f'{{"id":1,"name":"t{i} ","q":null}}\n' for i in range(3)],
}
GUARD = 10  # seconds: a deadlock guard only; nothing waits on time


async def _released(gates: Gates) -> None:
    """Let every chunk of a gated route through."""
    for gate in gates.release:
        gate.set()


async def _released_one(event: anyio.Event) -> None:
    event.set()


async def _stopped(gates: Gates, ex: Exchange) -> None:
    """Until the gated route was cancelled and the call's response has ended."""
    await gates.cancelled.wait()
    await ex.done.wait()


def call_body(tool: str, era: str, token: str | int | None = "tok-1", id: int = 1) -> tuple[Any, dict[str, str]]:
    params: dict[str, Any] = {"name": tool, "arguments": {}}
    if era == "modern":
        params["_meta"] = meta() if token is None else meta(progressToken=token)
        return request("tools/call", params, id), modern_headers("tools/call", tool)
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return request("tools/call", params, id), {}


def progress_messages(events: list[dict[str, Any]]) -> list[str]:
    return [e["params"].get("message", "") for e in events if e.get("method") == "notifications/progress"]


async def start(tool: str, era: str, gates: Gates, token: str | int | None = "tok-1") -> tuple[Exchange, Any]:
    app = build_app(gates)
    body, headers = call_body(tool, era, token)
    ex = Exchange(app, body, headers or None)
    return ex, body


def quick_keepalives(tool: str, era: str) -> tuple[Gates, Exchange]:
    """A call to ``tool`` on an app that sends keep-alives after 100 ms of silence (the least interval)."""
    gates = Gates()
    body, headers = call_body(tool, era)
    return gates, Exchange(build_app(gates, keepalive_interval=0.1), body, headers or None)


async def until_keepalive(ex: Exchange) -> None:
    """Wait until the reply carries an SSE keep-alive comment."""
    while not any(c.startswith(b": keep-alive") for c in ex.reply.chunks):
        await ex.chunk_seen.wait()


@pytest.mark.parametrize("era", ["handshake", "modern"])
@pytest.mark.parametrize("tool", STREAMING_TOOLS)
async def test_first_chunk_leaves_before_the_route_produces_the_second(tool: str, era: str) -> None:
    gates = Gates()
    ex, _ = await start(tool, era, gates)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            while not any(b"t0" in c for c in ex.reply.chunks):
                await ex.chunk_seen.wait()
            # The route is parked after its first chunk: the client already has it.
            assert not gates.produced[1].is_set()
            assert ex.reply.status == 200
            assert ex.reply.content_type == "text/event-stream"
            assert ex.reply.headers["x-accel-buffering"] == "no"
            for gate in gates.release:
                gate.set()
    events = ex.reply.events()
    messages = progress_messages(events)
    assert messages == EXPECTED_MESSAGES[tool]
    progress = [e["params"]["progress"] for e in events if e.get("method") == "notifications/progress"]
    assert progress == sorted(progress)
    assert len(set(progress)) == len(progress)
    assert all(
        e["params"]["progressToken"] == "tok-1" for e in events if "params" in e and "progressToken" in e["params"]
    )
    final = events[-1]
    assert final["id"] == 1
    text = final["result"]["content"][0]["text"]
    for i in range(3):
        assert f"t{i}" in text
    assert ex.reply.more_flags[-1] is False


async def test_plain_stream_text_is_the_concatenation_of_the_chunks() -> None:
    gates = Gates.released()
    ex, _ = await start("stream_plain", "handshake", gates)
    with anyio.fail_after(GUARD):
        reply = await ex.run()
    events = reply.events()
    assert progress_messages(events) == ["t0 ", "t1 ", "t2 "]
    assert events[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "


@pytest.mark.parametrize("media", ["text/plain", "text/event-stream"])
async def test_progress_carries_no_more_text_than_the_result_keeps(media: str) -> None:
    """Review: max_result_chars cut only the result, while every chunk still went out as progress
    (a 3.2 MB text FileResponse put 3.3 MB on the wire for a 20,000-character result). Progress
    now stops where the result does: the chunk crossing the limit is cut there, and nothing after
    it is sent."""
    app = FastAPI()

    @app.get("/big", operation_id="big")
    async def big() -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            for letter in "abcdefghij":
                text = letter * 1000
                yield f"data: {text}\n\n" if media == "text/event-stream" else text

        return StreamingResponse(chunks(), media_type=media)

    app.add_middleware(MCPMiddleware, max_result_chars=2500)
    body, headers = call_body("big", "handshake")
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, body, headers or None).run()
    events = reply.events()
    shown = progress_messages(events)
    text = events[-1]["result"]["content"][0]["text"]
    kept, _, note = text.partition("\n[truncated: ")
    if media == "text/plain":
        assert shown == ["a" * 1000, "b" * 1000, "c" * 500]
        assert kept == "".join(shown)
    else:
        assert shown == ["a" * 1000, "b" * 1000, "c" * 498]  # the result's newlines count too
        assert kept == "\n".join(shown)
    assert note.endswith("more characters were not included]")
    assert len(reply.body) < 2 * 2500 + 2000  # the kept text twice (progress, result), and framing


@pytest.mark.parametrize("era", ["handshake", "modern"])
@pytest.mark.parametrize("first", [True, False])
async def test_an_http_exception_raised_while_the_route_streams_is_an_error_with_its_status_and_detail(
    era: str, first: bool
) -> None:
    """Review: a generator that raises HTTPException once its response has started (the usual
    'check on first iteration' pattern) gave 'the route raised RuntimeError': Starlette can no
    longer send the error response and raises RuntimeError from it, and the status and detail
    were lost. The result now says what the response would have: the HTTPException's status and
    detail (credentials the route echoes redacted, as in any error text), after the progress
    already sent; then, as for any failure of a route stopped mid-stream (``failed``), the text
    the route had streamed (review: it was left out of this one, a client without a progress
    token never saw it)."""
    app = FastAPI()

    @app.get("/doc/{doc_id}", operation_id="read_doc")
    async def read_doc(doc_id: int, authorization: Annotated[str, Header()] = "") -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            if not first:
                yield "part one "
            if doc_id == 2:
                raise HTTPException(404, f"document {doc_id} not found for {authorization}")
            if doc_id == 3:
                raise HTTPException(422, [{"loc": ["doc_id"], "msg": "no such kind"}])
            raise HTTPException(409, {"kind"})  # a detail JSON cannot hold: its text

        return StreamingResponse(parts(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    credential = {"authorization": "Bearer s3cr3t-token-value"}
    for doc_id, expected in [
        (2, "HTTP 404 Not Found: document 2 not found for [redacted]"),
        (3, f'HTTP 422 {HTTPStatus(422).phrase}: [{{"loc":["doc_id"],"msg":"no such kind"}}]'),
        (4, "HTTP 409 Conflict: {'kind'}"),
    ]:
        body, headers = call_body("read_doc", era)
        body["params"]["arguments"] = {"doc_id": doc_id}
        with anyio.fail_after(GUARD):
            reply = await Exchange(app, body, {**BASE_HEADERS, **headers, **credential}).run()
        result = reply.result()
        assert result["isError"] is True
        shown = expected if first else f"{expected}\n\nOutput before the failure:\npart one "
        assert result["content"] == [{"type": "text", "text": shown}]
        assert progress_messages(reply.messages()) == ([] if first else ["part one "])


async def test_an_http_exception_mid_stream_of_a_resource_is_its_error_alone() -> None:
    """A resource's failure is a JSON-RPC error, whose message stays the sentence alone (as for
    its other failures): the text the route had streamed is a tool result's only."""
    app = FastAPI()

    @app.get("/doc", operation_id="doc", openapi_extra=declare.resource("test://doc"))
    async def doc() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "part one "
            raise HTTPException(404, "gone")

        return StreamingResponse(parts(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, request("resources/read", {"uri": "test://doc"})).run()
    error = reply.error()["error"]
    assert "part one" not in error["message"]
    assert "HTTP 404 Not Found: gone" in error["message"]


async def test_sse_route_events_are_joined_by_newlines() -> None:
    gates = Gates.released()
    ex, _ = await start("stream_starlette_sse", "modern", gates)
    with anyio.fail_after(GUARD):
        reply = await ex.run()
    events = reply.events()
    assert progress_messages(events) == ["t0 ", "t1 ", "t2 "]
    assert events[-1]["result"]["content"][0]["text"] == "t0 \nt1 \nt2 "
    assert events[-1]["result"]["resultType"] == "complete"


async def test_without_a_token_the_whole_output_arrives_as_json() -> None:
    gates = Gates.released()
    ex, _ = await start("stream_plain", "handshake", gates, token=None)
    with anyio.fail_after(GUARD):
        reply = await ex.run()
    assert reply.content_type == "application/json"
    assert reply.result()["content"][0]["text"] == "t0 t1 t2 "


async def test_fast_route_gets_plain_json_even_with_a_token() -> None:
    app = build_app()
    body = request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 3}, "_meta": {"progressToken": 5}})
    reply = await Exchange(app, body, {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}).run()
    assert reply.content_type == "application/json"
    assert reply.result()["structuredContent"]["id"] == 3


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_client_closing_the_stream_stops_the_route(era: str) -> None:
    """2026-07-28: the call is cancelled. Handshake era: it is not (``test_client_leaves``), but
    the route's ``StreamingResponse`` hears ``http.disconnect`` and stops its generator itself."""
    gates = Gates()
    ex, _ = await start("stream_plain", era, gates)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            ex.disconnect.set()  # the client goes away while the route waits for its next chunk
            await gates.cancelled.wait()
    assert not gates.finished.is_set()
    sent_after = [c for c in ex.reply.chunks if b'"result"' in c]
    assert sent_after == []


async def test_notifications_cancelled_stops_the_route_and_no_result_is_sent() -> None:
    gates = Gates()
    app = build_app(gates)
    body, _ = call_body("stream_plain", "handshake", id=77)
    ex = Exchange(app, body)
    await cancel_midway(ex, gates.produced[0], cancelled(77, reason="user"), partial(_stopped, gates, ex))
    assert not gates.finished.is_set()
    assert all(b'"result"' not in c for c in ex.reply.chunks)
    assert len(mcp_of(app).server.registry) == 0


async def test_cancel_for_another_id_changes_nothing() -> None:
    gates = Gates()
    app = build_app(gates)
    body, _ = call_body("stream_plain", "handshake", id=1)
    ex = Exchange(app, body)
    await cancel_midway(ex, gates.produced[0], cancelled(2), partial(_released, gates))
    assert gates.finished.is_set()
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "


async def _session(app: ASGIApp) -> str:
    init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    return (await Exchange(app, request("initialize", init)).run()).headers["mcp-session-id"]


async def test_with_session_ids_one_anonymous_client_cannot_cancel_anothers_call() -> None:
    """Regression: callers without credentials shared one caller key, so with ``session_ids=True``
    client B's ``notifications/cancelled`` for its own request id 1 cancelled client A's call 1.
    A valid session id is now part of the caller key: B's cancel changes nothing, A's own works."""
    gates = Gates()
    app = build_app(gates, session_ids=True)
    mine, other = await _session(app), await _session(app)
    body, _ = call_body("stream_plain", "handshake", id=1)
    ex = Exchange(app, body, {**BASE_HEADERS, "mcp-session-id": mine})
    other_headers = {**BASE_HEADERS, "mcp-session-id": other}
    await cancel_midway(ex, gates.produced[0], cancelled(1), partial(_released, gates), other_headers)
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "

    gates = Gates()
    app = build_app(gates, session_ids=True)
    mine = await _session(app)
    ex = Exchange(app, body, {**BASE_HEADERS, "mcp-session-id": mine})
    my_headers = {**BASE_HEADERS, "mcp-session-id": mine}
    await cancel_midway(ex, gates.produced[0], cancelled(1), partial(_stopped, gates, ex), my_headers)
    assert not gates.finished.is_set()


def test_the_caller_key_takes_the_session_id_only_with_session_ids() -> None:
    """Without ``session_ids`` a client's Mcp-Session-Id (which nothing verifies then) is not part
    of its caller key: anonymous callers share one key, as the README says."""
    from mcp_middleware.transport._http import caller_key

    with_sessions = mcp_of(built(session_ids=True)).server
    without = mcp_of(built()).server
    a = {b"authorization": b"Bearer x", b"mcp-session-id": b"a"}
    b = {b"authorization": b"Bearer x", b"mcp-session-id": b"b"}
    assert caller_key(with_sessions, a) != caller_key(with_sessions, b)
    assert caller_key(without, a) == caller_key(without, b) == caller_key(without, {b"authorization": b"Bearer x"})
    assert caller_key(without, {}) == caller_key(without, {b"mcp-session-id": b"a"})


def built(**options: Any) -> Any:
    app = build_app(**options)
    app.middleware_stack = app.build_middleware_stack()
    return app


async def test_slow_client_applies_backpressure() -> None:
    """The route cannot run ahead of the client: while a send is held, the next chunk is not produced."""
    gates = Gates.released()
    ex, _ = await start("stream_plain", "modern", gates)
    hold = anyio.Event()
    ex.body_gate = hold
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            await ex.started.wait()
            # The client reads nothing; the route must be stuck delivering its first chunk.
            await anyio.wait_all_tasks_blocked()
            assert not gates.produced[1].is_set()
            hold.set()
    assert gates.finished.is_set()


async def test_keepalive_and_heartbeat_while_silent() -> None:
    gates, ex = quick_keepalives("stream_plain", "modern")
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            await until_keepalive(ex)
            for gate in gates.release:
                gate.set()
    events = ex.reply.events()
    heartbeats = [e for e in events if e.get("method") == "notifications/progress" and "message" not in e["params"]]
    assert heartbeats, "a progress heartbeat accompanies keep-alives when there is a token"
    assert events[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "


async def test_timeout_cancels_the_route_and_reports_it() -> None:
    gates = Gates()
    app = build_app(gates, call_timeout=0.05)
    body, _ = call_body("stream_plain", "handshake", token=None)
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, body).run()
        await gates.cancelled.wait()
    result = reply.result()
    assert result["isError"] is True
    assert "timed out" in result["content"][0]["text"]


async def test_silent_slow_route_gets_keepalives_then_its_result() -> None:
    gates, ex = quick_keepalives("slow", "handshake")
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            await until_keepalive(ex)
            gates.release[0].set()
    assert ex.reply.content_type == "text/event-stream"
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == '{"slow":"done"}'


@pytest.mark.parametrize("tool", ["slow", "stream_plain"])
async def test_a_call_that_runs_long_or_streams_after_starting_quick_has_its_watcher_reaped(
    tool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quick call starts no task and reaps none (``toolcall._reap_tasks`` is awaited only for a
    call that has one); a call that became long (the ticker started its watcher) or streamed (its
    first chunk did) has its watcher ended and awaited before the call returns."""
    watchers: list[asyncio.Task[Any]] = []
    watch = toolcall._ToolRun.watch

    async def recorded(run: toolcall._ToolRun) -> None:
        task = asyncio.current_task()
        assert task is not None
        watchers.append(task)
        await watch(run)

    monkeypatch.setattr(toolcall._ToolRun, "watch", recorded)
    gates, ex = quick_keepalives(tool, "handshake")
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            await until_keepalive(ex)
            assert len(watchers) == 1
            assert not watchers[0].done()
            for gate in gates.release:
                gate.set()
        assert watchers[0].done()  # reaped: ended before the call returned
    assert len(mcp_of(ex.app).server.registry) == 0


async def test_client_leaving_a_silent_route_cancels_it() -> None:
    gates, ex = quick_keepalives("slow", "modern")
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            ex.disconnect.set()
            await gates.cancelled.wait()
    assert all(b'"result"' not in c for c in ex.reply.chunks)


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_portable_watcher_cancels_and_keeps_alive(era: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The anyio task-group watcher used off asyncio behaves like the asyncio one (the route's
    generator stops: cancelled in 2026-07-28, by its response hearing the disconnect before)."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", True)
    gates, ex = quick_keepalives("stream_plain", era)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            await until_keepalive(ex)
            ex.disconnect.set()
            await gates.cancelled.wait()
    assert not gates.finished.is_set()


async def test_binary_streams_are_collected_not_sent_as_progress() -> None:
    gates = Gates.released()
    ex, _ = await start("binary_stream", "handshake", gates)
    with anyio.fail_after(GUARD):
        reply = await ex.run()
    assert reply.content_type == "application/json"
    block = reply.result()["content"][0]
    assert block["type"] == "resource"
    assert block["resource"]["mimeType"] == "application/octet-stream"
    assert base64.b64decode(block["resource"]["blob"]) == b"t0 \x00\xfft1 \x00\xfft2 \x00\xff"


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_no_call_is_left_in_flight_after_a_disconnect(era: str) -> None:
    gates = Gates()
    ex, _ = await start("stream_plain", era, gates)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            assert len(mcp_of(ex.app).server.registry) == 1
            ex.disconnect.set()
    # the exchange returned: route stopped (2026-07-28: cancelled; before, its response heard the
    # disconnect), watcher awaited, registry cleaned
    assert gates.cancelled.is_set()
    assert len(mcp_of(ex.app).server.registry) == 0


async def test_calls_beyond_the_concurrency_limit_are_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The call holding the slot has not answered: it is never waited for (the grace given to calls
    already answered is far longer than the guard here)."""
    monkeypatch.setattr(_ticker, "WATCH_AFTER", GUARD * 100)
    gates = Gates()
    app = build_app(gates, max_concurrent_calls=1, keepalive_interval=GUARD * 100)
    body, _ = call_body("stream_plain", "handshake")
    ex = Exchange(app, body)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            busy = (
                await Exchange(app, request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}})).run()
            ).result()
            assert busy["isError"] is True
            assert "busy" in busy["content"][0]["text"]
            for gate in gates.release:
                gate.set()
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "
    after = (
        await Exchange(app, request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}})).run()
    ).result()
    assert "isError" not in after


async def test_the_write_lock_serialises_and_survives_cancellation() -> None:
    from mcp_middleware.transport._responder import _WriteLock

    lock = _WriteLock()
    order: list[str] = []
    entered = anyio.Event()
    release = anyio.Event()

    async def holder() -> None:
        async with lock:
            entered.set()
            await release.wait()
            order.append("holder")

    async def waiter(name: str) -> None:
        async with lock:
            order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await entered.wait()
        with anyio.CancelScope() as cancelled:
            cancelled.cancel()
            await waiter("cancelled")  # never gets the lock, leaves the queue cleanly
        tg.start_soon(waiter, "second")
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert order == ["holder", "second"]
    async with lock:  # free again
        order.append("third")
    assert order[-1] == "third"


async def test_the_responder_queues_a_writer_behind_another_and_writes_nothing_once_done() -> None:
    """A progress event that arrives while a keep-alive is being written waits its turn; after the
    final message (or once the client is gone) keep-alives and events write nothing."""
    from mcp_middleware.transport._responder import Responder

    sent: list[Message] = []
    stalled = anyio.Event()
    unstall = anyio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body") == KEEPALIVE:
            stalled.set()
            await unstall.wait()  # a slow client: the keep-alive's write takes a while

    responder = Responder(send)
    async with anyio.create_task_group() as tg:
        tg.start_soon(responder.keepalive)
        await stalled.wait()
        tg.start_soon(responder.event, b'{"n":1}')
        await anyio.wait_all_tasks_blocked()
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]  # the event waits
        unstall.set()
    assert sent[-1] == {"type": "http.response.body", "body": encode_event(b'{"n":1}'), "more_body": True}
    await responder.finish(b'{"done":true}', 400)  # the stream is already 200: the status stays
    assert sent[-1] == {"type": "http.response.body", "body": encode_event(b'{"done":true}'), "more_body": False}
    assert sent[0]["status"] == 200
    count = len(sent)
    await responder.keepalive()
    await responder.event(b'{"late":1}')
    await responder.finish(b'{"again":1}')
    assert len(sent) == count

    gone = Responder(send)
    gone.abandon()  # the client left before anything was written
    await gone.keepalive()
    await gone.event(b'{"n":2}')
    await gone.finish(b'{"done":true}')
    assert len(sent) == count

    answered = Responder(send)
    await answered.json(b'{"batch":1}')  # a whole answer: nothing may follow it
    await answered.keepalive()
    await answered.event(b'{"n":3}')
    await answered.finish(b'{"again":1}')
    await answered.finish(None)
    assert [m.get("body", m.get("status")) for m in sent[count:]] == [200, b'{"batch":1}']


@pytest.fixture(params=["asyncio-native", "portable"])
def guard_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both cancel guards: asyncio.timeout on asyncio, and the anyio scope used on other backends."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", request.param == "portable")
    value: str = request.param
    return value


async def test_timeout_on_both_guard_paths(guard_path: str) -> None:
    gates = Gates()
    app = build_app(gates, call_timeout=0.05)
    body, _ = call_body("slow", "handshake", token=None)
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, body).run()
    assert gates.cancelled.is_set()
    assert "timed out after 0.05 s" in reply.result()["content"][0]["text"]


async def test_a_route_that_answers_once_its_time_limit_cancels_it_keeps_its_answer(guard_path: str) -> None:
    """A route may catch the time limit's cancellation and answer anyway (a clean-up that returns
    what it has). Its complete response stands; settling the limit, already expiring, must not fail."""
    app = FastAPI()

    @app.get("/stubborn", operation_id="stubborn")
    async def stubborn() -> dict[str, bool]:
        try:
            await anyio.sleep(GUARD)
        except anyio.get_cancelled_exc_class():
            return {"late": True}
        return {"late": False}

    app.add_middleware(MCPMiddleware, call_timeout=0.01)
    body, _ = call_body("stubborn", "handshake", token=None)
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, body).run()
    assert reply.result()["content"] == [{"type": "text", "text": '{"late":true}'}]


@pytest.mark.parametrize("call_timeout", [None, 30.0])
async def test_cancellation_on_both_guard_paths(guard_path: str, call_timeout: float | None) -> None:
    gates = Gates()
    app = build_app(gates, call_timeout=call_timeout)
    body, _ = call_body("slow", "handshake", id=31)
    ex = Exchange(app, body)
    await cancel_midway(ex, gates.produced[0], cancelled(31), partial(_stopped, gates, ex))
    assert all(b'"result"' not in c for c in ex.reply.chunks)
    assert len(mcp_of(app).server.registry) == 0


async def test_a_call_within_its_time_limit_answers_as_usual(guard_path: str) -> None:
    app = build_app(call_timeout=30)
    body = request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 3}})
    reply = await Exchange(app, body, {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}).run()
    result = reply.result()
    assert "isError" not in result or result["isError"] is False
    assert result["structuredContent"] == {"id": 3, "name": "thing-3", "q": None}
    assert len(mcp_of(app).server.registry) == 0


async def test_a_route_raising_under_a_time_limit_is_an_error_result(guard_path: str) -> None:
    result = (await Exchange(build_app(call_timeout=30), request("tools/call", {"name": "boom"})).run()).result()
    assert result["isError"] is True
    assert result["content"][0]["text"] == "Tool 'boom' failed: the route raised RuntimeError."


async def test_a_route_raising_timeout_error_is_not_a_timeout(guard_path: str) -> None:
    app = build_app(call_timeout=30)

    @app.get("/own-timeout", operation_id="own_timeout")
    async def own_timeout() -> None:
        raise TimeoutError("upstream")

    result = (await Exchange(app, request("tools/call", {"name": "own_timeout"})).run()).result()
    assert result["isError"] is True
    assert "raised TimeoutError" in result["content"][0]["text"]


async def test_a_cancellation_from_outside_is_not_swallowed(guard_path: str) -> None:
    """The guard takes back only its own cancellation: a server cancelling the request still ends it."""
    gates = Gates()
    app = build_app(gates)
    body, _ = call_body("slow", "handshake", token=None)
    ex = Exchange(app, body)
    reached_end = False

    async def run() -> None:
        nonlocal reached_end
        await ex.run()
        reached_end = True

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await gates.produced[0].wait()
            tg.cancel_scope.cancel()
    assert gates.cancelled.is_set()
    assert not reached_end
    assert len(mcp_of(app).server.registry) == 0


class _Loop:
    """Just enough of an event loop for the ticker: timers are recorded, fired by hand."""

    def __init__(self) -> None:
        self.timers: list[Any] = []

    def call_later(self, delay: float, callback: Any) -> Any:
        timer = _Timer(callback)
        self.timers.append(timer)
        return timer


class _Timer:
    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def fire(self) -> None:
        self.callback()


class _Run:
    """A call as the ticker sees it: registered while it runs, on ``loop`` while its watcher may
    start (``run_tool`` clears it before reaping the call)."""

    def __init__(self, loop: _Loop, complete: bool = False, stopped: bool = False) -> None:
        self.loop: _Loop | None = loop
        self.ticked = False
        self.woken = 0
        self._complete = complete  # its response is complete (the app goes on)
        self._stopped = stopped  # cancelled, or past its time limit

    def wake(self) -> None:
        self.woken += 1

    def stopped(self) -> bool:
        return self._stopped


class _Calls:
    """The registry's calls, for a ticker on ``loop``: ``start`` registers a call and arms the
    ticker (as ``run_tool`` does), ``end`` takes it off."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop
        self.runs: list[_Run] = []
        self.ticker = _ticker._Ticker(loop, 0.25, lambda: list(self.runs))  # type: ignore[arg-type]

    def start(self, run: _Run) -> float:
        self.runs.append(run)
        return self.ticker.arm()

    def end(self, run: _Run) -> None:
        self.runs.remove(run)


def test_the_ticker_wakes_calls_running_for_a_whole_period_at_every_tick_and_then_stops() -> None:
    """A call is woken first after one to two periods, then at every tick until it ends (a call
    stopped meanwhile, whose route cannot be unwound, gets its outcome at the next: see wake)."""
    loop = _Loop()
    calls = _Calls(loop)
    quick, slow, late = _Run(loop), _Run(loop), _Run(loop)
    calls.start(quick)
    calls.start(slow)
    assert len(loop.timers) == 1  # one timer for all calls
    calls.end(quick)  # answered before the tick
    loop.timers[-1].fire()  # slow has not run a whole period yet: not woken
    calls.start(late)
    assert (slow.woken, late.woken) == (0, 0)
    assert len(loop.timers) == 2
    loop.timers[-1].fire()
    assert (quick.woken, slow.woken, late.woken) == (0, 1, 0)
    loop.timers[-1].fire()
    assert (slow.woken, late.woken) == (2, 1)
    assert len(loop.timers) == 4
    calls.end(slow)
    loop.timers[-1].fire()
    assert (slow.woken, late.woken) == (2, 2)
    calls.end(late)
    loop.timers[-1].fire()  # nothing left: the timer is not re-armed
    assert len(loop.timers) == 5
    calls.start(_Run(loop))
    assert len(loop.timers) == 6


def test_the_ticker_passes_by_the_calls_of_other_loops_and_those_being_reaped() -> None:
    """The registry holds every call in flight: a tick wakes (and stays armed for) only those
    on its own loop whose watcher may still start. A call being reaped (``run_tool`` clears its
    ``loop`` first), one on the portable path (no loop) or another loop's is passed by."""
    loop, other = _Loop(), _Loop()
    calls = _Calls(loop)
    reaped, portable, elsewhere = _Run(loop), _Run(loop), _Run(other)
    for run in (reaped, portable, elsewhere):
        calls.start(run)
    portable.loop = None
    loop.timers[-1].fire()
    loop.timers[-1].fire()
    assert (reaped.woken, portable.woken, elsewhere.woken) == (1, 0, 0)
    reaped.loop = None  # run_tool reaps it: still registered until it ends
    loop.timers[-1].fire()  # none of this loop's calls left: the timer is not re-armed
    assert (reaped.woken, portable.woken, elsewhere.woken) == (1, 0, 0)
    assert len(loop.timers) == 3
    assert not other.timers


def test_the_ticker_reads_every_call_in_flight_off_the_registry_shared_keys_too() -> None:
    """The ticker keeps no list of its own: ``runs`` is each call in flight, every call of a key
    that callers the key cannot tell apart share included, so each of them is woken."""
    loop = _Loop()
    registry = toolcall.CallRegistry()
    alone, first, second = _Run(loop), _Run(loop), _Run(loop)
    registry._calls[("a", 1)] = alone  # type: ignore[assignment]
    registry._calls[("b", 1)] = first  # type: ignore[assignment]
    registry.share(("b", 1), second)  # type: ignore[arg-type]
    assert registry.runs() == [alone, first, second]  # type: ignore[comparison-overlap]
    ticker = registry.ticker(loop, 15.0)  # type: ignore[arg-type]
    ticker.arm()
    loop.timers[-1].fire()
    loop.timers[-1].fire()
    assert (alone.woken, first.woken, second.woken) == (1, 1, 1)
    registry.leave(("b", 1), first)  # type: ignore[arg-type]
    loop.timers[-1].fire()
    assert (alone.woken, first.woken, second.woken) == (2, 1, 2)


def test_the_ticker_wakes_a_call_stopped_since_its_start_at_its_first_tick() -> None:
    """A call cancelled or past its time limit within its first period, whose route has not
    returned, is woken at the next tick (for its outcome), not one period later."""
    loop = _Loop()
    calls = _Calls(loop)
    running, stopped = _Run(loop), _Run(loop, stopped=True)
    calls.start(running)
    calls.start(stopped)
    loop.timers[-1].fire()
    assert (running.woken, stopped.woken) == (0, 1)


class _Clock:
    """``time`` for the ticker: ``monotonic()`` is what the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def test_the_ticker_says_from_when_it_counts_a_call_and_wakes_a_complete_one_at_its_first_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review: a call was woken only at its second tick, and its watcher then started the
    keep-alive clock: the first keep-alive came up to two periods late (2.51 s for an interval of
    2 s), and a quick call whose app went on (a BackgroundTask) got its result at the second tick
    (0.5 s), where the README said the next. Now ``arm`` returns the time the ticker counts the
    call from (its last tick, or when it was armed: never after the call started), and a call
    whose response is already complete is woken at its first tick."""
    clock = _Clock()
    monkeypatch.setattr(_ticker, "time", clock, raising=False)
    loop = _Loop()
    calls = _Calls(loop)
    long, done, late = _Run(loop), _Run(loop, complete=True), _Run(loop)
    assert calls.start(long) == 100.0  # armed now
    clock.now = 100.1
    assert calls.start(done) == 100.0  # started since then
    clock.now = 100.25
    loop.timers[-1].fire()
    assert (long.woken, done.woken) == (0, 1)  # the complete one's result goes out at once
    clock.now = 100.3
    assert calls.start(late) == 100.25  # counted from the last tick
    clock.now = 100.5
    loop.timers[-1].fire()
    assert (long.woken, done.woken, late.woken) == (1, 2, 0)  # (done again: every tick until it ends)
    clock.now = 100.75
    loop.timers[-1].fire()
    assert late.woken == 1
    for run in (long, done, late):
        calls.end(run)
    loop.timers[-1].fire()  # nothing left: the timer is not re-armed
    clock.now = 107.0
    assert calls.start(_Run(loop)) == 107.0  # armed again: from now


def test_the_ticker_wakes_a_call_within_the_keepalive_interval() -> None:
    """Woken at most two periods after it is counted from, a silent call must be woken before
    its first keep-alive is due: the period is at most half the interval."""
    registry = toolcall.CallRegistry()
    loop = _Loop()
    assert registry.ticker(loop, 15.0).period == _ticker.WATCH_AFTER  # type: ignore[arg-type]
    assert toolcall.CallRegistry().ticker(loop, 0.3).period == 0.15  # type: ignore[arg-type]


async def test_the_first_keepalive_of_a_silent_call_is_due_one_interval_after_the_call_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watcher's first wait ends no later than ``keepalive_interval`` after the call started
    (it was one to two ticker periods later: the clock started when the ticker woke the call)."""
    import time

    monkeypatch.setattr(_ticker, "WATCH_AFTER", 0.001)  # the ticker wakes the call within a few ms
    due: list[float] = []

    async def first_wait(run: toolcall._ToolRun, wait: float) -> Message:
        due.append(time.monotonic() + wait)  # when the watcher would write its first keep-alive
        return {"type": "http.disconnect"}  # the client leaves: the call ends (2026-07-28: cancelled)

    monkeypatch.setattr(toolcall._ToolRun, "_receive_native", first_wait)
    started: list[float] = []
    app = FastAPI()

    @app.get("/quiet", operation_id="quiet")
    async def quiet() -> None:
        started.append(time.monotonic())
        await anyio.Event().wait()  # silent until cancelled

    app.add_middleware(MCPMiddleware, keepalive_interval=30.0)
    # (2026-07-28: the disconnect cancels the silent route; a handshake-era one would run on)
    body, headers = call_body("quiet", "modern")
    with anyio.fail_after(GUARD):
        await Exchange(app, body, headers).run()
    assert len(due) == 1
    assert due[0] <= started[0] + 30.0


def test_the_loop_cache_always_answers_the_running_loop() -> None:
    """It remembers the loop (getpid-free), but never answers one that is not running here."""
    import asyncio
    import threading

    cache = _ticker._LoopCache()

    async def seen() -> tuple[object, object]:
        return cache.get(), asyncio.get_running_loop()

    assert cache.get() is None  # outside any loop
    for _ in range(2):  # a new loop in the same thread replaces the remembered one
        got, running = asyncio.run(seen())
        assert got is running
        got, running = asyncio.run(seen())
        assert got is running
    assert cache.get() is None  # the remembered loop is closed

    results: list[bool] = []

    def other_thread() -> None:
        got, running = asyncio.run(seen())
        results.append(got is running)

    async def while_another_thread_runs_its_own() -> None:
        assert cache.get() is asyncio.get_running_loop()
        thread = threading.Thread(target=other_thread)
        thread.start()
        await asyncio.to_thread(thread.join)
        assert cache.get() is asyncio.get_running_loop()  # the other thread's loop was remembered meanwhile

    asyncio.run(while_another_thread_runs_its_own())
    assert results == [True]


async def test_the_run_as_disconnect_signal_wakes_every_waiter_and_survives_a_cancelled_one() -> None:
    """The child receive waits on the run; one waiter giving up (Starlette's is_disconnected does)
    must not take the signal away from another (Starlette's listen_for_disconnect)."""
    import asyncio

    from mcp_middleware.results import ResponseCollector

    collector = ResponseCollector(path="/x", structured=False, max_text=10, max_binary=10)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    for native in (True, False):
        inv = toolcall.Invocation(None, {}, receive, None, (), None, ("", 0), None)  # type: ignore[arg-type]
        run = toolcall._ToolRun(collector, inv, SubRequest("GET", "/x"), toolcall.CallLimits(15.0, None, 10, 10))
        run.loop = asyncio.get_running_loop() if native else None
        woken: list[str] = []

        async def waiter(name: str, run: toolcall._ToolRun = run, woken: list[str] = woken) -> None:
            await run.wait()
            woken.append(name)

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(waiter, "listener")
                with anyio.CancelScope() as gives_up:  # as Starlette's is_disconnected() does
                    gives_up.cancel()
                    await run.wait()
                await anyio.lowlevel.checkpoint()
                assert woken == []
                run.set()
            await run.wait()  # already set: returns at once
        assert woken == ["listener"]
        assert not run._waiters


def test_sse_events_with_line_breaks_or_no_event_name() -> None:
    """Our JSON-RPC payloads are one line, but the encoder stays correct for any payload."""
    from mcp_middleware.sse import encode_event

    assert encode_event(b'{"a":1}') == b'event: message\ndata: {"a":1}\n\n'
    assert encode_event(b"one\ntwo\r\nthree") == b"event: message\ndata: one\ndata: two\ndata: three\n\n"
    assert encode_event(b"x", event=None) == b"data: x\n\n"
    assert encode_event(b"", event="ping") == b"event: ping\ndata: \n\n"


async def _slow_to_stop(stopped: list[str], steps: int = 3) -> None:
    """A watcher that takes a few loop steps to end once cancelled (as one writing its last
    keep-alive would)."""
    import asyncio

    try:
        await asyncio.get_running_loop().create_future()  # waits until cancelled
    finally:
        for _ in range(steps):
            await asyncio.sleep(0)
        stopped.append("watcher")


async def test_reaping_the_watcher_outlasts_a_cancellation_of_the_call_itself() -> None:
    """An outside cancellation that arrives while the watcher is being reaped is raised only once
    the watcher has ended: nothing of the call outlives it."""
    import asyncio

    stopped: list[str] = []
    watcher = asyncio.get_running_loop().create_task(_slow_to_stop(stopped))
    await asyncio.sleep(0)  # the watcher is waiting

    async def call() -> None:
        try:
            await _ticker._reap(watcher)
        finally:
            stopped.append("call")

    outer = asyncio.get_running_loop().create_task(call())
    await asyncio.sleep(0)  # the call is reaping
    outer.cancel()
    with anyio.fail_after(GUARD):
        with pytest.raises(asyncio.CancelledError):
            await outer
    assert stopped == ["watcher", "call"]
    assert watcher.cancelled()


async def test_reaping_inside_a_cancelled_anyio_scope_waits_for_the_watcher_then_lets_the_scope_end() -> None:
    """anyio repeats a scope's cancellation every loop step; the reap takes each, waits, then lets
    the last through, and the scope catches it as its own."""
    import asyncio

    stopped: list[str] = []
    watcher = asyncio.get_running_loop().create_task(_slow_to_stop(stopped, steps=5))
    await asyncio.sleep(0)
    with anyio.fail_after(GUARD):
        with anyio.CancelScope() as scope:
            scope.cancel()
            await _ticker._reap(watcher)
            stopped.append("after the reap")  # never reached: the cancellation goes on
    assert scope.cancelled_caught
    assert stopped == ["watcher"]
    await anyio.lowlevel.checkpoint()  # this task is not left cancelled


async def test_a_watcher_that_failed_is_reaped_without_a_never_retrieved_report() -> None:
    import asyncio
    import gc

    reports: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))

    async def failing() -> None:
        try:
            await loop.create_future()  # waits until cancelled
        finally:
            raise OSError("the last keep-alive could not be written")

    try:
        watcher = loop.create_task(failing())
        await asyncio.sleep(0)
        await _ticker._reap(watcher)
        assert watcher.done()
        assert not watcher.cancelled()  # it ended with its OSError
        del watcher
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert reports == []


def _keepalives(ex: Exchange) -> int:
    return sum(c.count(b": keep-alive") for c in ex.reply.chunks)


@pytest.mark.parametrize("era", ["handshake", "modern"])
@pytest.mark.parametrize("tool", ["slow", "stream_plain"])
async def test_without_a_token_keepalives_come_once_per_interval_not_once_per_loop_step(tool: str, era: str) -> None:
    """Regression: the interval ran from the last progress notification, which a call without a
    token never sends, so once the first keep-alive was due one went out on every loop step
    (thousands a second, from a route silent for longer than the interval)."""
    gates = Gates()
    body, headers = call_body(tool, era, token=None)
    ex = Exchange(build_app(gates, keepalive_interval=0.1), body, headers or None)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            await until_keepalive(ex)
            first = _keepalives(ex)
            for _ in range(200):  # loop steps, not time: a busy watcher would write on most of them
                await anyio.lowlevel.checkpoint()
            assert _keepalives(ex) - first <= 1
            for gate in gates.release:
                gate.set()
    assert ex.reply.content_type == "text/event-stream"
    result = ex.reply.events()[-1]["result"]
    assert result["content"][0]["text"] == ('{"slow":"done"}' if tool == "slow" else "t0 t1 t2 ")
    assert progress_messages(ex.reply.events()) == []


def test_route_output_without_a_token_is_not_progress_and_does_not_put_off_keepalives() -> None:
    """Nothing of a streamed chunk reaches a client that sent no token, so it is not sent as
    progress (no coroutine for it either) and the keep-alive interval does not restart."""
    from mcp_middleware.results import ResponseCollector

    for token in (None, "tok"):
        collector = ResponseCollector(path="/x", structured=False, max_text=100, max_binary=100)
        inv = toolcall.Invocation(None, {}, None, None, (), token, ("", 0), None)  # type: ignore[arg-type]
        run = toolcall._ToolRun(collector, inv, SubRequest("GET", "/x"), toolcall.CallLimits(15.0, None, 10, 10))
        run.on_head(200, [(b"content-type", b"text/plain")])
        pending = run.on_body(b"t0 ", True)
        if token is None:
            assert pending is None
            assert run.last is None
        else:
            assert pending is not None
            pending.close()  # type: ignore[attr-defined]  # the progress coroutine, not run here


async def test_progress_stays_increasing_when_a_route_reports_its_own_and_then_goes_quiet() -> None:
    """Regression: heartbeats numbered their progress 1, 2, ... whatever the route had reported, so
    the client saw 10, 1, 50, 2 (progress.mdx: values MUST increase)."""
    gates = Gates()
    app = FastAPI()

    @app.post("/work", operation_id="work")
    async def work(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, bool]:
        await ctx.report_progress(10, 100, "ten percent")
        gates.produced[0].set()
        await gates.release[0].wait()  # quiet for a few keep-alive intervals
        await ctx.report_progress(50, 100, "half")
        return {"done": True}

    app.add_middleware(MCPMiddleware, keepalive_interval=0.1)
    body, headers = call_body("work", "modern")
    ex = Exchange(app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            while not any(b'"progress":10.0' in c for c in ex.reply.chunks):  # a heartbeat above 10
                await ex.chunk_seen.wait()
            gates.release[0].set()
    values = [e["params"]["progress"] for e in ex.reply.events() if e.get("method") == "notifications/progress"]
    assert 10 in values  # a heartbeat may come first (the interval is 100 ms): the smallest step up
    assert 50 in values
    assert all(a < b for a, b in itertools.pairwise(values)), values
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == '{"done":true}'


class _Outbox:
    closed = False
    lost = False  # (Outbox: a write found the client gone)

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def keepalive(self) -> None:
        self.sent.append("keep-alive")

    async def notify(self, method: str, params: Any) -> None:
        self.sent.append(method)

    def abandon(self) -> None:
        self.sent.append("abandon")


async def test_no_heartbeat_when_progress_went_out_while_the_watcher_waited() -> None:
    """Regression: when the watcher's wait for the interval ended it sent a heartbeat without
    looking again, so a route streaming faster than the interval still got a keep-alive and an
    empty progress notification every interval."""
    import asyncio
    import time

    from mcp_middleware.results import ResponseCollector

    async def never() -> Message:
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    outbox = _Outbox()
    collector = ResponseCollector(path="/x", structured=False, max_text=100, max_binary=100)
    inv = toolcall.Invocation(None, {}, never, outbox, (), "tok", ("", 0), None)  # type: ignore[arg-type]
    run = toolcall._ToolRun(collector, inv, SubRequest("GET", "/x"), toolcall.CallLimits(10.0, None, 10, 10))
    run.loop = asyncio.get_running_loop()
    run.last = time.monotonic() - 10.0  # silent for a whole interval: the wait ends at once
    watcher = run.loop.create_task(run.watch())
    await asyncio.sleep(0)  # the watcher waits, its (zero) time limit due on the next step
    run.last = time.monotonic()  # meanwhile a streamed chunk went out as progress
    for _ in range(10):
        await asyncio.sleep(0)
    assert outbox.sent == []
    await _ticker._reap(watcher)


def _background_work(gates: Gates, step: int, linger: float = 0.0) -> BackgroundTask:
    """Background work that says it started (``produced[step]``), waits for ``release[step]`` and
    ``linger`` seconds more, then sets ``finished`` (or ``cancelled``)."""

    async def work() -> None:
        try:
            gates.produced[step].set()
            await gates.release[step].wait()
            await anyio.sleep(linger)
            gates.finished.set()
        except BaseException:
            gates.cancelled.set()
            raise

    return BackgroundTask(work)


def _background_app(gates: Gates, linger: float = 0.0, ticked: bool = False, **options: Any) -> FastAPI:
    """A route whose response is complete at once, with background work after it (gate 0).
    ``ticked``: its endpoint does not say it returns a response, so its call is not answered at its
    last body message (``ToolSpec.goes_on``) but from a task the ticker starts."""
    app = FastAPI()

    async def order() -> JSONResponse:
        return JSONResponse({"ordered": True}, background=_background_work(gates, 0, linger))

    if ticked:
        del order.__annotations__["return"]
    app.post("/order", operation_id="order")(order)

    app.add_middleware(MCPMiddleware, **options)
    return app


@pytest.mark.parametrize("portable", [False, True])
async def test_the_time_limit_does_not_cover_background_work_after_a_complete_response(
    portable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a call_timeout expiring during the route's BackgroundTask threw the complete
    response away ('timed out') and cancelled the background work; over HTTP neither happens."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", portable)
    gates = Gates.released()
    app = _background_app(gates, linger=0.1, call_timeout=0.02)  # the limit passes in the background work
    body, _ = call_body("order", "handshake", token=None)
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, body).run()
    assert gates.finished.is_set()
    assert not gates.cancelled.is_set()
    result = reply.result()
    assert result["content"] == [{"type": "text", "text": '{"ordered":true}'}]
    assert not result.get("isError")


async def test_a_cancellation_after_the_response_is_complete_leaves_the_result_and_the_background_work() -> None:
    gates = Gates()
    app = _background_app(gates)
    body, _ = call_body("order", "handshake", token=None, id=9)
    ex = Exchange(app, body)
    await cancel_midway(ex, gates.produced[0], cancelled(9), partial(_released, gates))
    assert gates.finished.is_set()
    assert not gates.cancelled.is_set()
    assert ex.reply.result()["content"][0]["text"] == '{"ordered":true}'


async def test_background_work_counts_against_the_concurrency_limit_and_the_refusal_says_so() -> None:
    """A call's route run lasts until its app returns, background work included (work is work,
    whatever the client was already told): the refusal said "N tool calls are running" while the
    one call counted had been answered, which read as a miscount (review)."""
    gates = Gates()
    app = _background_app(gates, max_concurrent_calls=1)
    body, _ = call_body("order", "handshake", token=None)
    first = Exchange(app, body)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await gates.produced[0].wait()  # the response is complete, its background work runs
            busy = (await Exchange(app, call_body("order", "handshake", token=None, id=2)[0]).run()).result()
            gates.release[0].set()
    assert busy["isError"] is True
    text = busy["content"][0]["text"]
    assert text.startswith("The server is busy: 1 route runs (tool calls")
    assert "background work" in text
    assert "(limit 1)" in text
    assert first.reply.result()["content"][0]["text"] == '{"ordered":true}'


def _streaming_background_app(gates: Gates, **options: Any) -> FastAPI:
    """A streaming route (so its call has a watcher) with background work after its response."""
    app = FastAPI()

    @app.get("/report", operation_id="report")
    async def report() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            yield "part one "
            gates.produced[0].set()
            await gates.release[0].wait()
            yield "part two"

        return StreamingResponse(lines(), media_type="text/plain", background=_background_work(gates, 1))

    app.add_middleware(MCPMiddleware, **options)
    return app


@pytest.mark.parametrize("ticked", [False, True], ids=["at-last-message", "at-tick"])
@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_quick_calls_result_goes_out_while_its_background_work_still_runs(era: str, ticked: bool) -> None:
    """Over HTTP the client has a complete response while the app's BackgroundTask runs; the tool
    result goes out then too: at its last body message when its route says it returns a response
    (``ToolSpec.goes_on``), else at the ticker's next tick (other quick calls pay nothing for it)."""
    gates = Gates()
    app = _background_app(gates, ticked=ticked, keepalive_interval=0.1)  # ticks every 50 ms
    body, headers = call_body("order", era, token=None)
    ex = Exchange(app, body, headers or None)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.done.wait()  # the whole reply, while the background work waits
            assert not gates.finished.is_set()
            gates.release[0].set()
    assert gates.finished.is_set()
    result = ex.reply.result()
    assert result["content"] == [{"type": "text", "text": '{"ordered":true}'}]
    assert ex.reply.more_flags[-1] is False
    assert len(mcp_of(app).server.registry) == 0


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_streamed_calls_result_goes_out_at_its_last_chunk_while_background_work_runs(era: str) -> None:
    gates = Gates()
    await assert_result_at_last_chunk(_streaming_background_app(gates), gates, era)


async def assert_result_at_last_chunk(app: ASGIApp, gates: Gates, era: str) -> None:
    """``_streaming_background_app``'s ``report`` call: its whole reply goes out with the route's
    last chunk, before the background work it starts then has finished."""
    body, headers = call_body("report", era)
    ex = Exchange(app, body, headers or None)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            gates.release[0].set()
            await ex.done.wait()  # the whole reply went out with the route's last chunk
            await gates.produced[1].wait()  # and then the background work started
            assert not gates.finished.is_set()
            gates.release[1].set()
    assert gates.finished.is_set()
    events = ex.reply.events()
    assert progress_messages(events) == ["part one ", "part two"]
    assert events[-1]["result"]["content"][0]["text"] == "part one part two"
    assert sum(1 for e in events if "result" in e) == 1


async def _held_after_its_answer(app: ASGIApp, gates: Gates, era: str) -> Exchange:
    """Run a call of ``report`` until its result went out (at its last chunk) while its app's
    background work waits for ``gates.release[1]``."""
    body, headers = call_body("report", era)
    first = Exchange(app, body, headers or None)
    gates.release[0].set()
    return first


async def _waiting_for_a_slot(registry: toolcall.CallRegistry, call: Exchange) -> None:
    """Until ``call`` waits for a slot (or, refused at once, has its reply)."""
    while getattr(registry, "_vacated", None) is None and not call.done.is_set():
        await anyio.lowlevel.checkpoint()
    assert not call.started.is_set(), call.reply.body  # not refused: waiting


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_call_arriving_while_an_answered_calls_app_finishes_waits_for_its_slot(
    era: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: with max_concurrent_calls=1 a strictly sequential client was sometimes refused 'busy':
    a streamed call's result goes out at the route's last send, and the call counts until its app
    returns, so the next call could arrive in between. Now a call that finds the limit reached only
    through calls already answered waits (up to a tick) for one of them to end."""
    monkeypatch.setattr(_ticker, "WATCH_AFTER", GUARD * 100)  # the wait ends when the slot frees, not by time
    gates = Gates()
    app = _streaming_background_app(gates, max_concurrent_calls=1, keepalive_interval=GUARD * 100)
    first = await _held_after_its_answer(app, gates, era)
    body, headers = call_body("report", era, id=2)
    second = Exchange(app, body, headers or None)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await first.done.wait()  # answered: the client has its result (and calls again)
            await gates.produced[1].wait()  # while its app's background work still runs
            registry = mcp_of(app).server.registry
            tg.start_soon(second.run)
            await _waiting_for_a_slot(registry, second)
            gates.release[1].set()  # the first call's app returns: its slot is free
    assert first.reply.events()[-1]["result"]["content"][0]["text"] == "part one part two"
    result = second.reply.events()[-1]["result"]
    assert not result.get("isError"), result
    assert result["content"][0]["text"] == "part one part two"
    assert registry.active == 0


async def test_a_call_is_still_refused_when_an_answered_calls_work_outlasts_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_ticker, "WATCH_AFTER", 0.001)  # a tick's wait: shorter than the held work
    gates = Gates()
    app = _streaming_background_app(gates, max_concurrent_calls=1)
    first = await _held_after_its_answer(app, gates, "handshake")
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await gates.produced[1].wait()  # answered, its background work held
            busy = (await Exchange(app, call_body("report", "handshake", token=None, id=2)[0]).run()).result()
            gates.release[1].set()
    assert busy["isError"] is True
    assert busy["content"][0]["text"].startswith("The server is busy: 1 route runs")
    assert first.reply.events()[-1]["result"]["content"][0]["text"] == "part one part two"


async def test_a_call_waits_only_when_the_limit_is_reached_through_answered_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Limit 2, one call answered (its app finishing) and one that has not answered: the answered one
    is waited for; once it ends the new call runs, though the unanswered one still holds its slot."""
    monkeypatch.setattr(_ticker, "WATCH_AFTER", GUARD * 100)
    gates, other = Gates(), Gates()
    app = _streaming_background_app(gates, max_concurrent_calls=2, keepalive_interval=GUARD * 100)

    @app.get("/held", operation_id="held")
    async def held() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            yield "waiting "
            other.produced[0].set()
            await other.release[0].wait()
            yield "done"

        return StreamingResponse(lines(), media_type="text/plain")

    first = await _held_after_its_answer(app, gates, "handshake")
    unanswered = Exchange(app, call_body("held", "handshake", id=2)[0])
    third = Exchange(app, call_body("report", "handshake", id=3)[0])
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await gates.produced[1].wait()
            tg.start_soon(unanswered.run)
            await other.produced[0].wait()
            registry = mcp_of(app).server.registry
            assert registry.active == 2
            tg.start_soon(third.run)
            await _waiting_for_a_slot(registry, third)
            gates.release[1].set()
            await third.done.wait()
            assert not unanswered.done.is_set()
            other.release[0].set()
    assert third.reply.events()[-1]["result"]["content"][0]["text"] == "part one part two"
    assert unanswered.reply.events()[-1]["result"]["content"][0]["text"] == "waiting done"


def test_a_call_waiting_for_a_slot_runs_when_the_answered_call_is_cancelled_on_each_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review (r8): one app served by two event loops in turn (a test suite's client per test).
    A call answered early whose request was then cancelled did not wake a call waiting for its
    slot (``ended`` ran on its normal return only), and the wait's event, made on the first loop,
    was awaited on the second: RuntimeError '... bound to a different event loop'. Now any call
    ending wakes the waiters, and the event is the running loop's."""
    monkeypatch.setattr(_ticker, "WATCH_AFTER", GUARD * 100)  # the wait ends when the slot frees, not by time
    current: dict[str, Gates] = {}
    app = FastAPI()

    @app.get("/report", operation_id="report")
    async def report() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            yield "part one "
            yield "part two"

        return StreamingResponse(lines(), media_type="text/plain", background=_background_work(current["gates"], 1))

    app.add_middleware(MCPMiddleware, max_concurrent_calls=1, keepalive_interval=GUARD * 100)

    async def episode() -> None:
        gates = current["gates"] = Gates()
        first = Exchange(app, call_body("report", "handshake", id=1)[0])
        second = Exchange(app, call_body("report", "handshake", id=2)[0])
        first_client = anyio.CancelScope()

        async def first_call() -> None:
            with first_client:
                await first.run()

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(first_call)
                await first.done.wait()  # answered
                await gates.produced[1].wait()  # its app's background work still runs
                registry = mcp_of(app).server.registry
                tg.start_soon(second.run)
                await _waiting_for_a_slot(registry, second)
                first_client.cancel()  # the first request ends by cancellation: its slot is free
                await gates.produced[1].wait()
                gates.release[1].set()  # (the second call's own background work)
        result = second.reply.events()[-1]["result"]
        assert not result.get("isError"), result
        assert registry.active == 0
        assert registry._vacated is None

    asyncio.run(episode())
    asyncio.run(episode())  # the same app, on a new event loop


def test_the_wait_for_a_slot_belongs_to_the_running_event_loop() -> None:
    """A loop that ended while a call waited for a slot (the waiter's client left, the answered call
    still running) leaves its event behind: the next loop's waiter must not await it."""
    registry = toolcall.CallRegistry()
    registry._calls[("caller", 1)] = SimpleNamespace(answered=True)  # type: ignore[assignment]  # an answered call
    registry.active = 1
    waited: list[bool] = []

    async def wait() -> None:
        waited.append(await registry.room(1, GUARD * 100))

    async def abandoned() -> None:
        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                while registry._vacated is None:
                    await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()  # the waiter's client left; the answered call runs on

    asyncio.run(abandoned())
    stale = registry._vacated
    assert stale is not None

    async def next_loop() -> None:
        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                while registry._vacated is stale:
                    await anyio.lowlevel.checkpoint()
                registry.active = 0  # the answered call ends
                registry.ended()

    asyncio.run(next_loop())
    assert waited == [True]
    assert registry._vacated is None


class _LastPartCarriesText(Response):
    """A streamed response whose last body message carries text (StreamingResponse ends with an
    empty one), then work after it, held by gate 1."""

    def __init__(self, gates: Gates) -> None:
        super().__init__(media_type="text/plain")
        self.gates = gates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b"part one ", "more_body": True})
        await send({"type": "http.response.body", "body": b"part two", "more_body": False})
        await _background_work(self.gates, 1)()


async def test_the_text_of_a_last_message_goes_out_as_progress_before_an_early_result() -> None:
    gates = Gates.released()
    gates.release[1] = anyio.Event()
    app = FastAPI()

    @app.get("/report", operation_id="report")
    async def report() -> Response:
        return _LastPartCarriesText(gates)

    app.add_middleware(MCPMiddleware)
    body, _ = call_body("report", "handshake")
    ex = Exchange(app, body)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.done.wait()  # the reply went out with the last message, the work still held
            assert not gates.finished.is_set()
            gates.release[1].set()
    events = ex.reply.events()
    assert progress_messages(events) == ["part one ", "part two"]
    assert events[-1]["result"]["content"][0]["text"] == "part one part two"


async def test_background_work_failing_after_the_result_went_out_changes_nothing_sent() -> None:
    app = FastAPI()
    release = anyio.Event()

    async def work() -> None:
        await release.wait()
        raise RuntimeError("the e-mail server is down")

    @app.post("/order", operation_id="order")
    async def order() -> JSONResponse:
        return JSONResponse({"ordered": True}, background=BackgroundTask(work))

    app.add_middleware(MCPMiddleware, keepalive_interval=0.1)
    body, _ = call_body("order", "handshake", token=None)
    ex = Exchange(app, body)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.done.wait()
            release.set()
    assert ex.reply.result()["content"][0]["text"] == '{"ordered":true}'
    assert len(ex.reply.chunks) == 1


async def test_batched_calls_wait_for_their_background_work_and_answer_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    woken = anyio.Event()
    wake = toolcall._ToolRun.wake

    def waking(run: toolcall._ToolRun) -> None:
        wake(run)
        woken.set()

    monkeypatch.setattr(toolcall._ToolRun, "wake", waking)
    gates = Gates()
    app = _background_app(gates, keepalive_interval=0.1)
    batch = [request("tools/call", {"name": "order", "arguments": {}}, 1), request("ping", None, 2)]
    ex = Exchange(app, batch, {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            await woken.wait()  # the ticker found the call still running after its response
            for _ in range(5):
                await anyio.lowlevel.checkpoint()
            assert not ex.reply.chunks  # nothing out before the batch is done
            gates.release[0].set()
    replies = orjson.loads(b"".join(ex.reply.chunks))
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[0]["result"]["content"][0]["text"] == '{"ordered":true}'


@pytest.mark.parametrize("when", ["during the background work", "after it"])
async def test_a_request_whose_early_result_cannot_be_written_can_still_be_cancelled(when: str) -> None:
    """Regression: the delivery of an early result was awaited whatever happened, so a request
    whose client stopped reading could not be cancelled (server shutdown, its own time limit). The
    delivery task the ticker starts: a result written at the last body message is written before
    the background work starts, in the request's own task (tests/unit/test_background_answer.py)."""
    import asyncio

    gates = Gates()
    app = _background_app(gates, ticked=True, keepalive_interval=0.1)
    body = orjson.dumps(request("tools/call", {"name": "order", "arguments": {}}))
    writing = asyncio.Event()
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.get_running_loop().create_future()  # the client never says more
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            writing.set()
            await asyncio.get_running_loop().create_future()  # a client that stopped reading

    scope = Exchange(app, body).scope
    request_task = asyncio.get_running_loop().create_task(app(scope, receive, send))
    with anyio.fail_after(GUARD):
        await writing.wait()  # the early result is being written, the background work waits
        if when == "after it":
            gates.release[0].set()
            await gates.finished.wait()
            for _ in range(5):  # the request is now waiting for the write to end
                await anyio.lowlevel.checkpoint()
        request_task.cancel()
        await asyncio.wait((request_task,))
    assert request_task.cancelled()


@pytest.mark.parametrize("group", [False, True])
async def test_background_work_failing_at_once_after_the_response_leaves_the_result(group: bool) -> None:
    """Regression: a failure right after the response (before the ticker's first tick) turned the
    complete success into 'the route raised RuntimeError'; a later one did not. Over HTTP the
    response stands either way, and a model must not retry a tool call that succeeded. Review:
    an ExceptionGroup (background work that runs a task group) still turned it into an error."""
    app = FastAPI()

    async def work() -> None:
        error = RuntimeError("the e-mail server is down")
        raise ExceptionGroup("background", [error]) if group else error

    @app.post("/order", operation_id="order")
    async def order() -> JSONResponse:
        return JSONResponse({"ordered": True}, background=BackgroundTask(work))

    app.add_middleware(MCPMiddleware)
    body, _ = call_body("order", "handshake", token=None)
    with anyio.fail_after(GUARD):
        reply = await Exchange(app, body).run()
    result = reply.result()
    assert result["content"][0]["text"] == '{"ordered":true}'
    assert not result.get("isError")


async def test_a_cancellation_while_the_timed_out_route_cleans_up_is_just_accepted() -> None:
    """Regression: once the time limit had fired and the route was still cleaning up, a
    notifications/cancelled rescheduled the expiring asyncio.Timeout, whose RuntimeError ('Cannot
    change state of expiring Timeout') reached the ASGI server from the cancel POST."""
    cleaning = anyio.Event()
    cleaned = anyio.Event()
    app = FastAPI()

    @app.get("/slowclean", operation_id="slowclean")
    async def slowclean() -> dict[str, bool]:
        try:
            await anyio.Event().wait()  # until the time limit
        finally:
            cleaning.set()
            with anyio.CancelScope(shield=True):
                await cleaned.wait()  # an async clean-up (closing a connection)
        return {"never": True}

    app.add_middleware(MCPMiddleware, call_timeout=0.01)
    body, _ = call_body("slowclean", "handshake", token=None, id=5)
    ex = Exchange(app, body)
    await cancel_midway(ex, cleaning, cancelled(5), partial(_released_one, cleaned))
    assert all(b'"result"' not in c for c in ex.reply.chunks)  # cancelled: nothing is answered


@pytest.mark.parametrize("path", ["a streamed call (its watcher)", "an early result (its delivery task)"])
async def test_the_tasks_of_a_call_leave_nothing_for_the_cycle_collector(path: str) -> None:
    """Regression: a reaped watcher (or delivery) task keeps the exception it ended with, whose
    traceback holds the run, which held the task: ~50 objects a streamed or long call waited for
    the cycle collector."""

    if path.startswith("a streamed"):
        app = build_app(Gates.released())
        body, headers = call_body("stream_plain", "handshake")
    else:
        app = _background_app(Gates.released(), linger=0.3, keepalive_interval=0.1)  # a tick (50 ms) before it ends
        body, headers = call_body("order", "handshake", token=None)
    reply, left = await left_for_the_collector(app, body, {**BASE_HEADERS, **headers})
    assert b'"result"' in reply
    assert left == 0


async def test_a_routes_progress_after_heartbeats_still_goes_out() -> None:
    """Review: heartbeats numbered 1, 2, 3 before a route's first report made the route's own
    '1 of 3', '2 of 3' look like steps back, and they were dropped."""
    gates = Gates()
    app = FastAPI()

    @app.post("/steps", operation_id="steps")
    async def steps(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, bool]:
        gates.produced[0].set()
        await gates.release[0].wait()  # a slow start: heartbeats go out meanwhile
        for step in (1, 2, 3):
            await ctx.report_progress(step, 3, f"step {step}")
        return {"done": True}

    app.add_middleware(MCPMiddleware, keepalive_interval=0.1)
    body, headers = call_body("steps", "handshake")
    ex = Exchange(app, body, headers or None)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            while not any(b"notifications/progress" in c for c in ex.reply.chunks):  # a heartbeat
                await ex.chunk_seen.wait()
            gates.release[0].set()
    events = [e for e in ex.reply.events() if e.get("method") == "notifications/progress"]
    # heartbeats (no message) may come between the steps on a slow host (the interval is 100 ms)
    assert [m for m in progress_messages(events) if m] == ["step 1", "step 2", "step 3"]
    values = [e["params"]["progress"] for e in events]
    assert all(a < b for a, b in itertools.pairwise(values)), values


@pytest.mark.parametrize("credential", ["cookie", "authorization"])
async def test_a_cancel_from_another_caller_with_the_same_request_id_changes_nothing(credential: str) -> None:
    """Review: the caller key was the Authorization header alone, so with cookie sign-in (or
    none) any client's notifications/cancelled for id 1 stopped every client's call 1."""
    gates = Gates()
    app = build_app(gates)
    body, _ = call_body("stream_plain", "handshake", id=1)
    ex = Exchange(app, body, {**BASE_HEADERS, credential: "alice"})
    mallory = {**BASE_HEADERS, credential: "mallory"}
    await cancel_midway(ex, gates.produced[0], cancelled(1), partial(_released, gates), mallory)
    assert gates.finished.is_set()
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "


def _two_clients_app(callers: str = "AB") -> tuple[FastAPI, dict[str, Gates]]:
    """``slow(who)`` streams three gated chunks of its own per caller ("A", "B", ...)."""
    gates = {who: Gates() for who in callers}
    app = FastAPI()

    @app.get("/slow", operation_id="slow")
    async def slow(who: str) -> StreamingResponse:
        return StreamingResponse(gates[who].tokens(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    return app, gates


def _anonymous_call(app: FastAPI, who: str) -> Exchange:
    """A handshake-era call with request id 1 and no credentials (as two local clients may make)."""
    body = request("tools/call", {"name": "slow", "arguments": {"who": who}, "_meta": {"progressToken": who}}, 1)
    return Exchange(app, body)


async def test_a_call_whose_id_and_caller_key_another_call_took_is_still_cancellable() -> None:
    """Review: the registry stored calls[key] = run, so a second call with the same (caller key,
    request id), say two clients without credentials each with id 1, replaced the first one's
    registration, and the first client's own cancel could no longer reach its call. Each call
    keeps its registration and removes only its own."""
    app, gates = _two_clients_app()
    first, second = _anonymous_call(app, "A"), _anonymous_call(app, "B")
    second_returned = anyio.Event()

    async def run_second() -> None:
        await second.run()
        second_returned.set()

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await gates["A"].produced[0].wait()
            registry = mcp_of(app).server.registry
            tg.start_soon(run_second)
            await gates["B"].produced[0].wait()
            both = len(registry)
            await _released(gates["B"])
            await second_returned.wait()  # B's call ended, and took only itself off the registry
            after_b = len(registry)
            assert (await Exchange(app, cancelled(1)).run()).status == 202  # A cancels its call 1
            await anyio.wait_all_tasks_blocked()
            reached = gates["A"].cancelled.is_set()
            await _released(gates["A"])  # (when the cancel did not reach it: let it end)
    assert (both, after_b) == (2, 1)
    assert reached
    assert all(b'"result"' not in c for c in first.reply.chunks)
    assert second.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "
    assert len(registry) == 0


def _sharing_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cannot tell apart" in r.getMessage()]


async def test_a_cancel_for_an_id_two_indistinguishable_callers_use_stops_neither_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review s11 item 1: a cancel for an id two callers the server cannot tell apart both use
    (two local clients without credentials, each with its first request id 1) stopped both calls,
    so one client's cancel killed its neighbour's call. It cannot say which call was meant: it
    stops neither (a cancel is advisory; a client that closes its stream still stops its call),
    and the log says why, once."""
    app, gates = _two_clients_app()
    calls = [_anonymous_call(app, "A"), _anonymous_call(app, "B")]
    with anyio.fail_after(GUARD), caplog.at_level("WARNING", logger="mcp_middleware.toolcall"):
        async with anyio.create_task_group() as tg:
            for call, who in zip(calls, "AB", strict=True):
                tg.start_soon(call.run)
                await gates[who].produced[0].wait()
            for _ in range(2):  # (said once)
                assert (await Exchange(app, cancelled(1)).run()).status == 202
            await anyio.wait_all_tasks_blocked()
            reached = [gates[who].cancelled.is_set() for who in "AB"]
            for who in "AB":
                await _released(gates[who])
    assert reached == [False, False]
    assert [call.reply.events()[-1]["result"]["content"][0]["text"] for call in calls] == ["t0 t1 t2 "] * 2
    assert len(mcp_of(app).server.registry) == 0
    (told,) = _sharing_warnings(caplog)
    assert "request id 1" in told
    assert "session_ids" in told
    assert "credentials" in told


async def test_a_cancel_for_a_shared_id_stops_the_one_call_that_has_not_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review s11fs2 item 3: client A's call of id 1 has answered (its result is out) while its
    BackgroundTask still runs; client B's call of id 1 streams. B's cancel matched both, so it
    stopped neither. An answered call wants no cancel (its result stands): the one call of the id
    that has not answered is the one meant, and stops; nothing is logged."""
    app, gates = _two_clients_app("B")
    background, finish = anyio.Event(), anyio.Event()

    async def mail() -> None:
        background.set()
        await finish.wait()

    @app.post("/send_report", operation_id="send_report")
    async def send_report() -> StreamingResponse:  # (answered from its last send: its app goes on)
        return StreamingResponse(iter(["queued"]), media_type="text/plain", background=BackgroundTask(mail))

    answered = Exchange(app, request("tools/call", {"name": "send_report", "arguments": {}}, 1))
    streaming = _anonymous_call(app, "B")
    with anyio.fail_after(GUARD), caplog.at_level("WARNING", logger="mcp_middleware.toolcall"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(answered.run)
            await background.wait()  # (its response went out before its background task started)
            tg.start_soon(streaming.run)
            await gates["B"].produced[0].wait()
            assert len(mcp_of(app).server.registry) == 2
            assert (await Exchange(app, cancelled(1)).run()).status == 202
            await anyio.wait_all_tasks_blocked()
            reached = gates["B"].cancelled.is_set()
            await _released(gates["B"])  # (a no-op once it is stopped)
            await streaming.done.wait()
            left = len(mcp_of(app).server.registry)  # the answered call, its task running on
            finish.set()
    assert reached
    assert left == 1
    assert answered.reply.result()["content"][0]["text"] == "queued"
    assert all(b'"result"' not in c for c in streaming.reply.chunks)
    assert _sharing_warnings(caplog) == []
    assert len(mcp_of(app).server.registry) == 0


@pytest.mark.parametrize("apart", ["authorization", "cookie", "session id"])
async def test_calls_of_one_id_from_callers_told_apart_are_cancelled_each_alone(
    apart: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Callers the server tells apart (by their credentials, or with ``session_ids`` by their
    session) may use the same request id at once: each cancel stops its own caller's call only,
    and nothing is logged."""
    gates = {who: Gates() for who in "AB"}
    app = FastAPI()

    @app.get("/slow", operation_id="slow")
    async def slow(who: str) -> StreamingResponse:
        return StreamingResponse(gates[who].tokens(), media_type="text/plain")

    app.add_middleware(MCPMiddleware, session_ids=apart == "session id")
    if apart == "session id":
        hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        sessions = [(await Exchange(app, request("initialize", hello)).run()).headers["mcp-session-id"] for _ in "AB"]
        headers = [{**BASE_HEADERS, "mcp-session-id": session} for session in sessions]
    else:
        headers = [{**BASE_HEADERS, apart: f"user-{who}"} for who in "AB"]
    calls = [
        Exchange(app, request("tools/call", {"name": "slow", "arguments": {"who": who}}, 1), sent)
        for who, sent in zip("AB", headers, strict=True)
    ]
    with anyio.fail_after(GUARD), caplog.at_level("WARNING", logger="mcp_middleware.toolcall"):
        async with anyio.create_task_group() as tg:
            for call, who in zip(calls, "AB", strict=True):
                tg.start_soon(call.run)
                await gates[who].produced[0].wait()
            assert (await Exchange(app, cancelled(1), headers[0]).run()).status == 202
            await gates["A"].cancelled.wait()
            await anyio.wait_all_tasks_blocked()
            b_reached = gates["B"].cancelled.is_set()
            await _released(gates["B"])
    assert not b_reached
    assert all(b'"result"' not in c for c in calls[0].reply.chunks)
    assert calls[1].reply.result()["content"][0]["text"] == "t0 t1 t2 "
    assert _sharing_warnings(caplog) == []


async def test_three_calls_of_one_id_share_its_key_and_each_leaves_only_itself() -> None:
    """A third call of a key already shared joins the others; when one of three ends, the two left
    still share the key, and a cancel for it stops neither (it cannot say which was meant)."""
    app, gates = _two_clients_app("ABC")
    calls = {who: _anonymous_call(app, who) for who in "ABC"}
    b_returned = anyio.Event()

    async def run_b() -> None:
        await calls["B"].run()
        b_returned.set()

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            for who in "ABC":
                tg.start_soon(run_b if who == "B" else calls[who].run)
                await gates[who].produced[0].wait()
            registry = mcp_of(app).server.registry
            three = len(registry)
            await _released(gates["B"])
            await b_returned.wait()
            two = len(registry)
            assert (await Exchange(app, cancelled(1)).run()).status == 202
            await anyio.wait_all_tasks_blocked()
            reached = {who: gates[who].cancelled.is_set() for who in "AC"}
            for who in "AC":
                await _released(gates[who])
    assert (three, two) == (3, 2)
    assert reached == {"A": False, "C": False}
    for who in "ABC":
        assert calls[who].reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "
    assert len(registry) == 0


async def test_a_route_that_swallows_its_cancellation_leaves_the_request_task_as_it_found_it() -> None:
    """A cancel reaches a quick call as a cancellation of the request's own task, which the guard
    takes back. A route that catches it and returns a response ends the run before it is taken
    back: the request task then still counted the cancellation (``Task.cancelling()``), and
    asyncio would read the server's next timeout in that task as a cancellation."""
    import asyncio

    app = FastAPI()
    waiting = anyio.Event()

    @app.get("/stubborn", operation_id="stubborn")
    async def stubborn() -> dict[str, bool]:
        try:
            waiting.set()
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            return {"stopped": True}
        return {"stopped": False}

    app.add_middleware(MCPMiddleware)
    ex = Exchange(app, request("tools/call", {"name": "stubborn", "arguments": {}}, 9))
    counted: list[int] = []

    async def serve() -> None:
        await ex.run()
        task = asyncio.current_task()
        assert task is not None
        counted.append(task.cancelling())

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            await waiting.wait()
            assert (await Exchange(app, cancelled(9)).run()).status == 202
    assert counted == [0]
    assert (ex.reply.status, ex.reply.content_type, ex.reply.body) == (200, "text/event-stream", b"")


class Halt(BaseException):
    """Not an Exception: what a server's shutdown or a KeyboardInterrupt is to a route."""


@pytest.mark.parametrize("grouped", [False, True])
async def test_a_base_exception_from_a_route_propagates_rather_than_becoming_a_result(grouped: bool) -> None:
    """Only an ``Exception`` is the route failing (an ``isError`` result); anything else, alone or
    in a task group's ``BaseExceptionGroup``, is not the call's to handle and goes on up."""
    app = FastAPI()

    @app.get("/halt", operation_id="halt")
    async def halt() -> None:
        raise BaseExceptionGroup("halted", [Halt()]) if grouped else Halt()

    app.add_middleware(MCPMiddleware)
    call = Exchange(app, request("tools/call", {"name": "halt", "arguments": {}}))
    if grouped:
        with pytest.raises(BaseExceptionGroup, match="halted") as raised:
            await call.run()
        assert raised.value.subgroup(Halt) is not None
    else:
        with pytest.raises(Halt):
            await call.run()
    assert len(mcp_of(app).server.registry) == 0


async def test_a_write_turn_handed_to_a_writer_cancelled_meanwhile_passes_on() -> None:
    """The write lock hands the turn to the next writer in order; if that writer is cancelled
    after the turn was handed to it but before it ran, it passes the turn on (here: frees the
    lock), else every later write would wait for ever."""
    import asyncio

    from mcp_middleware.transport._responder import _WriteLock

    lock = _WriteLock()
    assert lock.try_acquire()
    waiter = asyncio.get_running_loop().create_task(lock.__aenter__())
    await anyio.wait_all_tasks_blocked()  # it waits for its turn
    lock.release()  # its turn now
    waiter.cancel()  # and cancelled before it ran
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert lock.try_acquire()


_WHO: ContextVar[str] = ContextVar("who", default="-")  # e.g. a tracing middleware's current request


class _SendsSeenAs:
    """An outer ASGI layer that notes, for each message sent, which request the context says it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noted(message: Message) -> None:
            self.seen.append(_WHO.get())
            await send(message)

        await self.app(scope, receive, noted)


def _two_route_app(gates: Gates, **options: Any) -> FastAPI:
    """``slow`` (holds until gate 7), ``order`` (a complete response, then background work on gate 0)."""
    app = FastAPI()

    @app.get("/slow", operation_id="slow")
    async def slow() -> dict[str, bool]:
        gates.produced[7].set()
        await gates.release[7].wait()
        return {"slow": True}

    @app.post("/order", operation_id="order")
    async def order() -> JSONResponse:
        return JSONResponse({"ordered": True}, background=_background_work(gates, 0))

    app.add_middleware(MCPMiddleware, **options)
    return app


async def _as(who: str, ex: Exchange) -> None:
    _WHO.set(who)  # this task's context only
    await ex.run()


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_result_written_while_background_work_runs_is_written_in_its_own_requests_context(era: str) -> None:
    """Regression: the early result of a call whose app still runs was written by a task started
    from the shared ticker, in the context of whichever request had armed it: a tracing or logging
    middleware saw that other request's send."""
    gates = Gates()
    app = _two_route_app(gates, keepalive_interval=0.1)  # ticks every 50 ms
    first_body, first_headers = call_body("slow", era, token=None, id=1)
    first = Exchange(app, first_body, first_headers or None)
    seen = _SendsSeenAs(app)
    body, headers = call_body("order", era, token=None, id=2)
    ex = Exchange(seen, body, headers or None)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_as, "first", first)  # arms the ticker, in its own context
            await gates.produced[7].wait()
            tg.start_soon(_as, "second", ex)
            await ex.done.wait()  # written by the delivery the ticker started
            gates.release[0].set()
            gates.release[7].set()
    assert ex.reply.result()["content"] == [{"type": "text", "text": '{"ordered":true}'}]
    assert seen.seen
    assert set(seen.seen) == {"second"}


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_keepalives_of_a_call_go_out_in_its_own_requests_context(era: str) -> None:
    """The watcher the ticker starts for a long call writes keep-alives and progress: in that
    call's context, not the context of the request that armed the ticker."""
    gates = Gates()
    app = _two_route_app(gates, keepalive_interval=0.1)
    first_body, first_headers = call_body("order", era, token=None, id=1)
    first = Exchange(app, first_body, first_headers or None)  # its background work holds the ticker armed
    seen = _SendsSeenAs(app)
    body, headers = call_body("slow", era, token="tok-2", id=2)
    ex = Exchange(seen, body, headers or None)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_as, "first", first)
            await gates.produced[0].wait()
            tg.start_soon(_as, "second", ex)
            await gates.produced[7].wait()
            await until_keepalive(ex)
            gates.release[7].set()
            gates.release[0].set()
    assert ex.reply.result()["content"][0]["text"] == '{"slow":true}'
    assert len(seen.seen) > 2
    assert set(seen.seen) == {"second"}


def _progress_values(reply: Any) -> list[Any]:
    return [e["params"]["progress"] for e in reply.events() if e.get("method") == "notifications/progress"]


async def test_a_streaming_route_with_its_context_counts_its_chunks_one_two_three() -> None:
    """Review s11 item 2: a streaming route that only declared ``Depends(mcp_context)`` sent chunk
    progress 5e-324, 1e-323, ..., shown by clients as 0; after the route reported 1 of 10, its
    chunks went 1.0000000000000002, ..., a frozen 1. Now 1, 2, 3 (as without the dependency), and
    after a report a thousandth up at a time; a report below the chunks' count goes out just above
    it, with its total and message."""
    app = FastAPI()

    async def tokens() -> AsyncIterator[str]:
        for i in range(3):
            yield f"t{i} "

    @app.get("/quiet", operation_id="quiet")
    async def quiet(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> StreamingResponse:
        return StreamingResponse(tokens(), media_type="text/plain")

    @app.get("/first", operation_id="first")
    async def first(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> StreamingResponse:
        await ctx.report_progress(1, 10, "started")
        return StreamingResponse(tokens(), media_type="text/plain")

    @app.get("/late", operation_id="late")
    async def late(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "a "
            yield "b "
            await ctx.report_progress(1, 10, "halfway")
            yield "c "

        return StreamingResponse(parts(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    sent = {}
    for tool in ("quiet", "first", "late"):
        body, _ = call_body(tool, "handshake")
        reply = await Exchange(app, body).run()
        sent[tool] = [(e["params"]["progress"], e["params"].get("total")) for e in reply.events() if "params" in e]
    assert sent == {
        "quiet": [(1, None), (2, None), (3, None)],
        "first": [(1, 10), (1.001, None), (1.002, None), (1.003, None)],
        "late": [(1, None), (2, None), (2.001, 10), (2.002, None)],
    }


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_streamed_progress_never_passes_the_routes_total(era: str) -> None:
    """Review s11fs2 item 1: chunks before the route's first report lifted its "1 of 3" to 4.001 of
    3; 1,200 chunks after its "1 of 2" went on to 2.173. A raised report goes without its total,
    the chunks after a report stay below its total (and its next whole step), and once the route
    reported all of its total the chunks after it send no progress (their text is in the result)."""
    app = FastAPI()

    @app.get("/report", operation_id="report")
    async def report(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            for row in ("header ", "a ", "b ", "c "):
                yield row
            await ctx.report_progress(1, 3, "step 1 of 3")
            yield "x "

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/llm", operation_id="llm")
    async def llm(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            await ctx.report_progress(1, 2, "generating")
            for i in range(1200):
                yield f"t{i} "
            await ctx.report_progress(2, 2, "done")
            yield "end"

        return StreamingResponse(parts(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    sent = {}
    for tool in ("report", "llm"):
        body, headers = call_body(tool, era)
        reply = await Exchange(app, body, headers or None).run()
        events = reply.events()
        sent[tool] = [(e["params"]["progress"], e["params"].get("total")) for e in events if "params" in e]
        values = [value for value, _ in sent[tool]]
        assert values == sorted(set(values))
        assert events[-1]["result"]["content"][0]["text"].endswith("end" if tool == "llm" else "x ")
    assert sent["report"] == [(1, None), (2, None), (3, None), (4, None), (4.001, None), (4.002, None)]
    assert sent["llm"][:3] == [(1, 2), (1.001, None), (1.002, None)]
    assert all(value < 2 for value, _ in sent["llm"][1:-1])
    assert sent["llm"][-1] == (2, 2)  # the route's own; the chunk after it ("end") sends none
    assert len(sent["llm"]) == 1 + 1200 + 1
