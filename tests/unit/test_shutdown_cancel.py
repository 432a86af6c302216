"""A call whose request task is cancelled while the server shuts down still gets a final answer.

uvicorn, told to stop, waits ``--timeout-graceful-shutdown`` for the open responses, then cancels
their tasks (``task.cancel(msg=UVICORN_SHUTDOWN_CANCEL)``). A streaming ``tools/call``'s SSE stream
then ended with no JSON-RPC response (clients.md #7; the Streamable HTTP spec: the server SHOULD
NOT close the stream before its response), and a plain JSON call got no response at all. Now the
request gets -32000 "the server is shutting down" (the shutdown's error for a pending question,
``interaction.SHUTTING_DOWN``) as the last event of its stream, or as its JSON response when nothing
was written yet, and the cancellation goes on (the task still ends cancelled, the route's work
stops). Without the exit flag a cancellation is not told from any other: nothing is written, as
before; nor is anything written for a client that has gone, or once a JSON head is out.

The cancel is driven as uvicorn drives it (a cancel of the request's task, with its message); any
other cancellation (an outer middleware's time limit, with anyio or asyncio, BaseHTTPMiddleware's
task group, a bare ``task.cancel()``) is not the server's and is left alone. The shutdown as in
test_shutdown_questions (the flag uvicorn's SIGTERM handler sets). No sleeps: events say when the
route is running.
"""

from __future__ import annotations

import asyncio
import math
import signal
from collections.abc import AsyncIterator, Iterator
from types import FrameType
from typing import Any

import anyio
import anyio.lowlevel
import orjson
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_middleware import MCPMiddleware
from mcp_middleware.transport import _responder
from mcp_middleware.transport._http import UVICORN_SHUTDOWN_CANCEL
from tests.support import BASE_HEADERS, Exchange, modern_headers, modern_request, request

pytestmark = pytest.mark.anyio
GUARD = 10
HEADERS = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
SHUTDOWN_ERROR = {"code": -32000, "message": "Connection closed: the server is shutting down"}


class FakeUvicorn:
    """What a uvicorn ``Server`` shows of itself: its bound ``handle_exit`` is the SIGTERM handler
    while it serves, and sets ``should_exit``."""

    def __init__(self) -> None:
        self.should_exit = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.should_exit = True


@pytest.fixture
def uvicorn_server() -> Iterator[FakeUvicorn]:
    server = FakeUvicorn()
    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        yield server
    finally:
        signal.signal(signal.SIGTERM, previous)


class Routes:
    """A streaming route (one chunk, then waits) and a plain one (waits); each says it is running."""

    def __init__(self) -> None:
        self.running = anyio.Event()
        self.stopped: list[str] = []  # what reached each route: its work stops as before
        self.app = FastAPI()

        @self.app.post("/chat", operation_id="chat")
        async def chat() -> StreamingResponse:
            async def tokens() -> AsyncIterator[str]:
                yield "tok0 "
                self.running.set()
                try:
                    await anyio.sleep_forever()
                except BaseException as exc:
                    self.stopped.append(type(exc).__name__)
                    raise
                yield "never"

            return StreamingResponse(tokens(), media_type="text/plain")

        @self.app.post("/slow", operation_id="slow")
        async def slow() -> dict[str, Any]:
            self.running.set()
            try:
                await anyio.sleep_forever()
            except BaseException as exc:
                self.stopped.append(type(exc).__name__)
                raise
            return {}

        self.app.add_middleware(MCPMiddleware)


def call(era: str, tool: str, token: bool) -> tuple[dict[str, Any], dict[str, str]]:
    params: dict[str, Any] = {"name": tool, "arguments": {}}
    if era == "legacy":
        if token:
            params["_meta"] = {"progressToken": "p"}
        return request("tools/call", params, 9), HEADERS
    extra = {"progressToken": "p"} if token else {}
    return modern_request("tools/call", params, 9, **extra), modern_headers("tools/call", tool)


