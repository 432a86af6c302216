"""A route that fails once its response has started, as the call's result and the log name it.

FastAPI's own SSE (``fastapi.sse.EventSourceResponse``) runs a yielding route's generator in an
anyio task group, so what it raises reaches the middleware inside an ``ExceptionGroup``; and an
exception the app has a handler for reaches it inside Starlette's ``RuntimeError`` ("response
already started").
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.sse import EventSourceResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from mcp_middleware import MCPMiddleware
from tests.support import call_tool

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
GUARD = 10  # seconds: a deadlock guard only; nothing waits on time
LOGGER = "mcp_middleware.toolcall"


class UpstreamError(Exception):
    pass


async def _passthrough(request: Request, call_next: RequestResponseEndpoint) -> Response:
    return await call_next(request)


def _app(inner: int = 0, **options: Any) -> FastAPI:
    """``inner``: how many ``@app.middleware("http")`` (BaseHTTPMiddleware) sit inside ours."""
    app = FastAPI()

    @app.exception_handler(UpstreamError)
    async def upstream(request: Request, exc: UpstreamError) -> JSONResponse:
        return JSONResponse({"detail": f"upstream failed: {exc}"}, status_code=502)

    @app.get("/sse_conflict", operation_id="sse_conflict", response_class=EventSourceResponse)
    async def sse_conflict() -> AsyncIterator[str]:
        yield "tok0"
        await anyio.lowlevel.checkpoint()
        yield "tok1"
        raise HTTPException(409, "conflict later")

    @app.get("/sse_conflict_first", operation_id="sse_conflict_first", response_class=EventSourceResponse)
    async def sse_conflict_first() -> AsyncIterator[str]:
        raise HTTPException(409, "conflict at once")
        yield "never"  # (a generator)

    @app.get("/sse_bug", operation_id="sse_bug", response_class=EventSourceResponse)
    async def sse_bug() -> AsyncIterator[str]:
        yield "tok0"
        await anyio.lowlevel.checkpoint()
        yield "tok1"
        raise ValueError("a bug")

    @app.get("/handled", operation_id="handled")
    async def handled() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "tok0 "
            raise UpstreamError("model overloaded")

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/wrapped_by_hand", operation_id="wrapped_by_hand")
    async def wrapped_by_hand() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "tok0 "
            raise RuntimeError("my own words") from UpstreamError("not Starlette's wrapper")

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/http_wrapped_by_hand", operation_id="http_wrapped_by_hand")
    async def http_wrapped_by_hand() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "tok0 "
            await anyio.lowlevel.checkpoint()
            try:
                raise HTTPException(404, "page 1 not cached")
            except HTTPException as exc:
                raise RuntimeError("pagination invariant broken") from exc

        return StreamingResponse(parts(), media_type="text/plain")

    for _ in range(inner):
        app.add_middleware(BaseHTTPMiddleware, dispatch=_passthrough)
    app.add_middleware(MCPMiddleware, **options)
    return app


async def _called(caplog: pytest.LogCaptureFixture, app: FastAPI, era: str, tool: str) -> tuple[str, logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER), anyio.fail_after(GUARD):
        result = await call_tool(app, era, tool, {})
    assert result["isError"] is True
    [record] = [r for r in caplog.records if r.name == LOGGER]
    [block] = result["content"]
    text: str = block["text"]
    return text, record


# -- FastAPI's SSE: what its task group raises ---------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_an_http_exception_mid_stream_of_fastapi_sse_gives_its_status_and_detail(
    caplog: pytest.LogCaptureFixture, era: str
) -> None:
    """Review: 'the route raised ExceptionGroup', at ERROR with a traceback: FastAPI runs the
    generator in a task group, which wraps the HTTPException in an ExceptionGroup."""
    text, record = await _called(caplog, _app(), era, "sse_conflict")
    assert text == 'HTTP 409 Conflict: conflict later\n\nOutput before the failure:\n"tok0"'
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "Tool 'sse_conflict': the route raised HTTPException(409) after its response started"
    assert record.exc_info is None


@pytest.mark.parametrize("era", ERAS)
async def test_an_http_exception_of_fastapi_sse_before_its_first_item_gives_its_status_and_detail(
    caplog: pytest.LogCaptureFixture, era: str
) -> None:
    """Raised before the first item: the response had started all the same (its head goes out
    before the first item is waited for)."""
    text, record = await _called(caplog, _app(), era, "sse_conflict_first")
    assert text == "HTTP 409 Conflict: conflict at once"
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "Tool 'sse_conflict_first': the route raised HTTPException(409) after its response started"
    )


@pytest.mark.parametrize("era", ERAS)
async def test_an_http_exception_alone_in_a_task_group_before_the_response_gives_its_status_and_detail(
    caplog: pytest.LogCaptureFixture, era: str
) -> None:
    """A route whose task group's task raised an HTTPException before its response started: the
    app's handlers look up the group's type, not what it holds, so none answered (over HTTP, a
    500); the call says what the route meant, its status and detail."""
    app = FastAPI()

    async def check() -> None:
        raise HTTPException(404, "no such item")

    @app.get("/checked", operation_id="checked")
    async def checked() -> dict[str, bool]:
        async with anyio.create_task_group() as group:
            group.start_soon(check)
        return {"ok": True}

    app.add_middleware(MCPMiddleware)
    text, record = await _called(caplog, app, era, "checked")
    assert text == "HTTP 404 Not Found: no such item"
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "Tool 'checked': the route raised HTTPException(404) inside an exception group, "
        "where the app's handlers do not see it"
    )


@pytest.mark.parametrize("era", ERAS)
async def test_any_other_exception_mid_stream_of_fastapi_sse_is_named_as_itself(
    caplog: pytest.LogCaptureFixture, era: str
) -> None:
    text, record = await _called(caplog, _app(), era, "sse_bug")
    assert text == "Tool 'sse_bug' failed: the route raised ValueError.\n\nOutput before the failure:\n\"tok0\""
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Tool 'sse_bug': the route raised ValueError"
    assert record.exc_info is not None  # the group's traceback, the whole way


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("raised", "named"),
    [
        (lambda: ExceptionGroup("one", [ExceptionGroup("inner", [KeyError("k")])]), "KeyError"),
        (lambda: ExceptionGroup("two", [KeyError("k"), ValueError("v")]), "ExceptionGroup"),
        (lambda: ExceptionGroup("nested two", [ExceptionGroup("inner", [KeyError("k"), ValueError("v")])]), None),
    ],
)
async def test_a_group_of_one_exception_is_named_as_it_and_a_group_of_several_as_a_group(
    caplog: pytest.LogCaptureFixture, era: str, raised: Any, named: str | None
) -> None:
    """A group holding one exception, however deeply nested, is that exception; one holding
    several stays 'ExceptionGroup' (which of them would be arbitrary)."""
    app = FastAPI()

    @app.get("/grouped", operation_id="grouped")
    async def grouped() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "part "
            raise raised()

        return StreamingResponse(parts(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    text, record = await _called(caplog, app, era, "grouped")
    name = named or "ExceptionGroup"
    assert text == f"Tool 'grouped' failed: the route raised {name}.\n\nOutput before the failure:\npart "
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"Tool 'grouped': the route raised {name}"


@pytest.mark.parametrize("era", ERAS)
async def test_a_cancellation_inside_a_group_of_one_is_not_swallowed(era: str) -> None:
    """A group holding a cancellation is no failure of the route: it propagates (the request is
    being cancelled from outside), however alone it is in its group."""
    app = FastAPI()

    @app.get("/cancelled", operation_id="cancelled")
    async def cancelled() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "part "
            raise BaseExceptionGroup("one", [anyio.get_cancelled_exc_class()()])

        return StreamingResponse(parts(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    cancelled_exc = anyio.get_cancelled_exc_class()
    # (the group itself, or, with older Starlette/anyio, the bare cancellation the group held)
    with anyio.fail_after(GUARD), pytest.raises((cancelled_exc, BaseExceptionGroup)) as raised:
        await call_tool(app, era, "cancelled", {})
    exc = raised.value
    assert isinstance(exc, cancelled_exc) or (
        isinstance(exc, BaseExceptionGroup) and exc.subgroup(cancelled_exc) is not None
    ), repr(exc)


# -- an exception the app has a handler for, raised once the response started --------------------


@pytest.mark.parametrize("inner", [0, 1])
@pytest.mark.parametrize("era", ERAS)
async def test_a_handled_exception_raised_mid_stream_is_named_not_starlettes_wrapper(
    caplog: pytest.LogCaptureFixture, era: str, inner: int
) -> None:
    """Review: 'the route raised RuntimeError', Starlette's 'Caught handled exception, but response
    already started', raised from the route's exception: the call names that exception. Under an
    inner BaseHTTPMiddleware (1), which completes the response before the failure comes out, it was
    a success with the text so far (the wrapper's own traceback never passes through the stream)."""
    text, record = await _called(caplog, _app(inner), era, "handled")
    assert text == "Tool 'handled' failed: the route raised UpstreamError.\n\nOutput before the failure:\ntok0 "
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        "Tool 'handled': the route raised UpstreamError after its response started "
        "(the app's handler for it could not answer)"
    )
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "model overloaded"


