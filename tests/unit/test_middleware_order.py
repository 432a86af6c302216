"""What the app's own middlewares do to the MCP endpoint and to a tool call, by where they sit
(the README's "Which middlewares see a tool call"): an app ``CORSMiddleware`` outside ours answers
the ``/mcp`` preflight itself, one inside never sees ``/mcp``; ``HTTPSRedirectMiddleware`` inside
redirects every call of a plain-HTTP request (an error result); a route's ``Set-Cookie`` goes
nowhere; the ``scope["state"]`` an outer middleware wrote reaches the routes, as a copy, and an
outer session or authentication middleware's ``session``, ``user`` and ``auth`` as they are."""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, SimpleUser, requires
from starlette.datastructures import MutableHeaders
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_middleware import MCPContext, MCPMiddleware, mcp_context
from mcp_middleware._once import Remembered
from mcp_middleware.transport import _responder
from mcp_middleware.transport._responder import Responder
from tests.support import BASE_HEADERS, Reply, call_legacy, modern_headers, modern_request, post
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
        message = modern_request("tools/call", params)
        reply = await post(app, message, {**modern_headers("tools/call", name), **(headers or {})})
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


class CookieSession:
    """An outer middleware that keeps ``scope["session"]`` as Starlette's ``SessionMiddleware``
    does (without its signing, which needs itsdangerous): read from the ``session`` cookie, and
    written back as a ``Set-Cookie`` of the response when not empty."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = Request(scope).cookies.get("session")
        scope["session"] = json.loads(base64.b64decode(cookie)) if cookie else {}

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and scope["session"]:
                data = base64.b64encode(json.dumps(scope["session"]).encode()).decode()
                MutableHeaders(scope=message).append("set-cookie", f"session={data}; path=/")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def counting(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/visits", operation_id="visits")
    async def visits(request: Request) -> dict[str, int]:
        request.session["n"] = request.session.get("n", 0) + 1
        return {"visits": request.session["n"]}

    app.add_middleware(MCPMiddleware, **options)
    app.add_middleware(CookieSession)  # outer
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_an_outer_session_middlewares_session_reaches_the_route_and_its_writes_the_cookie(era: str) -> None:
    app = counting()
    cookie = base64.b64encode(b'{"n": 4}').decode()
    reply, result = await tool_call(app, era, {"cookie": f"session={cookie}"}, name="visits")
    assert (result.get("isError"), result["content"]) == (None, [{"type": "text", "text": '{"visits":5}'}])
    written = reply.headers["set-cookie"].removeprefix("session=").split(";")[0]
    assert json.loads(base64.b64decode(written)) == {"n": 5}  # the MCP response carries the route's write


def lost_message(tool: str) -> str:
    return (
        f"a session write by tool {tool!r} cannot reach the client: the MCP response had become an SSE stream, "
        "its head and Set-Cookie sent, before the route wrote to request.session (logged once per tool)"
    )


@pytest.fixture(autouse=True)
def _nothing_lost_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no lost session write warned about yet (the
    WARNING is once per tool in the process), so a test passes again when run again."""
    monkeypatch.setattr(_responder, "_LOST_SESSIONS", Remembered(256))


def lost_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "cannot reach the client" in r.getMessage()
    ]


async def test_a_session_write_after_the_reply_became_a_stream_is_lost_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """README (SessionMiddleware): the Set-Cookie goes out with the stream's head, the session as
    it was then; the route's later write is lost, and a WARNING names the tool, once per tool."""
    app = counting(response_mode="sse")
    cookie = base64.b64encode(b'{"n": 4}').decode()
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18", "cookie": f"session={cookie}"}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(app, rpc("tools/call", {"name": "visits", "arguments": {}}), headers)
        again = await post(app, rpc("tools/call", {"name": "visits", "arguments": {}}), headers)
    assert reply.content_type == again.content_type == "text/event-stream"
    assert [m["result"]["structuredContent"] for m in reply.messages() if "result" in m] == [{"visits": 5}]
    written = reply.headers["set-cookie"].removeprefix("session=").split(";")[0]
    assert json.loads(base64.b64decode(written)) == {"n": 4}
    assert lost_warnings(caplog) == [lost_message("visits")]


def progressing(name: str, write_first: bool) -> FastAPI:
    """A route that reports progress (the reply becomes a stream) and writes to the session
    before or after it, named ``name``."""
    app = FastAPI()

    @app.get("/visits", operation_id=name)
    async def visits(request: Request, ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, int]:
        if write_first:
            request.session["n"] = request.session.get("n", 0) + 1
        await ctx.report_progress(1, 2)
        if not write_first:
            request.session["n"] = request.session.get("n", 0) + 1
        return {"visits": request.session["n"]}

    app.add_middleware(MCPMiddleware)
    app.add_middleware(CookieSession)  # outer
    return app


