"""Handshake era with ``session_ids``: the session id carries the capabilities the client declared in
``initialize`` (roots, sampling, elicitation), so a route's question the client did not declare is
refused before anything is sent (sampling.mdx: servers MUST NOT send tool-enabled sampling without
sampling.tools; the same rule as 2026-07-28's -32021), and ``ctx.client_capabilities`` says what
was declared. Without a session id nothing is known, and the request goes out as before."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import orjson
import pytest
from fastapi import Body, Depends, FastAPI

from mcp_middleware import ClientRequestError, Elicit, ListRoots, MCPContext, MCPMiddleware, Sample, mcp_context
from tests.support import BASE_HEADERS, Exchange, post, request

pytestmark = pytest.mark.anyio
GUARD = 10

WEATHER = {"name": "get_weather", "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}
TOOLS = {"tools": [WEATHER], "toolChoice": {"mode": "auto"}}
HI = [{"role": "user", "content": {"type": "text", "text": "hi"}}]
NAME = {"type": "object", "properties": {"name": {"type": "string"}}}


def _app() -> FastAPI:
    app = FastAPI()

    async def outcome(ask: Any) -> dict[str, Any]:
        try:
            return {"answers": await ask}
        except ClientRequestError as exc:
            return {"method": exc.method, "error": exc.error}

    @app.post("/sample", operation_id="sample")
    async def sample(
        extra: Annotated[dict[str, Any], Body(embed=True)], ctx: Annotated[MCPContext, Depends(mcp_context)]
    ) -> dict[str, Any]:
        return await outcome(ctx.sample(HI, 10, **extra))

    @app.post("/roots", operation_id="roots")
    async def roots(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        return await outcome(ctx.list_roots())

    @app.post("/elicit", operation_id="elicit")
    async def elicit(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        return await outcome(ctx.elicit("Name?", NAME))

    @app.post("/three", operation_id="three")
    async def three(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        questions: dict[str, Elicit | Sample | ListRoots] = {
            "e": Elicit("Name?", NAME),
            "s": Sample(HI, 10, TOOLS),
            "r": ListRoots(),
        }
        return await outcome(ctx.ask(questions))

    @app.post("/caps", operation_id="caps")
    async def caps(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        return {"caps": dict(ctx.client_capabilities)}

    app.add_middleware(MCPMiddleware, session_ids=True)
    return app


async def _session(app: FastAPI, capabilities: Any, version: str = "2025-11-25") -> dict[str, str]:
    """The headers of a session that declared ``capabilities`` in initialize."""
    params = {"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": "t", "version": "1"}}
    reply = await post(app, request("initialize", params))
    assert reply.status == 200
    return {**BASE_HEADERS, "mcp-protocol-version": version, "mcp-session-id": reply.headers["mcp-session-id"]}


async def _post(app: FastAPI, body: Any, headers: dict[str, str]) -> Any:
    """The reply to a call that must not wait for the client (a deadlock guard only)."""
    with anyio.fail_after(GUARD):
        return await post(app, body, headers)


def _call(tool: str, arguments: dict[str, Any] | None = None, id: int = 5) -> dict[str, Any]:
    return request("tools/call", {"name": tool, "arguments": arguments or {}}, id)


def _outcome(reply: Any) -> Any:
    return orjson.loads(reply.messages()[-1]["result"]["content"][0]["text"])


def _missing(method: str, names: str, required: dict[str, Any]) -> dict[str, Any]:
    message = f"Missing required client capability: {names}"
    return {"method": method, "error": {"code": -32021, "message": message, "data": {"requiredCapabilities": required}}}


async def _first_request(app: FastAPI, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    """What the call sends the client first (answered with an error, so the route ends)."""
    ex = Exchange(app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.chunk_seen.wait()
            asked = ex.reply.events()[0]
            answer = {"jsonrpc": "2.0", "id": asked["id"], "error": {"code": -1, "message": "no"}}
            assert (await post(app, answer, headers)).status == 202
    return asked


@pytest.mark.parametrize("declared", [{"sampling": {}}, {"sampling": {"context": {}}}, {}])
async def test_tool_enabled_sampling_is_not_sent_to_a_session_without_sampling_tools(declared: Any) -> None:
    """sampling.mdx: servers MUST NOT send tool-enabled sampling requests to clients that have not
    declared sampling.tools. It went out (the capabilities of initialize were not kept)."""
    app = _app()
    headers = await _session(app, declared)
    reply = await _post(app, _call("sample", {"extra": TOOLS}), headers)
    assert reply.content_type == "application/json"  # nothing streamed: nothing was sent
    assert _outcome(reply) == _missing("sampling/createMessage", "sampling.tools", {"sampling": {"tools": {}}})


async def test_tool_enabled_sampling_goes_to_a_session_with_sampling_tools() -> None:
    app = _app()
    headers = await _session(app, {"sampling": {"tools": {}}})
    asked = await _first_request(app, _call("sample", {"extra": TOOLS}), headers)
    assert asked["params"] == {**TOOLS, "messages": HI, "maxTokens": 10}


async def test_include_context_is_not_sent_to_a_2025_11_25_session_without_sampling_context() -> None:
    app = _app()
    headers = await _session(app, {"sampling": {}})
    reply = await _post(app, _call("sample", {"extra": {"includeContext": "thisServer"}}), headers)
    assert _outcome(reply) == _missing("sampling/createMessage", "sampling.context", {"sampling": {"context": {}}})


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
async def test_include_context_needs_no_sampling_context_before_2025_11_25(version: str) -> None:
    """sampling.context came with 2025-11-25; an earlier session's sampling: {} takes includeContext."""
    app = _app()
    headers = await _session(app, {"sampling": {}}, version)
    asked = await _first_request(app, _call("sample", {"extra": {"includeContext": "allServers"}}), headers)
    assert asked["params"]["includeContext"] == "allServers"


