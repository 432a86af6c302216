"""The warning about the app's routes the MCP endpoint's path takes over, for the routes the OpenAPI
document does not list: FastAPI's own docs routes, ``include_in_schema=False`` routes, mounts."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from mcp_middleware import MCPMiddleware
from tests.support import post, request

pytestmark = pytest.mark.anyio

HIDDEN = "which the app's OpenAPI document does not list"


def _warning(path: str, routes: str) -> str:
    slash = path.rstrip("/") or "/"
    paths = f"'{slash}' and '{slash}/'" if slash != "/" else "'/'"
    return (
        f"The MCP endpoint's path (MCPMiddleware's path option, {paths}) is one the app's route(s) {routes}, "
        f"{HIDDEN}, would answer: the endpoint answers it instead, so plain HTTP clients get its JSON-RPC "
        "errors there (GET: a 405); give the middleware a path of its own"
    )


async def echo(request: Any) -> PlainTextResponse:
    return PlainTextResponse(request.url.path)


def static() -> StaticFiles:
    return StaticFiles(directory="/nonexistent", check_dir=False)


def fastapi_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    def items() -> list[int]:
        return []

    @app.get("/hidden", include_in_schema=False)
    def hidden() -> str:
        return "hidden"

    sub = FastAPI()

    @sub.get("/status")
    def status() -> str:
        return "ok"

    app.mount("/sub", sub)
    app.mount("/static", static())
    app.add_middleware(MCPMiddleware, **options)
    return app


async def _warned(app: Any, path: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(app, request("tools/list"), path=path)
    assert reply.status == 200
    return [r.getMessage() for r in caplog.records if "MCP endpoint's path" in r.getMessage()]


@pytest.mark.parametrize(
    ("path", "routes"),
    [
        ("/docs", "GET /docs"),
        ("/openapi.json", "GET /openapi.json"),
        ("/docs/oauth2-redirect", "GET /docs/oauth2-redirect"),
        ("/redoc", "GET /redoc"),
        ("/hidden", "GET /hidden"),
        ("/sub/docs", "GET /sub/docs"),  # a mounted FastAPI app's own docs
        ("/static", "Mount /static (StaticFiles)"),  # the endpoint's "/static/"
        ("/static/mcp", "Mount /static (StaticFiles)"),
    ],
)
async def test_a_route_the_document_does_not_list_is_warned_about(
    path: str, routes: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: the warning read the OpenAPI document only, so ``path="/docs"`` (then GET /docs got
    405), ``/openapi.json``, an ``include_in_schema=False`` route and a mount were taken over
    silently. The app's routes are read as its router tries them: a route the document does not
    list, or a mount of unknown routes whose prefix the endpoint's path is under, is named."""
    app = fastapi_app(path=path)
    assert await _warned(app, path, caplog) == [_warning(path, routes)]
    assert (await post(app, b"", path=path, method="GET")).status == 405  # what the warning says


@pytest.mark.parametrize("path", ["/mcp", "/sub/mcp", "/items/mcp", "/docsx"])
async def test_a_path_no_hidden_route_answers_is_not_warned_about(path: str, caplog: pytest.LogCaptureFixture) -> None:
    """A mounted app of known routes none of which answers the path (``/sub/mcp``) loses nothing."""
    assert await _warned(fastapi_app(path=path), path, caplog) == []


async def test_a_listed_route_is_named_by_the_document_s_warning_only(caplog: pytest.LogCaptureFixture) -> None:
    warned = await _warned(fastapi_app(path="/items"), "/items", caplog)
    assert len(warned) == 1
    assert "route(s) GET /items: the endpoint answers there" in warned[0]
    assert HIDDEN not in warned[0]


@pytest.mark.parametrize(
    ("routes", "named"),
    [
        ([Route("/api", echo, include_in_schema=False)], "GET /api"),
        ([Route("/api", echo, methods=["POST", "PUT"], include_in_schema=False)], "POST /api, PUT /api"),
        ([Route("/{first}", echo, include_in_schema=False), Route("/{name}", echo)], "GET /{first}"),
        ([Route("/api", echo, include_in_schema=False), Route("/{name}", echo, include_in_schema=False)], "GET /api"),
        ([Route("/api", PlainTextResponse("raw"), include_in_schema=False)], "/api (any method)"),  # an ASGI app
        ([Mount("/api", app=static())], "Mount /api (StaticFiles)"),
        ([Mount("/api", routes=[Route("/", echo, include_in_schema=False)])], "GET /api/"),
        ([Mount("/api", routes=[Route("/{p:path}", echo, include_in_schema=False)])], None),  # a catch-all
        ([Mount("/api", routes=[])], None),  # known routes, none there
        ([Mount("", app=static())], None),  # a mount at the root takes every path: a catch-all too
        ([Route("/{p:path}", echo, include_in_schema=False)], None),
        ([Mount("/api", app=Router([Route("/", echo)]))], None),  # listed in the document: its own warning
    ],
)
async def test_starlette_routes_the_document_does_not_list_are_named(
    routes: list[Any], named: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware, path="/api")
    hidden = [w for w in await _warned(app, "/api", caplog) if HIDDEN in w]
    assert hidden == ([_warning("/api", named)] if named else [])


async def test_the_warning_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    app = fastapi_app(path="/docs")
    for _ in range(3):
        await _warned(app, "/docs", caplog)
    assert len([r for r in caplog.records if HIDDEN in r.getMessage()]) == 1