class Recording(Exchange):
    """An exchange whose ``send`` yields at every message, as a server's may (so that a cancellation
    reaching the task is delivered there), and can hold one body message until released."""

    def __init__(self, *args: Any, hold: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hold = hold  # the index of the body message to hold (0: the first)
        self.held = anyio.Event()
        self.release = anyio.Event()
        self.bodies = 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            index, self.bodies = self.bodies, self.bodies + 1
            if index == self.hold:
                self.held.set()
                await self.release.wait()
        await anyio.lowlevel.checkpoint()
        await super().send(message)


async def cancelled_in_shutdown(
    ex: Exchange, running: anyio.Event, server: FakeUvicorn | None, seen: anyio.Event | None = None
) -> None:
    """Run ``ex`` in a task of its own, as uvicorn does; once the route runs (and ``seen`` is set),
    set the exit flag (when ``server``) and cancel the task, as uvicorn does when its graceful
    timeout runs out. The task must end cancelled."""
    task = asyncio.ensure_future(ex.run())
    with anyio.fail_after(GUARD):
        await running.wait()
        if seen is not None:
            await seen.wait()
        if server is not None:
            server.should_exit = True
        task.cancel(UVICORN_SHUTDOWN_CANCEL)
        with pytest.raises(asyncio.CancelledError):
            await task


def final_error(ex: Exchange) -> dict[str, Any]:
    assert ex.done.is_set(), "the response did not end"
    final = ex.reply.messages()[-1]
    assert final == {"jsonrpc": "2.0", "id": 9, "error": SHUTDOWN_ERROR}, final
    return final


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_streamed_call_ends_with_the_shutdown_error(uvicorn_server: FakeUvicorn, era: str) -> None:
    routes = Routes()
    ex = Exchange(routes.app, *call(era, "chat", token=True))
    await cancelled_in_shutdown(ex, routes.running, uvicorn_server)
    assert ex.reply.content_type.startswith("text/event-stream")
    events = ex.reply.events()
    assert events[0]["method"] == "notifications/progress"  # the chunk streamed before
    final_error(ex)
    assert ex.reply.more_flags[-1] is False  # the stream ends with it
    assert routes.stopped == ["CancelledError"]  # the route's work stopped, as before


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_plain_call_gets_the_shutdown_error_as_its_json_response(uvicorn_server: FakeUvicorn, era: str) -> None:
    routes = Routes()
    ex = Exchange(routes.app, *call(era, "slow", token=False))
    await cancelled_in_shutdown(ex, routes.running, uvicorn_server)
    assert ex.reply.status == 200
    assert ex.reply.content_type == "application/json"
    final_error(ex)
    assert routes.stopped == ["CancelledError"]


@pytest.mark.parametrize("tool", ["chat", "slow"])
async def test_without_the_exit_flag_nothing_is_written(tool: str) -> None:
    """A cancellation that is not told to be the server's shutdown leaves the response as it was
    (no server flag: it cannot be told from any other)."""
    routes = Routes()
    ex = Exchange(routes.app, *call("legacy", tool, token=True))
    await cancelled_in_shutdown(ex, routes.running, None)
    assert not ex.done.is_set()
    assert all("error" not in m and "result" not in m for m in ex.reply.events())


async def test_an_event_cut_off_by_the_cancellation_is_followed_by_the_error(uvicorn_server: FakeUvicorn) -> None:
    """The cancellation reaches the task while one of its events is being sent (the server had not
    taken it): the error still follows, as an event of its own."""
    routes = Routes()
    ex = Recording(routes.app, *call("legacy", "chat", token=True), hold=0)  # the progress event
    await cancelled_in_shutdown(ex, ex.held, uvicorn_server)
    events = ex.reply.events()
    assert [e.get("method") for e in events[:-1]] == []  # the cut-off progress never went out
    final_error(ex)


async def test_a_json_head_already_out_is_left_alone(uvicorn_server: FakeUvicorn) -> None:
    """Cancelled while its JSON response is being written: nothing can be added to it."""
    app = FastAPI()

    @app.post("/quick", operation_id="quick")
    async def quick() -> dict[str, Any]:
        return {"ok": True}

    app.add_middleware(MCPMiddleware)
    ex = Recording(app, *call("legacy", "quick", token=False), hold=0)  # the JSON body
    await cancelled_in_shutdown(ex, ex.held, uvicorn_server)
    assert ex.reply.status == 200
    assert ex.reply.chunks == []  # the body was cut off; no second head, no error after it
    assert not ex.done.is_set()


async def test_a_client_that_has_gone_is_written_nothing(uvicorn_server: FakeUvicorn) -> None:
    """Once the client went away (its disconnect seen), there is nobody to answer."""
    responder = _responder.Responder(Recording(FastAPI(), b"").send)
    await responder.event(b'{"jsonrpc":"2.0","method":"notifications/progress","params":{}}')
    responder.abandon()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    responder._send = send
    await responder.last_word(b"{}", 200)
    assert sent == []


class OuterTimeout:
    """An outer middleware with a time limit of its own (an anyio cancel scope, as ``fail_after``)
    that sends its own 504 when the limit ends the request; ``fire`` ends it at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limit = anyio.CancelScope()

    def fire(self) -> None:
        self.limit.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.limit:
            await self.app(scope, receive, send)
        if self.limit.cancelled_caught:
            await JSONResponse({"detail": "timeout"}, 504)(scope, receive, send)


class OuterAsyncioTimeout:
    """The same written with ``asyncio.timeout``, which cancels the task with a bare
    ``task.cancel()``, as uvicorn does but without its message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def fire(self) -> None:
        self.limit.reschedule(asyncio.get_running_loop().time())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(None) as self.limit:
                await self.app(scope, receive, send)
        except TimeoutError:
            await JSONResponse({"detail": "timeout"}, 504)(scope, receive, send)


@pytest.mark.parametrize("outer_type", [OuterTimeout, OuterAsyncioTimeout])
async def test_an_outer_time_limit_at_shutdown_is_left_to_it(
    uvicorn_server: FakeUvicorn, outer_type: type[OuterTimeout | OuterAsyncioTimeout]
) -> None:
    """An outer timeout middleware's limit (anyio's or asyncio's) that ends the request while the
    server shuts down: the cancellation is its own, not the server's, and goes through untouched;
    the outer middleware's 504 goes out. (Review: both were answered as the server's, -32000, and
    the 504 then met a finished response; 99ef606 told anyio's apart only, and asyncio's cancels
    the task just as uvicorn does: uvicorn's cancel is told by its message.)"""
    routes = Routes()
    outer = outer_type(routes.app)
    ex = Exchange(outer, *call("legacy", "slow", token=False))
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await routes.running.wait()
            uvicorn_server.should_exit = True
            outer.fire()
    assert routes.stopped == ["CancelledError"]
    assert ex.reply.status == 504
    assert ex.reply.json() == {"detail": "timeout"}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_bare_cancel_at_shutdown_is_not_answered(uvicorn_server: FakeUvicorn, era: str) -> None:
    """A ``task.cancel()`` without uvicorn's message, while the exit flag is up, is somebody
    else's: nothing is written, the task ends cancelled."""
    routes = Routes()
    ex = Exchange(routes.app, *call(era, "chat", token=True))
    task = asyncio.ensure_future(ex.run())
    with anyio.fail_after(GUARD):
        await routes.running.wait()
        uvicorn_server.should_exit = True
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not ex.done.is_set()
    assert all("error" not in m and "result" not in m for m in ex.reply.events())


async def test_a_stream_ended_by_an_outer_scope_at_shutdown_gets_no_error(uvicorn_server: FakeUvicorn) -> None:
    """The same for a streamed call: nothing is added to its stream, the scope catches its own
    cancellation."""
    routes = Routes()
    ex = Exchange(routes.app, *call("legacy", "chat", token=True))
    with anyio.fail_after(GUARD):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(ex.run)
                await routes.running.wait()
                uvicorn_server.should_exit = True
                scope.cancel()
    assert scope.cancelled_caught
    assert routes.stopped == ["CancelledError"]
    assert not ex.done.is_set()
    assert all("error" not in m and "result" not in m for m in ex.reply.events())


class OuterTaskGroup:
    """An outer middleware that runs the app in its own task, beside a task of its own (a task
    group's scope encloses the app, not cancelled)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep_forever)
            await self.app(scope, receive, send)
            tg.cancel_scope.cancel()


async def test_the_servers_cancel_inside_an_outer_task_group_is_answered(uvicorn_server: FakeUvicorn) -> None:
    """The server's own cancel (``task.cancel`` with uvicorn's message) still gets the error with an
    outer task group in the same task."""
    routes = Routes()
    ex = Exchange(OuterTaskGroup(routes.app), *call("legacy", "chat", token=True))
    await cancelled_in_shutdown(ex, routes.running, uvicorn_server)
    final_error(ex)


async def test_behind_base_http_middleware_no_last_word_is_tried(
    uvicorn_server: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette's BaseHTTPMiddleware outside runs the app in a task of its own, which its task
    group's scope cancels when the server cancels the request: nothing would reach the client (its
    response stream has nobody reading it), and a write blocked there until ``LAST_WORD_SECONDS``,
    holding the task and the lifespan. The scope's cancellation is not answered."""
    tried: list[bytes] = []
    last_word = _responder.Responder.last_word

    async def spy(self: _responder.Responder, payload: bytes, *args: Any) -> None:
        tried.append(payload)
        await last_word(self, payload, *args)

    monkeypatch.setattr(_responder.Responder, "last_word", spy)
    routes = Routes()

    async def passthrough(request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)

    routes.app.add_middleware(BaseHTTPMiddleware, dispatch=passthrough)
    for tool, token in (("slow", False), ("chat", True)):
        routes.running = anyio.Event()
        ex = Exchange(routes.app, *call("legacy", tool, token=token))
        await cancelled_in_shutdown(ex, routes.running, uvicorn_server)
        assert not ex.done.is_set()
    assert tried == []
    assert routes.stopped == ["CancelledError", "CancelledError"]


