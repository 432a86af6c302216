"""2026-07-28: per-request _meta, routing headers, discover, errors with the spec's statuses."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from fastapi.security import APIKeyHeader, APIKeyQuery
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from mcp_middleware import MCPMiddleware
from mcp_middleware.sealing import bound_target
from mcp_middleware.validation import KEPT_BYTES
from tests.apps import build_app, mcp_of
from tests.support import (
    BASE_HEADERS,
    MODERN,
    Exchange,
    call_modern,
    meta,
    modern_headers,
    modern_request,
    post,
    request,
)

pytestmark = pytest.mark.anyio

SERVER_INFO = {"name": "Test API", "version": "9.9"}
HEADER_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)  # module level: route annotations resolve here
QUERY_KEY = APIKeyQuery(name="api_key", auto_error=False)


async def test_discover() -> None:
    reply = await call_modern(build_app(), "server/discover")
    assert reply.status == 200
    assert reply.content_type == "application/json"
    result = reply.result()
    # every revision served, the same list as a -32022 gives (a dual-era server names both eras)
    assert result["supportedVersions"] == [MODERN, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
    assert result["capabilities"]["tools"] == {"listChanged": True}
    assert result["capabilities"]["logging"] == {}
    assert result["resultType"] == "complete"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == SERVER_INFO
    assert isinstance(result["ttlMs"], int)
    assert result["ttlMs"] >= 0
    assert result["cacheScope"] in ("public", "private")
    assert result["instructions"] == "Things for tests"


async def test_tools_list_has_result_type_cache_hints_and_identity() -> None:
    result = (await call_modern(build_app(), "tools/list")).result()
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "public"
    assert result["ttlMs"] >= 0
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == SERVER_INFO
    assert [t["name"] for t in result["tools"]][:3] == ["get_thing", "delete_thing", "create_thing"]


async def test_tools_call_result_type() -> None:
    reply = await call_modern(
        build_app(), "tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}}, "get_thing"
    )
    result = reply.result()
    assert result["resultType"] == "complete"
    assert result["structuredContent"]["name"] == "thing-1"
    assert "ttlMs" not in result


async def test_client_info_is_optional() -> None:
    body = modern_request("tools/list")
    del body["params"]["_meta"]["io.modelcontextprotocol/clientInfo"]
    assert (await post(build_app(), body, modern_headers("tools/list"))).status == 200


@pytest.mark.parametrize(
    "drop", ["_meta", "io.modelcontextprotocol/protocolVersion", "io.modelcontextprotocol/clientCapabilities"]
)
async def test_missing_envelope_is_400_32602(drop: str) -> None:
    body = modern_request("tools/list", id="r")
    if drop == "_meta":
        del body["params"]["_meta"]
    else:
        del body["params"]["_meta"][drop]
    reply = await post(build_app(), body, modern_headers("tools/list"))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602
    assert reply.json()["id"] == "r"


async def test_header_mismatch_beats_unsupported_version() -> None:
    body = request("tools/list", {"_meta": meta("v999.0.0")}, id=11)
    reply = await post(build_app(), body, modern_headers("tools/list"))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020
    assert reply.json()["id"] == 11


async def test_unsupported_version_is_32022_with_data() -> None:
    body = request("tools/list", {"_meta": meta("v999.0.0")}, id=12)
    reply = await post(build_app(), body, modern_headers("tools/list", version="v999.0.0"))
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == -32022
    assert error["data"] == {
        "supported": [MODERN, *sorted(HANDSHAKE_PROTOCOL_VERSIONS, reverse=True)],
        "requested": "v999.0.0",
    }
    assert reply.json()["id"] == 12


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"mcp-method": "tools/call", "mcp-name": "get_thing"}, True),
        ({"MCP-METHOD": "tools/call", "MCP-NAME": "get_thing"}, True),
        ({"mcp-method": "tools/call", "mcp-name": "  get_thing  "}, True),
        ({"mcp-method": "tools/call", "mcp-name": "=?base64?Z2V0X3RoaW5n?="}, True),
        ({"mcp-method": "TOOLS/CALL", "mcp-name": "get_thing"}, False),
        ({"mcp-method": "tools/list", "mcp-name": "get_thing"}, False),
        ({"mcp-name": "get_thing"}, False),
        ({"mcp-method": "tools/call"}, False),
        ({"mcp-method": "tools/call", "mcp-name": "GET_THING"}, False),
        ({"mcp-method": "tools/call", "mcp-name": "=?base64?Z2V0X3RoaW5n?"}, False),
        ({"mcp-method": "tools/call", "mcp-name": "=?base64?SGVsbG8?="}, False),
        ({"mcp-method": "tools/call", "mcp-name": "=?base64?!!!?="}, False),
    ],
)
async def test_routing_headers(headers: dict[str, str], ok: bool) -> None:
    base = modern_headers("tools/call")
    del base["mcp-method"]
    body = modern_request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}}, id=5)
    reply = await post(build_app(), body, {**base, **headers})
    if ok:
        assert reply.status == 200, reply.body
        assert not reply.result().get("isError")
        assert reply.result()["structuredContent"]["id"] == 1 if "isError" in reply.result() else True
    else:
        assert reply.status == 400
        assert reply.json()["error"]["code"] == -32020
        assert reply.json()["id"] == 5


@pytest.mark.parametrize("method", ["tools/call", "prompts/get", "resources/read"])
async def test_a_missing_mcp_name_is_said_to_be_missing(method: str) -> None:
    """A request with Mcp-Method but no Mcp-Name was told "Mcp-Name does not match params.name"
    (review): the header is missing, and the error says so (-32020, as a missing Mcp-Method)."""
    params = {"uri": "res://x"} if method == "resources/read" else {"name": "get_thing", "arguments": {}}
    reply = await post(build_app(), modern_request(method, params, id=6), modern_headers(method))
    assert reply.status == 400
    field = "uri" if method == "resources/read" else "name"
    message = f"Header mismatch: Mcp-Name is missing (params.{field})"
    assert reply.json()["error"] == {"code": -32020, "message": message}
    assert reply.json()["id"] == 6


@pytest.mark.parametrize("name", ["caf\xe9", "a\x01b", "a\x7fb"])
async def test_mcp_name_with_invalid_characters_is_a_mismatch(name: str) -> None:
    """streamable-http.mdx §Server Validation: a header value with invalid characters is -32020;
    a non-ASCII value arrives as ``=?base64?…?=``, never as raw bytes (here read as latin-1, so
    they would equal the body's name)."""
    body = modern_request("tools/call", {"name": name, "arguments": {}}, id=6)
    reply = await post(build_app(), body, modern_headers("tools/call", name))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020
    assert "Mcp-Name" in reply.json()["error"]["message"]


async def test_duplicate_routing_header_is_a_mismatch() -> None:
    app = build_app()
    body = modern_request("tools/list", id=1)
    from tests.support import Exchange

    ex = Exchange(app, body, modern_headers("tools/list"))
    ex.scope["headers"].append((b"mcp-method", b"tools/list"))
    reply = await ex.run()
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020


@pytest.mark.parametrize(
    "method",
    [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "unknown/method",
    ],
)
async def test_removed_and_unknown_methods_are_404_32601(method: str) -> None:
    params: dict[str, Any] = {"uri": "x://y"} if "subscribe" in method else {}
    reply = await post(build_app(), modern_request(method, params, id="m"), modern_headers(method))
    assert reply.status == 404
    assert reply.json()["error"]["code"] == -32601
    assert reply.json()["id"] == "m"


async def test_unknown_tool_is_400_32602() -> None:
    reply = await call_modern(build_app(), "tools/call", {"name": "ghost"}, "ghost")
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602


async def test_wrong_param_types_are_400_32602() -> None:
    reply = await call_modern(build_app(), "tools/call", {"name": "get_thing", "arguments": "x"}, "get_thing")
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602


@pytest.mark.parametrize("level", ["loud", "DEBUG", 5, [], ["debug"], {}, {"debug": 1}, True])
async def test_bad_log_level_is_32602(level: Any) -> None:
    body = request("tools/list", {"_meta": meta(**{"io.modelcontextprotocol/logLevel": level})})
    reply = await post(build_app(), body, modern_headers("tools/list"))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602


async def test_session_id_and_last_event_id_are_ignored_and_never_echoed() -> None:
    headers = {**modern_headers("tools/list"), "mcp-session-id": "abc", "last-event-id": "7"}
    reply = await post(build_app(), modern_request("tools/list"), headers)
    assert reply.status == 200
    assert "mcp-session-id" not in reply.headers


async def test_notifications_are_202() -> None:
    body = {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": 1, "_meta": meta()},
    }
    reply = await post(build_app(), body, modern_headers("notifications/cancelled"))
    assert reply.status == 202
    assert reply.body == b""


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"mcp-method": "notifications/progress"}, -32020),
        ({"mcp-method": None}, -32020),
        ({"mcp-protocol-version": "2099-01-01"}, -32022),
        ({"mcp-protocol-version": None}, -32020),
        ({"mcp-protocol-version": " "}, -32020),
    ],
)
async def test_a_notification_with_wrong_headers_is_refused_like_a_request(
    change: dict[str, str | None], code: int
) -> None:
    """The routing headers are required on notifications too (transports: "all requests and
    notifications"); a notification with a wrong Mcp-Method or an unknown version was accepted (202)
    unchecked, where a request gets 400."""
    body = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": meta()}}
    headers: dict[str, str] = {**modern_headers("notifications/cancelled")}
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == code
    assert reply.json()["id"] is None


