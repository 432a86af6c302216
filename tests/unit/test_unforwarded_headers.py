"""Header parameters and the MCP request's own headers (review s10a): trace context is forwarded,
never an argument; a header parameter of several tools that is not forwarded (a router-wide
dependency's) is warned about when the tools are built."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware._operation_reader import _HEADER_NOTE as HEADER_NOTE
from mcp_middleware.catalog import build_catalog
from tests.support import BASE_HEADERS, post, refusal_text, request, result_json

pytestmark = pytest.mark.anyio
LEGACY = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def _tools(app: FastAPI, headers: dict[str, str] = LEGACY) -> dict[str, Any]:
    reply = await post(app, request("tools/list"), headers)
    return {tool["name"]: tool for tool in reply.result()["tools"]}


async def _call(app: FastAPI, name: str, arguments: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    reply = await post(app, request("tools/call", {"name": name, "arguments": arguments}), headers)
    result: dict[str, Any] = reply.result()
    return result


# -- trace context -----------------------------------------------------------------------------------


def _traced_app() -> FastAPI:
    app = FastAPI()

    @app.get("/tp", operation_id="tp")
    def tp(
        traceparent: Annotated[str | None, Header()] = None,
        tracestate: Annotated[str | None, Header()] = None,
        x_kept: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return {"traceparent": traceparent, "tracestate": tracestate, "x_kept": x_kept}

    app.add_middleware(MCPMiddleware)
    return app


async def test_trace_context_header_parameters_are_no_arguments() -> None:
    """Review: a traceparent/tracestate Header() parameter was an argument the route never got
    (the MCP request's forwarded header won): like Host, trace context is forwarded, no argument."""
    app = _traced_app()
    assert set((await _tools(app))["tp"]["inputSchema"]["properties"]) == {"x-kept"}
    headers = {**LEGACY, "traceparent": TRACE, "tracestate": "a=1"}
    got = result_json(await _call(app, "tp", {"x-kept": "k"}, headers))
    assert got == {"traceparent": TRACE, "tracestate": "a=1", "x_kept": "k"}


def test_trace_context_header_parameters_are_no_arguments_in_any_case() -> None:
    params = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
        for name in ("TraceParent", "TRACESTATE", "X-Kept")
    ]
    spec = build_catalog({"paths": {"/h": {"get": {"operationId": "h", "parameters": params}}}}).tools[0]
    assert spec.tool["inputSchema"]["properties"] == {
        "X-Kept": {"type": "string", "description": HEADER_NOTE.format("X-Kept")}
    }
    assert spec.required == {"X-Kept"}


# -- a router-wide dependency reading a header -------------------------------------------------------

ADMIN = "admin-secret-0000"


def verify_admin_token(x_admin_token: Annotated[str, Header()]) -> None:
    if x_admin_token != ADMIN:
        raise HTTPException(401, "bad admin token")


def _admin_app(**options: Any) -> FastAPI:
    """The review's app: a router whose dependency reads X-Admin-Token, and a public route."""
    app = FastAPI()
    admin = APIRouter(prefix="/admin", dependencies=[Depends(verify_admin_token)])

    @admin.get("/users", operation_id="users")
    def users() -> list[str]:
        return ["a"]

    @admin.delete("/users/{uid}", operation_id="delete_user")
    def delete_user(uid: int) -> dict[str, int]:
        return {"deleted": uid}

    app.include_router(admin)

    @app.get("/public", operation_id="public")
    def public() -> dict[str, Any]:
        return {}

    app.add_middleware(MCPMiddleware, **options)
    return app


def _shared_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "forward_headers" in r.getMessage()]


