"""The handshake era (2024-11-05 … 2025-11-25) on the one endpoint."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.apps import Gates, build_app, mcp_of
from tests.support import BASE_HEADERS, Exchange, Reply, cancelled, post, request

pytestmark = pytest.mark.anyio


def init(version: Any = "2025-06-18", **params: Any) -> dict[str, Any]:
    return request(
        "initialize",
        {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
            **params,
        },
    )


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
async def test_initialize_echoes_supported_versions(version: str) -> None:
    reply = await post(build_app(), init(version))
    assert reply.status == 200
    assert reply.content_type == "application/json"
    result = reply.result()
    assert result["protocolVersion"] == version
    assert result["serverInfo"] == {"name": "Test API", "version": "9.9"}
    assert result["instructions"] == "Things for tests"
    assert result["capabilities"]["tools"] == {"listChanged": False}
    assert result["capabilities"]["logging"] == {}
    assert "mcp-session-id" not in reply.headers


@pytest.mark.parametrize("version", ["1999-01-01", "2026-07-28", "garbage"])
async def test_initialize_with_unknown_version_gets_latest_handshake(version: str) -> None:
    result = (await post(build_app(), init(version))).result()
    assert result["protocolVersion"] == "2025-11-25"


async def test_initialize_is_never_a_4xx_even_with_odd_headers_and_extra_fields() -> None:
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2026-07-28", "mcp-session-id": "whatever"}
    body = init("2025-06-18", capabilities={"tools": True, "roots": {"listChanged": True}}, extra="x")
    reply = await post(build_app(), body, headers)
    assert reply.status == 200
    assert reply.result()["protocolVersion"] == "2025-06-18"


async def test_options_name_version_instructions_override_the_app() -> None:
    app = build_app(name="srv", version="2", instructions="Use me")
    result = (await post(app, init())).result()
    assert result["serverInfo"] == {"name": "srv", "version": "2"}
    assert result["instructions"] == "Use me"


@pytest.mark.parametrize("method", ["notifications/initialized", "notifications/roots/list_changed", "x/y"])
async def test_notifications_get_202_and_no_body(method: str) -> None:
    reply = await post(build_app(), {"jsonrpc": "2.0", "method": method})
    assert reply.status == 202
    assert reply.body == b""


async def test_client_responses_get_202() -> None:
    reply = await post(build_app(), {"jsonrpc": "2.0", "id": 5, "result": {}})
    assert reply.status == 202


async def test_ping_is_exactly_empty() -> None:
    reply = await post(build_app(), request("ping", id="p1"))
    assert reply.json() == {"jsonrpc": "2.0", "id": "p1", "result": {}}


async def test_unknown_method_is_32601_with_http_200_and_the_id() -> None:
    reply = await post(build_app(), request("nope/nothing", id=9))
    assert reply.status == 200
    assert reply.json()["id"] == 9
    assert reply.json()["error"]["code"] == -32601


async def test_removed_in_2026_methods_are_unknown_here_too_when_not_served() -> None:
    # server/discover exists only in 2026-07-28
    reply = await post(build_app(), request("server/discover"))
    assert reply.json()["error"]["code"] == -32601


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"name": 5}, "name"),
        ({"name": "get_thing", "arguments": [1, 2]}, "arguments"),
        ({}, "name"),
    ],
)
async def test_wrong_parameter_types_are_32602(params: dict[str, Any], fragment: str) -> None:
    reply = await post(build_app(), request("tools/call", params, id=3))
    error = reply.error()
    assert error["id"] == 3
    assert error["error"]["code"] == -32602
    assert fragment in error["error"]["message"]


async def test_params_not_an_object_is_32602() -> None:
    reply = await post(build_app(), {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": [1]})
    assert reply.json()["error"]["code"] == -32602
    assert reply.json()["id"] == 4


async def test_unknown_tool_is_32602() -> None:
    reply = await post(build_app(), request("tools/call", {"name": "nope", "arguments": {}}, id=8))
    error = reply.error()
    assert error["id"] == 8
    assert error["error"]["code"] == -32602
    assert "nope" in error["error"]["message"]


async def test_invalid_cursor_is_32602() -> None:
    reply = await post(build_app(), request("tools/list", {"cursor": "zzz"}))
    assert reply.error()["error"]["code"] == -32602


async def test_version_header_absent_means_2025_03_26_and_batches_work() -> None:
    batch = [
        request("ping", id=1),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        request("tools/list", id=2),
    ]
    reply = await post(build_app(), batch)
    assert reply.status == 200
    messages = reply.json()
    assert [m["id"] for m in messages] == [1, 2]
    assert messages[0]["result"] == {}
    assert any(t["name"] == "get_thing" for t in messages[1]["result"]["tools"])


async def test_batch_of_notifications_only_is_202() -> None:
    batch = [{"jsonrpc": "2.0", "method": "notifications/initialized"}]
    reply = await post(build_app(), batch)
    assert reply.status == 202


async def test_batch_items_fail_one_by_one() -> None:
    batch = [request("ping", id=1), {"jsonrpc": "2.0", "id": 2, "method": 5}, request("nope", id=3)]
    messages = (await post(build_app(), batch)).json()
    assert messages[0] == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert messages[1]["error"]["code"] == -32600
    assert messages[1]["id"] == 2
    assert messages[2]["error"]["code"] == -32601
    assert messages[2]["id"] == 3


async def test_batch_cannot_carry_initialize() -> None:
    messages = (await post(build_app(), [init()])).json()
    assert messages[0]["error"]["code"] == -32600


async def test_empty_batch_is_invalid() -> None:
    reply = await post(build_app(), [])
    assert reply.status == 400
    assert reply.json()["error"] == {"code": -32600, "message": "Invalid request: an empty batch"}


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
async def test_batches_are_refused_after_2025_03_26(version: str) -> None:
    headers = {**BASE_HEADERS, "mcp-protocol-version": version}
    reply = await post(build_app(), [request("ping")], headers)
    assert reply.status == 400
    message = f"Invalid request: JSON-RPC batches (not allowed in protocol {version})"
    assert reply.json()["error"] == {"code": -32600, "message": message}


async def test_batch_calls_a_tool() -> None:
    batch = [request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 2}}, id=1)]
    messages = (await post(build_app(), batch)).json()
    # 2025-03-26 (batches are no later revision's) has no structuredContent: the JSON is the text
    assert messages[0]["result"] == {"content": [{"type": "text", "text": '{"id":2,"name":"thing-2","q":null}'}]}


async def test_a_client_gone_during_a_batch_gets_nothing_more_and_the_rest_of_the_batch_runs() -> None:
    """Regression: only the call's own outbox was abandoned when its client left, and the POST's
    responder still wrote an answer to nobody. As for a lone request, nothing more is written once
    the client is gone. Its leaving cancels nothing (transports.mdx, 2025-03-26: "Disconnection
    SHOULD NOT be interpreted as the client cancelling its request"), as over HTTP: the streaming
    call's response hears the disconnect and stops itself, and the batch's next call runs (it used
    to be cancelled, and the rest of the batch not run)."""
    gates = Gates()
    app = build_app(gates)
    ran: list[str] = []

    @app.get("/after", operation_id="after")
    async def after() -> str:
        ran.append("after")
        return "ran"

    batch = [
        request("tools/call", {"name": "stream_plain", "arguments": {}}, id=9),
        request("tools/call", {"name": "after", "arguments": {}}, id=10),
    ]
    ex = Exchange(app, batch)
    with anyio.fail_after(10):  # a deadlock guard only; nothing waits on time
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            ex.disconnect.set()
    assert gates.cancelled.is_set()  # the generator was closed by its StreamingResponse
    assert ran == ["after"]
    assert (ex.reply.status, ex.reply.chunks) == (0, [])
    assert len(mcp_of(app).server.registry) == 0


async def test_session_id_is_neither_minted_nor_required() -> None:
    app = build_app()
    reply = await post(app, init())
    assert "mcp-session-id" not in reply.headers
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18", "mcp-session-id": "stale-123"}
    assert (await post(app, request("tools/list"), headers)).status == 200


async def test_optional_session_ids_are_signed_and_verified() -> None:
    app = build_app(session_ids=True)
    reply = await post(app, init())
    session = reply.headers["mcp-session-id"]
    assert all(0x21 <= ord(c) <= 0x7E for c in session)
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
    assert (await post(app, request("tools/list"), {**headers, "mcp-session-id": session})).status == 200
    assert (await post(app, request("tools/list"), headers)).status == 200  # never required
    forged = await post(app, request("tools/list", id=4), {**headers, "mcp-session-id": session + "x"})
    assert forged.status == 404
    assert forged.json()["id"] == 4
    other = build_app(session_ids=True, state_secret=b"another-secret-of-32-bytes-here!")
    assert (await post(other, request("tools/list"), {**headers, "mcp-session-id": session})).status == 404


async def test_shared_secret_makes_session_ids_valid_on_every_worker() -> None:
    secret = "a-secret-both-workers-share-0123"
    first, second = build_app(session_ids=True, state_secret=secret), build_app(session_ids=True, state_secret=secret)
    session = (await post(first, init())).headers["mcp-session-id"]
    headers = {**BASE_HEADERS, "mcp-session-id": session}
    assert (await post(second, request("tools/list"), headers)).status == 200


async def test_a_foreign_session_id_without_a_secret_is_explained_once_in_the_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a shared secret every worker refuses the others' session ids (and requestStates):
    the client only sees 404, and nothing told the operator why (review). Once per middleware, and
    only when no secret is configured."""
    monkeypatch.delenv("MCP_MIDDLEWARE_STATE_SECRET", raising=False)
    first, second = build_app(session_ids=True), build_app(session_ids=True)
    session = (await post(first, init())).headers["mcp-session-id"]
    headers = {**BASE_HEADERS, "mcp-session-id": session}
    with caplog.at_level("WARNING", logger="mcp_middleware.handlers"):
        for _ in range(2):
            assert (await post(second, request("tools/list"), headers)).status == 404
    told = [r.getMessage() for r in caplog.records if "no state_secret is set" in r.getMessage()]
    assert len(told) == 1
    assert told[0].startswith("an Mcp-Session-Id failed verification")
    caplog.clear()
    configured = build_app(session_ids=True, state_secret="a-secret-of-more-than-16-bytes")
    with caplog.at_level("WARNING", logger="mcp_middleware.handlers"):
        assert (await post(configured, request("tools/list"), headers)).status == 404
    assert "no state_secret is set" not in caplog.text


async def test_response_mode_sse_streams_every_reply() -> None:
    app = build_app(response_mode="sse")
    reply = await post(app, request("tools/list", id=3))
    assert reply.content_type == "text/event-stream"
    assert reply.events()[-1]["id"] == 3
    assert "tools" in reply.events()[-1]["result"]
    assert (await post(app, {"jsonrpc": "2.0", "method": "notifications/initialized"})).status == 202


async def test_response_mode_sse_streams_a_batch_s_replies_too() -> None:
    """Review: the option's "always answers with an SSE stream" held for lone requests only; a
    2025-03-26 batch whose calls streamed nothing got a JSON array. Its responses are the stream's
    events now, one each; a batch without a request is still 202."""
    app = build_app(response_mode="sse")
    reply = await post(app, [request("tools/list", id=3), request("ping", id=4)])
    assert reply.content_type == "text/event-stream"
    assert [event["id"] for event in reply.events()] == [3, 4]
    assert reply.events()[-1]["result"] == {}
    notifications = [{"jsonrpc": "2.0", "method": "notifications/initialized"}]
    assert (await post(app, notifications)).status == 202


async def test_cancelled_with_a_null_id_is_ignored() -> None:
    """cancellation.mdx: the server MAY ignore a cancellation it cannot match; a null requestId
    (which the SDK's types take) names nothing."""
    app = build_app()
    reply = await post(app, cancelled(None))
    assert reply.status == 202
    assert reply.body == b""
    messages = (await post(app, [cancelled(None), request("ping", id=2)])).json()
    assert messages == [{"jsonrpc": "2.0", "id": 2, "result": {}}]


@pytest.mark.parametrize("request_id", [[1], {"a": 1}, True, 1.5, 1.0])
async def test_cancelled_with_an_id_that_is_no_id_is_refused_and_so_is_its_batch(request_id: Any) -> None:
    """Such a cancellation was answered 202 and ignored: the client was told it was accepted.
    transports.mdx §Sending Messages: input the server cannot accept gets an HTTP error status
    (400, -32602, id null); ``[1]``, ``{"a": 1}`` and ``1.5`` fail the SDK's type, ``true`` and
    ``1.0`` are no request id of ours (a request with one is refused). A batch with a request that
    holds it is refused whole with the same 400 (it was answered 200 with an error item of id null:
    JSON-RPC 2.0 §6, no reply to a notification, even in a batch; clients refuse an id-null item)."""
    app = build_app()
    for body in (cancelled(request_id), [cancelled(request_id), request("ping", id=2)]):
        reply = await post(app, body)
        assert reply.status == 400
        assert (reply.json()["id"], reply.json()["error"]["code"]) == (None, -32602)


async def test_cancelled_with_true_leaves_call_1_running() -> None:
    """``True == 1`` as a dict key: a boolean requestId must not find the call with id 1."""
    gates = Gates()
    app = build_app(gates)
    call = request("tools/call", {"name": "stream_plain", "arguments": {}, "_meta": {"progressToken": "t"}}, id=1)
    ex = Exchange(app, call)
    with anyio.fail_after(10):  # a deadlock guard only; nothing waits on time
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            assert len(mcp_of(app).server.registry) == 1
            assert (await post(app, cancelled(True))).status == 400
            for gate in gates.release:
                gate.set()
    assert gates.finished.is_set()
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "


NOTIFICATION_BAD_PARAMS = {"jsonrpc": "2.0", "method": "notifications/initialized", "params": [1]}
SLOW = {"name": "slow", "arguments": {}}


async def _with_request_9_cancelled(batch: list[Any]) -> Reply:
    """The reply to ``batch`` (holding a call of ``slow`` with id 9), cancelled once the route runs."""
    gates = Gates()
    app = build_app(gates)
    ex = Exchange(app, batch)
    with anyio.fail_after(10):  # a deadlock guard only; nothing waits on time
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            assert (await post(app, cancelled(9))).status == 202
    return ex.reply


@pytest.mark.parametrize("others", [[], [{"jsonrpc": "2.0", "method": "notifications/initialized"}]])
async def test_a_batch_whose_only_request_was_cancelled_is_an_empty_event_stream(others: list[Any]) -> None:
    """transports.mdx (2025-03-26) §Sending Messages: input holding any request is answered with
    an SSE stream or JSON, never 202; cancellation.mdx: nothing is sent for the cancelled request,
    and a JSON-RPC batch reply is never an empty array. So: a stream that ends without an event,
    as for a lone request that was cancelled."""
    reply = await _with_request_9_cancelled([*others, request("tools/call", SLOW, id=9)])
    assert reply.status == 200
    assert reply.content_type == "text/event-stream"
    assert reply.events() == []
    assert reply.more_flags[-1] is False


async def test_a_batch_with_a_cancelled_request_answers_the_others_in_json() -> None:
    reply = await _with_request_9_cancelled([request("tools/call", SLOW, id=9), request("ping", id=10)])
    assert reply.status == 200
    assert reply.json() == [{"jsonrpc": "2.0", "id": 10, "result": {}}]


async def test_a_batch_with_a_cancelled_request_and_a_refused_notification_is_200() -> None:
    """The POST carried a request: not the HTTP error of a batch of refused notifications alone."""
    reply = await _with_request_9_cancelled([NOTIFICATION_BAD_PARAMS, request("tools/call", SLOW, id=9)])
    assert reply.status == 200
    assert [(m["id"], m["error"]["code"]) for m in reply.json()] == [(None, -32602)]


@pytest.mark.parametrize("version", [None, "2025-06-18", "2025-11-25"])
@pytest.mark.parametrize("params", [[1], "x", 5])
async def test_a_notification_that_is_not_accepted_is_400(version: str | None, params: Any) -> None:
    """transports.mdx §Sending Messages: for a notification the server returns 202 if it accepts
    it, otherwise an HTTP error status; the body may be an id-less JSON-RPC error."""
    headers = BASE_HEADERS if version is None else {**BASE_HEADERS, "mcp-protocol-version": version}
    body = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json()["id"] is None
    assert reply.json()["error"]["code"] == -32602


async def test_a_request_with_params_that_are_not_an_object_is_still_200() -> None:
    """Errors of a well-formed request stay 200 in the handshake era (a 404 reads as "session expired")."""
    reply = await post(build_app(), {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": [1]})
    assert reply.status == 200
    assert reply.json()["id"] == 4
    assert reply.json()["error"]["code"] == -32602


async def test_a_batch_of_only_notifications_that_is_not_accepted_is_400() -> None:
    batch = [NOTIFICATION_BAD_PARAMS, {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    reply = await post(build_app(), batch)
    assert reply.status == 400
    assert [m["error"]["code"] for m in reply.json()] == [-32602]
    assert [m["id"] for m in reply.json()] == [None]


async def test_a_batch_with_a_request_and_a_bad_notification_is_200() -> None:
    reply = await post(build_app(), [NOTIFICATION_BAD_PARAMS, request("ping", id=2)])
    assert reply.status == 200
    assert [m.get("id") for m in reply.json()] == [None, 2]


@pytest.mark.parametrize(
    "body",
    [
        [request("ping", id=1)],
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "srv-1", "result": {}},
        request("ping", id=1),
    ],
    ids=["batch", "notification", "client-response", "request"],
)
async def test_a_forged_session_id_is_404_on_every_kind_of_post(body: Any) -> None:
    """transports.mdx §Session Management: a request carrying an unknown session id is 404,
    batches, notifications and client responses included (only a lone initialize mints anew)."""
    app = build_app(session_ids=True)
    # a 2025-03-26 session, whose batches are served (a later one's are refused, as its revision has none)
    session = (await post(app, init("2025-03-26"))).headers["mcp-session-id"]
    forged = await post(app, body, {**BASE_HEADERS, "mcp-session-id": session + "x"})
    assert forged.status == 404
    assert forged.json()["error"]["code"] == -32001
    assert forged.json()["id"] == (1 if body == request("ping", id=1) else None)
    good = await post(app, body, {**BASE_HEADERS, "mcp-session-id": session})
    assert good.status in (200, 202)
    again = await post(app, init(), {**BASE_HEADERS, "mcp-session-id": session + "x"})
    assert again.status == 200
    assert again.headers["mcp-session-id"] != session


@pytest.mark.parametrize("version", [" 2025-06-18", "2025-06-18 ", "\t2025-11-25 "])
async def test_the_version_header_is_read_without_surrounding_whitespace(version: str) -> None:
    """The router strips the header to pick the era; the era must read the same version (here:
    batches, which 2025-06-18 removed, are refused instead of served as 2025-03-26)."""
    headers = {**BASE_HEADERS, "mcp-protocol-version": version}
    reply = await post(build_app(), [request("ping")], headers)
    assert reply.status == 400
    assert version.strip() in reply.json()["error"]["message"]


@pytest.mark.parametrize("meta", [{"progressToken": []}, {"progressToken": 1.5}, {"progressToken": {}}])
async def test_list_params_are_checked_when_the_reply_is_cached_too(meta: dict[str, Any]) -> None:
    """List replies are cached per revision; a request's params are still checked each time."""
    app = build_app()
    cold = await post(app, request("tools/list", {"_meta": meta}, id=1))
    assert (await post(app, request("tools/list", id=2))).result()["tools"]  # now cached
    warm = await post(app, request("tools/list", {"_meta": meta}, id=3))
    assert cold.error()["error"]["code"] == warm.error()["error"]["code"] == -32602
    assert warm.error()["error"]["message"] == cold.error()["error"]["message"]
    assert warm.json()["id"] == 3


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
@pytest.mark.parametrize(
    "envelope", [{}, {"jsonrpc": "1.0"}, {"jsonrpc": 2.0}], ids=["no-jsonrpc", "jsonrpc-1.0", "jsonrpc-number"]
)
async def test_a_request_that_is_no_json_rpc_2_0_object_keeps_its_readable_id(
    version: str, envelope: dict[str, Any]
) -> None:
    """JSON-RPC 2.0 §5: the error's id is the request's when it could be read. A lone request
    refused for its envelope answered ``"id": null`` in this era, where a batch's item and a
    2026-07-28 request echo it (test_modern): every path now says 7."""
    body = {**envelope, "id": 7, "method": "tools/list"}
    headers = {**BASE_HEADERS, "mcp-protocol-version": version}
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32600, "message": "Invalid request: not a JSON-RPC 2.0 object"},
    }
    if version in ("2024-11-05", "2025-03-26"):
        batch = await post(build_app(), [body], headers)
        assert batch.status == 200
        assert batch.json() == [reply.json()]


@pytest.mark.parametrize(
    "body",
    [{"id": 7, "result": {}}, {"jsonrpc": "1.0", "id": "srv-1", "result": {}}, {"id": True, "method": "ping"}],
    ids=["reply", "reply-1.0", "no-id"],
)
async def test_a_message_that_is_no_json_rpc_2_0_object_without_a_request_id_answers_id_null(body: Any) -> None:
    """What has no request id to echo (a client's reply names a request of ours; ``true`` is no id)
    still answers ``"id": null``."""
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"})
    assert reply.status == 400
    assert reply.json()["id"] is None
    assert reply.json()["error"]["code"] == -32600