@pytest.mark.parametrize("stated", ["2025-11-25", "2099-01-01"])
async def test_a_notification_whose_meta_states_another_revision_than_its_header_is_refused(stated: str) -> None:
    body = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": meta(stated)}}
    reply = await post(build_app(), body, modern_headers("notifications/cancelled"))
    assert reply.status == 400
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32020, "message": "Header mismatch: MCP-Protocol-Version does not match params._meta"},
    }


@pytest.mark.parametrize("items", [1, 0])
async def test_batches_are_invalid_requests(items: int) -> None:
    headers = modern_headers("tools/list")
    reply = await post(build_app(), [modern_request("tools/list")] * items, headers)
    assert reply.status == 400
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "Invalid request: batches are not part of 2026-07-28"},
    }


@pytest.mark.parametrize("outcome", [{"result": {}}, {"error": {"code": -32601, "message": "Method not found"}}])
async def test_a_client_response_is_refused_without_its_id(outcome: dict[str, Any]) -> None:
    """The refusal answers no request of the client's: the response's id names a request of the
    server's, so echoing it would read as an error for the client's own request 3."""
    reply = await post(build_app(), {"jsonrpc": "2.0", "id": 3, **outcome}, modern_headers("tools/list"))
    assert reply.status == 400
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "Invalid request: clients do not send responses in 2026-07-28"},
    }


