"""The app's 500/``Exception`` handler answers for a route that raised, over MCP as over HTTP.

Starlette calls that handler from ``ServerErrorMiddleware``, the outermost layer of the app, above
every user middleware (ours too): a tool call's sub-request enters below it, so the middleware
calls the handler itself (``mcp_middleware._error_handler``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse as FastAPIJSONResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_middleware import ClientRequestError, MCPContext, MCPMiddleware, declare, mcp_context
from mcp_middleware._guard import _raised
from tests.support import BASE_HEADERS, call_legacy, post
from tests.support import request as rpc
from tests.unit.test_starlette import ERAS, call

pytestmark = pytest.mark.anyio

FRIENDLY = {"error": "The upstream service timed out; retry with a smaller page"}
ANSWERED = 'HTTP 500 Internal Server Error: {"error":"The upstream service timed out; retry with a smaller page"}'
GENERIC = "Tool 'boom' failed: the route raised RuntimeError."


async def boom(request: Request) -> Response:
    raise RuntimeError("upstream timeout")


async def returns_500(request: Request) -> Response:
    return JSONResponse(FRIENDLY, status_code=500)


async def streams_then_fails(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first "
        raise RuntimeError("mid-stream")

    return StreamingResponse(chunks(), media_type="text/plain")


def shown(result: dict[str, Any]) -> tuple[str, bool]:
    [piece] = result["content"]
    return piece["text"], result.get("isError", False)


class Seen:
    """What the handler was called with, and a handler of each kind (async, sync, raising)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def note(self, request: Request, exc: Exception) -> None:
        self.calls.append((request.method, request.url.path, repr(exc)))

    async def async_handler(self, request: Request, exc: Exception) -> Response:
        self.note(request, exc)
        return JSONResponse(FRIENDLY, status_code=500)

    def sync_handler(self, request: Request, exc: Exception) -> Response:
        self.note(request, exc)
        return JSONResponse(FRIENDLY, status_code=500)

    async def raising_handler(self, request: Request, exc: Exception) -> Response:
        self.note(request, exc)
        raise ValueError("the handler broke")


def starlette_app(handlers: dict[Any, Callable[..., Any]], debug: bool = False) -> Starlette:
    routes = [Route("/boom", boom), Route("/returns_500", returns_500), Route("/streams", streams_then_fails)]
    app = Starlette(routes=routes, exception_handlers=handlers, debug=debug)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("key", [Exception, 500])
@pytest.mark.parametrize("kind", ["async_handler", "sync_handler"])
async def test_the_apps_handler_answers_a_route_that_raised(era: str, key: Any, kind: str) -> None:
    seen = Seen()
    app = starlette_app({key: getattr(seen, kind)})
    result = await call(app, era, "boom", {})
    assert shown(result) == (ANSWERED, True)
    # exactly what a route that returned the handler's response itself gets
    assert result == await call(app, era, "returns_500", {})
    assert seen.calls == [("GET", "/boom", "RuntimeError('upstream timeout')")]


async def test_the_exception_is_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = starlette_app({Exception: Seen().async_handler})
    with caplog.at_level(logging.ERROR, "mcp_middleware"):
        await call(app, "legacy", "boom", {})
    [record] = [r for r in caplog.records if "boom" in r.getMessage()]
    assert record.getMessage() == "Tool 'boom': the route raised RuntimeError; the app's exception handler answered"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


@pytest.mark.parametrize("era", ERAS)
async def test_a_fastapi_exception_handler_answers(era: str) -> None:
    app = FastAPI()
    ran: list[str] = []

    @app.exception_handler(Exception)
    async def on_exc(request: Request, exc: Exception) -> Response:
        ran.append(request.url.path)
        return FastAPIJSONResponse(FRIENDLY, status_code=500)

    @app.get("/boom", operation_id="boom")
    async def fails() -> None:
        raise RuntimeError("x")

    app.add_middleware(MCPMiddleware)
    assert shown(await call(app, era, "boom", {})) == (ANSWERED, True)
    assert ran == ["/boom"]


async def test_in_debug_mode_the_generic_text_stays() -> None:
    """Starlette answers a traceback page then: nothing of it reaches the model."""
    seen = Seen()
    app = starlette_app({Exception: seen.async_handler}, debug=True)
    assert await call(app, "legacy", "boom", {}) == {"content": [{"type": "text", "text": GENERIC}], "isError": True}
    assert seen.calls == []


