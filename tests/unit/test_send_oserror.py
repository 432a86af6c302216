"""A server whose ``send`` raises on a closed connection (review s10c #3).

The ASGI spec lets a server raise an ``OSError`` subclass from ``send()`` once the client is gone
(uvicorn and Hypercorn drop such a send, others raise). The middleware's writes to the server are
the responder's (``transport._responder``) and, for its refusals before a request is served,
``transport._http.plain``'s: such an error is the client having left, as
``http.disconnect`` says it: the write is dropped, nothing more is written, and the era's rule
applies (2026-07-28 cancels the call; the handshake era lets the route run on). Nothing is logged
at ERROR, and nothing escapes the middleware. A route's own OSError stays its failure.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import orjson
import pytest
from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from mcp_middleware import MCPMiddleware
from mcp_middleware.security import OAuthResource
from tests.support import BASE_HEADERS, Exchange, meta, modern_headers, request

pytestmark = pytest.mark.anyio

GUARD = 10  # seconds: a deadlock guard only; nothing waits on time
HANDSHAKE = ["2025-03-26", "2025-06-18", "2025-11-25"]


class Route:
    """What the streaming route did: its first chunk sent, whether it finished or was cancelled."""

    def __init__(self) -> None:
        self.first = anyio.Event()
        self.release = anyio.Event()  # the handshake era's route goes on once the test sets it
        self.finished = False
        self.cancelled = False


class _Chunks(Response):
    """A streamed text body that does not listen for the client going away (as Starlette's
    ``StreamingResponse`` does): whether the route runs on or is cancelled is the middleware's."""

    media_type = "text/plain"

    def __init__(self, route: Route) -> None:
        super().__init__()
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.route
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"a ", "more_body": True})
        route.first.set()
        try:
            await route.release.wait()
        except anyio.get_cancelled_exc_class():
            route.cancelled = True
            raise
        await send({"type": "http.response.body", "body": b"b", "more_body": False})
        route.finished = True