async def test_a_request_refused_before_the_ladder_keeps_its_id() -> None:
    reply = await post(build_app(), {"jsonrpc": "1.0", "id": 4, "method": "tools/list"}, modern_headers("tools/list"))
    assert reply.status == 400
    assert reply.json()["id"] == 4


@pytest.mark.parametrize("version", ["2025-01-01", "2027-01-01", "bogus", "2025-06-18, 2025-03-26"])
async def test_an_unknown_version_header_without_envelope_is_32022_naming_every_revision(version: str) -> None:
    """A request without the 2026 envelope whose MCP-Protocol-Version names no revision we know
    (a typo, a future revision) was told that params._meta must carry the envelope, a field the
    client never meant to send; it is now told the version is unsupported, with every revision it
    could fall back to (both eras'), still 400 as every revision's spec says."""
    body = request("tools/list", id=7)
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": version})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == -32022
    assert error["data"]["requested"] == version
    assert set(error["data"]["supported"]) == {*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS}
    assert reply.json()["id"] == 7


async def test_the_modern_version_header_without_envelope_still_names_the_envelope() -> None:
    reply = await post(build_app(), request("tools/list"), {**BASE_HEADERS, "mcp-protocol-version": MODERN})
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602


async def test_an_empty_version_header_is_no_version() -> None:
    """An empty MCP-Protocol-Version states nothing: the request is served as one without it (the
    handshake era, as VS Code's), not refused as an unknown revision."""
    body = request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}})
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": " "})
    assert reply.status == 200
    result = reply.json()["result"]
    assert not result.get("isError")
    assert result["structuredContent"]["id"] == 1


