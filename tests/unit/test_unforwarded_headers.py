"""Header parameters and the MCP request's own headers: trace context is forwarded, never an
argument (review s10a)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import build_catalog
from tests.support import BASE_HEADERS, post, request, result_json

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
    assert spec.tool["inputSchema"]["properties"] == {"X-Kept": {"type": "string"}}
    assert spec.required == {"X-Kept"}
