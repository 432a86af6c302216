"""Which app the middleware reads its routes from, and noticing when they change at run time."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, Router

from mcp_middleware import MCPMiddleware
from tests.support import call_legacy

pytestmark = pytest.mark.anyio


async def _hello(request: Request) -> JSONResponse:
    """Say hello."""
    return JSONResponse("hello")


async def _later(request: Request) -> JSONResponse:
    """Added after start-up."""
    return JSONResponse("later")


async def _names(app: object) -> set[str]:
    reply = await call_legacy(app, "tools/list")  # type: ignore[arg-type]
    return {tool["name"] for tool in reply.result()["tools"]}


async def test_an_app_wrapped_directly_is_read_for_its_routes() -> None:
    """``MCPMiddleware(app)`` as a plain ASGI wrapper (what uvicorn then serves): a scope without
    ``app`` left the middleware nothing to read, and it listed no tools (review)."""
    assert await _names(MCPMiddleware(Starlette(routes=[Route("/hello", _hello, name="hello")]))) == {"hello"}
    assert await _names(MCPMiddleware(Router(routes=[Route("/hello", _hello, name="hello")]))) == {"hello"}
    called = await call_legacy(
        MCPMiddleware(Router(routes=[Route("/hello", _hello, name="hello")])), "tools/call", {"name": "hello"}
    )
    assert called.result()["content"][0]["text"] == '"hello"'


async def test_a_route_added_to_a_mounted_router_at_run_time_is_listed() -> None:
    """Only the app's own route list was counted: a route added to (or taken off) a mounted router
    after start-up was never listed, though served over HTTP (review)."""
    api = Router(routes=[Route("/x", _hello, name="api_x")])
    app = Starlette(routes=[Route("/a", _hello, name="a"), Mount("/api", app=api)])
    app.add_middleware(MCPMiddleware)
    assert await _names(app) == {"a", "api_x"}
    api.add_route("/c", _later, name="c")
    assert await _names(app) == {"a", "api_x", "c"}
    api.routes.pop(0)
    assert await _names(app) == {"a", "c"}