def _app(route: Route, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/stream", operation_id="stream")
    async def stream() -> Response:
        return _Chunks(route)

    @app.get("/silent", operation_id="silent")
    async def silent() -> dict[str, Any]:
        try:
            await route.release.wait()
        except anyio.get_cancelled_exc_class():
            route.cancelled = True
            raise
        route.finished = True
        return {"ok": True}

    @app.get("/plain", operation_id="plain")
    async def plain() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/own", operation_id="own")
    async def own() -> dict[str, Any]:
        raise ConnectionResetError("the route's own upstream connection")

    app.add_middleware(MCPMiddleware, **options)
    return app


class Closing(Exchange):
    """A server that raises OSError from ``send`` once the client has gone, which it does after
    the response's head (``after``: the messages that went out before), and whose ``receive`` never
    reports the disconnect: what the middleware does then comes from the failed send alone."""

    def __init__(self, *args: Any, after: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after = after
        self.refused: list[str] = []
        self.gone = anyio.Event()

    async def send(self, message: Message) -> None:
        if self.after == 0:
            self.refused.append(message["type"])
            self.gone.set()
            raise ConnectionResetError("client disconnected")
        self.after -= 1
        await super().send(message)

    async def receive(self) -> Message:
        if self._body:
            return await super().receive()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


def _call(tool: str, version: str, token: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    params: dict[str, Any] = {"name": tool, "arguments": {}}
    if token:
        params["_meta"] = {"progressToken": "p"}
    if version == "2026-07-28":
        params["_meta"] = {**params.get("_meta", {}), **meta()}
        return request("tools/call", params), modern_headers("tools/call", tool)
    return request("tools/call", params), {**BASE_HEADERS, "mcp-protocol-version": version}


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_2026_call_whose_progress_cannot_be_written_is_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    """2026-07-28: the client closing the stream cancels the call (transports.mdx: MUST), whether
    the server says so by ``http.disconnect`` or by a send that raises."""
    route = Route()
    body, headers = _call("stream", "2026-07-28")
    ex = Closing(_app(route), body, headers)
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"), anyio.fail_after(GUARD):
        await ex.run()
    assert route.cancelled
    assert not route.finished
    assert ex.refused == ["http.response.body"]  # the first progress event; nothing after it
    assert _errors(caplog) == []


@pytest.mark.parametrize("version", HANDSHAKE)
async def test_a_handshake_call_whose_progress_cannot_be_written_runs_on(
    version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The handshake era: disconnection is no cancellation (transports.mdx: SHOULD NOT); the route
    runs on and nothing more is written, as after ``http.disconnect``."""
    route = Route()
    body, headers = _call("stream", version)
    ex = Closing(_app(route), body, headers)
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"), anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await route.first.wait()
            route.release.set()
    assert route.finished
    assert not route.cancelled
    assert ex.refused == ["http.response.body"]  # the first progress event; nothing after it
    assert _errors(caplog) == []


@pytest.mark.parametrize("version", [*HANDSHAKE, "2026-07-28"])
async def test_a_json_reply_that_cannot_be_written_ends_the_request_quietly(
    version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: a plain call's reply, written when the client had gone, let the OSError escape
    ``MCPMiddleware.__call__``."""
    body, headers = _call("plain", version, token=False)
    ex = Closing(_app(Route()), body, headers, after=0)
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"), anyio.fail_after(GUARD):
        await ex.run()
    assert ex.refused == ["http.response.start"]  # and not its body: the response is over
    assert _errors(caplog) == []


async def test_a_routes_own_oserror_is_still_its_failure(caplog: pytest.LogCaptureFixture) -> None:
    """Only the server's send is the client leaving: a route that raises an OSError of its own
    fails as any route does (the call's isError result, its traceback logged)."""
    body, headers = _call("own", "2025-11-25", token=False)
    ex = Exchange(_app(Route()), body, headers)
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"), anyio.fail_after(GUARD):
        reply = await ex.run()
    assert reply.result()["isError"] is True
    assert "ConnectionResetError" in orjson.dumps(reply.result()).decode()
    assert len(_errors(caplog)) == 1


@pytest.mark.parametrize("version", ["2025-06-18", "2026-07-28"])
async def test_a_keep_alive_that_cannot_be_written_is_the_client_leaving(
    version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A silent call's keep-alive (the SSE head, then a comment) that the server refuses: the same
    rule, from the watcher: 2026-07-28 cancels the call, the handshake era lets it run on."""
    route = Route()
    body, headers = _call("silent", version, token=False)
    ex = Closing(_app(route, keepalive_interval=0.1), body, headers, after=0)
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"), anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.gone.wait()
            if version != "2026-07-28":
                route.release.set()
    assert route.cancelled is (version == "2026-07-28")
    assert route.finished is (version != "2026-07-28")
    assert ex.refused == ["http.response.start"]
    assert _errors(caplog) == []


_GOOD = orjson.dumps(request("tools/call", {"name": "plain", "arguments": {}}))
_HANDSHAKE_HEADERS = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
_PREFLIGHT = {"origin": "https://evil.example", "access-control-request-method": "POST"}
_REFUSALS: dict[str, tuple[dict[str, Any], str, str, dict[str, str], bytes]] = {
    # name: (middleware options, method, path, headers, body)
    "400 parse error": ({}, "POST", "/mcp", _HANDSHAKE_HEADERS, b"{not json"),
    "405 GET": ({}, "GET", "/mcp", _HANDSHAKE_HEADERS, b""),
    "406 without Accept": ({}, "POST", "/mcp", {**_HANDSHAKE_HEADERS, "accept": "text/html"}, _GOOD),
    "413 too large": ({"max_body_bytes": 8}, "POST", "/mcp", _HANDSHAKE_HEADERS, _GOOD),
    "401 guard": ({"auth": lambda request: False}, "POST", "/mcp", _HANDSHAKE_HEADERS, _GOOD),
    "403 CORS preflight": (
        {"cors_allow_origins": ["https://app.example.com"]},
        *("OPTIONS", "/mcp", {**_HANDSHAKE_HEADERS, **_PREFLIGHT}, b""),
    ),
    "405 OAuth metadata": (
        {"oauth": OAuthResource(authorization_servers=["https://auth.example.com"])},
        *("POST", "/.well-known/oauth-protected-resource/mcp", _HANDSHAKE_HEADERS, b""),
    ),
}


@pytest.mark.parametrize("case", list(_REFUSALS))
async def test_a_refusal_of_the_endpoints_own_that_cannot_be_written_ends_quietly(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review s10c2: the endpoint's own refusals (and the security layer's, CORS's, the OAuth
    metadata's) wrote through ``plain`` to the server's ``send`` directly, so its OSError escaped
    the middleware. Every such write is dropped the same way, logged at DEBUG."""
    options, method, path, headers, body = _REFUSALS[case]
    ex = Closing(_app(Route(), **options), body, headers, after=0, method=method, path=path)
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"), anyio.fail_after(GUARD):
        await ex.run()
    assert ex.refused == ["http.response.start"]  # and not its body: the response is over
    assert _errors(caplog) == []
    assert any("the client is gone" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