async def test_a_handler_that_raises_is_logged_and_the_generic_text_stays(caplog: pytest.LogCaptureFixture) -> None:
    seen = Seen()
    app = starlette_app({Exception: seen.raising_handler})
    with caplog.at_level(logging.ERROR, "mcp_middleware"):
        result = await call(app, "legacy", "boom", {})
    assert result == {"content": [{"type": "text", "text": GENERIC}], "isError": True}
    assert len(seen.calls) == 1
    messages = [(r.getMessage(), type(r.exc_info[1]).__name__) for r in caplog.records if r.exc_info]
    assert messages == [
        ("GET /boom: the app's exception handler raised ValueError", "ValueError"),
        ("Tool 'boom': the route raised RuntimeError", "RuntimeError"),
    ]


async def test_a_response_already_started_is_not_handed_to_the_handler() -> None:
    """As ``ServerErrorMiddleware`` cannot send the handler's response then, the result is the
    failure, with the text the route had sent."""
    seen = Seen()
    app = starlette_app({Exception: seen.async_handler})
    result = await call(app, "legacy", "streams_then_fails", {})
    assert result == {
        "content": [
            {
                "type": "text",
                "text": "Tool 'streams_then_fails' failed: the route raised RuntimeError.\n\n"
                "Output before the failure:\nfirst ",
            }
        ],
        "isError": True,
    }
    assert seen.calls == []


class BodyFirst:
    """A raw ASGI route (an instance: Starlette calls a function with a ``Request``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"oops"})


class BodyFirstInATask(BodyFirst):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tasks:  # the send's error comes out in a group
            tasks.start_soon(super().__call__, scope, receive, send)


@pytest.mark.parametrize("route", [BodyFirst(), BodyFirstInATask()], ids=["alone", "in-a-group"])
async def test_a_route_breaking_the_asgi_contract_is_not_handed_to_the_handler(route: ASGIApp) -> None:
    """The error the route's ``send`` raised is ours (the route misbehaved): the handler's answer
    would hide it as the route's own 500."""
    seen = Seen()
    app = Starlette(routes=[Route("/bad", route, methods=["GET"])], exception_handlers={Exception: seen.async_handler})
    app.add_middleware(MCPMiddleware)
    [name] = [tool["name"] for tool in (await call_legacy(app, "tools/list", {})).result()["tools"]]
    text = f"Tool '{name}' failed: the route did not produce a valid HTTP response."
    assert await call(app, "legacy", name, {}) == {"content": [{"type": "text", "text": text}], "isError": True}
    assert seen.calls == []


async def test_without_a_handler_the_generic_text_stays() -> None:
    assert await call(starlette_app({}), "legacy", "boom", {}) == {
        "content": [{"type": "text", "text": GENERIC}],
        "isError": True,
    }


async def test_an_app_wrapped_directly_runs_its_handler_once() -> None:
    """``MCPMiddleware(app)``: the sub-request goes through the app's own stack, handler included."""
    seen = Seen()
    app = MCPMiddleware(Starlette(routes=[Route("/boom", boom)], exception_handlers={Exception: seen.async_handler}))
    reply = await call_legacy(app, "tools/call", {"name": "boom", "arguments": {}})
    assert reply.result() == {"content": [{"type": "text", "text": ANSWERED}], "isError": True}
    assert len(seen.calls) == 1


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("prompts/get", {"name": "broken"}, "Prompt 'broken' failed: " + ANSWERED),
        ("resources/read", {"uri": "test://broken"}, "Reading test://broken failed: " + ANSWERED),
    ],
)
async def test_prompts_and_resources_get_the_handlers_answer(method: str, params: dict[str, Any], message: str) -> None:
    seen = Seen()
    app = FastAPI()
    app.add_exception_handler(500, seen.sync_handler)

    @app.get("/prompts/broken", openapi_extra=declare.prompt("broken"))
    async def broken() -> str:
        raise RuntimeError("x")

    @app.get("/docs/broken", openapi_extra=declare.resource("test://broken"))
    async def broken_doc() -> str:
        raise RuntimeError("x")

    app.add_middleware(MCPMiddleware)
    reply = (await call_legacy(app, method, params)).json()
    assert reply["error"]["code"] == -32603
    assert reply["error"]["message"] == message
    assert len(seen.calls) == 1