async def test_meta_without_header_is_modern_and_a_mismatch() -> None:
    headers = modern_headers("tools/list")
    del headers["mcp-protocol-version"]
    reply = await post(build_app(), modern_request("tools/list"), headers)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020


@pytest.mark.parametrize("credential", [("authorization", "Bearer x"), ("cookie", "sid=abc")])
async def test_cache_scope_is_private_with_credentials(credential: tuple[str, str]) -> None:
    """A cookie is as much a credential as an Authorization header (it was answered "public")."""
    app = build_app()
    headers = {**modern_headers("tools/list"), credential[0]: credential[1]}
    result = (await post(app, modern_request("tools/list"), headers)).result()
    assert result["cacheScope"] == "private"
    assert (await call_modern(app, "tools/list")).result()["cacheScope"] == "public"  # not the cached reply


@pytest.mark.parametrize(("headers", "url"), [({"x-api-key": "s3cret"}, b""), ({}, b"api_key=s3cret")])
async def test_cache_scope_is_private_with_the_apps_api_keys(headers: dict[str, str], url: bytes) -> None:
    """An API key (an APIKeyHeader's header, an APIKeyQuery's parameter of the MCP URL) is a
    credential too: the results of a request that carries one may depend on who sent it."""
    app = FastAPI()

    @app.get("/vault", operation_id="vault")
    async def vault(
        header_key: Annotated[str | None, Security(HEADER_KEY)], url_key: Annotated[str | None, Security(QUERY_KEY)]
    ) -> dict[str, str]:
        return {}

    app.add_middleware(MCPMiddleware)
    reply = await post(app, modern_request("tools/list"), {**modern_headers("tools/list"), **headers}, query_string=url)
    result = reply.result()
    assert result["cacheScope"] == "private"
    assert (await call_modern(app, "tools/list")).result()["cacheScope"] == "public"


async def test_list_results_are_serialised_once_and_spliced() -> None:
    app = build_app()
    first = await call_modern(app, "tools/list")
    server = mcp_of(app).server
    assert ("tools/list", MODERN, "public") in server.reply_cache
    second = await post(app, modern_request("tools/list", id="again"), modern_headers("tools/list"))
    assert second.json()["id"] == "again"
    assert second.json()["result"] == first.json()["result"]
    with_cursor = await post(app, modern_request("tools/list", {"cursor": "x"}), modern_headers("tools/list"))
    assert with_cursor.json()["error"]["code"] == -32602  # not served from the cache


@pytest.mark.parametrize("version", [20260728, None, ["2026-07-28"]])
async def test_a_version_that_is_not_a_string_is_a_header_mismatch(version: Any) -> None:
    body = request("tools/list", {"_meta": {**meta(), "io.modelcontextprotocol/protocolVersion": version}}, id=13)
    reply = await post(build_app(), body, modern_headers("tools/list"))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020
    assert reply.json()["id"] == 13


async def test_client_capabilities_that_are_not_an_object_are_32602() -> None:
    body = request("tools/list", {"_meta": {**meta(), "io.modelcontextprotocol/clientCapabilities": []}}, id=14)
    reply = await post(build_app(), body, modern_headers("tools/list"))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602
    assert "capabilities" in reply.json()["error"]["message"]
    assert reply.json()["id"] == 14


