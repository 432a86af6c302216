"""A 2026-07-28 request whose MCP-Protocol-Version header names a handshake revision (review s10b).

Claude Desktop and Claude Code through claude.ai connectors send every request after the handshake
with the 2026-07-28 ``_meta`` envelope but a 2025-11-25 header (anthropics/claude-code#93290). The
envelope decides (clients.md §1: legacy is "no modern ``_meta`` and no MCP-Protocol-Version ≥
2026-07-28"): the request is served as the envelope's revision, and the mismatch is logged once
instead of answered -32020 (clients.md §3: be lenient about the header). Every other mismatch keeps
its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
import pytest
from fastapi import FastAPI, Query
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from mcp_middleware import MCPMiddleware
from mcp_middleware.transport import modern
from mcp_middleware.transport._checks import LOGGED_CHARS
from tests.apps import build_app
from tests.support import MODERN, meta, modern_headers, post, request, result_json

pytestmark = pytest.mark.anyio

HANDSHAKE = sorted(HANDSHAKE_PROTOCOL_VERSIONS)
LOGGER = "mcp_middleware.transport.modern"


@pytest.fixture(autouse=True)
def _nothing_told_yet() -> Iterator[None]:
    """The warning is said once per process: each test starts from a process that said nothing."""
    modern.TOLERATED.clear()
    yield
    modern.TOLERATED.clear()


def _call(method: str, header: str, params: dict[str, Any] | None = None, **m: Any) -> tuple[Any, dict[str, str]]:
    caps = m.pop("caps", None)
    envelope = meta(**m)
    if caps is not None:
        envelope["io.modelcontextprotocol/clientCapabilities"] = caps
    name = (params or {}).get("name")
    return request(method, {**(params or {}), "_meta": envelope}, id=7), modern_headers(method, name, header)


@pytest.mark.parametrize("header", HANDSHAKE)
async def test_server_discover_is_served(header: str) -> None:
    reply = await post(build_app(), *_call("server/discover", header))
    assert reply.status == 200
    result = reply.result()
    assert result["supportedVersions"][0] == MODERN
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "public"


@pytest.mark.parametrize("header", ["2025-11-25", "2025-06-18"])
async def test_tools_list_has_the_2026_shape(header: str) -> None:
    reply = await post(build_app(), *_call("tools/list", header))
    assert reply.status == 200
    result = reply.result()
    assert result["resultType"] == "complete"
    assert result["ttlMs"] >= 0
    assert result["cacheScope"] == "public"
    assert "io.modelcontextprotocol/serverInfo" in result["_meta"]


@pytest.mark.parametrize("header", ["2025-11-25", "2025-06-18"])
async def test_a_question_is_an_input_required_result_not_a_request_on_the_stream(header: str) -> None:
    """The handshake era pushed ``elicitation/create`` onto the POST's stream, which a 2026 client
    never answers: the call hung until ask_timeout."""
    body, headers = _call("tools/call", header, {"name": "ctx_elicit", "arguments": {}}, caps={"elicitation": {}})
    reply = await post(build_app(), body, headers)
    assert reply.status == 200
    assert reply.content_type == "application/json"
    (message,) = reply.messages()  # the result alone: no question on a stream
    result = message["result"]
    assert result["resultType"] == "input_required"
    assert list(result["inputRequests"]) == ["user_name"]
    assert result["inputRequests"]["user_name"]["method"] == "elicitation/create"


async def test_the_retry_with_the_answer_completes() -> None:
    answer = {"user_name": {"action": "accept", "content": {"name": "Ann"}}}
    params = {"name": "ctx_elicit", "arguments": {}, "inputResponses": answer}
    reply = await post(build_app(), *_call("tools/call", "2025-11-25", params))
    result = reply.result()
    assert result["resultType"] == "complete"
    assert orjson.loads(result["content"][0]["text"]) == {"greeting": "Hello, Ann!", "action": "accept"}


async def test_a_missing_capability_is_32021() -> None:
    body, headers = _call("tools/call", "2025-11-25", {"name": "ctx_elicit", "arguments": {}}, caps={})
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32021,
            "message": "Missing required client capability: elicitation",
            "data": {"requiredCapabilities": {"elicitation": {}}},
        },
    }


async def test_the_route_is_told_the_envelopes_revision() -> None:
    reply = await post(build_app(), *_call("tools/call", "2025-11-25", {"name": "ctx_progress", "arguments": {}}))
    result = reply.result()
    assert result["resultType"] == "complete"
    assert orjson.loads(result["content"][0]["text"])["version"] == MODERN


async def test_the_mismatch_is_logged_once_naming_both_revisions_and_the_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = build_app()
    with caplog.at_level(logging.WARNING, LOGGER):
        for header in ("2025-11-25", "2025-11-25", "2025-06-18"):
            for method in ("tools/list", "server/discover"):
                assert (await post(app, *_call(method, header))).status == 200
    told = [r for r in caplog.records if r.name == LOGGER]
    assert [r.levelno for r in told] == [logging.WARNING, logging.WARNING]  # once per pair of revisions
    first, second = (r.getMessage() for r in told)
    assert "'2025-11-25'" in first
    assert "'2026-07-28'" in first
    assert "'tests'" in first  # the envelope's clientInfo name
    assert "'2025-06-18'" in second


@pytest.mark.parametrize(
    ("info", "named"),
    [
        ({"name": "evil\nFORGED record"}, "'evil\\nFORGED record'"),
        (None, "a client that gave no clientInfo name"),
        ({"version": "1"}, "a client that gave no clientInfo name"),
        ({"name": 5}, "a client that gave no clientInfo name"),
    ],
)
async def test_the_client_is_named_as_a_log_line_may_hold_it(
    info: Any, named: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, headers = _call("tools/list", "2025-11-25")
    if info is None:
        del body["params"]["_meta"]["io.modelcontextprotocol/clientInfo"]
    else:
        body["params"]["_meta"]["io.modelcontextprotocol/clientInfo"] = info
    with caplog.at_level(logging.WARNING, LOGGER):
        # (a clientInfo that is no Implementation is then refused, -32602, as under a matching header)
        assert (await post(build_app(), body, headers)).status == (200 if info is None else 400)
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert named in record.getMessage()
    assert "\n" not in record.getMessage()


async def test_a_long_client_name_is_clipped_and_quoted(caplog: pytest.LogCaptureFixture) -> None:
    """A 3 MB name made a 3 MB log line, and a quote in it could pass for the rest of the line
    (review s10b2): it is clipped as ``_checks`` clips a refused Host, and quoted as Python writes it."""
    name = "x' as '2026-07-28' OK" + "A" * 3_000_000
    body, headers = _call("tools/list", "2025-11-25")
    body["params"]["_meta"]["io.modelcontextprotocol/clientInfo"] = {"name": name, "version": "1"}
    with caplog.at_level(logging.WARNING, LOGGER):
        assert (await post(build_app(), body, headers)).status == 200
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    told = record.getMessage()
    assert len(told) < 1_000
    shown = name[:LOGGED_CHARS]
    assert f"of {shown!r} (its first {LOGGED_CHARS} of {len(name)} characters) as '2026-07-28'" in told
    assert f"'{shown}" not in told  # quoted so that its quotes are its own


async def test_a_notification_is_tolerated_too() -> None:
    body = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": meta()}}
    reply = await post(build_app(), body, modern_headers("notifications/cancelled", version="2025-11-25"))
    assert reply.status == 202


# -- every other mismatch keeps its answer ---------------------------------------------------------


async def test_an_envelope_naming_no_revision_of_ours_under_a_handshake_header_stays_handshake() -> None:
    reply = await post(build_app(), *_call("tools/list", "2025-11-25", version="v999"))
    assert reply.status == 200
    assert "resultType" not in reply.result()


async def test_an_enveloped_initialize_under_a_handshake_header_is_still_a_removed_method() -> None:
    reply = await post(build_app(), *_call("initialize", "2025-11-25"))
    assert reply.status == 404
    assert reply.json()["error"]["code"] == -32601


async def test_the_modern_header_with_another_envelope_is_still_32020() -> None:
    reply = await post(build_app(), *_call("tools/list", MODERN, version="v999"))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020


async def test_the_other_routing_headers_are_still_checked() -> None:
    body, headers = _call("tools/list", "2025-11-25")
    headers["mcp-method"] = "tools/call"
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json()["error"] == {
        "code": -32020,
        "message": "Header mismatch: Mcp-Method does not match the body's method",
    }


async def test_a_tolerated_notification_still_needs_its_method_header() -> None:
    body = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "_meta": meta()}}
    headers = modern_headers("notifications/cancelled", version="2025-11-25")
    headers["mcp-method"] = "notifications/progress"
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020


# -- a missing Mcp-Method or Mcp-Name on the tolerated path (review s10b2) ------------------------
# Nothing shows that the connectors send them: before ad1f099 such a request was served in the
# handshake era, which reads neither; refusing it (-32020) locked them out. The body decides.

_CALLS = [
    ("tools/list", None),
    ("tools/call", {"name": "ctx_progress", "arguments": {}}),
    ("server/discover", None),
]
_DROPPED = [("mcp-method",), ("mcp-name",), ("mcp-method", "mcp-name")]


@pytest.mark.parametrize(("method", "params"), _CALLS)
@pytest.mark.parametrize("dropped", _DROPPED)
async def test_a_missing_routing_header_is_tolerated_with_the_version_header(
    method: str, params: dict[str, Any] | None, dropped: tuple[str, ...]
) -> None:
    body, headers = _call(method, "2025-11-25", params)
    for name in dropped:
        headers.pop(name, None)
    reply = await post(build_app(), body, headers)
    assert reply.status == 200, reply.body
    assert reply.result()["resultType"] == "complete"  # served as 2026-07-28


_NOTIFICATIONS = ["notifications/initialized", "notifications/roots/list_changed", "notifications/cancelled"]


@pytest.mark.parametrize("method", _NOTIFICATIONS)
async def test_a_notification_without_mcp_method_is_tolerated_with_the_version_header(method: str) -> None:
    params: dict[str, Any] = {"_meta": meta()}
    if method == "notifications/cancelled":
        params["requestId"] = 1
    headers = modern_headers(method, version="2025-11-25")
    del headers["mcp-method"]
    reply = await post(build_app(), {"jsonrpc": "2.0", "method": method, "params": params}, headers)
    assert reply.status == 202, reply.body


async def test_a_wrong_mcp_name_is_still_32020_on_the_tolerated_path() -> None:
    body, headers = _call("tools/call", "2025-11-25", {"name": "ctx_progress", "arguments": {}})
    headers["mcp-name"] = "ctx_elicit"
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json()["error"] == {"code": -32020, "message": "Header mismatch: Mcp-Name does not match params.name"}


@pytest.mark.parametrize("dropped", _DROPPED)
async def test_a_missing_routing_header_under_the_modern_header_is_still_32020(dropped: tuple[str, ...]) -> None:
    body, headers = _call("tools/call", MODERN, {"name": "ctx_progress", "arguments": {}})
    for name in dropped:
        del headers[name]
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020


async def test_a_notification_without_mcp_method_under_the_modern_header_is_still_32020() -> None:
    headers = modern_headers("notifications/initialized")
    del headers["mcp-method"]
    body = {"jsonrpc": "2.0", "method": "notifications/initialized", "params": {"_meta": meta()}}
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020


async def test_the_warning_names_the_missing_headers_it_tolerated(caplog: pytest.LogCaptureFixture) -> None:
    app = build_app()
    params = {"name": "ctx_progress", "arguments": {}}
    with caplog.at_level(logging.WARNING, LOGGER):
        for dropped in ((), ("mcp-name",), ("mcp-method", "mcp-name"), ("mcp-method", "mcp-name")):
            body, headers = _call("tools/call", "2025-11-25", params)
            for name in dropped:
                del headers[name]
            assert (await post(app, body, headers)).status == 200
    told = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(told) == 3  # once per pair of revisions and missing Mcp-Method/Mcp-Name
    assert "tolerated: the body decides" not in told[0]
    assert "no Mcp-Name header (tolerated" in told[1]
    assert "Mcp-Method" not in told[1].split("no Mcp-Name")[0]
    assert "no Mcp-Method and no Mcp-Name header (tolerated" in told[2]


async def test_a_notification_without_mcp_method_is_told_once(caplog: pytest.LogCaptureFixture) -> None:
    body = {"jsonrpc": "2.0", "method": "notifications/initialized", "params": {"_meta": meta()}}
    headers = modern_headers("notifications/initialized", version="2025-11-25")
    del headers["mcp-method"]
    with caplog.at_level(logging.WARNING, LOGGER):
        assert (await post(build_app(), body, headers)).status == 202
    (told,) = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert "no Mcp-Method header (tolerated" in told


# -- a missing Mcp-Param-* on the tolerated path (review s10e) ------------------------------------
# A client that sends no Mcp-Method or Mcp-Name sends no Mcp-Param-* either: a tool with an
# x-mcp-header argument still got -32020 "Mcp-Param-Region is missing" there.


def _region_app() -> Any:
    app = FastAPI()

    @app.get("/things", operation_id="list_things")
    def list_things(region: Annotated[str, Query(json_schema_extra={"x-mcp-header": "Region"})]) -> list[str]:
        return [region]

    app.add_middleware(MCPMiddleware)
    return app


def _region_call(header: str, region: str | None = None, *dropped: str) -> tuple[Any, dict[str, str]]:
    body, headers = _call("tools/call", header, {"name": "list_things", "arguments": {"region": "eu"}})
    if region is not None:
        headers["mcp-param-region"] = region
    for name in dropped:
        del headers[name]
    return body, headers


@pytest.mark.parametrize("dropped", [(), *_DROPPED])
async def test_a_missing_param_header_is_tolerated_with_the_version_header(dropped: tuple[str, ...]) -> None:
    app = _region_app()
    for _ in range(2):  # the second with the ladder's verdict remembered
        reply = await post(app, *_region_call("2025-11-25", None, *dropped))
        assert reply.status == 200, reply.body
        assert result_json(reply.result()) == ["eu"]


async def test_a_wrong_param_header_is_still_32020_on_the_tolerated_path() -> None:
    app = _region_app()
    for dropped in ((), ("mcp-method", "mcp-name")):
        reply = await post(app, *_region_call("2025-11-25", "us", *dropped))
        assert reply.status == 400
        assert reply.json()["error"] == {
            "code": -32020,
            "message": "Header mismatch: Mcp-Param-Region does not match argument 'region'",
        }


async def test_a_missing_param_header_under_the_modern_header_is_still_32020() -> None:
    reply = await post(_region_app(), *_region_call(MODERN))
    assert reply.status == 400
    assert reply.json()["error"] == {
        "code": -32020,
        "message": "Header mismatch: Mcp-Param-Region is missing for argument 'region'",
    }


async def test_the_warning_names_a_missing_param_header_once(caplog: pytest.LogCaptureFixture) -> None:
    app = _region_app()
    with caplog.at_level(logging.WARNING, LOGGER):
        for region, dropped in (
            ("eu", ()),  # nothing missing: told, without "the body decides"
            (None, ()),  # its ladder's verdict remembered: told, Mcp-Param-Region alone
            (None, ()),
            (None, ("mcp-method", "mcp-name")),  # one request, one warning naming all three
            (None, ("mcp-method", "mcp-name")),
        ):
            assert (await post(app, *_region_call("2025-11-25", region, *dropped))).status == 200
    told = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(told) == 3, told
    assert "the body decides" not in told[0]
    assert ", and no Mcp-Param-Region header (tolerated" in told[1]
    assert ", and no Mcp-Method and no Mcp-Name and no Mcp-Param-Region header (tolerated" in told[2]


def _header(name: str) -> Any:
    return Query(json_schema_extra={"x-mcp-header": name})


def _three_headers_app() -> Any:
    app = FastAPI()

    @app.get("/search", operation_id="search")
    def search(
        a: Annotated[str | None, _header("A")] = None,
        b: Annotated[str | None, _header("B")] = None,
        c: Annotated[str | None, _header("C")] = None,
    ) -> str:
        return "ok"

    app.add_middleware(MCPMiddleware)
    return app


async def test_a_client_varying_its_missing_param_headers_is_told_once_per_header_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review s10f: the memory was keyed per set of missing headers, so a client varying which
    optional x-mcp-header arguments it sends made more sets than it holds (96 here): past 64 it
    emptied, and every request was logged again, pass after pass. Each Mcp-Param-* header name
    is told once now, beside the fixed pairs of revisions and missing Mcp-Method/Mcp-Name."""
    app = _three_headers_app()
    sets = [
        (header, dropped, sent)
        for header in HANDSHAKE
        for dropped in ((), *_DROPPED)
        for sent in ((), ("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c"))
    ]
    passes = []
    for _ in range(2):
        with caplog.at_level(logging.WARNING, LOGGER):
            caplog.clear()
            for header, dropped, sent in sets:
                body, headers = _call("tools/call", header, {"name": "search", "arguments": dict.fromkeys(sent, "v")})
                for name in dropped:
                    del headers[name]
                assert (await post(app, body, headers)).status == 200
        passes.append([r.getMessage() for r in caplog.records if r.name == LOGGER])
    assert passes[1] == []
    assert len(passes[0]) <= len(HANDSHAKE) * 4 + 3, passes[0]
    for name in ("Mcp-Param-A", "Mcp-Param-B", "Mcp-Param-C"):
        assert any(f"no {name}" in line for line in passes[0]), name
