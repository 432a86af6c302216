"""Which app the middleware reads its routes from, and noticing when they change at run time."""

from __future__ import annotations

from typing import Any

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


async def test_an_app_wrapped_directly_and_mounted_in_another_is_read_for_its_own_routes() -> None:
    """``Mount("/api", app=MCPMiddleware(inner))``: Starlette had set ``scope["app"]`` to the outer
    app, whose routes became the tools, and their calls went to the inner app (404) (review)."""
    from fastapi import FastAPI

    from tests.support import Exchange, request

    inner = FastAPI()

    @inner.get("/inner_thing", operation_id="inner_thing")
    def inner_thing() -> dict[str, bool]:
        return {"inner": True}

    outer = Starlette(routes=[Route("/outer_only", _hello, name="outer_only"), Mount("/api", app=MCPMiddleware(inner))])
    listed = await Exchange(outer, request("tools/list"), path="/api/mcp").run()
    assert [tool["name"] for tool in listed.result()["tools"]] == ["inner_thing"]
    called = await Exchange(outer, request("tools/call", {"name": "inner_thing"}), path="/api/mcp").run()
    assert called.result()["content"][0]["text"] == '{"inner":true}'


async def test_a_mount_whose_routes_are_no_list_does_not_break_the_listing() -> None:
    """The routes' count took ``len()`` of whatever a mount's ``routes`` gave: a generator raised
    TypeError out of the middleware (review)."""

    class Generated:
        def __init__(self) -> None:
            self.router = Router(routes=[Route("/ok", _hello, name="ok")])

        @property
        def routes(self) -> object:
            return (route for route in self.router.routes)

        async def __call__(self, scope: object, receive: object, send: object) -> None:
            await self.router(scope, receive, send)  # type: ignore[arg-type]

    app = Starlette(routes=[Route("/a", _hello, name="a"), Mount("/gen", app=Generated())])
    app.add_middleware(MCPMiddleware)
    assert await _names(app) == {"a", "ok"}


# -- a FastAPI app mounted in the app --------------------------------------------------------------


def _mounted_in(kind: str) -> tuple[Any, Any]:
    """(the app with the middleware, the FastAPI app mounted in it at /v2)."""
    from fastapi import FastAPI

    sub = FastAPI()

    @sub.get("/hello")
    async def v2_hello() -> str:
        return "hello"

    @sub.get("/bye")
    async def v2_bye() -> str:
        return "bye"

    app: Any = FastAPI() if kind == "fastapi" else Starlette()
    app.mount("/v2", sub)
    app.add_middleware(MCPMiddleware)
    return app, sub


async def _later_route() -> str:
    return "later"


@pytest.mark.parametrize("outer", ["fastapi", "starlette"])
async def test_a_route_added_to_a_mounted_fastapi_app_is_listed_and_called(outer: str) -> None:
    app, sub = _mounted_in(outer)
    assert await _names(app) == {"v2_hello", "v2_bye"}
    sub.get("/later", operation_id="later")(_later_route)
    assert await _names(app) == {"v2_hello", "v2_bye", "later"}
    called = await call_legacy(app, "tools/call", {"name": "later"})
    assert called.result()["content"][0]["text"] == '"later"'


@pytest.mark.parametrize("outer", ["fastapi", "starlette"])
async def test_a_route_appended_to_a_mounted_fastapi_apps_list_is_listed(outer: str) -> None:
    """Appended to the list, a route leaves FastAPI's routes version as it was, and the mounted app
    kept its cached document: only the outer app's was cleared on a rebuild (review)."""
    from fastapi.routing import APIRoute

    app, sub = _mounted_in(outer)
    assert await _names(app) == {"v2_hello", "v2_bye"}
    sub.router.routes.append(APIRoute("/later", _later_route, operation_id="later"))
    assert await _names(app) == {"v2_hello", "v2_bye", "later"}


@pytest.mark.parametrize("outer", ["fastapi", "starlette"])
async def test_a_route_replaced_in_a_mounted_fastapi_app_is_noticed(outer: str) -> None:
    """One route taken off the list and another added with FastAPI's method leave the number of
    routes as it was: only the outer app's routes version was read, so this went unnoticed (review)."""
    app, sub = _mounted_in(outer)
    assert await _names(app) == {"v2_hello", "v2_bye"}
    sub.router.routes.pop()
    sub.get("/later", operation_id="later")(_later_route)
    assert await _names(app) == {"v2_hello", "later"}
