"""Handshake era with ``session_ids``: a request that states no ``MCP-Protocol-Version`` is read and
answered as the revision its session id says ``initialize`` negotiated (transports.mdx, 2025-06-18
and 2025-11-25, §Protocol Version Header: the server assumes 2025-03-26 only when it "has no other
way to identify the version", such as the version negotiated during initialization). A 2024-11-05 or
2025-03-26 client never sends the header (its revision has none), and got 2025-11-25's shapes; a
2025-06-18 or later session had its JSON-RPC batches served as 2025-03-26's. A stated header still
wins over the id; without an id (or without ``session_ids``) nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps import build_app
from tests.support import BASE_HEADERS, post, request
from tests.unit.test_revisions import LATER, OLDER, RICH_BEFORE, tool_call

pytestmark = pytest.mark.anyio

LINK = {"type": "resource_link", "uri": "test://static-text", "name": "static"}
BATCH = [request("ping", id=1), request("tools/list", id=2)]


async def _session(app: Any, version: str) -> dict[str, str]:
    """The headers a client of ``version`` sends after initialize: its session id, no version header."""
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    reply = await post(app, request("initialize", params))
    assert reply.result()["protocolVersion"] == version
    return {**BASE_HEADERS, "mcp-session-id": reply.headers["mcp-session-id"]}


async def _result(app: Any, headers: dict[str, str], method: str, params: dict[str, Any] | None = None) -> Any:
    reply = await post(app, request(method, params), headers)
    assert reply.status == 200, reply.body
    return reply.result()


async def _tool(app: Any, headers: dict[str, str], name: str) -> dict[str, Any]:
    tools = (await _result(app, headers, "tools/list"))["tools"]
    return next(tool for tool in tools if tool["name"] == name)


def _stating(version: str) -> dict[str, str]:
    return {**BASE_HEADERS, "mcp-protocol-version": version}


@pytest.mark.parametrize("version", OLDER)
async def test_a_header_less_older_session_gets_its_own_revision_s_shapes(version: str) -> None:
    app = build_app(session_ids=True)
    headers = await _session(app, version)
    assert await _result(app, headers, "tools/call", tool_call("rich")) == {"content": RICH_BEFORE}
    tool = await _tool(app, headers, "get_thing")
    assert "outputSchema" not in tool
    assert "title" not in tool
    assert tool == await _tool(app, _stating(version), "get_thing")  # as a client stating it gets


@pytest.mark.parametrize("version", OLDER)
async def test_a_header_less_older_session_still_batches(version: str) -> None:
    app = build_app(session_ids=True)
    reply = await post(app, BATCH, await _session(app, version))
    assert reply.status == 200
    answers = reply.json()
    assert [answer["id"] for answer in answers] == [1, 2]
    assert all("outputSchema" not in tool for tool in answers[1]["result"]["tools"])


@pytest.mark.parametrize("version", LATER)
async def test_a_header_less_later_session_gets_its_shapes_and_no_batch(version: str) -> None:
    app = build_app(session_ids=True)
    headers = await _session(app, version)
    rich = await _result(app, headers, "tools/call", tool_call("rich"))
    assert rich["content"][3] == LINK
    assert rich["structuredContent"] == {"a": 1}
    assert "outputSchema" in await _tool(app, headers, "get_thing")
    reply = await post(app, BATCH, headers)
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == -32600
    assert f"JSON-RPC batches (not allowed in protocol {version})" in error["message"]


async def test_a_stated_header_wins_over_the_session_s_revision() -> None:
    """As for a route's questions (test_session_capabilities): the header the request carries is
    what the client says it speaks now, whatever the id says was negotiated."""
    app = build_app(session_ids=True)
    older = {**await _session(app, "2025-03-26"), "mcp-protocol-version": "2025-11-25"}
    assert (await _result(app, older, "tools/call", tool_call("rich")))["content"][3] == LINK
    assert (await post(app, BATCH, older)).status == 400
    later = {**await _session(app, "2025-11-25"), "mcp-protocol-version": "2025-03-26"}
    assert await _result(app, later, "tools/call", tool_call("rich")) == {"content": RICH_BEFORE}
    assert (await post(app, BATCH, later)).status == 200


@pytest.mark.parametrize("options", [{}, {"session_ids": True}])
async def test_without_a_session_id_a_header_less_request_is_served_as_before(options: dict[str, Any]) -> None:
    """No id (no session_ids, or a client that sends none): the latest revision's shapes (VS Code),
    and a batch read as 2025-03-26."""
    app = build_app(**options)
    rich = await _result(app, dict(BASE_HEADERS), "tools/call", tool_call("rich"))
    assert rich["content"][3] == LINK
    assert "outputSchema" in await _tool(app, dict(BASE_HEADERS), "get_thing")
    reply = await post(app, BATCH, BASE_HEADERS)
    assert reply.status == 200
    assert [answer["id"] for answer in reply.json()] == [1, 2]


async def test_an_id_sealed_before_ids_carried_the_revision_is_served_as_without_one() -> None:
    """Such an id says nothing of the revision: served as a request without an id is."""
    from tests.unit.test_session_capabilities import SECRET, _earlier_id

    app = build_app(session_ids=True, state_secret=SECRET)
    headers = {**BASE_HEADERS, "mcp-session-id": _earlier_id({"r": "0f" * 16, "c": {}})}
    assert (await _result(app, headers, "tools/call", tool_call("rich")))["content"][3] == LINK
    assert (await post(app, BATCH, headers)).status == 200