async def test_an_expired_request_state_is_32602(monkeypatch: pytest.MonkeyPatch) -> None:
    """A requestState older than its lifetime is refused like a tampered one."""
    import time

    app = build_app()
    await call_modern(app, "tools/list")  # the server is prepared
    server = mcp_of(app).server
    state = server.sealer.seal_round("r1", {}, bound_target("tool:get_thing", b"", {"thing_id": 1}))
    later = time.time() + 2 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    params = {"name": "get_thing", "arguments": {"thing_id": 1}, "requestState": state}
    reply = await call_modern(app, "tools/call", params, "get_thing")
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602
    assert "expired" in reply.json()["error"]["message"]


@pytest.mark.parametrize("value", ["r1", {"s": "r1"}, {"s": 5, "a": {}}, {"s": None, "a": []}])
async def test_a_sealed_state_of_another_shape_is_32602(value: object) -> None:
    """A requestState carries the route's state and the answers its run used; a genuine seal of
    anything else (an older release's plain string) is refused, not half-read."""
    app = build_app()
    await call_modern(app, "tools/list")  # the server is prepared
    state = mcp_of(app).server.sealer.seal(value, bound_target("tool:get_thing", b"", {"thing_id": 1}))
    params = {"name": "get_thing", "arguments": {"thing_id": 1}, "requestState": state}
    reply = await call_modern(app, "tools/call", params, "get_thing")
    assert reply.status == 400
    assert reply.json()["error"] == {"code": -32602, "message": "Invalid params: requestState is malformed"}


async def test_header_names_from_the_server_are_matched_in_any_case() -> None:
    """ASGI servers send lower-case header names; one that does not still gets the same checks,
    and a routing header repeated in another case is still a repeated header."""
    import orjson

    from tests.support import asgi_scope

    body = orjson.dumps(modern_request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}}, id=21))

    async def call(headers: dict[str, str], extra: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        raw = [(k.title().encode(), v.encode()) for k, v in headers.items()] + extra
        sent: list[Any] = []
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Any:
            return chunks.pop(0)

        async def send(message: Any) -> None:
            sent.append(message)

        await build_app()(asgi_scope("POST", "/mcp", raw), receive, send)
        reply: dict[str, Any] = orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))
        return reply

    headers = modern_headers("tools/call", "get_thing")
    ok = await call(headers, [])
    assert ok["result"]["structuredContent"]["name"] == "thing-1"
    repeated = await call(headers, [(b"mcp-name", b"get_thing")])
    assert repeated["error"]["code"] == -32020
    assert "mcp-name appears more than once" in repeated["error"]["message"]
    # another Mcp-* header repeated is no routing header: nothing for a proxy to read otherwise
    twice = await call(headers, [(b"mcp-session-id", b"a"), (b"Mcp-Session-Id", b"b")])
    assert twice["result"]["structuredContent"]["name"] == "thing-1"


async def test_list_params_are_checked_when_the_reply_is_cached_too() -> None:
    app = build_app()
    bad = modern_request("tools/list", id=2, progressToken=[])
    cold = await post(app, bad, modern_headers("tools/list"))
    assert (await post(app, modern_request("tools/list"), modern_headers("tools/list"))).status == 200
    warm = await post(app, bad, modern_headers("tools/list"))
    assert cold.status == warm.status == 400
    assert cold.json() == warm.json()


def _bad_variant(change: str) -> tuple[dict[str, Any], dict[str, str], int]:
    """A ``tools/call`` of ``get_thing`` with one thing changed from a good one: body, headers, code."""
    body = modern_request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}}, id=7)
    headers = modern_headers("tools/call", "get_thing")
    code = -32020
    if change == "method header":
        headers["mcp-method"] = "tools/list"
    elif change == "name header":
        headers["mcp-name"] = "delete_thing"
    elif change == "version header":
        headers["mcp-protocol-version"] = "2099-01-01"  # no longer the body's: a mismatch
    elif change == "body name":
        body["params"]["name"] = "delete_thing"
    elif change == "log level":
        body["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = "loud"
        code = -32602
    elif change == "unsupported version":
        body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
        headers["mcp-protocol-version"] = "2099-01-01"
        code = -32022
    elif change == "capabilities":
        body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = []
        code = -32602
    return body, headers, code


@pytest.mark.parametrize(
    "change",
    ["method header", "name header", "version header", "body name", "log level", "unsupported version", "capabilities"],
)
async def test_a_remembered_ladder_verdict_covers_only_what_it_was_given_for(change: str) -> None:
    """The ladder's verdict is remembered per envelope and routing headers (``Server.ladders``): after
    a good call, a request differing in any one of them is checked afresh and refused as on a cold
    server; one differing only in its arguments is served from the verdict."""
    app = build_app()
    good, good_headers, _ = _bad_variant("")
    assert (await post(app, good, good_headers)).status == 200
    other = modern_request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 2}}, id=8)
    reply = await post(app, other, good_headers)
    assert reply.result()["structuredContent"]["name"] == "thing-2"
    assert len(mcp_of(app).server.ladders) == 1  # the same envelope and headers: one verdict
    body, headers, code = _bad_variant(change)
    warm, cold = await post(app, body, headers), await post(build_app(), body, headers)
    assert (warm.status, warm.json()["error"]["code"]) == (400, code)
    assert warm.json() == cold.json()


