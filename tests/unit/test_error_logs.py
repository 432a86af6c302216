"""What an operator reads in the log when a tool's route answers an HTTP error, with either
``response_mode`` (``"sse"``: every handshake-era reply a stream, begun before the route runs),
with and without ``oauth``, for an app the middleware wraps and one it is added to.

A route's 4xx is the call's ``isError`` result (or, with ``oauth``, a 401/403 the endpoint's own
refusal): nothing went wrong on the server, so nothing is logged. A route that raises is logged
once, as what it is: the route raised, and the app answered its 500. The wrapped app's
``ServerErrorMiddleware`` sends that 500 and then re-raises, which was logged as "the app failed
after its response", the words of a failure in background work after a complete response."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import pytest
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, field_validator
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.security import OAuthResource
from tests.support import BASE_HEADERS, post
from tests.support import request as rpc

pytestmark = pytest.mark.anyio

OAUTH = OAuthResource(authorization_servers=["https://auth.example.com"])
EXPIRED = 'Bearer error="invalid_token", error_description="token expired"'
INSUFFICIENT = 'Bearer error="insufficient_scope", scope="items:write"'
HEADERS = {**BASE_HEADERS, "authorization": "Bearer tok"}

Auth = Annotated[str | None, Header()]


class Positive(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def positive(cls, value: int) -> int:
        if value < 0:  # a rule the tool's input schema cannot show: the route's own 422
            raise ValueError("must not be negative")
        return value


def _fail() -> None:
    raise RuntimeError("the database is down")


def _routes() -> FastAPI:
    app = FastAPI()

    @app.get("/missing", operation_id="missing")
    async def missing() -> dict[str, bool]:
        raise HTTPException(404, "no such item")

    @app.post("/positive", operation_id="positive")
    async def positive(item: Positive) -> dict[str, int]:
        return {"n": item.n}

    @app.get("/boom", operation_id="boom")
    async def boom() -> dict[str, bool]:
        _fail()
        return {"ok": True}

    @app.get("/sync-boom", operation_id="sync_boom")
    def sync_boom() -> dict[str, bool]:
        _fail()
        return {"ok": True}

    @app.get("/expired", operation_id="expired")
    async def expired(authorization: Auth = None) -> dict[str, bool]:
        raise HTTPException(401, "token expired", headers={"WWW-Authenticate": EXPIRED})

    @app.get("/bare-401", operation_id="bare_401")
    async def bare_401(authorization: Auth = None) -> dict[str, bool]:
        raise HTTPException(401, "who are you")

    @app.get("/scoped", operation_id="scoped")
    async def scoped(authorization: Auth = None) -> dict[str, bool]:
        raise HTTPException(403, "needs write", headers={"WWW-Authenticate": INSUFFICIENT})

    @app.get("/forbidden", operation_id="forbidden")
    async def forbidden() -> dict[str, bool]:
        raise HTTPException(403, "not yours")

    @app.get("/late", operation_id="late")
    async def late() -> JSONResponse:
        return JSONResponse({"ok": True}, background=BackgroundTask(_fail))

    @app.get("/late-500", operation_id="late_500")
    async def late_500() -> JSONResponse:
        return JSONResponse({"detail": "down"}, 500, background=BackgroundTask(_fail))

    return app


def _app(mode: str, oauth: bool, added: bool) -> Any:
    options: dict[str, Any] = {"response_mode": mode}
    if oauth:
        options["oauth"] = OAUTH
    app = _routes()
    if added:
        app.add_middleware(MCPMiddleware, **options)
        return app
    return MCPMiddleware(app, **options)


async def _logged(caplog: pytest.LogCaptureFixture, app: Any, name: str, arguments: dict[str, Any]) -> list[Any]:
    call = rpc("tools/call", {"name": name, "arguments": arguments})
    with caplog.at_level(logging.DEBUG, "mcp_middleware"):
        reply = await post(app, call, HEADERS)
    assert reply.status in (200, 401, 403)
    return [r for r in caplog.records if r.name.startswith("mcp_middleware")]


MODES = pytest.mark.parametrize("mode", ["auto", "sse"])
Mode = Literal["auto", "sse"]
OAUTHS = pytest.mark.parametrize("oauth", [False, True], ids=["no-oauth", "oauth"])
ADDED = pytest.mark.parametrize("added", [False, True], ids=["wrapped", "added"])


@MODES
@OAUTHS
@ADDED
@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("missing", {}),
        ("positive", {"n": -1}),
        ("expired", {}),
        ("bare_401", {}),
        ("scoped", {}),
        ("forbidden", {}),
    ],
)
async def test_a_route_s_http_error_logs_nothing(
    caplog: pytest.LogCaptureFixture, mode: str, oauth: bool, added: bool, name: str, arguments: dict[str, Any]
) -> None:
    assert await _logged(caplog, _app(mode, oauth, added), name, arguments) == []


@MODES
@OAUTHS
@pytest.mark.parametrize("name", ["boom", "sync_boom"])
async def test_a_route_that_raises_under_a_wrapped_app_is_logged_as_the_route_s_failure(
    caplog: pytest.LogCaptureFixture, mode: str, oauth: bool, name: str
) -> None:
    """The wrapped app's ``ServerErrorMiddleware`` answers 500, then re-raises: the route failed,
    before its response, and the app answered for it."""
    [record] = await _logged(caplog, _app(mode, oauth, added=False), name, {})
    assert record.levelno == logging.ERROR
    expected = f"Tool {name!r}: the route raised RuntimeError; the app answered 500 Internal Server Error"
    assert record.getMessage() == expected
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "the database is down"


@MODES
@OAUTHS
async def test_a_route_that_raises_below_an_added_middleware_is_logged_as_the_route_s_failure(
    caplog: pytest.LogCaptureFixture, mode: str, oauth: bool
) -> None:
    [record] = await _logged(caplog, _app(mode, oauth, added=True), "boom", {})
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Tool 'boom': the route raised RuntimeError"
    assert record.exc_info is not None


@MODES
@ADDED
@pytest.mark.parametrize("name", ["late", "late_500"])
async def test_background_work_failing_after_a_complete_response_is_logged_as_such(
    caplog: pytest.LogCaptureFixture, mode: str, added: bool, name: str
) -> None:
    """Work after the response (a ``BackgroundTask``) that fails leaves the result as it was; the log
    says it failed after the response, whatever the response's status (a route's own 500)."""
    [record] = await _logged(caplog, _app(mode, False, added), name, {})
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"Tool {name!r}: the app failed after its response, in its background work"
    assert record.exc_info is not None


@MODES
async def test_a_resource_route_that_raises_under_a_wrapped_app_is_logged_as_the_route_s_failure(
    caplog: pytest.LogCaptureFixture, mode: Mode
) -> None:
    app = FastAPI()

    @app.get("/docs/down", openapi_extra=declare.resource("test://down"))
    async def down() -> str:
        _fail()
        return "up"

    call = rpc("resources/read", {"uri": "test://down"})
    with caplog.at_level(logging.DEBUG, "mcp_middleware"):
        reply = await post(MCPMiddleware(app, response_mode=mode), call, HEADERS)
    assert reply.error()["error"]["code"] == -32603
    [record] = [r for r in caplog.records if r.name.startswith("mcp_middleware")]
    expected = "Resource test://down: the route raised RuntimeError; the app answered 500 Internal Server Error"
    assert record.getMessage() == expected


class _FailsAfter:
    """A pure-ASGI middleware in the app that fails once the response went out (an audit log write)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            raise RuntimeError("audit log write failed")


