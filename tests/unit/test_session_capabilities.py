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
SECRET = "0123456789abcdef0123456789abcdef"

WEATHER = {"name": "get_weather", "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}
TOOLS = {"tools": [WEATHER], "toolChoice": {"mode": "auto"}}
HI = [{"role": "user", "content": {"type": "text", "text": "hi"}}]
NAME = {"type": "object", "properties": {"name": {"type": "string"}}}


def _app(**options: Any) -> FastAPI:
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

    app.add_middleware(MCPMiddleware, session_ids=True, **options)
    return app


async def _session(app: FastAPI, capabilities: Any, version: str = "2025-11-25", stated: bool = True) -> dict[str, str]:
    """The headers of a session that declared ``capabilities`` in initialize; ``stated``: they
    carry MCP-Protocol-Version (2025-03-26 has none)."""
    params = {"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": "t", "version": "1"}}
    reply = await post(app, request("initialize", params))
    assert reply.status == 200
    headers = {**BASE_HEADERS, "mcp-session-id": reply.headers["mcp-session-id"]}
    return {**headers, "mcp-protocol-version": version} if stated else headers


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
        (
            "elicit",
            {"elicitation": {"form": None, "url": {}}},
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


def _initialize_with(capabilities_json: str) -> bytes:
    """An initialize request whose capabilities are ``capabilities_json``, as sent (orjson writes
    only 254 levels; a request may nest up to the 1,024 it reads)."""
    head = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    return (head + '"clientInfo":{"name":"t","version":"1"},"capabilities":' + capabilities_json + "}}").encode()


def _deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("name", ["roots", "sampling", "elicitation"])
async def test_a_capability_nested_deeper_than_orjson_writes_still_gets_a_session(name: str) -> None:
    """Review: a capability nested 300 deep made initialize a 500 (the id sealed it as sent, and
    orjson writes only 254 levels). The id keeps a capability's sub-capability names only."""
    app = _app()
    reply = await post(app, _initialize_with(f'{{"{name}":{_deep(300)}}}'))
    assert reply.status == 200
    assert reply.json()["result"]["protocolVersion"] == "2025-11-25"
    session_id = reply.headers["mcp-session-id"]
    assert len(session_id) < 400
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25", "mcp-session-id": session_id}
    assert _outcome(await _post(app, _call("caps"), headers)) == {"caps": {name: {"a": {}}}}


async def test_a_huge_capability_makes_a_small_session_id() -> None:
    """Review: a 100 kB sampling object made a 133 kB Mcp-Session-Id. A sub-capability's value is
    kept as {} (true and false as they are), its name only when short, and a few names at most,
    the ones the rules read first; null is not declared."""
    app = _app()
    names = {f"x{i:03}": {"note": "A" * 1000} for i in range(100)}
    sampling = {**names, "y" * 100: {}, "tools": {"note": "A" * 100_000}, "context": None, "z": True}
    reply = await post(app, _initialize_with(orjson.dumps({"sampling": sampling}).decode()))
    assert reply.status == 200
    session_id = reply.headers["mcp-session-id"]
    assert len(session_id) < 400
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25", "mcp-session-id": session_id}
    caps = _outcome(await _post(app, _call("caps"), headers))["caps"]
    assert list(caps) == ["sampling"]
    assert caps["sampling"]["tools"] == {}
    assert "context" not in caps["sampling"]
    assert "y" * 100 not in caps["sampling"]
    assert len(caps["sampling"]) == 8
    reply = await _post(app, _call("sample", {"extra": {"includeContext": "thisServer"}}), headers)
    assert _outcome(reply) == _missing("sampling/createMessage", "sampling.context", {"sampling": {"context": {}}})


async def test_a_header_less_2025_03_26_session_is_held_to_its_own_revision() -> None:
    """Review: a 2025-03-26 client (that revision has no MCP-Protocol-Version header) was held to
    2025-11-25's sub-capabilities, the shapes a header-less request's replies take: its
    includeContext refused for want of sampling.context, which 2025-03-26 does not have, and its
    tool-enabled sampling refused as -32021 sampling.tools instead of "no tool use in 2025-03-26".
    The id carries the revision initialize negotiated."""
    app = _app()
    headers = await _session(app, {"sampling": {}}, "2025-03-26", stated=False)
    asked = await _first_request(app, _call("sample", {"extra": {"includeContext": "thisServer"}}), headers)
    assert asked["params"]["includeContext"] == "thisServer"
    reply = await _post(app, _call("sample", {"extra": TOOLS}), headers)
    assert reply.content_type == "application/json"  # nothing was sent
    error = _outcome(reply)["error"]
    assert error["code"] == -32602
    assert "protocol revision 2025-03-26 has no tool use" in error["message"]
    reply = await _post(app, _call("elicit"), headers)
    assert _outcome(reply)["error"]["code"] == -32601  # 2025-03-26 has no elicitation


async def test_a_header_less_2025_11_25_session_is_held_to_2025_11_25() -> None:
    """The revision the id says was negotiated, when the request states none."""
    app = _app()
    headers = await _session(app, {"sampling": {}}, stated=False)
    reply = await _post(app, _call("sample", {"extra": {"includeContext": "thisServer"}}), headers)
    assert _outcome(reply) == _missing("sampling/createMessage", "sampling.context", {"sampling": {"context": {}}})


async def test_the_stated_revision_wins_over_the_one_the_session_id_carries() -> None:
    app = _app()
    headers = await _session(app, {"sampling": {}}, "2025-03-26", stated=False)
    stated = {**headers, "mcp-protocol-version": "2025-11-25"}
    reply = await _post(app, _call("sample", {"extra": {"includeContext": "thisServer"}}), stated)
    assert _outcome(reply) == _missing("sampling/createMessage", "sampling.context", {"sampling": {"context": {}}})


def _earlier_id(value: Any) -> str:
    """A session id as an earlier release sealed ``value`` (same secret, same binding)."""
    from mcp_middleware.sealing import Sealer

    sealer = Sealer(SECRET.encode(), 3600.0)
    return sealer.seal_bound(value, sealer.binding("session"))


async def test_an_id_with_capabilities_but_no_revision_is_held_to_2025_03_26() -> None:
    """An id sealed before ids carried the revision (capabilities as declared, whole): a request
    stating none is read as 2025-03-26 (transports.mdx), its questions too; the capabilities are
    shown as a new id keeps them."""
    app = _app(state_secret=SECRET)
    sampling = {"tools": {"deep": {"a": {"b": {}}}}, "listed": True}
    session_id = _earlier_id({"r": "0f" * 16, "c": {"sampling": sampling, "experimental": {}}})
    headers = {**BASE_HEADERS, "mcp-session-id": session_id}
    assert _outcome(await _post(app, _call("caps"), headers)) == {"caps": {"sampling": {"listed": True, "tools": {}}}}
    asked = await _first_request(app, _call("sample", {"extra": {"includeContext": "thisServer"}}), headers)
    assert asked["params"]["includeContext"] == "thisServer"
    reply = await _post(app, _call("sample", {"extra": TOOLS}), headers)
    assert _outcome(reply)["error"]["code"] == -32602


async def test_an_id_of_a_random_value_alone_still_opens_as_unknown() -> None:
    app = _app(state_secret=SECRET)
    headers = {**BASE_HEADERS, "mcp-session-id": _earlier_id("0f" * 16)}
    assert _outcome(await _post(app, _call("caps"), headers)) == {"caps": {}}