async def test_a_client_that_takes_nothing_does_not_hold_the_task(
    uvicorn_server: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error's write is bounded (``LAST_WORD_SECONDS``): a client that reads nothing more (the
    server's send never returns) does not keep the cancelled task alive, and the cancellation goes on."""
    monkeypatch.setattr(_responder, "LAST_WORD_SECONDS", 0)
    routes = Routes()
    ex = Recording(routes.app, *call("legacy", "chat", token=True), hold=1)  # what follows the progress
    await cancelled_in_shutdown(ex, routes.running, uvicorn_server, seen=ex.started)
    assert ex.held.is_set()
    assert not ex.done.is_set()


async def test_a_failing_send_does_not_replace_the_cancellation(uvicorn_server: FakeUvicorn) -> None:
    """A server that refuses the error's message (its connection broke) raises from ``send``: the
    task still ends cancelled, not with that error."""
    routes = Routes()
    ex = Exchange(routes.app, *call("legacy", "chat", token=True))
    real = ex.send

    async def send(message: Message) -> None:
        if b"-32000" in message.get("body", b""):
            raise OSError("connection reset")
        await real(message)

    ex.send = send  # type: ignore[method-assign]
    await cancelled_in_shutdown(ex, routes.running, uvicorn_server)
    assert not ex.done.is_set()


def test_the_error_is_the_shutdown_error_of_questions() -> None:
    from mcp_middleware.interaction import SHUTTING_DOWN

    assert orjson.loads(orjson.dumps(SHUTTING_DOWN)) == SHUTDOWN_ERROR


def lifespan_of(app: FastAPI, shutdown: anyio.Event, seen: list[bool], ex: Exchange) -> tuple[Any, Any, Any]:
    """A lifespan as uvicorn runs it; ``seen`` gets, when the app has shut down, whether ``ex``'s
    response had ended by then."""
    messages: list[Message] = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        if messages:
            return messages.pop()
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            seen.append(ex.done.is_set())

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    return scope, receive, send


async def test_the_lifespan_shutdown_waits_for_the_cancelled_calls_answer(uvicorn_server: FakeUvicorn) -> None:
    """uvicorn cancels the calls still running, then ends the app's lifespan and exits: the process
    was gone before a cancelled call had unwound (the interop test's failure). The middleware holds
    ``lifespan.shutdown`` back until the call has written its error."""
    routes = Routes()
    ex = Exchange(routes.app, *call("legacy", "chat", token=True))
    shutdown, seen = anyio.Event(), list[bool]()
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(routes.app, *lifespan_of(routes.app, shutdown, seen, ex))
            task = asyncio.ensure_future(ex.run())
            await routes.running.wait()
            uvicorn_server.should_exit = True
            task.cancel(UVICORN_SHUTDOWN_CANCEL)  # as uvicorn does: the cancel, then lifespan.shutdown at once
            shutdown.set()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert seen == [True]
    final_error(ex)


async def test_the_lifespan_shutdown_waits_a_bounded_time(
    uvicorn_server: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that is not cancelled (a server sending ``lifespan.shutdown`` with responses still
    open) or does not unwind holds the lifespan no longer than ``LAST_WORD_SECONDS``."""
    monkeypatch.setattr(_responder, "LAST_WORD_SECONDS", 0)
    routes = Routes()
    ex = Exchange(routes.app, *call("legacy", "chat", token=True))
    shutdown, seen = anyio.Event(), list[bool]()
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(routes.app, *lifespan_of(routes.app, shutdown, seen, ex))
            tg.start_soon(ex.run)
            await routes.running.wait()
            uvicorn_server.should_exit = True
            shutdown.set()
            while not seen:
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    assert seen == [False]  # the lifespan ended while the call ran on


async def test_the_lifespan_shutdown_does_not_wait_for_a_call_with_nothing_left_to_write(
    uvicorn_server: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call whose client has gone (its response closed) but whose route still cleans up (shielded)
    has nothing to write: the lifespan is not held for it (unbounded here: it would wait for good)."""
    monkeypatch.setattr(_responder, "LAST_WORD_SECONDS", math.inf)
    app, cleaning, release = FastAPI(), anyio.Event(), anyio.Event()
    running = anyio.Event()

    @app.post("/stubborn", operation_id="stubborn")
    async def stubborn() -> StreamingResponse:
        async def tokens() -> AsyncIterator[str]:
            yield "tok0 "
            running.set()
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    cleaning.set()
                    await release.wait()
            yield "never"

        return StreamingResponse(tokens(), media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    ex = Exchange(app, *call("legacy", "stubborn", token=True))
    shutdown, seen = anyio.Event(), list[bool]()
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(app, *lifespan_of(app, shutdown, seen, ex))
            tg.start_soon(ex.run)
            await running.wait()
            ex.disconnect.set()  # the client goes: its route's response hears it, the route cleans up
            await cleaning.wait()
            uvicorn_server.should_exit = True
            shutdown.set()
            try:
                while not seen:
                    await anyio.lowlevel.checkpoint()
            finally:
                ended_first = not release.is_set()  # the route still ran when the lifespan ended
                release.set()  # (also when the guard ends the wait: the route's cleanup is shielded)
    assert ended_first
    assert seen == [False]


BATCH_HEADERS = {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"}


def batch_app() -> Routes:
    routes = Routes()

    @routes.app.post("/quick", operation_id="quick")
    async def quick() -> dict[str, Any]:
        return {"ok": True}

    return routes


def tool_call(tool: str, id: int, token: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "arguments": {}}
    if token:
        params["_meta"] = {"progressToken": "p"}
    return request("tools/call", params, id)


@pytest.mark.parametrize(("tool", "streamed"), [("slow", False), ("chat", True)])
async def test_a_batch_cut_off_answers_each_request(uvicorn_server: FakeUvicorn, tool: str, streamed: bool) -> None:
    """A 2025-03-26 batch: the replies of the calls that ran, then the shutdown's error for the one
    cut off and for each one after it (a refused item keeps its own error), as one JSON array, or as
    the stream's last events when a call streamed."""
    routes = batch_app()
    batch = [tool_call("quick", 1), tool_call(tool, 2, token=True), tool_call("quick", 3), {"jsonrpc": "2.0", "id": 4}]
    ex = Exchange(routes.app, batch, BATCH_HEADERS)
    await cancelled_in_shutdown(ex, routes.running, uvicorn_server)
    assert ex.done.is_set()
    if streamed:
        assert ex.reply.content_type.startswith("text/event-stream")
        messages = [m for m in ex.reply.events() if "id" in m]
    else:
        assert ex.reply.content_type == "application/json"
        messages = ex.reply.json()
    assert [m["id"] for m in messages] == [1, 2, 3, 4]
    assert "result" in messages[0]
    assert [m["error"] for m in messages[1:3]] == [SHUTDOWN_ERROR, SHUTDOWN_ERROR]
    assert messages[3]["error"]["code"] == -32600


async def test_a_batch_cut_off_without_the_exit_flag_gets_nothing() -> None:
    routes = batch_app()
    ex = Exchange(routes.app, [tool_call("quick", 1), tool_call("slow", 2)], BATCH_HEADERS)
    await cancelled_in_shutdown(ex, routes.running, None)
    assert not ex.done.is_set()


async def test_a_batch_ended_by_an_outer_scope_at_shutdown_is_left_to_it(uvicorn_server: FakeUvicorn) -> None:
    """A batch's cancellation by an enclosing anyio scope is not the server's either: the outer
    middleware's 504 goes out, no batch reply before it."""
    routes = batch_app()
    outer = OuterTimeout(routes.app)
    ex = Exchange(outer, [tool_call("quick", 1), tool_call("slow", 2)], BATCH_HEADERS)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await routes.running.wait()
            uvicorn_server.should_exit = True
            outer.fire()
    assert ex.reply.status == 504
    assert ex.reply.json() == {"detail": "timeout"}


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_batch_cut_off_with_no_reply_ends_without_an_event(streaming: bool) -> None:
    """``handshake._batch_shut`` given no reply: nothing ran that answers and nothing cut off is a
    request (each earlier request cancelled, only a notification left). The batch ends as
    ``_batch`` ends one whose every request was cancelled: a stream that ends without an event (a
    batch reply is never an empty array), after what it streamed, if anything."""
    from mcp_middleware.jsonrpc import Notification
    from mcp_middleware.transport.handshake import _batch_shut

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    server = MCPMiddleware(FastAPI()).server
    responder = _responder.Responder(send)
    if streaming:
        await responder.event(b'{"jsonrpc":"2.0","method":"notifications/progress","params":{}}')
    written = len(sent)
    await _batch_shut(server, responder, [], [Notification("notifications/initialized", None)])
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    head = sent[0]
    assert head["status"] == 200
    assert (b"content-type", b"text/event-stream") in head["headers"]
    assert len(sent) == written + (1 if streaming else 2)  # (not streaming: the stream's head, its end)
    assert server.registry.answering == 0