def _audited(added: bool) -> Any:
    app = FastAPI()

    @app.get("/busy", operation_id="busy")
    async def busy() -> JSONResponse:
        return JSONResponse({"detail": "try later"}, 503)

    @app.get("/down", operation_id="down")
    async def down() -> JSONResponse:
        return JSONResponse({"detail": "down"}, 500)

    @app.get("/fine", operation_id="fine")
    async def fine() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(_FailsAfter)
    if added:
        app.add_middleware(MCPMiddleware)
        return app
    return MCPMiddleware(app)


@ADDED
@pytest.mark.parametrize(
    ("name", "status"),
    [("busy", "503 Service Unavailable"), ("down", "500 Internal Server Error"), ("fine", "200 OK")],
)
async def test_a_middleware_failing_after_the_route_s_own_answer_is_logged_as_such(
    caplog: pytest.LogCaptureFixture, added: bool, name: str, status: str
) -> None:
    """The route answered (its own 5xx too) and raised nothing; a middleware in the app failed after
    the response went out: the app failed after its response, whose status the log names. The
    route's failure, and the app's answer for it, is what ``ServerErrorMiddleware`` sent itself."""
    [record] = await _logged(caplog, _audited(added), name, {})
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"Tool {name!r}: the app failed after its response ({status})"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "audit log write failed"
