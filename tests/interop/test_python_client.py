"""The official Python SDK client (``mcp.client.Client``) against the demo app over a real socket
(and against ``own_json_app``, whose route answers an object its output schema does not describe,
and ``middleware_stack_app``, whose apps have middlewares of their own around MCPMiddleware).

Every test runs in both protocol eras: ``legacy`` (initialize handshake, 2025-11-25), ``auto``
(``server/discover`` first; the demo answers it, so this lands on 2026-07-28) and ``2026-07-28``
(the version adopted directly, no probe: every request stands alone with its ``_meta``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from .servers import start_app

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

MODES = ("legacy", "auto", "2026-07-28")
NEGOTIATED = {"legacy": LATEST_HANDSHAKE_VERSION, "auto": "2026-07-28", "2026-07-28": "2026-07-28"}
DEMO_TOOLS = {"list_items", "get_item", "create_item", "replace_item", "delete_item", "place_order", "whoami", "chat"}
HAMMER = {"id": 1, "name": "Hammer", "price": 12.5, "tags": ["tools"]}
DEMO_USER = {"name": "demo", "scopes": ["items:read", "items:write"]}
AUTH = {"Authorization": "Bearer demo-token"}


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@asynccontextmanager
async def connect(url: str, mode: str, headers: Mapping[str, str] | None = None) -> AsyncIterator[Client]:
    """A connected ``Client``; ``headers`` go on every HTTP request (the SDK takes them through the
    ``httpx2.AsyncClient`` handed to ``streamable_http_client``)."""
    if headers is None:
        async with Client(url, mode=mode) as client:
            yield client
        return
    async with (
        httpx2.AsyncClient(headers=dict(headers), timeout=httpx2.Timeout(30.0)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


def text_of(result: CallToolResult) -> str:
    """The concatenated text blocks of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def describe(result: CallToolResult) -> str:
    return f"isError={result.is_error} text={text_of(result)!r} structured={result.structured_content!r}"


async def test_negotiated_version(demo_server: str, mode: str) -> None:
    async with connect(demo_server, mode) as client:
        assert client.protocol_version == NEGOTIATED[mode]
        if mode != "2026-07-28":  # a pinned version skips discover, so there is nothing to compare
            assert client.server_capabilities.tools is not None
            assert client.server_info is not None
            assert client.server_info.name == "Demo Store"


async def test_list_tools(demo_server: str, mode: str) -> None:
    async with connect(demo_server, mode) as client:
        listing = await client.list_tools()
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == DEMO_TOOLS
    for tool in listing.tools:
        assert tool.description, f"{tool.name} has no description"
        assert tool.input_schema.get("type") == "object", f"{tool.name}: {tool.input_schema}"
    get_item = tools["get_item"]
    assert get_item.annotations is not None
    assert get_item.annotations.read_only_hint is True
    assert "item_id" in get_item.input_schema.get("properties", {})
    assert "item_id" in get_item.input_schema.get("required", [])
    assert tools["delete_item"].annotations is not None
    assert tools["delete_item"].annotations.destructive_hint is True


async def test_get_item_structured(demo_server: str, mode: str) -> None:
    async with connect(demo_server, mode) as client:
        result = await client.call_tool("get_item", {"item_id": 1})
    assert result.is_error is not True, describe(result)
    assert result.structured_content == HAMMER
    # The text block carries the same JSON (for clients that ignore structuredContent).
    assert '"Hammer"' in text_of(result)


