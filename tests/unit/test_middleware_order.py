"""What the app's own middlewares do to the MCP endpoint and to a tool call, by where they sit
(the README's "Which middlewares see a tool call"): an app ``CORSMiddleware`` outside ours answers
the ``/mcp`` preflight itself, one inside never sees ``/mcp``; ``HTTPSRedirectMiddleware`` inside
redirects every call of a plain-HTTP request (an error result); a route's ``Set-Cookie`` goes
nowhere; the ``scope["state"]`` an outer middleware wrote reaches the routes, as a copy."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_middleware import MCPMiddleware
from tests.support import BASE_HEADERS, Reply, call_legacy, call_modern, post
from tests.support import request as rpc
from tests.unit.test_starlette import ERAS

pytestmark = pytest.mark.anyio

ORIGIN = "http://localhost:6274"
PREFLIGHT = {
    "host": "127.0.0.1:8000",
    "origin": ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type,mcp-protocol-version",
}
INIT = rpc(
    "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
)
SEEN: dict[str, Any] = {}


def api() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}", operation_id="get_thing")
    async def get_thing(thing_id: int, request: Request, response: Response) -> dict[str, Any]:
        SEEN["state"] = dict(request.scope.get("state") or {})
        SEEN["cookie"] = request.cookies.get("session")
        request.state.written = "by the route"
        response.set_cookie("session", "rotated")
        return {"id": thing_id}

    @app.get("/note", operation_id="note", response_class=PlainTextResponse)
    async def note() -> str:
        return "noted"  # no output schema

    return app


async def tool_call(
    app: ASGIApp, era: str, headers: dict[str, str] | None = None, name: str = "get_thing"
) -> tuple[Reply, dict[str, Any]]:
    params = {"name": name, "arguments": {"thing_id": 1} if name == "get_thing" else {}}
    if era == "legacy":
        reply = await post(app, rpc("tools/call", params), {**BASE_HEADERS, **(headers or {})})
    else:
        reply = await call_modern(app, "tools/call", params, name=name)
    return reply, reply.result()


async def test_an_app_cors_middleware_outside_ours_answers_the_preflight_and_hides_the_session_id() -> None:
    app = api()
    app.add_middleware(MCPMiddleware, cors_allow_origins=[ORIGIN], session_ids=True)
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=["X-Request-Id"])
    preflight = await post(app, b"", PREFLIGHT, method="OPTIONS")
    assert (preflight.status, preflight.body) == (400, b"Disallowed CORS method, headers")  # ours never ran
    reply = await post(app, INIT, {**BASE_HEADERS, "origin": ORIGIN})
    assert "mcp-session-id" in reply.headers
    assert reply.headers["access-control-expose-headers"] == "X-Request-Id"  # ours replaced: unreadable


async def test_an_app_cors_middleware_inside_ours_never_sees_the_endpoint() -> None:
    app = api()
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN], expose_headers=["X-Request-Id"])
    app.add_middleware(MCPMiddleware, cors_allow_origins=[ORIGIN], session_ids=True)
    preflight = await post(app, b"", PREFLIGHT, method="OPTIONS")
    assert preflight.status == 204
    reply = await post(app, INIT, {**BASE_HEADERS, "origin": ORIGIN})
    assert reply.headers["access-control-expose-headers"] == "WWW-Authenticate, Mcp-Session-Id"


@pytest.mark.parametrize("era", ERAS)
async def test_https_redirect_inside_ours_makes_every_plain_http_call_an_error(era: str) -> None:
    """Behind a TLS proxy without uvicorn's ``--proxy-headers`` the scope's scheme is ``http``."""
    app = api()
    app.add_middleware(HTTPSRedirectMiddleware)
    app.add_middleware(MCPMiddleware)
    reply, result = await tool_call(app, era, name="note")
    assert reply.status == 200
    assert result["content"] == [
        {"type": "text", "text": "307 Temporary Redirect: Location https://127.0.0.1:8000/note"}
    ]
    assert result["isError"] is True
    _, result = await tool_call(app, era)  # with an output schema: an error, as it always was
    assert result["isError"] is True
    assert "307 Temporary Redirect (Location https://127.0.0.1:8000/things/1)" in result["content"][0]["text"]


@pytest.mark.parametrize("era", ERAS)
async def test_a_routes_set_cookie_reaches_no_client(era: str) -> None:
    """What SessionMiddleware (added before ours) writes in a call does not persist: the MCP
    response has no cookie channel; the request's cookie is read."""
    app = api()
    app.add_middleware(MCPMiddleware)
    reply, result = await tool_call(app, era, {"cookie": "session=old"})
    assert result["content"][0]["text"] == '{"id":1}'
    assert "set-cookie" not in reply.headers
    if era == "legacy":
        assert SEEN["cookie"] == "old"


class Tenant:
    """An outer middleware that puts what it learned into ``scope["state"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["tenant"] = "acme"
            await self.app(scope, receive, send)
            SEEN["outer state after"] = dict(scope["state"])
        else:
            await self.app(scope, receive, send)


@pytest.mark.parametrize("era", ERAS)
async def test_the_state_an_outer_middleware_wrote_reaches_the_route_as_a_copy(era: str) -> None:
    app = api()
    app.add_middleware(MCPMiddleware)
    app.add_middleware(Tenant)
    SEEN.clear()
    _, result = await tool_call(app, era)
    assert result["content"][0]["text"] == '{"id":1}'
    assert SEEN["state"] == {"tenant": "acme"}
    assert SEEN["outer state after"] == {"tenant": "acme"}  # the route's write stayed in its copy


async def test_without_an_outer_state_the_route_gets_none() -> None:
    app = api()
    app.add_middleware(MCPMiddleware)
    SEEN.clear()
    reply = await call_legacy(app, "tools/call", {"name": "get_thing", "arguments": {"thing_id": 2}})
    assert reply.result()["content"][0]["text"] == '{"id":2}'
    assert "tenant" not in SEEN["state"]
