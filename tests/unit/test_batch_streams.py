"""2025-03-26 JSON-RPC batches whose calls stream: transports.mdx (2025-03-26) §Sending Messages
lets the server answer input holding requests with an SSE stream, send requests and notifications
on it before the responses, and then one response per request. A batch's reply stays one JSON array
while nothing streams; once a call streams (a request to the client, progress, a log, a keep-alive)
the reply is an SSE stream, and the batch's responses are its last events, one message each."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import orjson
import pytest
from fastapi import Depends, FastAPI
from fastapi.security import APIKeyHeader

from mcp_middleware import ClientRequestError, MCPContext, MCPMiddleware, mcp_context
from tests.apps import build_app, mcp_of
from tests.support import BASE_HEADERS, Exchange, post, request

pytestmark = pytest.mark.anyio
GUARD = 10

ROOTS = {"roots": [{"uri": "file:///x", "name": "x"}]}
HI = [{"role": "user", "content": {"type": "text", "text": "hi"}}]
SAMPLED = {"role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m", "stopReason": "endTurn"}


def _app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/roots", operation_id="roots")
    async def roots(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        try:
            return await ctx.list_roots()
        except ClientRequestError as exc:
            return {"client_error": exc.error}
        except TimeoutError:
            return {"timeout": True}

    @app.post("/sample", operation_id="sample")
    async def sample(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        return await ctx.sample(HI, 10)

    app.add_middleware(MCPMiddleware, **options)
    return app


def _call(tool: str, id: int, token: Any = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "arguments": {}}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return request("tools/call", params, id)


def _json(message: dict[str, Any]) -> Any:
    return orjson.loads(message["result"]["content"][0]["text"])


async def _answered(app: FastAPI, batch: list[Any], result: Any, headers: dict[str, str] | None = None) -> Exchange:
    """Post ``batch``; answer the first request it sends to the client with ``result``."""
    ex = Exchange(app, batch, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.chunk_seen.wait()
            [asked] = ex.reply.events()
            assert (await post(app, {"jsonrpc": "2.0", "id": asked["id"], "result": result}, headers)).status == 202
    return ex


async def test_a_call_in_a_batch_asks_the_client_on_the_batch_s_stream() -> None:
    """It used to fail at once: the route got ClientRequestError and the tool result said only
    "the route raised ClientRequestError" (the batch's reply was one JSON array)."""
    app = _app()
    batch = [_call("roots", 1), request("tools/list", id=2)]
    ex = await _answered(app, batch, ROOTS)  # no version header: 2025-03-26, where batches exist
    assert ex.reply.status == 200
    assert ex.reply.content_type == "text/event-stream"
    asked, first, second = ex.reply.events()
    assert (asked["method"], asked["params"]) == ("roots/list", {})
    assert first["id"] == 1
    assert _json(first) == ROOTS
    assert second["id"] == 2
    assert "roots" in [tool["name"] for tool in second["result"]["tools"]]
    assert ex.reply.more_flags[-1] is False  # the stream ended with the last response
    assert len(mcp_of(app).server.pending) == 0


async def test_the_other_calls_of_the_batch_run_after_the_answer() -> None:
    """The batch's items run one after the other: the second call asks once the first is answered."""
    app = _app()
    batch = [_call("roots", 1), _call("sample", 2)]
    ex = Exchange(app, batch, {**BASE_HEADERS, "mcp-protocol-version": "2024-11-05"})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            for result in (ROOTS, SAMPLED):
                while len([e for e in ex.reply.events() if "method" in e]) < (1 if result is ROOTS else 2):
                    await ex.chunk_seen.wait()
                asked = [e for e in ex.reply.events() if "method" in e][-1]
                assert (await post(app, {"jsonrpc": "2.0", "id": asked["id"], "result": result})).status == 202
    events = ex.reply.events()
    assert [e.get("method") for e in events] == ["roots/list", "sampling/createMessage", None, None]
    assert [(e["id"], _json(e)) for e in events[2:]] == [(1, ROOTS), (2, SAMPLED)]


async def test_progress_and_logs_of_a_call_in_a_batch_are_streamed() -> None:
    """They used to be dropped: the batch's reply could carry nothing but its responses."""
    batch = [_call("ctx_progress", 1, token="p"), request("ping", id=2)]
    reply = await post(build_app(), batch)
    assert reply.content_type == "text/event-stream"
    events = reply.events()
    progress = [e["params"] for e in events if e.get("method") == "notifications/progress"]
    assert progress == [{"progressToken": "p", "progress": i, "total": 3, "message": f"step {i}"} for i in (1, 2, 3)]
    logs = [e["params"]["data"] for e in events if e.get("method") == "notifications/message"]
    assert logs == ["log 1", "log 2", "log 3"]
    assert [e.get("id") for e in events[-2:]] == [1, 2]
    assert _json(events[-2])["active"] is True
    assert events[-1]["result"] == {}
    assert reply.more_flags[-1] is False


async def test_a_batch_whose_calls_stream_nothing_is_still_one_json_array() -> None:
    thing = request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 2}}, id=1)
    reply = await post(build_app(), [thing, request("ping", id=2)])
    assert reply.content_type == "application/json"
    assert [m["id"] for m in reply.json()] == [1, 2]


