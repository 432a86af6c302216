"""The response headers a model needs, in a tool's ordinary results, in both eras: pagination
(``Link``, ``X-Total-Count``), the validators a later conditional write sends (``ETag``,
``Last-Modified``), a 202's ``Retry-After``, a partial content's ``Content-Range``, and an app's own
``X-*`` headers (an ``HTTPException``'s, a custom handler's). They go in a text block after the
result's own blocks ("Response headers:", one ``name: value`` line each, in the order sent), so
the first block stays the body and ``structuredContent`` stays exactly the body's JSON.

Never shown: ``Set-Cookie``, hop-by-hop and transport headers (anything not named above), nor the
``X-*`` headers middleware adds to every response, which say nothing of the result (a request or
trace id, a timing, ``X-Powered-By``, security and rate-limit headers): a response with only those
has no block, and costs no more to read than one with its content type and length alone. Values
pass the redaction and printability rules of any text taken from the response."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware, _body, _response_headers
from mcp_middleware.content import MCPResponse, text
from mcp_middleware.results import HeadResponseCollector, ResponseCollector
from tests.support import (
    BASE_HEADERS,
    MODERN,
    left_for_the_collector,
    modern_headers,
    modern_request,
    request,
    tool_result,
)

pytestmark = pytest.mark.anyio

ERAS = ["2025-11-25", MODERN]

NOISE = {
    "X-Request-ID": "5f0c",
    "X-Process-Time": "0.0012",
    "X-Correlation-ID": "c-1",
    "X-Powered-By": "FastAPI",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "0",
    "X-RateLimit-Remaining": "99",
    "X-Accel-Buffering": "no",  # an event stream's, to a proxy
    "Cache-Control": "no-store",
    "Vary": "Accept",
    "Set-Cookie": "session=s3cr3t-session",
}


class Row(BaseModel):
    id: int
    name: str


class Teapot(Exception):
    pass


def make_app() -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def noisy(request: Request, call_next: Any) -> Any:  # per-request headers on every response
        response = await call_next(request)
        response.headers["X-Request-ID"] = "5f0c"
        response.headers["X-Process-Time"] = "0.0012"
        return response

    @app.exception_handler(Teapot)
    async def teapot_handler(request: Request, exc: Teapot) -> JSONResponse:
        return JSONResponse({"error": "teapot"}, 418, {"X-Tea": "earl grey"})

    @app.get("/rows")
    def rows(response: Response, limit: int = 3) -> list[Row]:
        response.headers["Link"] = f'</rows?offset={limit}&limit={limit}>; rel="next"'
        response.headers["X-Total-Count"] = "2000"
        return [Row(id=i, name=f"row {i}") for i in range(limit)]

    @app.get("/rows/{i}")
    def row(i: int, response: Response) -> Row:
        response.headers["ETag"] = f'"v{i}"'
        response.headers["Last-Modified"] = "Wed, 21 Oct 2026 07:28:00 GMT"
        return Row(id=i, name=f"row {i}")

    @app.get("/items/{i}")
    def item(i: int) -> Row:
        raise HTTPException(404, "item not found", headers={"X-Reason": "missing"})

    @app.get("/gone")
    def gone() -> JSONResponse:  # the 404, answered rather than raised
        return JSONResponse({"detail": "gone"}, 404, {"X-Reason": "missing"})

    @app.get("/teapot")
    def teapot() -> None:
        raise Teapot

    @app.put("/status", status_code=202)
    def status(response: Response) -> dict[str, bool]:
        response.headers["Retry-After"] = "5"
        response.headers["X-Job"] = "j1"
        return {"queued": True}

    @app.post("/things", status_code=201)
    def create(response: Response) -> Row:
        response.headers["Location"] = "/things/7"
        response.headers["ETag"] = '"v1"'
        return Row(id=7, name="seven")

    @app.get("/limited")
    def limited() -> None:  # its Retry-After is in the error's text already
        raise HTTPException(429, "rate limited", headers={"Retry-After": "30"})

    @app.get("/plain")
    def plain() -> Response:
        return Response("hello", media_type="text/plain", headers=NOISE)

    @app.get("/odd")
    def odd(request: Request) -> Response:
        token = request.headers["authorization"].partition(" ")[2]
        return Response("ok", media_type="text/plain", headers={"X-Next": f"/page/2?token={token}\r\nX-Evil: 1"})

    @app.get("/streamed")
    def streamed() -> StreamingResponse:
        async def pieces() -> Any:
            yield "one "
            yield "two"

        return StreamingResponse(pieces(), media_type="text/plain", headers={"X-Total-Count": "2"})

    @app.get("/shaped")
    def shaped() -> MCPResponse:  # the route shaped its result: nothing added
        return MCPResponse([text("mine")], headers={"X-Total-Count": "1"})

    app.add_middleware(MCPMiddleware)
    return app


async def call(app: FastAPI, version: str, name: str, arguments: Any = None, headers: Any = None) -> dict[str, Any]:
    return await tool_result(app, version, name, arguments, headers)


def texts(result: dict[str, Any]) -> list[str]:
    return [block["text"] for block in result["content"]]


@pytest.mark.parametrize("version", ERAS)
async def test_pagination_headers_follow_the_body(version: str) -> None:
    result = await call(make_app(), version, "rows", {"limit": 2})
    body = '[{"id":0,"name":"row 0"},{"id":1,"name":"row 1"}]'
    assert texts(result) == [
        body,
        'Response headers:\nlink: </rows?offset=2&limit=2>; rel="next"\nx-total-count: 2000',
    ]
    assert result["structuredContent"] == {"result": [{"id": 0, "name": "row 0"}, {"id": 1, "name": "row 1"}]}
    assert "isError" not in result


@pytest.mark.parametrize("version", ERAS)
async def test_validators_follow_the_body_and_structured_content_stays_the_body(version: str) -> None:
    result = await call(make_app(), version, "row", {"i": 5})
    assert result == {
        "content": [
            {"type": "text", "text": '{"id":5,"name":"row 5"}'},
            {"type": "text", "text": 'Response headers:\netag: "v5"\nlast-modified: Wed, 21 Oct 2026 07:28:00 GMT'},
        ],
        "structuredContent": {"id": 5, "name": "row 5"},
    }


@pytest.mark.parametrize("version", ERAS)
async def test_an_errors_own_headers_follow_its_text(version: str) -> None:
    app = make_app()
    missing = await call(app, version, "item", {"i": 9})
    assert missing == {
        "content": [
            {"type": "text", "text": "HTTP 404 Not Found: item not found"},
            {"type": "text", "text": "Response headers:\nx-reason: missing"},
        ],
        "isError": True,
    }
    teapot = await call(app, version, "teapot")
    assert teapot["isError"] is True
    assert texts(teapot) == ['HTTP 418 I\'m a Teapot: {"error":"teapot"}', "Response headers:\nx-tea: earl grey"]
    limited = await call(app, version, "limited")  # Retry-After is said once, in the error's text
    assert limited == {
        "content": [{"type": "text", "text": "HTTP 429 Too Many Requests (Retry-After: 30): rate limited"}],
        "isError": True,
    }


@pytest.mark.parametrize("version", ERAS)
async def test_a_202_says_when_to_ask_again(version: str) -> None:
    result = await call(make_app(), version, "status")
    assert texts(result) == ['{"queued":true}', "Response headers:\nretry-after: 5\nx-job: j1"]


@pytest.mark.parametrize("version", ERAS)
async def test_a_201_says_its_location_then_its_headers(version: str) -> None:
    result = await call(make_app(), version, "create")
    located, listed = "201 Created: Location /things/7", 'Response headers:\netag: "v1"'
    assert texts(result) == ['{"id":7,"name":"seven"}', located, listed]
    assert result["structuredContent"] == {"id": 7, "name": "seven"}


@pytest.mark.parametrize("version", ERAS)
async def test_cookies_transport_and_per_request_headers_add_no_block(version: str) -> None:
    result = await call(make_app(), version, "plain")
    assert result == {"content": [{"type": "text", "text": "hello"}]}


@pytest.mark.parametrize("version", ERAS)
async def test_a_header_value_is_printable_and_redacted(version: str) -> None:
    result = await call(make_app(), version, "odd", headers={"authorization": "Bearer s3cr3t-t0ken"})
    assert texts(result) == ["ok", "Response headers:\nx-next: /page/2?token=[redacted]\\r\\nX-Evil: 1"]


@pytest.mark.parametrize("version", ERAS)
async def test_a_streamed_result_ends_with_its_headers_and_a_shaped_one_has_none(version: str) -> None:
    """A streamed body's headers came before it: its final result has them after its text (its
    progress, the text as it streamed, does not); a route's own ``MCPResponse`` is its result."""
    app = make_app()
    assert texts(await call(app, version, "streamed")) == ["one two", "Response headers:\nx-total-count: 2"]
    assert await call(app, version, "shaped") == {"content": [{"type": "text", "text": "mine"}]}


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize("name", ["row", "gone"])
async def test_a_call_with_shown_headers_leaves_nothing_for_the_cycle_collector(version: str, name: str) -> None:
    params = {"name": name, "arguments": {"i": 1} if name == "row" else {}}
    if version == MODERN:
        body, sent = modern_request("tools/call", params), modern_headers("tools/call", name)
    else:
        body, sent = request("tools/call", params), {**BASE_HEADERS, "mcp-protocol-version": version}
    app = make_app()
    # (not a route that raises: its exception's traceback holds frames that hold the collector,
    # at the dependency floors an HTTPException's too; and without the http middleware above, whose
    # own objects are not what this counts)
    app.user_middleware.clear()
    app.add_middleware(MCPMiddleware)
    reply, left = await left_for_the_collector(app, body, sent, calls=5)
    assert b"Response headers" in reply
    assert left == 0


