"""``MCPMiddleware(CORSMiddleware(app))``: an app wrapped by hand in other middlewares before ours.

Such a chain is served as it is (uvicorn sets no ``scope["app"]``), so the middleware finds the app
by following the ``.app`` that Starlette's middlewares keep (``_served_app._find_app``): its tools,
its name, its 500 handler (below us, as for ``MCPMiddleware(app)``) and its query API keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.security import APIKeyQuery
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_middleware import MCPMiddleware
from tests.support import BASE_HEADERS, call_legacy, call_modern, meta, modern_headers, post
from tests.support import request as rpc
from tests.unit.test_starlette import ERAS, call, text_of

pytestmark = pytest.mark.anyio


class Plain:
    """A pure-ASGI middleware that keeps what it wraps as ``.app``, as Starlette's do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def api() -> FastAPI:
    app = FastAPI(title="Things", version="2.5")

    @app.get("/things/{thing_id}", operation_id="get_thing")
    async def get_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    return app


WRAPS: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "cors": lambda app: CORSMiddleware(app, allow_origins=["*"]),
    "gzip": GZipMiddleware,
    "cors+gzip+plain": lambda app: CORSMiddleware(GZipMiddleware(Plain(app)), allow_origins=["*"]),
}


async def tool_names(app: ASGIApp, era: str) -> list[str]:
    reply = await (call_legacy(app, "tools/list") if era == "legacy" else call_modern(app, "tools/list"))
    return [tool["name"] for tool in reply.result()["tools"]]


async def server_info(app: ASGIApp, era: str) -> dict[str, Any]:
    if era == "legacy":
        params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        info: dict[str, Any] = (await call_legacy(app, "initialize", params)).result()["serverInfo"]
    else:
        info = (await call_modern(app, "tools/list")).result()["_meta"]["io.modelcontextprotocol/serverInfo"]
    return info


@pytest.mark.parametrize("wrap", list(WRAPS))
@pytest.mark.parametrize("era", ERAS)
async def test_the_app_inside_the_wrappers_is_served(era: str, wrap: str) -> None:
    app = MCPMiddleware(WRAPS[wrap](api()))
    assert await tool_names(app, era) == ["get_thing"]
    assert text_of(await call(app, era, "get_thing", {"thing_id": 7})) == '{"id":7}'  # type: ignore[arg-type]
    assert await server_info(app, era) == {"name": "Things", "version": "2.5"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_wrapped_starlette_app_is_served_from_its_routes(era: str) -> None:
    async def hello(request: Request) -> Response:
        return JSONResponse({"hello": "world"})

    app = MCPMiddleware(GZipMiddleware(Starlette(routes=[Route("/hello", hello)])))
    assert await tool_names(app, era) == ["hello"]


async def test_a_wrapped_app_mounted_in_another_is_the_one_served() -> None:
    outer = Starlette(routes=[Mount("/api", app=MCPMiddleware(CORSMiddleware(api(), allow_origins=["*"])))])
    reply = await post(outer, rpc("tools/list"), path="/api/mcp")
    assert [tool["name"] for tool in reply.result()["tools"]] == ["get_thing"]


async def test_the_wrapped_apps_error_handler_runs_once_below_us() -> None:
    """Its ServerErrorMiddleware is inside the chain, below us: the sub-request passes it already."""
    seen: list[str] = []

    async def boom(request: Request) -> Response:
        raise RuntimeError("upstream timeout")

    async def handler(request: Request, exc: Exception) -> Response:
        seen.append(repr(exc))
        return JSONResponse({"error": "friendly"}, status_code=500)

    inner = Starlette(routes=[Route("/boom", boom)], exception_handlers={Exception: handler})
    app = MCPMiddleware(GZipMiddleware(inner))
    result = (await call_legacy(app, "tools/call", {"name": "boom", "arguments": {}})).result()
    assert result == {
        "content": [{"type": "text", "text": 'HTTP 500 Internal Server Error: {"error":"friendly"}'}],
        "isError": True,
    }
    assert seen == ["RuntimeError('upstream timeout')"]


@pytest.mark.parametrize("era", ERAS)
async def test_a_wrapped_apps_query_api_key_reaches_its_route(era: str) -> None:
    inner = FastAPI()
    scheme = APIKeyQuery(name="api_key")

    @inner.get("/me", operation_id="me")
    async def me(key: str = Depends(scheme)) -> dict[str, str]:
        return {"key": key}

    app = MCPMiddleware(CORSMiddleware(inner, allow_origins=["*"]))
    body = rpc("tools/call", {"name": "me", "arguments": {}})
    if era == "legacy":
        reply = await post(app, body, query_string=b"api_key=s3cret")
    else:
        body["params"]["_meta"] = meta()
        reply = await post(app, body, modern_headers("tools/call", "me"), query_string=b"api_key=s3cret")
    assert text_of(reply.result()) == '{"key":"s3cret"}'


async def test_added_with_add_middleware_the_application_is_still_the_one_served() -> None:
    """Inside the app's stack, the walk ends at its router: the app itself (its name, its handler
    in front of the route app, since its ServerErrorMiddleware is above us) is what is served."""
    seen: list[str] = []
    app = api()

    @app.get("/boom", operation_id="boom")
    async def boom() -> None:
        raise RuntimeError("upstream timeout")

    @app.exception_handler(Exception)
    async def handler(request: Request, exc: Exception) -> Response:
        seen.append(repr(exc))
        return JSONResponse({"error": "friendly"}, status_code=500)

    app.add_middleware(Plain)
    app.add_middleware(GZipMiddleware)
    app.add_middleware(MCPMiddleware)
    assert await server_info(app, "modern") == {"name": "Things", "version": "2.5"}
    result = (await call_legacy(app, "tools/call", {"name": "boom", "arguments": {}})).result()
    assert result["content"][0]["text"] == 'HTTP 500 Internal Server Error: {"error":"friendly"}'
    assert seen == ["RuntimeError('upstream timeout')"]


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({})(scope, receive, send)


class Looping(Plain):
    """A wrapper whose ``.app`` leads back to itself."""

    def __init__(self) -> None:
        super().__init__(self)


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: CORSMiddleware(bare, allow_origins=["*"]), "CORSMiddleware"),
        (lambda: GZipMiddleware(Plain(bare)), "GZipMiddleware"),
        (Looping, "Looping"),
        (lambda: Plain(MCPMiddleware(api())), "Plain"),  # never walked into: it answers its own /mcp
    ],
)
async def test_without_an_app_inside_the_warning_names_the_wrapper(
    make: Any, named: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = MCPMiddleware(make())
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await call_legacy(app, "tools/list")
    assert reply.result()["tools"] == []
    assert named in caplog.text
    assert "None" not in caplog.text


async def test_a_deep_chain_is_walked_only_so_far(caplog: pytest.LogCaptureFixture) -> None:
    wrapped: ASGIApp = api()
    for _ in range(40):
        wrapped = Plain(wrapped)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(MCPMiddleware(wrapped), rpc("tools/list"), BASE_HEADERS)
    assert reply.result()["tools"] == []
    assert "Plain" in caplog.text