async def test_a_2025_06_18_elicitation_capability_needs_no_form_key() -> None:
    """Modes came with 2025-11-25: whatever a 2025-06-18 client put in elicitation, it takes forms."""
    app = _app()
    headers = await _session(app, {"elicitation": {"x": {}}}, "2025-06-18")
    assert (await _first_request(app, _call("elicit"), headers))["method"] == "elicitation/create"


@pytest.mark.parametrize(
    ("tool", "declared", "method", "names", "required"),
    [
        ("roots", {"sampling": {}}, "roots/list", "roots", {"roots": {}}),
        ("elicit", {"roots": {}}, "elicitation/create", "elicitation", {"elicitation": {}}),
        (
            "elicit",
            {"elicitation": {"url": {}}},
            "elicitation/create",
            "elicitation.form",
            {"elicitation": {"form": {}}},
        ),
        ("roots", {"roots": None}, "roots/list", "roots", {"roots": {}}),
    ],
)
async def test_a_question_the_session_did_not_declare_is_not_sent(
    tool: str, declared: Any, method: str, names: str, required: dict[str, Any]
) -> None:
    """mrtr.mdx and the handshake revisions alike: no request the client did not declare support for."""
    app = _app()
    reply = await _post(app, _call(tool), await _session(app, declared))
    assert reply.content_type == "application/json"
    assert _outcome(reply) == _missing(method, names, required)


async def test_every_capability_lacking_among_questions_asked_together_is_named() -> None:
    """The route gets one error (the first request lacking something names its method), listing all."""
    app = _app()
    reply = await _post(app, _call("three"), await _session(app, {"roots": {}}))
    required: dict[str, Any] = {"elicitation": {}, "sampling": {"tools": {}}}
    assert _outcome(reply) == _missing("elicitation/create", "elicitation, sampling.tools", required)


async def test_the_session_s_capabilities_are_the_route_s_client_capabilities() -> None:
    app = _app()
    declared = {"roots": {"listChanged": True}, "sampling": {"tools": {}}, "experimental": {"x": {}}}
    reply = await _post(app, _call("caps"), await _session(app, declared))
    assert _outcome(reply) == {"caps": {"roots": {"listChanged": True}, "sampling": {"tools": {}}}}


async def test_without_a_session_id_nothing_is_known_and_the_question_goes_out() -> None:
    """Session ids are never required: a request without one is asked as before."""
    app = _app()
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
    assert _outcome(await _post(app, _call("caps"), headers)) == {"caps": {}}
    assert (await _first_request(app, _call("sample", {"extra": TOOLS}), headers))["params"]["tools"] == [WEATHER]


async def test_a_batch_of_a_session_that_did_not_declare_roots_is_not_asked() -> None:
    app = _app()
    headers = await _session(app, {"sampling": {}}, "2025-03-26")
    reply = await _post(app, [_call("roots", id=1), request("ping", id=2)], headers)
    assert reply.content_type == "application/json"  # nothing was sent
    first, second = reply.json()
    assert orjson.loads(first["result"]["content"][0]["text"]) == _missing("roots/list", "roots", {"roots": {}})
    assert second == {"jsonrpc": "2.0", "id": 2, "result": {}}