def collected(status: int, headers: Any, body: bytes = b"", **kw: Any) -> Any:
    collector = ResponseCollector(path="/x", structured=False, max_text=1000, max_binary=1000, **kw)
    collector.head(status, headers)
    collector.feed(body, False)
    return collector.result()


def test_the_usual_headers_and_noise_leave_nothing_more_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision is ``_slots``', made once per list of header names: a response with its content
    type and length alone, or with only the noise beside them, has ``()`` (``Body.head`` reads
    nothing more); one with a header worth showing has where it is."""
    slots: dict[Any, Any] = {}
    monkeypatch.setattr(_response_headers, "_SLOTS", slots)
    monkeypatch.setattr(_body, "_SLOTS", slots)
    usual = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    assert collected(200, usual, b"{}") == {"content": [{"type": "text", "text": "{}"}]}
    assert slots[(b"content-type", b"content-length")] == ((0,), ())
    noise = [(name.lower().encode(), value.encode()) for name, value in NOISE.items()]
    noisy = [*usual, *noise, (b"date", b"x"), (b"server", b"uvicorn"), (b"connection", b"close")]
    assert collected(200, noisy, b"{}") == {"content": [{"type": "text", "text": "{}"}]}
    assert slots[tuple(name for name, _ in noisy)][1] == ()
    shown = [*usual, (b"X-Amzn-Trace-Id", b"t"), (b"ETag", b'"a"'), (b"x-b3-traceid", b"t"), (b"X-Page", b"2")]
    assert texts(collected(200, shown, b"{}")) == ["{}", 'Response headers:\netag: "a"\nx-page: 2']
    assert slots[tuple(name for name, _ in shown)][1][4] == (3, 5)


def test_every_kind_of_result_gets_the_block_but_a_head_requests() -> None:
    """An empty body's status line, a binary body's block, a 304's (its validators), a redirect's
    error (its Retry-After there, where no error text says it); a HEAD request's result lists the
    headers itself."""
    etag = (b"etag", b'"v7"')
    assert texts(collected(204, [etag])) == ["204 No Content", 'Response headers:\netag: "v7"']
    assert texts(collected(304, [etag])) == ["304 Not Modified", 'Response headers:\netag: "v7"']
    audio = collected(200, [(b"content-type", b"audio/wav"), etag], b"RIFF")
    assert [block["type"] for block in audio["content"]] == ["audio", "text"]
    moved = collected(307, [(b"location", b"/b"), (b"retry-after", b"5")])
    assert moved["isError"] is True
    assert texts(moved) == ["307 Temporary Redirect: Location /b", "Response headers:\nretry-after: 5"]
    head = HeadResponseCollector(path="/x", structured=False, max_text=1000, max_binary=1000)
    head.head(200, [etag, (b"x-request-id", b"1")])
    head.feed(b"", False)
    assert head.result() == {"content": [{"type": "text", "text": '200 OK\netag: "v7"\nx-request-id: 1'}]}