async def test_a_ladder_whose_params_fail_their_check_is_never_remembered() -> None:
    """A remembered ladder verdict also stands for the params' SDK check (``Server.handle`` skips
    it for a remembered key), so it is kept only once that check passed: a request that passes
    the ladder and fails its params' check is refused each time, warm as cold, and nothing kept."""
    app = build_app()
    body = modern_request("tools/call", {"name": "get_thing", "arguments": [1]})  # arguments: an object
    for _ in range(2):
        reply = await post(app, body, modern_headers("tools/call", "get_thing"))
        assert (reply.status, reply.json()["error"]["code"]) == (400, -32602)
    assert mcp_of(app).server.ladders == {}


async def test_a_ladder_refused_before_its_params_check_is_never_remembered() -> None:
    """A method the server does not serve for the revision is refused (-32601) before the params'
    check: its ladder, passed, is not kept either (it would stand for a check never made)."""
    app = build_app()
    for _ in range(2):
        reply = await post(app, modern_request("initialize"), modern_headers("initialize"))
        assert reply.json()["error"]["code"] == -32601
    assert mcp_of(app).server.ladders == {}


@pytest.mark.parametrize("method", ["tools/call", "tools/list"])
async def test_a_remembered_ladder_verdict_skips_the_params_check(method: str) -> None:
    """The params' check runs with the ladder the first time; a request with a remembered verdict
    (the same envelope and headers, so the same method, revision and params but the free parts)
    is not checked again, on the handler's path and on a cached list's alike."""
    app = build_app()
    params, name = (
        ({"name": "get_thing", "arguments": {"thing_id": 1}}, "get_thing") if method == "tools/call" else ({}, None)
    )
    for index in range(2):
        assert (await post(app, modern_request(method, params, id=index), modern_headers(method, name))).status == 200
    server = mcp_of(app).server
    assert len(server.ladders) == 1
    server.validator._valid.clear()
    assert (await post(app, modern_request(method, params, id=3), modern_headers(method, name))).status == 200
    assert server.validator._valid == set()  # not checked again


async def test_remembered_ladder_verdicts_are_bounded() -> None:
    app = build_app()
    for index in range(1030):
        body = modern_request("tools/list", id=index)
        body["params"]["_meta"]["io.modelcontextprotocol/clientInfo"] = {"name": f"c{index}", "version": "1"}
        assert (await post(app, body, modern_headers("tools/list"))).status == 200
    assert 0 < len(mcp_of(app).server.ladders) <= 1024


@pytest.mark.parametrize(("name", "code"), [(None, -32602), ("get_thing", -32020)])
async def test_a_request_without_an_mcp_name_is_checked_every_time_and_never_kept(name: str | None, code: int) -> None:
    """The ladder's key reads the routing headers in one step, and a request missing one has no key:
    a tools/call naming no tool passes the ladder (no Mcp-Name to compare) and is refused by its
    params' check, one naming a tool fails the ladder; each time, warm as cold, nothing kept."""
    app = build_app()
    params: dict[str, Any] = {"arguments": {"thing_id": 1}}
    if name is not None:
        params["name"] = name
    for _ in range(2):
        reply = await post(app, modern_request("tools/call", params), modern_headers("tools/call"))
        assert (reply.status, reply.json()["error"]["code"]) == (400, code)
    assert mcp_of(app).server.ladders == {}