async def test_a_header_parameter_of_two_tools_that_is_not_forwarded_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review: a router-wide dependency's header (not in every tool) was no warning, though the
    README promised one: a header parameter of two tools or more, not forwarded, is named in one."""
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = await _tools(_admin_app())
        await _tools(_admin_app())  # once across builds
    assert tools["users"]["inputSchema"]["required"] == ["x-admin-token"]
    warned = _shared_warnings(caplog)
    assert len(warned) == 1, warned
    assert "'x-admin-token' (tools 'users', 'delete_user')" in warned[0]
    assert "forward_headers=['x-admin-token']" in warned[0]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = await _tools(_admin_app(forward_headers=["X-Admin-Token"]))
    assert tools["users"]["inputSchema"]["properties"] == {}
    assert not _shared_warnings(caplog)


def test_the_shared_header_warning_names_a_few_tools_and_counts_the_others(caplog: pytest.LogCaptureFixture) -> None:
    header = {"name": "X-Tenant-Wide", "in": "header", "required": True, "schema": {"type": "string"}}
    paths = {f"/p{n}": {"get": {"operationId": f"p{n}", "parameters": [header]}} for n in range(6)}
    paths["/own"] = {"get": {"operationId": "own", "parameters": [{**header, "name": "X-Own"}]}}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        build_catalog({"paths": paths})
    warned = _shared_warnings(caplog)
    assert len(warned) == 1, warned
    assert "'x-tenant-wide' (tools 'p0', 'p1', 'p2' and 3 more)" in warned[0]
    assert "x-own" not in warned[0]  # one tool's parameter says nothing about the app


# -- a call that lacks a header argument the MCP request carries ----------------------------------


@pytest.mark.parametrize("arguments", [{}, {"x-admin-token": None}, {"x-admin-token": "made-up"}])
async def test_a_header_argument_the_mcp_request_carries_is_taken_from_the_request(
    caplog: pytest.LogCaptureFixture, arguments: dict[str, Any]
) -> None:
    """Review s10a: the client's own X-Admin-Token was ignored (the call refused as missing the
    argument, with a forward_headers hint); review r_sec D1: a model's value won over it. The
    request's header is the route's now, whatever the argument (as a cookie's is)."""
    app = _admin_app()
    headers = {**LEGACY, "X-Admin-Token": ADMIN}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert result_json(await _call(app, "users", arguments, headers)) == ["a"]
        assert result_json(await _call(app, "delete_user", {"uid": 1, **arguments}, headers)) == {"deleted": 1}
    assert not [r for r in caplog.records if r.name == "mcp_middleware.toolcall"]


HINT = "the MCP request carries the header 'user-agent'"
FORWARD = "forward_headers=['user-agent']"


def _told(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mcp_middleware.toolcall" and FORWARD in r.getMessage()]


def verify_agent(user_agent: Annotated[str, Header()]) -> None:
    if not user_agent.startswith("ok"):
        raise HTTPException(403, "bad agent")


def _agent_app() -> FastAPI:
    """A router whose dependency requires User-Agent: a header every client sends about its own
    request, so the argument stays the model's and the MCP request's is not taken."""
    app = FastAPI()
    router = APIRouter(prefix="/a", dependencies=[Depends(verify_agent)])

    @router.get("/users", operation_id="users")
    def users() -> list[str]:
        return ["a"]

    @router.delete("/users/{uid}", operation_id="delete_user")
    def delete_user(uid: int) -> dict[str, int]:
        return {"deleted": uid}

    @router.get("/greet", openapi_extra=declare.prompt("greet"))
    def greet(name: str) -> str:
        return f"hi {name}"

    app.include_router(router)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("arguments", [{}, {"user-agent": None}])
async def test_a_missing_header_argument_that_the_mcp_request_carries_is_named_with_forward_headers(
    caplog: pytest.LogCaptureFixture, arguments: dict[str, Any]
) -> None:
    """Review s10a: a required header argument left out while the MCP request carries the header
    (one the request does not win for: User-Agent) is refused with the hint, logged once per header."""
    app = _agent_app()
    headers = {**LEGACY, "User-Agent": "ok-client/1"}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        first = refusal_text(await _call(app, "users", arguments, headers))
        again = refusal_text(await _call(app, "delete_user", {"uid": 1, **arguments}, headers))
    assert first.startswith("Invalid arguments for tool 'users': ")
    assert "'user-agent'" in first
    for text in (first, again):
        assert HINT in text, text
        assert FORWARD in text, text
        assert "ok-client/1" not in text  # the value is never shown
    told = _told(caplog)
    assert len(told) == 1, told  # once per header, whatever the tool
    assert "ok-client/1" not in told[0]


async def test_a_missing_header_argument_the_mcp_request_lacks_has_no_forwarding_hint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _admin_app()
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        text = refusal_text(await _call(app, "users", {}, {**LEGACY, "x-other": "1"}))
        # another argument missing, the header given: no hint either
        other = refusal_text(
            await _call(app, "delete_user", {"x-admin-token": ADMIN}, {**LEGACY, "x-admin-token": ADMIN})
        )
    assert text == "Invalid arguments for tool 'users': missing required argument 'x-admin-token'"
    assert other == "Invalid arguments for tool 'delete_user': missing required argument 'uid'"
    assert not _told(caplog)


async def test_a_header_argument_given_runs_the_route_when_the_request_lacks_the_header() -> None:
    result = await _call(_admin_app(), "users", {"x-admin-token": ADMIN}, {**LEGACY, "x-other": "other"})
    assert result_json(result) == ["a"]


async def test_a_prompt_missing_a_header_argument_the_mcp_request_carries_says_so_in_its_error() -> None:
    params = {"name": "greet", "arguments": {"name": "ann"}}
    reply = await post(_agent_app(), request("prompts/get", params), {**LEGACY, "user-agent": "ok-client/1"})
    error = reply.json()["error"]
    assert error["code"] == -32602
    assert error["message"].startswith("Invalid arguments for prompt 'greet': missing required argument 'user-agent'")
    assert HINT in error["message"]
    assert FORWARD in error["message"]


# -- optional headers, and headers forward_headers refuses (review s10a2) ------------------------------


def _optional_headers_app() -> FastAPI:
    """An ordinary API: optional i18n, tracing and client headers on a few routes, no credentials."""
    app = FastAPI()

    @app.get("/items/{i}", operation_id="get_item")
    def get_item(i: int, accept_language: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return {"i": i, "accept_language": accept_language}

    @app.get("/items", operation_id="list_items")
    def list_items(
        accept_language: Annotated[str | None, Header()] = None,
        x_request_id: Annotated[str | None, Header()] = None,
    ) -> list[Any]:
        return []

    @app.get("/me", operation_id="me")
    def me(
        user_agent: Annotated[str | None, Header()] = None, x_request_id: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        return {}

    @app.get("/users/{uid}", operation_id="user")
    def user(uid: int, user_agent: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return {}

    app.add_middleware(MCPMiddleware)
    return app


async def test_optional_header_parameters_of_two_tools_are_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Review: accept-language, x-request-id and user-agent, optional on a few routes, were warned
    about as if they were credentials to forward: only required header parameters are."""
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await _tools(_optional_headers_app())
    assert not _shared_warnings(caplog)


def test_a_shared_header_forward_headers_refuses_is_not_suggested(caplog: pytest.LogCaptureFixture) -> None:
    """Review: ``accept`` shared by two tools was suggested as forward_headers=['accept'], which the
    middleware refuses (one of MCP's own headers): such a header is not named."""
    paths = {
        f"/{name}": {
            "get": {
                "operationId": name,
                "parameters": [
                    {"name": header, "in": "header", "required": True, "schema": {"type": "string"}}
                    for header in ("Accept", "X-Tenant", "Keep-Alive", "Mcp-Param-Region")
                ],
            }
        }
        for name in ("report", "export")
    }
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        build_catalog({"paths": paths})
    warned = _shared_warnings(caplog)
    assert len(warned) == 1, warned
    assert "forward_headers=['x-tenant']" in warned[0]
    for refused in ("accept", "keep-alive", "mcp-param-region"):
        assert f"'{refused}'" not in warned[0], refused


def _accept_app() -> FastAPI:
    app = FastAPI()

    @app.get("/report", operation_id="report")
    def report(accept: Annotated[str, Header()]) -> dict[str, Any]:
        return {"accept": accept}

    app.add_middleware(MCPMiddleware)
    return app


async def test_a_missing_header_argument_forward_headers_refuses_has_no_forwarding_hint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review: a required ``accept`` argument left out got the hint forward_headers=['accept'] (the MCP
    request always carries Accept), which the middleware refuses."""
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        text = refusal_text(await _call(_accept_app(), "report", {}, LEGACY))
    assert text == "Invalid arguments for tool 'report': missing required argument 'accept'"
    assert not [r for r in caplog.records if r.name == "mcp_middleware.toolcall"]


async def test_an_optional_header_the_mcp_request_carries_gets_no_hint_on_a_call_refused_for_another_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hint names required header arguments only: an optional one left out is no reason the
    call was refused."""
    headers = {**LEGACY, "accept-language": "en-US"}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        text = refusal_text(await _call(_optional_headers_app(), "get_item", {}, headers))
    assert text == "Invalid arguments for tool 'get_item': missing required argument 'i'"
    assert not [r for r in caplog.records if r.name == "mcp_middleware.toolcall"]
