"""Sampling's sub-capabilities (sampling.mdx): tool use needs ``sampling.tools`` (servers MUST NOT
send tools or toolChoice without it), and ``includeContext`` "thisServer"/"allServers" needs
``sampling.context`` (servers SHOULD NOT use them without it: refused the same way, never rewritten).
A revision whose sampling request has no tools (before 2025-11-25) is never sent them."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import orjson
import pytest
from fastapi import Body, Depends, FastAPI

from mcp_middleware import ClientRequestError, MCPContext, MCPMiddleware, Sample, mcp_context
from tests.support import BASE_HEADERS, Exchange, meta, modern_headers, post, request

pytestmark = pytest.mark.anyio
GUARD = 10

WEATHER = {
    "name": "get_weather",
    "description": "Weather of a city",
    "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TOOLS = {"tools": [WEATHER], "toolChoice": {"mode": "auto"}}
HI = [{"role": "user", "content": {"type": "text", "text": "hi"}}]


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/sample", operation_id="sample")
    async def sample(
        extra: Annotated[dict[str, Any], Body(embed=True)], ctx: Annotated[MCPContext, Depends(mcp_context)]
    ) -> dict[str, Any]:
        reply = await ctx.sample(HI, 10, key="s", **extra)
        return {"stop": reply["stopReason"]}

    @app.post("/caught", operation_id="caught")
    async def caught(
        extra: Annotated[dict[str, Any], Body(embed=True)], ctx: Annotated[MCPContext, Depends(mcp_context)]
    ) -> dict[str, Any]:
        try:
            await ctx.sample(HI, 10, key="s", **extra)
        except ClientRequestError as exc:
            return {"method": exc.method, "error": exc.error}
        return {"error": None}

    @app.post("/both", operation_id="both")
    async def both(
        first: Annotated[dict[str, Any], Body()],
        second: Annotated[dict[str, Any], Body()],
        ctx: Annotated[MCPContext, Depends(mcp_context)],
    ) -> dict[str, Any]:
        answers = await ctx.ask({"a": Sample(HI, 10, first), "b": Sample(HI, 10, second)})
        return {"keys": sorted(answers)}

    app.add_middleware(MCPMiddleware)
    return app


def _modern(tool: str, arguments: dict[str, Any], caps: Any, id: int = 3) -> tuple[Any, dict[str, str]]:
    m = meta()
    m["io.modelcontextprotocol/clientCapabilities"] = caps
    params = {"name": tool, "arguments": arguments, "_meta": m}
    return request("tools/call", params, id), modern_headers("tools/call", tool)


def _missing(names: str, required: dict[str, Any], id: int = 3) -> dict[str, Any]:
    message = f"Missing required client capability: {names}"
    error = {"code": -32021, "message": message, "data": {"requiredCapabilities": required}}
    return {"jsonrpc": "2.0", "id": id, "error": error}


@pytest.mark.parametrize(
    "extra",
    [TOOLS, {"tools": [WEATHER]}, {"toolChoice": {"mode": "none"}}, {"tools": []}],
    ids=["tools-and-choice", "tools", "tool-choice", "no-tools"],
)
@pytest.mark.parametrize("caps", [{"sampling": {}}, {"sampling": {"context": {}}}, {"sampling": {"tools": None}}])
async def test_tool_enabled_sampling_needs_sampling_tools(extra: dict[str, Any], caps: Any) -> None:
    """sampling.mdx: servers MUST NOT send tool-enabled sampling requests to clients that have not
    declared sampling.tools (the schema: the client MUST return an error for either field). It used
    to go out as input_required, tools and all."""
    body, headers = _modern("sample", {"extra": extra}, caps)
    reply = await post(_app(), body, headers)
    assert reply.status == 400
    assert reply.json() == _missing("sampling.tools", {"sampling": {"tools": {}}})


@pytest.mark.parametrize("caps", [{}, {"sampling": None}, {"elicitation": {}}])
async def test_tool_enabled_sampling_without_sampling_asks_for_sampling_tools(caps: Any) -> None:
    """The capability the client lacks is sampling with tools: requiredCapabilities says so."""
    body, headers = _modern("sample", {"extra": TOOLS}, caps)
    reply = await post(_app(), body, headers)
    assert reply.status == 400
    assert reply.json() == _missing("sampling.tools", {"sampling": {"tools": {}}})


async def test_tool_enabled_sampling_goes_to_a_client_that_declares_sampling_tools() -> None:
    body, headers = _modern("sample", {"extra": TOOLS}, {"sampling": {"tools": {}}})
    result = (await post(_app(), body, headers)).result()
    assert result["resultType"] == "input_required"
    assert result["inputRequests"]["s"]["params"] == {**TOOLS, "messages": HI, "maxTokens": 10}


@pytest.mark.parametrize("value", ["thisServer", "allServers"])
async def test_include_context_needs_sampling_context(value: str) -> None:
    """sampling.mdx: servers SHOULD NOT use includeContext thisServer/allServers unless the client
    declares sampling.context. Refused like a missing capability (the route's request is never
    rewritten behind its back); it used to go out as asked."""
    body, headers = _modern("sample", {"extra": {"includeContext": value}}, {"sampling": {"tools": {}}})
    reply = await post(_app(), body, headers)
    assert reply.status == 400
    assert reply.json() == _missing("sampling.context", {"sampling": {"context": {}}})


@pytest.mark.parametrize(
    ("extra", "caps"),
    [
        ({"includeContext": "thisServer"}, {"sampling": {"context": {}}}),
        ({"includeContext": "allServers"}, {"sampling": {"context": {}}}),
        ({"includeContext": "none"}, {"sampling": {}}),
        ({}, {"sampling": {}}),
    ],
)
async def test_include_context_goes_to_a_client_that_may_take_it(extra: dict[str, Any], caps: Any) -> None:
    body, headers = _modern("sample", {"extra": extra}, caps)
    result = (await post(_app(), body, headers)).result()
    assert result["resultType"] == "input_required"
    assert result["inputRequests"]["s"]["params"] == {**extra, "messages": HI, "maxTokens": 10}


async def test_every_missing_sub_capability_is_named() -> None:
    body, headers = _modern("sample", {"extra": {**TOOLS, "includeContext": "thisServer"}}, {"sampling": {}})
    reply = await post(_app(), body, headers)
    assert reply.json() == _missing("sampling.context, sampling.tools", {"sampling": {"context": {}, "tools": {}}})


async def test_the_needs_of_requests_asked_together_are_merged() -> None:
    """Two requests of one ask, one needing sampling.tools, the other sampling.context: both are
    required (one used to overwrite the other's entry)."""
    arguments = {"first": TOOLS, "second": {"includeContext": "allServers"}}
    body, headers = _modern("both", arguments, {"sampling": {}})
    reply = await post(_app(), body, headers)
    assert reply.json() == _missing("sampling.context, sampling.tools", {"sampling": {"context": {}, "tools": {}}})
    body, headers = _modern("both", arguments, {"sampling": {"context": {}}})
    assert (await post(_app(), body, headers)).json() == _missing("sampling.tools", {"sampling": {"tools": {}}})
    body, headers = _modern("both", arguments, {"sampling": {"tools": {}, "context": {}}})
    assert sorted((await post(_app(), body, headers)).result()["inputRequests"]) == ["a", "b"]


def _handshake(tool: str, extra: dict[str, Any], version: str | None) -> Exchange:
    headers = dict(BASE_HEADERS) if version is None else {**BASE_HEADERS, "mcp-protocol-version": version}
    return Exchange(_app(), request("tools/call", {"name": tool, "arguments": {"extra": extra}}, 5), headers)


def _text(reply: Any) -> str:
    [message] = reply.messages()
    text: str = message["result"]["content"][0]["text"]
    return text


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18"])
@pytest.mark.parametrize("extra", [TOOLS, {"tools": [WEATHER]}, {"toolChoice": {"mode": "auto"}}])
async def test_a_revision_without_tool_use_in_sampling_is_not_sent_tools(version: str, extra: dict[str, Any]) -> None:
    """sampling/createMessage has tools and toolChoice from 2025-11-25 on: an earlier client would
    ignore them (and sample without the tools the route counts on), or refuse the request. Nothing
    is sent; the route gets ClientRequestError (-32602) at once, saying why."""
    with anyio.fail_after(GUARD):
        reply = await _handshake("caught", extra, version).run()
    assert reply.content_type == "application/json"  # nothing streamed: no request went out
    fields = " and ".join(name for name in ("tools", "toolChoice") if name in extra)
    message = (
        f"Invalid params: protocol revision {version} has no tool use in sampling/createMessage "
        f"({fields}: 2025-11-25 and later)"
    )
    assert orjson.loads(_text(reply)) == {
        "method": "sampling/createMessage",
        "error": {"code": -32602, "message": message},
    }


async def test_an_unhandled_refusal_says_why_in_the_tool_result() -> None:
    """The tool's error result used to say only "the route raised ClientRequestError"."""
    with anyio.fail_after(GUARD):
        reply = await _handshake("sample", TOOLS, "2025-06-18").run()
    [message] = reply.messages()
    assert message["result"]["isError"] is True
    assert _text(reply) == (
        "Tool 'sample' failed: the route raised ClientRequestError: sampling/createMessage failed: "
        "Invalid params: protocol revision 2025-06-18 has no tool use in sampling/createMessage "
        "(tools and toolChoice: 2025-11-25 and later)."
    )


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18"])
async def test_include_context_goes_to_revisions_that_have_no_sampling_context(version: str) -> None:
    """sampling.context came with 2025-11-25; before it includeContext needed no capability."""
    ex = _handshake("caught", {"includeContext": "thisServer"}, version)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.chunk_seen.wait()
            [asked] = ex.reply.events()
            assert asked["params"]["includeContext"] == "thisServer"
            reply = {"jsonrpc": "2.0", "id": asked["id"], "error": {"code": -1, "message": "no"}}
            assert (await post(ex.app, reply, {**BASE_HEADERS, "mcp-protocol-version": version})).status == 202


@pytest.mark.parametrize("version", ["2025-11-25", None])
async def test_a_2025_11_25_client_is_sent_tools_when_its_capabilities_are_unknown(version: str | None) -> None:
    """Without session ids a stateless endpoint does not know what the client declared in
    initialize: the request goes out, and a client without sampling.tools answers with an error
    (its schema says it MUST), which the route gets as ClientRequestError."""
    ex = _handshake("caught", TOOLS, version)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.chunk_seen.wait()
            [asked] = ex.reply.events()
            assert asked["params"] == {**TOOLS, "messages": HI, "maxTokens": 10}
            error = {"code": -32602, "message": "sampling.tools not declared"}
            answer = {"jsonrpc": "2.0", "id": asked["id"], "error": error}
            assert (await post(ex.app, answer)).status == 202
    final = ex.reply.events()[-1]
    assert orjson.loads(final["result"]["content"][0]["text"]) == {"method": "sampling/createMessage", "error": error}