@pytest.mark.parametrize("large", ["envelope", "name header", "padded method header", "repeated header"])
async def test_large_or_odd_ladder_keys_are_checked_every_time_and_never_kept(large: str) -> None:
    """Review: the ladder's verdicts were kept by the whole envelope and header values (1,000
    requests with distinct 4 MB ``_meta`` held ~4 GB). A request whose envelope is longer than
    ``validation.KEPT_BYTES``, whose method and routing headers are longer than that together, or
    with a repeated ``mcp-*`` header is served, its ladder run each time, and nothing is kept."""
    app = build_app()
    assert (await post(app, modern_request("tools/list"), modern_headers("tools/list"))).status == 200
    server = mcp_of(app).server
    assert len(server.ladders) == len(server.validator._valid) == 1
    body, headers = modern_request("tools/list", id=2), modern_headers("tools/list")
    raw_headers: list[tuple[bytes, bytes]] = []
    if large == "envelope":
        body["params"]["_meta"]["note"] = "x" * KEPT_BYTES
    elif large == "name header":  # tools/list has no name: the ladder reads no Mcp-Name, its key holds none
        headers["mcp-name"] = "n" * KEPT_BYTES
    elif large == "padded method header":
        headers["mcp-method"] = "tools/list" + " " * KEPT_BYTES
    else:
        raw_headers = [(b"mcp-other", b"1"), (b"mcp-other", b"2")]
    for _ in range(2):
        exchange = Exchange(app, body, headers)
        exchange.scope["headers"] += raw_headers
        reply = await exchange.run()
        assert reply.status == 200, reply.json()
    assert len(server.ladders) == len(server.validator._valid) == 1  # the same params: the same envelope


@pytest.mark.parametrize("name", [b"mcp-protocol-version", b"mcp-method", b"mcp-name"])
async def test_a_routing_header_value_that_is_no_dictionary_key_is_checked_each_time(name: bytes) -> None:
    """Review: a ``bytearray`` routing header value (ASGI says bytes; a hand-made scope may not)
    made the remembered ladder's key unhashable, and every 2026-07-28 request a bare 500. It is
    checked each time, and not remembered."""
    from tests.support import Exchange

    app = build_app()
    for _ in range(2):
        exchange = Exchange(app, modern_request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}}))
        exchange.scope["headers"] = [
            (key.lower().encode(), bytearray(value.encode()) if key.lower().encode() == name else value.encode())
            for key, value in modern_headers("tools/call", "get_thing").items()
        ]
        reply = await exchange.run()
        assert reply.status == 200
        assert not reply.result().get("isError")
        assert reply.result()["structuredContent"]["id"] == 1


@pytest.mark.parametrize("large", [False, True])
async def test_a_named_calls_ladder_is_kept_by_its_name_and_meta_within_the_bound(large: bool) -> None:
    """A tools/call of a name, arguments and ``_meta`` (no progress token) is keyed by its name and
    its ``_meta``'s bytes (``validation.envelope_of``): served from the remembered verdict whatever
    its arguments; one whose name and ``_meta`` are longer than ``KEPT_BYTES`` together is served,
    its ladder run each time, and nothing is kept."""
    app = build_app()
    for index in range(2):
        body = modern_request("tools/call", {"name": "get_thing", "arguments": {"thing_id": index}}, id=index)
        if large:
            body["params"]["_meta"]["note"] = "x" * KEPT_BYTES
        reply = await post(app, body, modern_headers("tools/call", "get_thing"))
        assert reply.result()["structuredContent"]["name"] == f"thing-{index}"
    server = mcp_of(app).server
    assert len(server.ladders) == len(server.validator._valid) == (0 if large else 1)
    if not large:
        ((method, envelope, _),) = server.ladders
        assert (method, envelope[:2]) == ("tools/call", (None, "get_thing"))