async def test_a_dict_response_is_structured_and_passes_the_clients_output_schema_check(
    demo_server: str, mode: str
) -> None:
    """``delete_item -> dict[str, bool]``: its outputSchema is an object without ``properties``
    (``additionalProperties: {"type": "boolean"}``), which the client takes and validates the
    ``structuredContent`` against (it raises on a mismatch). An unknown id leaves the items alone."""
    async with connect(demo_server, mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        result = await client.call_tool("delete_item", {"item_id": 999})
    assert tools["delete_item"].output_schema is not None
    assert tools["delete_item"].output_schema["additionalProperties"] == {"type": "boolean"}
    assert result.is_error is not True, describe(result)
    assert result.structured_content == {"deleted": False}


async def test_create_item_with_body(demo_server: str, mode: str) -> None:
    name = f"Wrench {mode} {uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {"name": name, "price": 7.25, "tags": ["tools", mode]}
    async with connect(demo_server, mode) as client:
        created = await client.call_tool("create_item", body)
        assert created.is_error is not True, describe(created)
        item = created.structured_content
        assert item is not None, describe(created)
        assert isinstance(item.get("id"), int)
        assert {k: item[k] for k in ("name", "price", "tags")} == body
        fetched = await client.call_tool("get_item", {"item_id": item["id"]})
    assert fetched.is_error is not True, describe(fetched)
    assert fetched.structured_content == item


async def test_bad_arguments_are_a_tool_error(demo_server: str, mode: str) -> None:
    async with connect(demo_server, mode) as client:
        result = await client.call_tool("get_item", {"item_id": "abc"})
    assert result.is_error is True, describe(result)
    text = text_of(result)
    assert "422" in text, text
    assert "item_id" in text, text


async def test_whoami_without_token_is_401(demo_server: str, mode: str) -> None:
    async with connect(demo_server, mode) as client:
        result = await client.call_tool("whoami", {})
    assert result.is_error is True, describe(result)
    assert "401" in text_of(result), describe(result)


async def test_whoami_with_token(demo_server: str, mode: str) -> None:
    async with connect(demo_server, mode, headers=AUTH) as client:
        result = await client.call_tool("whoami", {})
    assert result.is_error is not True, describe(result)
    assert result.structured_content == DEMO_USER


async def test_chat_streams_tokens_as_progress(demo_server: str, mode: str) -> None:
    count = 8
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with connect(demo_server, mode) as client:
        result = await client.call_tool(
            "chat", {"prompt": "stream please", "tokens": count}, progress_callback=on_progress
        )
    assert result.is_error is not True, describe(result)
    expected = [f"tok{i} " for i in range(count)]
    assert text_of(result) == "".join(expected)
    # Every chunk of the streamed body arrives as one progress notification, in order. (Heartbeats
    # without a message would be allowed; the chat route never goes quiet long enough for one.)
    messages = [message for _, _, message in updates if message is not None]
    assert messages == expected, updates
    assert "".join(messages) == text_of(result)
    progress_values = [progress for progress, _, _ in updates]
    assert progress_values == sorted(set(progress_values)), f"progress must increase: {updates}"


@pytest.fixture(scope="module")
def own_json_server() -> Iterator[str]:
    """``tests.interop.own_json_app:app`` under uvicorn; the value is its MCP URL."""
    with start_app("tests.interop.own_json_app:app") as url:
        yield url


async def test_an_object_the_output_schema_does_not_describe_reaches_the_client_as_a_tool_error(
    own_json_server: str, mode: str
) -> None:
    """The SDK validates a success's ``structuredContent`` against the tool's output schema and
    raises ``RuntimeError`` when it does not conform, so the user got nothing; the route's own
    202 is now an ``isError`` result the client accepts and shows, and its model still a result."""
    async with connect(own_json_server, mode) as client:
        pending = await client.call_tool("get_item", {"iid": 0})
        item = await client.call_tool("get_item", {"iid": 7})
    assert pending.is_error is True, describe(pending)
    assert pending.structured_content is None
    assert "202 Accepted" in text_of(pending)
    assert "without 'id', 'name'" in text_of(pending)
    assert '{"status":"pending","retry_after":5}' in text_of(pending)
    assert item.is_error is not True, describe(item)
    assert item.structured_content == {"id": 7, "name": "x"}


async def test_a_list_and_an_optional_result_reach_the_client_wrapped_and_pass_its_schema_check(
    own_json_server: str, mode: str
) -> None:
    """``list_items -> list[Item]`` and ``find_item -> Item | None``: their outputSchema wraps the
    body's schema in ``result`` (the client compiles it and validates ``structuredContent``
    against it: it raises on a mismatch); the text is the route's JSON. An object the list
    route answers on its own is a tool error, as the object route's is."""
    async with connect(own_json_server, mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        listed = await client.call_tool("list_items", {"limit": 2})
        found = await client.call_tool("find_item", {"name": "x"})
        missing = await client.call_tool("find_item", {"name": ""})
        pending = await client.call_tool("list_items", {"limit": 0})
    schema = tools["list_items"].output_schema
    assert schema is not None
    assert schema["required"] == ["result"]
    assert schema["properties"]["result"]["items"]["properties"]["id"]["type"] == "integer"  # inlined
    assert "$defs" not in schema
    assert listed.is_error is not True, describe(listed)
    assert listed.structured_content == {"result": [{"id": 1, "name": "item-1"}, {"id": 2, "name": "item-2"}]}
    assert text_of(listed) == '[{"id":1,"name":"item-1"},{"id":2,"name":"item-2"}]'
    assert found.structured_content == {"result": {"id": 1, "name": "x"}}, describe(found)
    assert missing.structured_content == {"result": None}, describe(missing)
    assert text_of(missing) == "null"
    assert pending.is_error is True, describe(pending)
    assert pending.structured_content is None
    assert "an object where the schema says array" in text_of(pending)


@pytest.fixture(scope="module")
def outer_middleware_server() -> Iterator[str]:
    """``tests.interop.middleware_stack_app:outer`` under uvicorn; the value is its MCP URL."""
    with start_app("tests.interop.middleware_stack_app:outer") as url:
        yield url


@pytest.fixture(scope="module")
def inner_middleware_server() -> Iterator[str]:
    """``tests.interop.middleware_stack_app:inner`` under uvicorn; the value is its MCP URL."""
    with start_app("tests.interop.middleware_stack_app:inner") as url:
        yield url


@pytest.mark.parametrize("tool", ["chat", "events"])
@pytest.mark.parametrize("with_progress", [True, False])
async def test_a_streamed_calls_result_comes_through_an_outer_middleware_of_the_app(
    outer_middleware_server: str, mode: str, tool: str, with_progress: bool
) -> None:
    """Behind an outer ``@app.middleware("http")`` a streamed call's result was lost: the client
    raised 'SSE stream ended without a response' (with a progress callback), or got no response."""
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message is not None:
            messages.append(message)

    async with connect(outer_middleware_server, mode) as client:
        result = await client.call_tool(tool, {}, progress_callback=on_progress if with_progress else None)
    assert result.is_error is not True, describe(result)
    expected = [f"tok{i} " for i in range(5)]
    assert text_of(result) == ("".join(expected) if tool == "chat" else "\n".join(expected))
    assert messages == (expected if with_progress else [])


async def test_a_quick_call_through_an_inner_base_http_middleware_sends_no_progress(
    inner_middleware_server: str, mode: str
) -> None:
    """The inner middleware re-sends the route's JSON as a message with more to come: it went out
    as a progress message (and the reply as SSE) to a client that gave a token."""
    updates: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(message)

    async with connect(inner_middleware_server, mode) as client:
        result = await client.call_tool("get_item", {"iid": 7}, progress_callback=on_progress)
        streamed = await client.call_tool("chat", {}, progress_callback=on_progress)
    assert result.is_error is not True, describe(result)
    assert result.structured_content == {"id": 7, "name": "x"}
    assert streamed.is_error is not True, describe(streamed)
    assert updates == [f"tok{i} " for i in range(5)]  # the stream's only