async def progress_call(app: ASGIApp, era: str, name: str, session: bytes = b'{"n": 4}') -> Reply:
    cookie = base64.b64encode(session).decode()
    if era == "legacy":
        headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18", "cookie": f"session={cookie}"}
        params: dict[str, Any] = {"name": name, "arguments": {}, "_meta": {"progressToken": "p"}}
        return await post(app, rpc("tools/call", params), headers)
    message = modern_request("tools/call", {"name": name, "arguments": {}}, progressToken="p")
    return await post(app, message, {**modern_headers("tools/call", name), "cookie": f"session={cookie}"})


def cookie_of(reply: Reply) -> Any:
    return json.loads(base64.b64decode(reply.headers["set-cookie"].removeprefix("session=").split(";")[0]))


@pytest.mark.parametrize("era", ERAS)
async def test_a_session_write_after_progress_is_warned_and_one_before_it_reaches_the_cookie(
    era: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The session as the stream's head carried it is what counts: a write before the first
    progress notification reaches the Set-Cookie (no warning), one after it is lost (warned)."""
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        before = await progress_call(progressing(f"before_{era}", write_first=True), era, f"before_{era}")
        assert lost_warnings(caplog) == []
        after = await progress_call(progressing(f"after_{era}", write_first=False), era, f"after_{era}")
    assert before.content_type == after.content_type == "text/event-stream"
    assert cookie_of(before) == {"n": 5}
    assert cookie_of(after) == {"n": 4}
    assert len(lost_warnings(caplog)) == 1
    assert f"a session write by tool 'after_{era}' cannot reach the client" in lost_warnings(caplog)[0]


def carting(name: str) -> FastAPI:
    """A route that reports progress (the reply becomes a stream), then adds to a list inside
    the session: a write below its top level, after the stream's head."""
    app = FastAPI()

    @app.get("/cart", operation_id=name)
    async def cart(request: Request, ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, list[str]]:
        await ctx.report_progress(1, 2)
        request.session["cart"].append("b")
        return {"cart": request.session["cart"]}

    app.add_middleware(MCPMiddleware)
    app.add_middleware(CookieSession)  # outer
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_nested_session_write_after_progress_is_warned(era: str, caplog: pytest.LogCaptureFixture) -> None:
    """The session the head carried is kept as a deep copy: a write into a list inside it after
    the head (``request.session["cart"].append``) differs from it and is warned, as a top-level one."""
    app = carting("cart")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await progress_call(app, era, "cart", b'{"cart": ["a"]}')
    assert reply.content_type == "text/event-stream"
    assert [m["result"]["structuredContent"] for m in reply.messages() if "result" in m] == [{"cart": ["a", "b"]}]
    assert cookie_of(reply) == {"cart": ["a"]}
    assert lost_warnings(caplog) == [lost_message("cart")]


@pytest.mark.parametrize("era", ERAS)
async def test_a_session_write_in_a_json_reply_sets_the_cookie_and_is_not_warned(
    era: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = counting()
    cookie = base64.b64encode(b'{"n": 4}').decode()
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply, result = await tool_call(app, era, {"cookie": f"session={cookie}"}, name="visits")
    assert reply.content_type == "application/json"
    assert result["structuredContent"] == {"visits": 5}
    assert cookie_of(reply) == {"n": 5}
    assert lost_warnings(caplog) == []


class Tokens(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.headers.get("x-user") is None:
            return None
        return AuthCredentials(["admin"]), SimpleUser(conn.headers["x-user"])


def guarded() -> FastAPI:
    app = FastAPI()

    @app.get("/me", operation_id="me")
    @requires("admin")
    async def me(request: Request) -> dict[str, Any]:
        return {"user": request.user.display_name, "scopes": request.auth.scopes}

    app.add_middleware(MCPMiddleware)
    app.add_middleware(AuthenticationMiddleware, backend=Tokens())  # outer
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_an_outer_authentication_middlewares_user_and_auth_reach_the_route(era: str) -> None:
    _, result = await tool_call(guarded(), era, {"x-user": "ada"}, name="me")
    assert result["structuredContent"] == {"user": "ada", "scopes": ["admin"]}
    _, result = await tool_call(guarded(), era, name="me")  # unauthenticated: requires refuses it
    assert result["isError"] is True
    assert result["content"][0]["text"] == "HTTP 403 Forbidden (permission denied): Forbidden"


def test_a_session_that_cannot_be_copied_is_not_watched() -> None:
    """Another middleware's session object that ``copy.deepcopy`` refuses: the stream goes on, its
    session unwatched (no comparison, no warning)."""

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    responder = Responder(send)
    responder.keep_session({"session": {"lock": threading.Lock()}})
    assert responder._at_head is None
    responder.keep_session({"session": {"n": [1]}})
    assert responder._at_head == {"n": [1]}