async def test_a_client_error_in_a_batch_reaches_the_route() -> None:
    error = {"jsonrpc": "2.0", "error": {"code": -1, "message": "no roots here"}}
    app = _app()
    ex = Exchange(app, [_call("roots", 1)])
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.chunk_seen.wait()
            [asked] = ex.reply.events()
            assert (await post(app, {**error, "id": asked["id"]})).status == 202
    assert _json(ex.reply.events()[-1]) == {"client_error": {"code": -1, "message": "no roots here"}}


async def test_an_unanswered_request_in_a_batch_times_out_and_is_cancelled_on_the_stream() -> None:
    reply = await post(_app(ask_timeout=0.01), [_call("roots", 1), request("ping", id=2)])
    asked, cancelled, first, second = reply.events()
    assert cancelled == {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": asked["id"], "reason": "timed out"},
    }
    assert (first["id"], _json(first)) == (1, {"timeout": True})
    assert (second["id"], second["result"]) == (2, {})


async def test_a_client_that_leaves_a_batch_while_asked_gets_nothing_more() -> None:
    """The client closes the stream while a call of its batch waits for an answer: the question
    fails (nobody can answer it; the call is not cancelled: ``test_client_leaves``) and nothing
    more is written (not the other items' responses either)."""
    app = _app()
    ex = Exchange(app, [_call("roots", 1), request("ping", id=2)])
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.chunk_seen.wait()
            ex.disconnect.set()
    [asked] = ex.reply.events()
    assert asked["method"] == "roots/list"
    assert ex.reply.more_flags == [True]
    assert len(mcp_of(app).server.pending) == 0


async def test_elicitation_in_a_2025_03_26_batch_is_refused_saying_why() -> None:
    """2025-03-26 has no elicitation (batches exist only there and in 2024-11-05): the route gets
    ClientRequestError (-32601) at once, and its error result says why; the batch goes on."""
    reply = await post(build_app(), [_call("ctx_elicit", 1), request("ping", id=2)])
    assert reply.content_type == "application/json"  # nothing was sent
    first, second = reply.json()
    assert first["result"]["isError"] is True
    assert first["result"]["content"][0]["text"] == (
        "Tool 'ctx_elicit' failed: the route raised ClientRequestError: elicitation/create failed: "
        "Method not found: protocol revision 2025-03-26 has no elicitation/create."
    )
    assert second == {"jsonrpc": "2.0", "id": 2, "result": {}}


async def test_a_call_in_a_batch_keeps_its_callers_key_when_an_earlier_item_rebuilds_the_catalog() -> None:
    """The caller key of each item is the one later requests of the same caller get: an earlier
    ``tools/list`` of the batch that notices a new API-key scheme (so the caller's identity gains
    its header) must not leave the call under the old key, where its ``notifications/cancelled``
    cannot find it."""
    started, stopped = anyio.Event(), anyio.Event()
    app = FastAPI()

    @app.get("/slow", operation_id="slow")
    async def slow() -> dict[str, bool]:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.set()
        return {"ok": True}  # pragma: no cover

    app.add_middleware(MCPMiddleware)
    headers = {**BASE_HEADERS, "authorization": "Bearer a"}
    assert (await post(app, request("tools/list"), headers)).status == 200

    @app.get("/keyed", operation_id="keyed")
    async def keyed(key: Annotated[str, Depends(APIKeyHeader(name="X-Key"))]) -> dict[str, str]:
        return {"key": key}  # pragma: no cover

    batch = [request("tools/list", id=1), request("tools/call", {"name": "slow", "arguments": {}}, id=2)]
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}}
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(Exchange(app, batch, headers).run)
            await started.wait()
            assert (await post(app, cancel, headers)).status == 202
            await stopped.wait()  # the route is cancelled (it never ends on its own)
