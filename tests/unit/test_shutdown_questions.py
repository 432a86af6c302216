"""A handshake-era question waiting for its answer when the server shuts down fails at once.

uvicorn, told to stop (SIGTERM, Ctrl-C), stops accepting connections, so the client's answer POST
can never arrive; it then waits for the open responses, and the call's stream stayed open (its
keep-alives) until ``ask_timeout`` (600 s): past any orchestrator's grace period, which then killed
every other call of the process. The wait now checks for shutdown as the listen streams do
(``listen.shutting_down``, every ``listen.TICK_SECONDS``; a ``lifespan.shutdown`` passing through
the middleware too): the question fails in the route (``ClientRequestError``, -32000), the client
is told its request is cancelled, and the call ends with the route's result. The shutdown is driven
as in tests/unit/test_listen.py: a stand-in for uvicorn's SIGTERM handler and its flag.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Annotated, Any

import anyio
import orjson
import pytest
from fastapi import Depends, FastAPI
from starlette.types import Message

from mcp_middleware import ClientRequestError, Elicit, ListRoots, MCPContext, MCPMiddleware, mcp_context
from mcp_middleware import listen as listen_module
from tests.apps import mcp_of
from tests.support import BASE_HEADERS, Exchange, post, request

pytestmark = pytest.mark.anyio
GUARD = 10
HEADERS = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}
SHUTDOWN_ERROR = {"code": -32000, "message": "Connection closed: the server is shutting down"}
# what the route sees: the public ClientRequestError (an operator's log names it so), for the first question
REFUSED = {"client_error": SHUTDOWN_ERROR, "method": "elicitation/create", "kind": "ClientRequestError"}


class FakeUvicorn:
    """What a uvicorn ``Server`` shows of itself: its bound ``handle_exit`` is the SIGTERM handler
    while it serves, and sets ``should_exit``."""

    def __init__(self) -> None:
        self.should_exit = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.should_exit = True


@pytest.fixture
def uvicorn_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeUvicorn]:
    """The stand-in server; the wait checks for shutdown at every turn of the loop."""
    monkeypatch.setattr(listen_module, "TICK_SECONDS", 0)
    server = FakeUvicorn()
    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        yield server
    finally:
        signal.signal(signal.SIGTERM, previous)


def asking_app() -> FastAPI:
    """Routes asking one thing, or two at once, that report how asking ended."""
    app = FastAPI()

    async def outcome(ask: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        try:
            return {"answers": await ask}
        except ClientRequestError as exc:
            return {"client_error": exc.error, "method": exc.method, "kind": type(exc).__name__}

    @app.post("/one", operation_id="one")
    async def one(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        return await outcome(ctx.elicit("Name?", SCHEMA))

    @app.post("/two", operation_id="two")
    async def two(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        return await outcome(ctx.ask({"a": Elicit("Name?", SCHEMA), "b": ListRoots()}))

    app.add_middleware(MCPMiddleware)  # ask_timeout: the default 600 s, far beyond GUARD
    return app


def call(tool: str) -> dict[str, Any]:
    return request("tools/call", {"name": tool, "arguments": {}}, 5)


async def asked(ex: Exchange, count: int) -> list[dict[str, Any]]:
    """Wait until ``count`` requests are out on the call's stream; those requests."""
    while len(ex.reply.events()) < count:
        await ex.chunk_seen.wait()
    return ex.reply.events()[:count]


def outcome(events: list[dict[str, Any]]) -> Any:
    final = events[-1]
    assert final["id"] == 5
    assert "isError" not in final["result"]
    return orjson.loads(final["result"]["content"][0]["text"])


@pytest.mark.parametrize(("tool", "count"), [("one", 1), ("two", 2)])
async def test_a_waiting_question_fails_once_the_server_shuts_down(
    uvicorn_server: FakeUvicorn, tool: str, count: int
) -> None:
    app = asking_app()
    ex = Exchange(app, call(tool), HEADERS)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            requests = await asked(ex, count)
            uvicorn_server.should_exit = True  # what its SIGTERM handler does
            await ex.done.wait()
    events = ex.reply.events()
    cancelled = [e["params"] for e in events if e.get("method") == "notifications/cancelled"]
    assert cancelled == [{"requestId": r["id"], "reason": "the server is shutting down"} for r in requests]
    assert outcome(events) == REFUSED
    assert len(mcp_of(app).server.pending) == 0


async def test_an_answer_that_came_before_the_shutdown_is_used(uvicorn_server: FakeUvicorn) -> None:
    """The route is not robbed of an answer it already has: shutting down ends only the wait."""
    app = asking_app()
    ex = Exchange(app, call("one"), HEADERS)
    answer = {"action": "accept", "content": {"name": "Ann"}}
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            (question,) = await asked(ex, 1)
            reply = {"jsonrpc": "2.0", "id": question["id"], "result": answer}
            assert mcp_of(app).server.pending.resolve(question["id"], reply, question_caller(app, question))
            uvicorn_server.should_exit = True  # before the route resumed
            await ex.done.wait()
    assert outcome(ex.reply.events()) == {"answers": answer}


def question_caller(app: FastAPI, question: dict[str, Any]) -> str:
    """The caller key the question was asked of (the one its answer must come from)."""
    return mcp_of(app).server.pending._waiting[question["id"]].caller


