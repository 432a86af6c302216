"""The response headers that carry a result's meaning in common REST patterns, in the tool's
result, in both eras: a 201's or 202's ``Location`` (the new resource, the job to poll) and an
error's ``Retry-After`` (a 429 or 503 says when to try again). Without them the model never learns
the new resource's URL or when to retry. A ``Location`` is shown as a redirect's is ("<status
line>: Location <url>"); a JSON body stays the text's first block as it is (equal to its
``structuredContent``), the ``Location`` in a second text block. Header values pass the redaction
and printability rules of any text taken from the response."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
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

HTTP_DATE = "Wed, 21 Oct 2026 07:28:00 GMT"


class Thing(BaseModel):
    id: int
    name: str


def make_app() -> FastAPI:
    app = FastAPI()

    @app.post("/jobs", status_code=202)
    def create_job(response: Response) -> None:
        response.headers["Location"] = "/jobs/42"  # the job's status URL

    @app.post("/things")
    def create_thing() -> Response:
        return Response(status_code=201, headers={"Location": "/things/7"})

    @app.post("/remote")
    def create_remote() -> Response:
        return Response(status_code=201, headers={"Location": "https://api.example.com/things/7"})

    @app.post("/typed", status_code=201)
    def create_typed(response: Response) -> Thing:
        response.headers["Location"] = "/things/8"
        return Thing(id=8, name="eight")

    @app.post("/typed-plain", status_code=201)
    def create_typed_plain() -> Thing:  # no Location: as before
        return Thing(id=9, name="nine")

    @app.post("/plain")
    def create_plain() -> Response:  # no Location: as before
        return Response(status_code=201)

    @app.post("/text")
    def create_text() -> Response:
        return Response("made it", status_code=201, media_type="text/plain", headers={"Location": "/notes/3"})

    @app.post("/crlf")
    def create_crlf() -> Response:
        return Response(status_code=201, headers={"Location": "/things/7\r\nX-Injected: 1\x1b[31m"})

    @app.post("/echo")
    def create_echo(request: Request) -> Response:  # puts the caller's token in the URL
        token = request.headers["authorization"].partition(" ")[2]
        return Response(status_code=201, headers={"Location": f"/things/7?token={token}"})

    @app.get("/limited")
    def limited() -> None:
        raise HTTPException(429, "rate limited", headers={"Retry-After": "30"})

    @app.get("/limited-answer")
    def limited_answer() -> Response:  # the same 429, answered rather than raised
        return Response('{"detail":"rate limited"}', 429, {"Retry-After": "30"}, media_type="application/json")

    @app.get("/down")
    def down() -> None:
        raise HTTPException(503, "maintenance", headers={"Retry-After": HTTP_DATE})

    @app.get("/busy")
    def busy() -> Response:  # no detail
        return Response(status_code=503, headers={"Retry-After": "120"})

    @app.get("/odd-retry")
    def odd_retry() -> None:
        raise HTTPException(429, "slow down", headers={"Retry-After": "30\r\n\x07"})

    @app.get("/missing")
    def missing() -> None:  # no Retry-After: as before
        raise HTTPException(404, "no such thing")

    @app.get("/streamed-limit")
    def streamed_limit() -> StreamingResponse:
        async def pieces() -> Any:
            yield "partial "
            raise HTTPException(429, "rate limited mid-stream", headers={"Retry-After": "7"})

        return StreamingResponse(pieces(), media_type="text/plain")

    @app.get("/streamed-odd-headers")
    def streamed_odd_headers() -> StreamingResponse:
        async def pieces() -> Any:
            yield "partial "  # values that are no str: Starlette's response would refuse them
            raise HTTPException(429, "rate limited mid-stream", headers={"Retry-After": 30, "X-Note": None})  # type: ignore[dict-item]

        return StreamingResponse(pieces(), media_type="text/plain")

    @app.get("/streamed-accepted")
    def streamed_accepted() -> StreamingResponse:
        async def pieces() -> Any:
            yield "queued "
            raise HTTPException(202, "accepted", headers={"Location": "/jobs/2"})

        return StreamingResponse(pieces(), status_code=202, media_type="text/plain", headers={"Location": "/jobs/1"})

    @app.get("/ok-located")
    def ok_located() -> Response:  # a 200's Location means nothing (RFC 9110 §15.3.1)
        return Response("done", media_type="text/plain", headers={"Location": "/x"})

    @app.post("/no-content-located")
    def no_content_located() -> Response:
        return Response(status_code=204, headers={"Location": "/x"})

    app.add_middleware(MCPMiddleware)
    return app


async def call(app: FastAPI, version: str, name: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return await tool_result(app, version, name, None, headers)


def texts(result: dict[str, Any]) -> list[str]:
    return [block["text"] for block in result["content"]]


@pytest.mark.parametrize("version", ERAS)
async def test_an_empty_2xx_says_its_location(version: str) -> None:
    app = make_app()
    assert await call(app, version, "create_thing") == {
        "content": [{"type": "text", "text": "201 Created: Location /things/7"}]
    }
    remote = await call(app, version, "create_remote")
    assert texts(remote) == ["201 Created: Location https://api.example.com/things/7"]
    assert await call(app, version, "create_plain") == {"content": [{"type": "text", "text": "201 Created"}]}


@pytest.mark.parametrize("version", ERAS)
async def test_a_2xx_body_keeps_its_text_and_adds_the_location(version: str) -> None:
    """The body's text is the first block as before (a JSON body's text and its
    ``structuredContent`` still agree); the ``Location`` is a second text block: a model reads text
    content, and ``structuredContent`` must match the output schema, so it does not change."""
    app = make_app()
    job = await call(app, version, "create_job")  # FastAPI's ``null`` for a None
    assert job == {
        "content": [{"type": "text", "text": "null"}, {"type": "text", "text": "202 Accepted: Location /jobs/42"}]
    }
    text = await call(app, version, "create_text")
    assert texts(text) == ["made it", "201 Created: Location /notes/3"]
    assert "isError" not in text


@pytest.mark.parametrize("version", ERAS)
async def test_a_structured_2xx_keeps_its_structured_content(version: str) -> None:
    app = make_app()
    typed = await call(app, version, "create_typed")
    assert typed["structuredContent"] == {"id": 8, "name": "eight"}
    assert texts(typed) == ['{"id":8,"name":"eight"}', "201 Created: Location /things/8"]
    assert "isError" not in typed
    plain = await call(app, version, "create_typed_plain")
    assert plain == {
        "content": [{"type": "text", "text": '{"id":9,"name":"nine"}'}],
        "structuredContent": {"id": 9, "name": "nine"},
    }


@pytest.mark.parametrize("version", ERAS)
async def test_a_location_is_shown_printable_and_redacted(version: str) -> None:
    """A value with line breaks or other control characters is escaped (it cannot start a line of
    its own in the model's text); a credential forwarded to the route is never echoed in it."""
    app = make_app()
    crlf = await call(app, version, "create_crlf")
    assert texts(crlf) == ["201 Created: Location /things/7\\r\\nX-Injected: 1\\x1b[31m"]
    echoed = await call(app, version, "create_echo", {"authorization": "Bearer s3cr3t-t0ken"})
    assert texts(echoed) == ["201 Created: Location /things/7?token=[redacted]"]


@pytest.mark.parametrize("version", ERAS)
async def test_an_error_says_when_to_retry(version: str) -> None:
    """After the status line, as a 401's or 403's hint is: before the route's detail, which the
    result limit may cut. An HTTP date is shown as the route sent it."""
    app = make_app()
    limited = await call(app, version, "limited")
    assert limited == {
        "content": [{"type": "text", "text": "HTTP 429 Too Many Requests (Retry-After: 30): rate limited"}],
        "isError": True,
    }
    down = await call(app, version, "down")
    assert texts(down) == [f"HTTP 503 Service Unavailable (Retry-After: {HTTP_DATE}): maintenance"]
    assert down["isError"] is True
    busy = await call(app, version, "busy")
    assert texts(busy) == ["HTTP 503 Service Unavailable (Retry-After: 120)"]
    odd = await call(app, version, "odd_retry")
    assert texts(odd) == ["HTTP 429 Too Many Requests (Retry-After: 30\\r\\n\\x07): slow down"]
    missing = await call(app, version, "missing")
    assert missing == {"content": [{"type": "text", "text": "HTTP 404 Not Found: no such thing"}], "isError": True}


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        # its result is the response its handler would have sent had the response not started,
        # headers included
        ("streamed_limit", "HTTP 429 Too Many Requests (Retry-After: 7): rate limited mid-stream"),
        # Regression (23d69a9): a header value that is no ``str`` (``Retry-After: 30`` as an int, a
        # None) made the AttributeError of ``.encode`` escape the middleware, so the call had no
        # answer. Starlette's response never sends such a value (``init_headers`` encodes each
        # value and fails on it): it is left out, and the result is the usual one.
        ("streamed_odd_headers", "HTTP 429 Too Many Requests: rate limited mid-stream"),
    ],
)
@pytest.mark.parametrize("version", ERAS)
async def test_an_error_raised_mid_stream_says_when_to_retry(version: str, tool: str, text: str) -> None:
    """An ``HTTPException`` raised once the route's response started."""
    result = await call(make_app(), version, tool)
    assert result["isError"] is True
    assert texts(result) == [text + "\n\nOutput before the failure:\npartial "]


