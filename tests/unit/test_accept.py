"""Accept that does not list both application/json and text/event-stream: answered in a form the
client accepts, in both eras, instead of 406 (clients.md §2: Claude Code sends application/json
alone, claude.ai's proxy text/event-stream alone, the Claude Agent SDK no Accept). Only an Accept
admitting neither type is refused, and never on initialize.

The headers are set by hand (httpx would send ``Accept: */*``)."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest

from mcp_middleware.transport._checks import NOT_ACCEPTABLE, leniency
from tests.apps import Gates, build_app
from tests.support import MODERN, Exchange, Reply, meta, post, request

pytestmark = pytest.mark.anyio
GUARD = 10  # a deadlock guard only: a call that waited for an answer would hang

JSON_ONLY = [
    None,
    "",
    "application/json",
    "application/json;q=0.5",
    "application/*",
    "text/event-stream;q=0, application/json",
    "text/event-stream; Q=0.000, */*",
]
SSE_ONLY = ["text/event-stream", "text/*", "application/json;q=0, text/event-stream", "application/json;q=0.0, */*"]
NEITHER = ["text/html", "application/json;q=0, text/event-stream;q=0", "*/*;q=0", "image/*"]
BOTH = [
    "application/json, text/event-stream",
    "text/event-stream, application/json",
    "*/*",
    "application/json;q=0.9, text/event-stream;q=0.1",
    "application/json;q=0.5, text/event-stream;charset=utf-8",
]
ERAS = ["handshake", "modern"]


def _headers(accept: str | None, **extra: str) -> dict[str, str]:
    headers = {"content-type": "application/json", "host": "127.0.0.1:8000", **extra}
    if accept is not None:
        headers["accept"] = accept
    return headers


def _call(era: str, tool: str, arguments: dict[str, Any] | None = None, token: str | None = None) -> Any:
    """A tools/call of ``tool`` in ``era``: its body and the headers besides Accept."""
    params: dict[str, Any] = {"name": tool, "arguments": arguments or {}}
    if era == "handshake":
        if token is not None:
            params["_meta"] = {"progressToken": token}
        return request("tools/call", params, 7), {"mcp-protocol-version": "2025-11-25"}
    params["_meta"] = meta() if token is None else meta(progressToken=token)
    return request("tools/call", params, 7), {
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }


async def _post(app: Any, body: Any, accept: str | None, extra: dict[str, str]) -> Reply:
    with anyio.fail_after(GUARD):
        return await post(app, body, _headers(accept, **extra))


def _json(reply: Reply) -> Any:
    assert reply.status == 200, reply.body
    assert reply.content_type == "application/json"
    return reply.json()


def _one_event(reply: Reply) -> Any:
    assert reply.status == 200, reply.body
    assert reply.content_type == "text/event-stream"
    events = reply.events()
    assert len(events) == 1
    return events[0]


def _text(message: Any) -> Any:
    return orjson.loads(message["result"]["content"][0]["text"])


@pytest.mark.parametrize(
    ("accept", "expected"),
    [*((a, "json") for a in JSON_ONLY), *((a, "sse") for a in SSE_ONLY), *((a, "neither") for a in NEITHER)]
    + [(a, None) for a in BOTH],
)
def test_what_an_accept_value_asks(accept: str | None, expected: str | None) -> None:
    assert leniency(accept) == expected


INIT = request(
    "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}
)


@pytest.mark.parametrize("accept", [*JSON_ONLY, *NEITHER, *BOTH])
async def test_initialize_is_answered_as_json_whatever_accept_says(accept: str | None) -> None:
    """clients.md §2: a well-formed initialize never gets a 4xx (but 401); it was 406 unless
    Accept listed both types. One admitting neither is disregarded (RFC 9110 §12.5.1)."""
    reply = await _post(build_app(), INIT, accept, {})
    assert _json(reply)["result"]["protocolVersion"] == "2025-06-18"


@pytest.mark.parametrize("accept", SSE_ONLY)
async def test_initialize_is_one_event_to_a_client_that_accepts_only_sse(accept: str) -> None:
    reply = await _post(build_app(), INIT, accept, {})
    assert _one_event(reply)["result"]["protocolVersion"] == "2025-06-18"
    assert "content-length" not in reply.headers


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("accept", JSON_ONLY)
async def test_a_json_route_is_json_to_a_client_that_accepts_only_json(era: str, accept: str | None) -> None:
    body, extra = _call(era, "get_thing", {"thing_id": 3})
    assert _text(_json(await _post(build_app(), body, accept, extra)))["name"] == "thing-3"


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("accept", SSE_ONLY)
async def test_a_json_route_is_one_event_to_a_client_that_accepts_only_sse(era: str, accept: str) -> None:
    body, extra = _call(era, "get_thing", {"thing_id": 3})
    event = _one_event(await _post(build_app(), body, accept, extra))
    assert event["id"] == 7
    assert _text(event)["name"] == "thing-3"


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("accept", BOTH)
async def test_a_json_route_is_json_when_accept_lists_both(era: str, accept: str) -> None:
    body, extra = _call(era, "get_thing", {"thing_id": 3})
    assert _text(_json(await _post(build_app(), body, accept, extra)))["name"] == "thing-3"


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("accept", JSON_ONLY)
async def test_progress_and_logs_are_dropped_for_a_client_that_accepts_only_json(era: str, accept: str | None) -> None:
    """The call that would stream its progress answers its final result alone, as JSON."""
    body, extra = _call(era, "ctx_progress", token="p")
    reply = await _post(build_app(), body, accept, extra)
    assert _text(_json(reply))["tool"] == "ctx_progress"


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("accept", JSON_ONLY[:3])
async def test_a_streaming_route_is_json_to_a_client_that_accepts_only_json(era: str, accept: str | None) -> None:
    body, extra = _call(era, "stream_plain", token="p")
    reply = await _post(build_app(Gates.released()), body, accept, extra)
    assert "content" in _json(reply)["result"]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("accept", SSE_ONLY)
async def test_progress_streams_to_a_client_that_accepts_only_sse(era: str, accept: str) -> None:
    body, extra = _call(era, "ctx_progress", token="p")
    reply = await _post(build_app(), body, accept, extra)
    assert reply.content_type == "text/event-stream"
    events = reply.events()
    assert [e["params"]["progress"] for e in events if e.get("method") == "notifications/progress"] == [1, 2, 3]
    assert _text(events[-1])["tool"] == "ctx_progress"


@pytest.mark.parametrize("accept", JSON_ONLY)
async def test_a_handshake_question_to_a_client_that_accepts_only_json_fails_at_once(accept: str | None) -> None:
    """In the handshake era a question goes out on the call's SSE stream, which this client does not
    take: the route's ask fails before anything is sent (it waited for ask_timeout, 600 s, for an
    answer that could not come), and the call's result says why."""
    body, extra = _call("handshake", "ctx_elicit")
    app = build_app()
    reply = await _post(app, body, accept, extra)
    result = _json(reply)["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "elicitation/create" in text
    assert "does not admit text/event-stream" in text


@pytest.mark.parametrize("accept", SSE_ONLY)
async def test_a_handshake_question_goes_out_to_a_client_that_accepts_only_sse(accept: str) -> None:
    body, extra = _call("handshake", "ctx_elicit")
    app = build_app()
    headers = _headers(accept, **extra)
    ex = Exchange(app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.chunk_seen.wait()
            asked = ex.reply.events()[0]
            assert asked["method"] == "elicitation/create"
            answer = {"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": {"name": "Ann"}}}
            assert (await post(app, answer, headers)).status == 202
    assert ex.reply.content_type == "text/event-stream"
    assert _text(ex.reply.events()[-1])["greeting"] == "Hello, Ann!"


@pytest.mark.parametrize("accept", [*JSON_ONLY, *SSE_ONLY])
async def test_a_2026_question_is_an_input_required_result_in_the_form_the_client_accepts(accept: str | None) -> None:
    """2026-07-28 asks through the call's result (mrtr.mdx): no stream is needed."""
    body, extra = _call("modern", "ctx_elicit")
    reply = await _post(build_app(), body, accept, extra)
    message = _one_event(reply) if accept in SSE_ONLY else _json(reply)
    assert message["result"]["resultType"] == "input_required"


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("accept", NEITHER)
@pytest.mark.parametrize("tool", ["get_thing", "ctx_progress", "ctx_elicit"])
async def test_anything_but_initialize_is_406_when_accept_admits_neither_type(era: str, accept: str, tool: str) -> None:
    body, extra = _call(era, tool, {"thing_id": 3} if tool == "get_thing" else {}, token="p")
    reply = await _post(build_app(), body, accept, extra)
    assert reply.status == 406
    assert reply.json()["error"]["message"] == NOT_ACCEPTABLE


@pytest.mark.parametrize(
    "body",
    [b"{not json", orjson.dumps(request("tools/list")), orjson.dumps([INIT]), b"x" * 2048],
    ids=["malformed", "tools/list", "batch", "too large"],
)
async def test_a_body_that_is_no_initialize_is_406_when_accept_admits_neither_type(body: bytes) -> None:
    reply = await _post(build_app(max_body_bytes=1024), body, "text/html", {})
    assert reply.status == 406


async def test_initialize_read_in_chunks_is_answered_when_accept_admits_neither_type() -> None:
    ex = Exchange(build_app(), INIT, _headers("text/html"), body_chunks=3)
    with anyio.fail_after(GUARD):
        reply = await ex.run()
    assert _json(reply)["result"]["protocolVersion"] == "2025-06-18"


@pytest.mark.parametrize("accept", [None, "application/json", "text/event-stream"])
async def test_a_notification_is_202_whatever_accept_says(accept: str | None) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    reply = await _post(build_app(), note, accept, {})
    assert reply.status == 202
    assert reply.body == b""


async def test_response_mode_sse_answers_json_to_a_client_that_accepts_only_json() -> None:
    body, extra = _call("handshake", "get_thing", {"thing_id": 3})
    app = build_app(response_mode="sse")
    assert _text(_json(await _post(app, body, "application/json", extra)))["name"] == "thing-3"
    streamed = await _post(app, body, "application/json, text/event-stream", extra)
    assert streamed.content_type == "text/event-stream"


async def test_a_batch_with_a_streaming_call_is_a_json_array_to_a_client_that_accepts_only_json() -> None:
    batch = [request("tools/list", id=1), request("tools/call", {"name": "ctx_progress", "arguments": {}}, 2)]
    batch[1]["params"]["_meta"] = {"progressToken": "p"}
    reply = await _post(build_app(), batch, "application/json", {"mcp-protocol-version": "2025-03-26"})
    replies = _json(reply)
    assert [r["id"] for r in replies] == [1, 2]


async def test_a_cancelled_call_of_a_client_that_accepts_only_json_is_202() -> None:
    """A cancelled request gets no response (cancellation.mdx); to a client that takes a stream it
    is one that ends without an event, to this one 202 with no body."""
    gates = Gates()
    app = build_app(gates)
    headers = _headers("application/json")
    ex = Exchange(app, request("tools/call", {"name": "slow", "arguments": {}}, 9), headers)
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}}
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            assert (await post(app, cancel, headers)).status == 202
    assert gates.cancelled.is_set()
    assert ex.reply.status == 202
    assert ex.reply.body == b""


async def test_an_sse_only_client_gets_http_errors_as_they_are() -> None:
    """Only a 200 JSON reply becomes an event: an HTTP error keeps its status and JSON body."""
    reply = await _post(build_app(), b"{not json", "text/event-stream", {})
    assert reply.status == 400
    assert reply.content_type == "application/json"


@pytest.mark.parametrize("accept", [None, "application/json"])
async def test_a_listen_stream_is_refused_to_a_client_that_accepts_only_json(accept: str | None) -> None:
    """subscriptions/listen is nothing but a stream: its notifications would be dropped, and it
    would stay open, silent, until the server shuts down."""
    body = request("subscriptions/listen", {"notifications": {"toolsListChanged": True}, "_meta": meta()}, id="s")
    extra = {"mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen"}
    reply = await _post(build_app(), body, accept, extra)
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == -32600
    assert "does not admit text/event-stream" in error["message"]