@pytest.mark.parametrize("tool", ["one", "two"])
async def test_a_question_asked_while_the_server_shuts_down_fails_at_once(
    uvicorn_server: FakeUvicorn, tool: str
) -> None:
    """Nothing is sent: the answer could not come back."""
    app = asking_app()
    uvicorn_server.should_exit = True
    with anyio.fail_after(GUARD):
        reply = await post(app, call(tool), HEADERS)
    assert reply.content_type == "application/json"  # nothing streamed: no request went out
    assert outcome(reply.messages()) == REFUSED
    assert len(mcp_of(app).server.pending) == 0


async def test_a_question_refused_for_the_shutdown_uses_up_no_key(uvicorn_server: FakeUvicorn) -> None:
    """Review: the refusal of a question asked while the server shuts down (nothing sent) still
    used up its key: the route's next question under the same key raised "already asked" instead
    of the shutdown's ClientRequestError again."""
    app = FastAPI()

    @app.post("/twice", operation_id="twice")
    async def twice(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> list[Any]:
        seen: list[Any] = []
        for _ in range(2):
            try:
                await ctx.elicit("Name?", SCHEMA, key="k")
            except ClientRequestError as exc:
                seen.append(exc.error)
            except ValueError as exc:
                seen.append(str(exc))
        return seen

    app.add_middleware(MCPMiddleware)
    uvicorn_server.should_exit = True
    with anyio.fail_after(GUARD):
        reply = await post(app, call("twice"), HEADERS)
    assert reply.content_type == "application/json"  # nothing streamed: no request went out
    assert outcome(reply.messages()) == [SHUTDOWN_ERROR, SHUTDOWN_ERROR]
    assert len(mcp_of(app).server.pending) == 0


async def test_the_lifespan_shutdown_ends_the_wait_too() -> None:
    """A server that sends ``lifespan.shutdown`` while responses are still open (uvicorn does only
    once they are over) ends waiting questions through the middleware, as it ends listen streams;
    and a question asked after it fails at once."""
    app = asking_app()
    shutdown = anyio.Event()
    queue: list[Message] = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        if queue:
            return queue.pop()
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        return None

    ex = Exchange(app, call("one"), HEADERS)
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(app, scope, receive, send)
            tg.start_soon(ex.run)
            (question,) = await asked(ex, 1)
            shutdown.set()
            await ex.done.wait()
        later = await post(app, call("one"), HEADERS)
    cancelled = [e["params"] for e in ex.reply.events() if e.get("method") == "notifications/cancelled"]
    assert cancelled == [{"requestId": question["id"], "reason": "the server is shutting down"}]
    assert outcome(ex.reply.events()) == REFUSED
    assert outcome(later.messages()) == REFUSED


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[list[str]]:
    """One lifespan of ``app`` as a server runs it: startup on entry, shutdown on exit, each awaited
    to completion; yields the types of the messages the app sent."""
    messages: list[Message] = [{"type": "lifespan.startup"}]
    sent: list[str] = []
    shutdown, started, over = anyio.Event(), anyio.Event(), anyio.Event()

    async def receive() -> Message:
        if messages:
            return messages.pop()
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        sent.append(message["type"])
        (started if message["type"] == "lifespan.startup.complete" else over).set()

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    async with anyio.create_task_group() as tg:
        tg.start_soon(app, scope, receive, send)
        await started.wait()
        yield sent
        shutdown.set()
        await over.wait()


async def answered(app: FastAPI) -> None:
    """What the route asking one question gets when the question goes out and is answered."""
    answer = {"action": "accept", "content": {"name": "Ann"}}
    ex = Exchange(app, call("one"), HEADERS)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ex.run)
        await ex.started.wait()
        assert ex.reply.headers["content-type"] == "text/event-stream", ex.reply  # the question went out
        (question,) = await asked(ex, 1)
        reply = {"jsonrpc": "2.0", "id": question["id"], "result": answer}
        assert mcp_of(app).server.pending.resolve(question["id"], reply, question_caller(app, question))
        await ex.done.wait()
    assert outcome(ex.reply.events()) == {"answers": answer}


async def test_a_second_lifespan_asks_again() -> None:
    """The same app run twice in one process (a module-level app with ``with TestClient(app):`` in
    each test, asgi-lifespan's LifespanManager, a reload): the first lifespan's shutdown does not
    outlive it. Starlette keeps the middleware it built, so the questions of the second lifespan
    went to a server still marked as shutting down, and failed at once without being sent."""
    app = asking_app()
    with anyio.fail_after(GUARD):
        for _ in range(2):
            async with lifespan(app) as sent:
                await answered(app)
            assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        later = await post(app, call("one"), HEADERS)  # after the second shutdown: refused again
    assert outcome(later.messages()) == REFUSED


async def test_a_lifespan_after_a_uvicorn_run_asks_again() -> None:
    """uvicorn's flag says it shuts down only while its handler is the SIGTERM handler: once it has
    stopped (and put the previous handler back), the app's next lifespan asks again."""
    app = asking_app()
    server = FakeUvicorn()
    with anyio.fail_after(GUARD):
        previous = signal.signal(signal.SIGTERM, server.handle_exit)  # as uvicorn.Server.capture_signals
        try:
            async with lifespan(app):
                await answered(app)
                server.should_exit = True  # told to stop
                refused = await post(app, call("one"), HEADERS)
        finally:
            signal.signal(signal.SIGTERM, previous)
        async with lifespan(app):
            await answered(app)
    assert outcome(refused.messages()) == REFUSED