async def test_a_path_argument_with_a_line_break_cannot_forge_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    """Review: the record of a raising handler held the sub-request's path as it was, so a path
    argument with a line break wrote a second, forged record in a log read line by line."""
    app = FastAPI()

    @app.exception_handler(Exception)
    async def on_exc(request: Request, exc: Exception) -> Response:
        raise KeyError("handler broke")

    @app.get("/items/{name}", operation_id="item")
    async def item(name: str) -> None:
        raise RuntimeError("boom")

    app.add_middleware(MCPMiddleware)
    forged = "x\n2026-11-26 18:00:00,000 CRITICAL admin login accepted\x1b[2J"
    with caplog.at_level(logging.ERROR, "mcp_middleware"):
        await call(app, "legacy", "item", {"name": forged})
    [record] = [r for r in caplog.records if "exception handler raised" in r.getMessage()]
    message = record.getMessage()
    assert "\n" not in message
    assert "\x1b" not in message
    assert message.startswith("GET /items/x\\n2026-11-26 18:00:00,000 CRITICAL admin login accepted\\x1b[2J: ")


def asking_app(handler: bool, seen: Seen) -> FastAPI:
    """Routes whose question the client cannot answer: alone, in a task group, and in a task group
    with an app failure beside it."""
    app = FastAPI()
    if handler:
        app.add_exception_handler(Exception, seen.async_handler)

    async def ask(ctx: MCPContext) -> Any:
        return await ctx.elicit("Proceed?", {"type": "object", "properties": {}})

    @app.post("/confirm", operation_id="confirm")
    async def confirm(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        return {"answer": await ask(ctx)}

    @app.post("/confirm_grouped", operation_id="confirm_grouped")
    async def confirm_grouped(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        async with anyio.create_task_group() as group:
            group.start_soon(ask, ctx)
        return {}

    @app.post("/confirm_both", operation_id="confirm_both")
    async def confirm_both(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        async def sample() -> None:  # (2025-03-26's sampling has no tools)
            await ctx.sample([], 10, tools=[{"name": "t", "inputSchema": {"type": "object"}}])

        async with anyio.create_task_group() as group:  # both refused: a group of two
            group.start_soon(ask, ctx)
            group.start_soon(sample)
        return {}

    @app.post("/confirm_and_fail", operation_id="confirm_and_fail")
    async def confirm_and_fail(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        try:
            await ask(ctx)
        except ClientRequestError as refused:  # what a task group raises when both of its tasks fail
            raise ExceptionGroup("both failed", [refused, RuntimeError("app bug")]) from None
        return {}

    app.add_middleware(MCPMiddleware)
    return app


async def refused_call(app: FastAPI, name: str) -> dict[str, Any]:
    """A call of ``name`` by a 2025-03-26 client, whose revision has no elicitation/create: the
    route's question is refused with a ClientRequestError (-32601) before anything is sent."""
    params = {"name": name, "arguments": {}}
    reply = await post(app, rpc("tools/call", params), {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"})
    return reply.result()


@pytest.mark.parametrize("handler", [False, True])
async def test_a_question_the_client_cannot_answer_is_not_the_handlers(handler: bool) -> None:
    """Review: a ClientRequestError (method missing in the revision, missing capability, a stopped
    call's question) raised in a route was handed to the app's exception handler, so error
    reporting fired for a protocol-level refusal, and the model got the handler's generic 500
    instead of the client's reason. Over plain HTTP it cannot happen: it passes the handler by."""
    seen = Seen()
    text, is_error = shown(await refused_call(asking_app(handler, seen), "confirm"))
    assert is_error
    assert text == (
        "Tool 'confirm' failed: the route raised ClientRequestError: elicitation/create failed: "
        "Method not found: protocol revision 2025-03-26 has no elicitation/create."
    )
    grouped, is_error = shown(await refused_call(asking_app(handler, seen), "confirm_grouped"))
    assert (grouped, is_error) == (text.replace("'confirm'", "'confirm_grouped'"), True)
    assert seen.calls == []


@pytest.mark.parametrize("handler", [False, True])
async def test_a_group_of_refusals_shows_each_reason(handler: bool) -> None:
    """Review: a route whose concurrent questions were all refused (a task group's
    ``ExceptionGroup`` of ``ClientRequestError``s) gave "the route raised ExceptionGroup", without
    the client's reasons; a group of one now reads as the refusal alone (above), and one of several
    gives each reason, in the group's order."""
    seen = Seen()
    assert shown(await refused_call(asking_app(handler, seen), "confirm_both")) == (
        "Tool 'confirm_both' failed: the route raised ClientRequestErrors: "
        "elicitation/create failed: Method not found: protocol revision 2025-03-26 has no elicitation/create; "
        "sampling/createMessage failed: Invalid params: protocol revision 2025-03-26 has no tool use in "
        "sampling/createMessage (tools: 2025-11-25 and later).",
        True,
    )
    assert seen.calls == []


async def test_an_app_failure_beside_the_refusal_still_reaches_the_handler() -> None:
    """A group holding an app failure too is the app's to report (the refusal alone is not)."""
    seen = Seen()
    assert shown(await refused_call(asking_app(True, seen), "confirm_and_fail")) == (ANSWERED, True)
    assert [exc for _, path, exc in seen.calls] == [
        "ExceptionGroup('both failed', [ClientRequestError('elicitation/create failed: "
        "Method not found: protocol revision 2025-03-26 has no elicitation/create'), RuntimeError('app bug')])"
    ]


async def test_an_app_wrapped_directly_hands_a_refusal_to_its_handler_a_documented_limit() -> None:
    """``MCPMiddleware(app)``: the sub-request enters the app above its ``ServerErrorMiddleware``
    (Starlette's and FastAPI's ``__call__``), which hands every exception to the handler before
    we see it; only re-implementing those ``__call__``s (``scope["app"]``, ``root_path``, FastAPI's
    telemetry) or rebuilding the app's middleware stack would enter below it. So, unlike with
    ``add_middleware``, the handler sees a refusal and answers the call (README, ARCHITECTURE)."""
    seen = Seen()
    app = FastAPI()
    app.add_exception_handler(Exception, seen.async_handler)

    @app.post("/confirm", operation_id="confirm")
    async def confirm(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        return await ctx.elicit("Proceed?", {"type": "object", "properties": {}})

    assert shown(await refused_call(MCPMiddleware(app), "confirm")) == (ANSWERED, True)  # type: ignore[arg-type]
    assert [exc for _, _, exc in seen.calls] == [
        "ClientRequestError('elicitation/create failed: Method not found: protocol revision 2025-03-26 "
        "has no elicitation/create')"
    ]


def test_a_nested_group_of_refusals_names_each_distinct_reason_once() -> None:
    """Task groups in task groups nest their groups; the same refusal twice reads once."""
    stopped = ClientRequestError("roots/list", {"message": "Connection closed"})
    other = ClientRequestError("elicitation/create", {"message": "declined"})
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [stopped, other]), stopped])
    assert _raised(nested) == (
        "ClientRequestErrors: roots/list failed: Connection closed; elicitation/create failed: declined"
    )
    assert (
        _raised(ExceptionGroup("g", [stopped, stopped])) == "ClientRequestError: roots/list failed: Connection closed"
    )
    assert _raised(ExceptionGroup("g", [stopped, RuntimeError("bug")])) == "ExceptionGroup"


class _NoBytesBody(Response):
    """A response whose last ``http.response.body`` carries a str or None, where ASGI says bytes."""

    def __init__(self, body: Any) -> None:
        self.no_bytes = body
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": self.no_bytes})


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("body", ['{"id": 1}', None])
async def test_a_last_body_that_is_no_bytes_fails_the_call_as_the_route_raising(era: str, body: Any) -> None:
    """Review s10f (s10p's str_body): a route whose last ``http.response.body`` carries a str or
    None (breaking the ASGI contract) was answered "200 OK", a success, since the body's
    ``bytes()`` raised after the response was taken as complete; since 70fd728 ``child_send``
    converts it first, the TypeError reaches the route's ``send``, and the call fails as the route
    raising TypeError, the better answer. Pinned here."""

    async def no_bytes(request: Request) -> Response:
        return _NoBytesBody(body)

    app = Starlette(routes=[Route("/no_bytes", no_bytes)])
    app.add_middleware(MCPMiddleware)
    result = await call(app, era, "no_bytes", {})
    assert shown(result) == ("Tool 'no_bytes' failed: the route raised TypeError.", True)