@pytest.mark.parametrize("era", ERAS)
async def test_a_runtime_error_of_the_route_raised_from_another_is_named_as_raised(
    caplog: pytest.LogCaptureFixture, era: str
) -> None:
    text, record = await _called(caplog, _app(), era, "wrapped_by_hand")
    assert text == "Tool 'wrapped_by_hand' failed: the route raised RuntimeError.\n\nOutput before the failure:\ntok0 "
    assert record.getMessage() == "Tool 'wrapped_by_hand': the route raised RuntimeError"


@pytest.mark.parametrize("inner", [0, 1])
@pytest.mark.parametrize("era", ERAS)
async def test_a_runtime_error_of_the_route_raised_from_an_http_exception_is_named_as_raised(
    caplog: pytest.LogCaptureFixture, era: str, inner: int
) -> None:
    """Review: a RuntimeError the route raised itself from an HTTPException it caught was taken for
    Starlette's wrapper and answered as the HTTPException's 404. Only Starlette's exact words are
    its wrapper: this is the route's RuntimeError."""
    text, record = await _called(caplog, _app(inner), era, "http_wrapped_by_hand")
    assert text == (
        "Tool 'http_wrapped_by_hand' failed: the route raised RuntimeError.\n\nOutput before the failure:\ntok0 "
    )
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Tool 'http_wrapped_by_hand': the route raised RuntimeError"