@pytest.mark.parametrize("version", ERAS)
async def test_a_202_with_a_location_raised_mid_stream_is_answered(version: str) -> None:
    """Review: an ``HTTPException(202, ..., headers={"Location": ...})`` raised mid-stream made a
    result of two blocks (its detail, its Location), and adding the route's output to "the one
    block" raised a ValueError that escaped the middleware: no answer. The output follows the first
    block; the Location stays in its own."""
    result = await call(make_app(), version, "streamed_accepted")
    assert texts(result) == [
        '{"detail":"accepted"}\n\nOutput before the failure:\nqueued ',
        "202 Accepted: Location /jobs/2",
    ]


@pytest.mark.parametrize("version", ERAS)
async def test_a_location_is_shown_for_a_201_and_a_202_only(version: str) -> None:
    """RFC 9110 gives a 201's Location (the new resource) and, by common practice, a 202's (where
    to ask for the job's status) a meaning; on any other 2xx it means nothing, and is not shown."""
    app = make_app()
    assert await call(app, version, "ok_located") == {"content": [{"type": "text", "text": "done"}]}
    assert await call(app, version, "no_content_located") == {"content": [{"type": "text", "text": "204 No Content"}]}


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize("name", ["create_thing", "create_typed", "create_job", "limited_answer"])
async def test_a_call_with_these_headers_leaves_nothing_for_the_cycle_collector(version: str, name: str) -> None:
    """Regression (23d69a9): a 2xx with a Location gave its collector a ``result`` of its own, a
    bound method in the instance's dict, which made a cycle: the collector and its body waited for
    the cyclic garbage collector. A call frees everything by reference counting (cba4577). (Not
    a route that raises, mid-stream or not: its exception's traceback holds frames that hold it,
    as before 23d69a9; at the dependency floors a raised ``HTTPException`` does too, so the 429
    here is answered, not raised.)"""
    params = {"name": name, "arguments": {}}
    if version == MODERN:
        body, sent = modern_request("tools/call", params), modern_headers("tools/call", name)
    else:
        body, sent = request("tools/call", params), {**BASE_HEADERS, "mcp-protocol-version": version}
    reply, left = await left_for_the_collector(make_app(), body, sent, calls=5)
    assert b'"result"' in reply
    assert name != "limited_answer" or b"(Retry-After: 30)" in reply
    assert left == 0
