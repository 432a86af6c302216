"""A call stopped (its time limit, a cancel) while its route is in a step that cannot be cancelled.

Starlette runs a ``StreamingResponse`` over a plain (sync) iterator one step at a time in a worker
thread (``requests``' ``iter_lines``, a sync LLM client): no cancellation reaches that step, and the
task group around it waits for it. The call's outcome must not wait for it too, and nothing more may
be written for a stopped call. The route's step here waits on a ``threading.Event`` the test sets.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from types import SimpleNamespace
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from mcp_types import LOG_LEVEL_META_KEY
from starlette.types import Message

from mcp_middleware import ClientRequestError, MCPContext, MCPMiddleware, declare, mcp_context, toolcall
from mcp_middleware._call_context import STOPPED
from mcp_middleware.context import ContextHolder
from mcp_middleware.dispatch import SubRequest
from mcp_middleware.results import ResponseCollector
from mcp_middleware.sse import KEEPALIVE
from tests.apps import mcp_of
from tests.support import BASE_HEADERS, MODERN, Exchange, cancelled, meta, modern_headers, request

pytestmark = pytest.mark.anyio
# a stuck call's time limit: its result, with what the route sent before its blocked step
TIMED_OUT = "Tool 'stuck' timed out after 0.5 s and was cancelled.\n\nOutput before the failure:\nfirst "

GUARD = 10  # seconds: a deadlock guard only; nothing waits on time


class _Step:
    """The route's blocking step: ``blocked`` once its worker thread waits, until ``release``."""

    def __init__(self) -> None:
        self.blocked = threading.Event()
        self.release = threading.Event()

    async def reached(self) -> None:
        """Until the route's worker thread waits in its step (waited for in a thread: no sleep)."""
        await anyio.to_thread.run_sync(self.blocked.wait, abandon_on_cancel=True)


@pytest.fixture
async def step() -> AsyncIterator[_Step]:
    step = _Step()
    try:
        yield step
    finally:
        step.blocked.set()  # whatever happened: no thread is left waiting
        step.release.set()


@pytest.fixture(params=["asyncio-native", "portable"])
def guard_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both cancel guards and watchers: asyncio's (with the ticker), and the anyio one of other backends."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", request.param == "portable")
    value: str = request.param
    return value


def _stuck_app(step: _Step, fails: bool = False, **options: Any) -> FastAPI:
    """A route whose second step blocks its worker thread until released; then it yields (or,
    ``fails``, raises)."""
    app = FastAPI()

    @app.get("/stuck", operation_id="stuck", openapi_extra=declare.resource("test://stuck", tool=True))
    def stuck() -> StreamingResponse:
        def chunks() -> Iterator[str]:
            yield "first "
            step.blocked.set()
            step.release.wait()  # in Starlette's worker thread: no cancellation reaches it
            if fails:
                raise ConnectionError("the upstream stream broke")
            yield "second"

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_middleware(MCPMiddleware, **options)
    return app


def _call(era: str, id: int = 1) -> tuple[dict[str, Any], dict[str, str] | None]:
    params: dict[str, Any] = {"name": "stuck", "arguments": {}}
    if era == "modern":
        params["_meta"] = meta(progressToken="tok")
        return request("tools/call", params, id), modern_headers("tools/call", "stuck")
    params["_meta"] = {"progressToken": "tok"}
    return request("tools/call", params, id), None


def _late_writes(ex: Exchange) -> list[Message]:
    """What the call writes after its response ended (recorded, not sent: it must stay empty)."""
    late: list[Message] = []
    send = ex.send

    async def recording(message: Message) -> None:
        if ex.done.is_set():
            late.append(message)
            return
        await send(message)

    ex.send = recording  # type: ignore[method-assign]
    return late


def _progress(ex: Exchange) -> list[str]:
    events = ex.reply.events()
    return [e["params"].get("message", "") for e in events if e.get("method") == "notifications/progress"]


@pytest.mark.parametrize("era", ["handshake", "modern"])
@pytest.mark.parametrize("then", ["yields", "fails"])
async def test_a_timed_out_call_is_answered_while_its_route_cannot_be_unwound(
    era: str, then: str, guard_path: str, step: _Step, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: the time limit's result came only when the route's blocked step returned (never,
    for one that does not), with keep-alives, heartbeats and the route's next chunk after the
    deadline. Now the result goes out within a tick of the deadline and the response ends; the
    route counts as running until it returns, and what it sends then goes nowhere (a failure is
    logged, as one after a complete response is)."""
    fails = then == "fails"
    # the limit leaves the route ample time to reach its blocked step on a loaded machine (the test
    # waits for that step, so a limit that fired first would leave it waiting to its guard)
    app = _stuck_app(step, fails, call_timeout=0.5, keepalive_interval=0.1)  # the ticker: every 50 ms
    body, headers = _call(era)
    ex = Exchange(app, body, headers)
    late = _late_writes(ex)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await step.reached()
                await ex.done.wait()  # the result, with the route still in its step
                registry = mcp_of(app).server.registry
                assert registry.active == 1  # its route has not returned: it still counts
            finally:
                step.release.set()  # (also when the test fails: the task group waits for the route)
    assert registry.active == 0
    assert len(registry) == 0
    result = ex.reply.events()[-1]["result"]
    assert result["isError"] is True
    assert result["content"][0]["text"] == TIMED_OUT  # what the route sent before: "second" never came
    assert "second" not in _progress(ex)
    assert ex.reply.more_flags[-1] is False
    assert late == []
    failures = [r for r in caplog.records if r.name == "mcp_middleware.toolcall"]
    if fails:
        assert [r.getMessage() for r in failures] == ["Tool 'stuck': the app failed after its call was stopped"]
        assert failures[0].exc_info is not None
    else:
        assert failures == []


async def test_a_cancelled_call_ends_its_stream_while_its_route_cannot_be_unwound(guard_path: str, step: _Step) -> None:
    """Review: after notifications/cancelled the stream stayed open until the route's blocked step
    returned, with keep-alives, heartbeats and then the route's next chunk as progress. Now nothing
    more is written but the end of the stream (no result), within a tick of the cancel."""
    app = _stuck_app(step, keepalive_interval=0.1)
    body, _ = _call("handshake", id=7)
    ex = Exchange(app, body)
    late = _late_writes(ex)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await step.reached()
                assert (await Exchange(app, cancelled(7)).run()).status == 202
                sent = len(ex.reply.chunks)  # keep-alives and heartbeats went out until now
                await ex.done.wait()
                assert ex.reply.chunks[sent:] == [b""]  # then the end of the stream alone
                registry = mcp_of(app).server.registry
                assert registry.active == 1
            finally:
                step.release.set()
    assert registry.active == 0
    assert all(b'"result"' not in c for c in ex.reply.chunks)
    assert "second" not in _progress(ex)
    assert late == []


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_binary_stream_past_its_limit_is_answered_while_its_route_cannot_be_unwound(
    era: str, guard_path: str, step: _Step
) -> None:
    """The route is stopped at ``max_binary_bytes`` as a cancel stops it (``_RunHandle.overflow``);
    a next step that no cancellation reaches is not waited for either: the limit's result goes
    out within a tick (as a timeout's would), and the route counts as running until it returns."""
    app = FastAPI()

    def blocked() -> None:
        step.blocked.set()
        step.release.wait()

    @app.get("/bin", operation_id="bin")
    def binary() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):  # the third crosses the limit
                yield b"\xff" * 1000
            with anyio.CancelScope(shield=True):  # a step no cancellation reaches
                await anyio.to_thread.run_sync(blocked)
            yield b"\xff" * 1000

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    app.add_middleware(MCPMiddleware, max_binary_bytes=2500, keepalive_interval=0.1)
    params: dict[str, Any] = {"name": "bin", "arguments": {}}
    if era == "modern":
        body, headers = request("tools/call", {**params, "_meta": meta()}), modern_headers("tools/call", "bin")
    else:
        body, headers = request("tools/call", params), None
    ex = Exchange(app, body, headers)
    late = _late_writes(ex)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await step.reached()
                await ex.done.wait()
                registry = mcp_of(app).server.registry
                assert registry.active == 1
            finally:
                step.release.set()
    assert registry.active == 0
    result = ex.reply.result()
    assert result["isError"] is True
    assert result["content"] == [
        {"type": "text", "text": "Tool 'bin' failed: the response exceeded the 2500-byte limit."}
    ]
    assert late == []


class _Outbox:
    closed = False
    lost = False  # (Outbox: a write found the client gone)

    def __init__(self, answerable: bool = False) -> None:
        self.sent: list[str] = []
        self.answerable = answerable  # a tools/call's, outside a batch: its outcome can go out early

    async def keepalive(self) -> None:
        self.sent.append("keep-alive")

    async def notify(self, method: str, params: Any) -> None:
        self.sent.append(method)

    def abandon(self) -> None:
        self.sent.append("abandon")

    def answer(self) -> Callable[[dict[str, Any] | None], Awaitable[None]] | None:
        return self._answer if self.answerable else None

    async def _answer(self, result: dict[str, Any] | None) -> None:
        self.sent.append("answer")


async def _expired() -> asyncio.Timeout:
    """An asyncio time limit that has fired (at once: no time passes)."""
    try:
        async with asyncio.timeout(0) as guard:
            await asyncio.get_running_loop().create_future()
    except TimeoutError:
        pass
    return guard


@pytest.mark.parametrize("outcome", ["early", "written", "from the handler"])
@pytest.mark.parametrize("how", ["cancelled", "past its time limit", "over its limit"])
async def test_a_stopped_call_sends_no_heartbeat_or_chunk_and_a_keepalive_only_while_held(
    how: str, outcome: str
) -> None:
    """What the watcher and the route's ``send`` would write for a call once it is stopped, until
    its route unwinds (or forever, when it cannot), goes nowhere; but while its outcome can go out
    only when its handler returns (a resources/read, a prompts/get, a call in a batch), the stream
    is kept alive: keep-alive comments, still no progress heartbeat."""
    outbox = _Outbox(answerable=outcome != "from the handler")
    collector = ResponseCollector(path="/x", structured=False, max_text=100, max_binary=100)
    holder = ContextHolder(lambda: None)  # type: ignore[arg-type,return-value]  # never built here
    inv = toolcall.Invocation(None, {}, None, outbox, (), "tok", ("", 0), holder)  # type: ignore[arg-type]
    run = toolcall._ToolRun(collector, inv, SubRequest("GET", "/x"), toolcall.CallLimits(10.0, 5.0, 10, 10))
    run.on_head(200, [(b"content-type", b"text/plain")])
    pending = run.on_body(b"t0 ", True)
    assert pending is not None
    await pending  # a running call's chunk is progress
    assert outbox.sent == ["notifications/progress"]
    if how == "cancelled":
        run.cancel()
    elif how == "over its limit":
        run.overflow({"content": [], "isError": True})  # (its response outgrew max_binary_bytes)
    else:
        run._guard = await _expired()
    assert run.stopped()
    if outcome == "written":
        written = run._outcome()  # as the ticker (or the portable watcher) writes it
        assert written is not None
        await written
    await run.heartbeat()
    assert run.on_body(b"t1 ", True) is None
    assert run.on_body(b"t2 ", False) is None  # the last chunk of a streamed body
    expected = {"early": [], "written": ["answer"], "from the handler": ["keep-alive"]}[outcome]
    assert outbox.sent == ["notifications/progress", *expected]


class _Results(_Outbox):
    def __init__(self) -> None:
        super().__init__(answerable=True)
        self.results: list[dict[str, Any] | None] = []

    async def _answer(self, result: dict[str, Any] | None) -> None:
        self.results.append(result)


@pytest.mark.parametrize("cancelled_too", [False, True])
async def test_a_call_stopped_over_its_limit_is_stopped_once_and_a_cancel_after_it_leaves_no_outcome(
    cancelled_too: bool,
) -> None:
    """``overflow`` (the response outgrew ``max_binary_bytes``, from the route's own ``send``)
    cancels the guard's task from the next turn of the loop, and its outcome is the limit's result; a
    cancel after it stops nothing twice (one cancellation requested) and its outcome is nothing."""
    outbox = _Results()
    collector = ResponseCollector(path="/x", structured=False, max_text=100, max_binary=100)
    holder = ContextHolder(lambda: None)  # type: ignore[arg-type,return-value]  # never built here
    inv = toolcall.Invocation(None, {}, None, outbox, (), None, ("", 0), holder)  # type: ignore[arg-type]
    run = toolcall._ToolRun(collector, inv, SubRequest("GET", "/x"), toolcall.CallLimits(10.0, 5.0, 10, 10))
    guarded = asyncio.get_running_loop().create_task(anyio.sleep_forever())
    run._task = guarded
    limit = {"content": [{"type": "text", "text": "too large"}], "isError": True}
    run.overflow(limit)
    assert guarded.cancelling() == 0  # not from within: from the next turn of the loop
    if cancelled_too:
        run.cancel()
    await asyncio.sleep(0)  # (one turn: the deferred cancellation)
    assert guarded.cancelling() == 1
    assert run.stopped()
    assert run.is_set
    written = run._outcome()
    assert written is not None
    await written
    assert outbox.results == [None if cancelled_too else limit]
    with pytest.raises(asyncio.CancelledError):
        await guarded


def _unanswerable(kind: str) -> tuple[Any, dict[str, str] | None]:
    """A request whose stopped call cannot be answered before its handler returns: a
    resources/read (either era), or a tools/call in a 2025-03-26 batch."""
    if kind == "resource":
        return request("resources/read", {"uri": "test://stuck", "_meta": {"progressToken": "tok"}}, 7), None
    if kind == "modern resource":
        params = {"uri": "test://stuck", "_meta": meta(progressToken="tok")}
        return request("resources/read", params, 7), modern_headers("resources/read", "test://stuck")
    return [_call("handshake", id=7)[0]], None  # a batch: no version header, 2025-03-26


@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("resource", "timed out"),
        ("modern resource", "timed out"),  # (2026-07-28 has no notifications/cancelled)
        ("batched call", "timed out"),
        ("resource", "cancelled"),
        ("batched call", "cancelled"),
    ],
)
async def test_a_stopped_call_answered_only_by_its_handler_keeps_its_stream_alive(
    kind: str, how: str, guard_path: str, step: _Step
) -> None:
    """Review (r10): a stopped resources/read, prompts/get, or call in a batch, whose outcome goes
    out only when its route returns, sent no keep-alive while the route was held (1.7 s of silence
    with keepalive_interval=0.1: an idle timeout above the interval, as the README advises, would
    have lost the answer). Now keep-alive comments go on until the outcome is written: no progress
    heartbeat, not the route's next chunk, and nothing after the end."""
    # the limit leaves the route ample time to reach its blocked step on a loaded machine
    options: dict[str, Any] = {"call_timeout": 0.5} if how == "timed out" else {}
    app = _stuck_app(step, keepalive_interval=0.1, **options)
    body, headers = _unanswerable(kind)
    ex = Exchange(app, body, headers)
    while_stopped: list[bytes] = []  # what went out while the call was stopped, its route held
    kept_alive = anyio.Event()
    send = ex.send

    async def recording(message: Message) -> None:
        calls = list(mcp_of(app).server.registry._calls.values())  # (the app is built by now)
        if message["type"] == "http.response.body" and any(run.stopped() for run in calls):  # type: ignore[union-attr]
            while_stopped.append(message.get("body", b""))
            if while_stopped.count(KEEPALIVE) >= 3:
                kept_alive.set()
        await send(message)

    ex.send = recording  # type: ignore[method-assign]
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await step.reached()
                if how == "cancelled":
                    assert (await Exchange(app, cancelled(7)).run()).status == 202
                await kept_alive.wait()  # keep-alives, one interval apart, while the route is held
                assert not ex.done.is_set()
            finally:
                step.release.set()
    assert mcp_of(app).server.registry.active == 0
    assert set(while_stopped) == {KEEPALIVE}  # no progress heartbeat, no chunk
    assert "second" not in _progress(ex)
    replies = [m for m in ex.reply.events() if "id" in m]
    if how == "cancelled":
        assert replies == []  # a cancelled request gets no reply
    elif kind == "batched call":
        assert replies[0]["result"]["content"][0]["text"] == TIMED_OUT
    else:
        assert replies[0]["error"]["code"] == -32603
        # a JSON-RPC error's message is the sentence alone, not the text the route had streamed
        assert "first" not in replies[0]["error"]["message"]
        assert replies[0]["error"]["message"].endswith("timed out after 0.5 s and was cancelled.")
    assert ex.reply.more_flags[-1] is False


# -- what a stopped call's route sends through its MCP context -------------------------------------


EMPTY_FORM: dict[str, Any] = {"type": "object", "properties": {}}


class _Late:
    """What the route does through its context once released (in its worker thread), and how each
    attempt ended: ``"returned"``, or the name of the exception it raised."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}
        self.refusal: dict[str, Any] | None = None  # the error of a question refused
        self.finished = threading.Event()

    def __call__(self, ctx: MCPContext) -> None:
        modern = ctx.protocol_version == MODERN  # (a 2026-07-28 client here declares no roots)
        attempts: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
            "progress": lambda: ctx.report_progress(5, 10, "late progress"),
            "log": lambda: ctx.log("error", "late log"),
            "question": lambda: (
                ctx.elicit("Late?", {"type": "object", "properties": {}}) if modern else ctx.list_roots()
            ),
        }
        try:
            for what, attempt in attempts.items():
                try:
                    anyio.from_thread.run(attempt)
                    self.outcomes[what] = "returned"
                except BaseException as exc:  # (an InputNeeded too: recorded, the route goes on)
                    self.outcomes[what] = type(exc).__name__
                    if isinstance(exc, ClientRequestError):
                        self.refusal = exc.error
        finally:
            self.finished.set()

    async def done(self) -> None:
        await anyio.to_thread.run_sync(self.finished.wait, abandon_on_cancel=True)


def _context_app(step: _Step, late: _Late, route: str, gate: anyio.Event, **options: Any) -> FastAPI:
    """A route that uses its context once its blocked step is released: a ``StreamingResponse``
    over a sync iterator (held on both guard paths: its task group waits for the step), or a sync
    route (in a worker thread: the portable guard waits for it, asyncio's unwinds and leaves the
    thread running), which may take its context only then. ``/hold`` keeps a batch's stream open
    until ``gate`` is set."""
    app = FastAPI()

    @app.get("/stuck", operation_id="stuck", openapi_extra=declare.resource("test://stuck", tool=True))
    def stuck(request: Request) -> Any:
        ctx = None if route == "sync, context taken late" else mcp_context(request)

        def released() -> None:
            step.blocked.set()
            step.release.wait()  # in a worker thread: no cancellation reaches it
            late(ctx or mcp_context(request))  # late: built once the call is stopped (or over)

        if route.startswith("sync"):
            released()
            return "done"

        def chunks() -> Iterator[str]:
            yield "first "
            released()
            yield "second"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/hold", operation_id="hold")
    async def hold() -> str:
        await gate.wait()
        return "held"

    # ask_timeout: a safety net only (a question that reached the client would wait for its answer)
    app.add_middleware(MCPMiddleware, ask_timeout=GUARD / 2, **options)
    return app


def _stopped_request(kind: str) -> tuple[Any, dict[str, str] | None]:
    token = {"progressToken": "tok"}
    if kind == "batched call":  # no version header: 2025-03-26; the second call keeps the stream open
        stuck = request("tools/call", {"name": "stuck", "arguments": {}, "_meta": token}, 7)
        return [stuck, request("tools/call", {"name": "hold", "arguments": {}}, 8)], None
    if kind == "resource":
        return request("resources/read", {"uri": "test://stuck", "_meta": token}, 7), None
    params = {"uri": "test://stuck", "_meta": meta(progressToken="tok", **{LOG_LEVEL_META_KEY: "debug"})}
    return request("resources/read", params, 7), modern_headers("resources/read", "test://stuck")


@pytest.mark.parametrize(
    ("kind", "route", "how"),
    [
        ("batched call", "streaming", "timed out"),
        ("batched call", "streaming", "cancelled"),
        ("batched call", "sync", "timed out"),
        ("batched call", "sync", "cancelled"),
        ("batched call", "sync, context taken late", "timed out"),
        ("batched call", "sync, context taken late", "cancelled"),
        ("resource", "streaming", "timed out"),
        ("resource", "streaming", "cancelled"),
        ("modern resource", "streaming", "timed out"),  # (2026-07-28 has no notifications/cancelled)
    ],
)
async def test_a_stopped_call_s_context_sends_nothing_and_its_questions_fail(
    kind: str, route: str, how: str, guard_path: str, step: _Step
) -> None:
    """A stopped call whose stream stays open for its handler (a resources/read, a call in a batch)
    sent its route's later progress, logs and questions on it. Now progress and logs are dropped,
    and a question fails in the route at once (``ClientRequestError``) without reaching the client.
    (The asyncio guard unwinds a sync route at once and leaves its thread running: the call is
    still stopped for that thread.)"""
    late, gate = _Late(), anyio.Event()
    options: dict[str, Any] = {"call_timeout": 0.5} if how == "timed out" else {}
    app = _context_app(step, late, route, gate, keepalive_interval=0.1, **options)
    body, headers = _stopped_request(kind)
    ex = Exchange(app, body, headers)
    stopped = anyio.Event()
    run: Any = None
    send = ex.send

    async def watching(message: Message) -> None:  # keep-alives flow while the call is stopped
        registry = mcp_of(app).server.registry
        if run is not None and (run.stopped() or run not in registry._calls.values()):
            stopped.set()
        await send(message)

    ex.send = watching  # type: ignore[method-assign]
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                await step.reached()
                [run] = [r for (_, i), r in mcp_of(app).server.registry._calls.items() if i == 7]
                if how == "cancelled":
                    assert (await Exchange(app, cancelled(7)).run()).status == 202
                await stopped.wait()
                step.release.set()
                await late.done()
            finally:
                step.release.set()
                gate.set()
    events = ex.reply.events()
    assert [e for e in events if "late" in str(e.get("params", {}))] == []
    assert [e for e in events if e.get("method") in ("roots/list", "elicitation/create")] == []
    assert late.outcomes == {"progress": "returned", "log": "returned", "question": "ClientRequestError"}
    assert late.refusal == {
        "code": -32000,
        "message": "Connection closed: the call was stopped (cancelled, past its time limit, or its client left)",
    }
    assert "second" not in _progress(ex)
    assert ex.reply.more_flags[-1] is False


def test_the_registry_finds_the_call_a_context_serves_among_calls_sharing_its_key() -> None:
    """Calls of one id that the caller key cannot tell apart share the key: each context finds its
    own call (its stop state), and a context whose call has ended finds none."""
    holders = [ContextHolder(lambda _: None) for _ in range(3)]  # type: ignore[arg-type,return-value]
    runs: list[Any] = [SimpleNamespace(inv=SimpleNamespace(context=holder)) for holder in holders[:2]]
    registry = toolcall.CallRegistry()
    registry._calls[("", 1)] = runs[0]
    assert registry.holding(("", 1), holders[0]) is runs[0]
    registry.share(("", 1), runs[1])
    assert [registry.holding(("", 1), holder) for holder in holders] == [*runs, None]
    assert registry.holding(("", 2), holders[0]) is None


# -- a question already out when its call is stopped ------------------------------------------------


class _Asker:
    """A question asked from the route's worker thread, through ``anyio.from_thread.run`` (``how``
    "anyio") or ``asyncio.run_coroutine_threadsafe`` ("asyncio", on the loop it was given); how it
    ended: ``"returned"`` or the name of the exception it raised (with a ``ClientRequestError``'s
    error)."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.loop: asyncio.AbstractEventLoop | None = None
        self.outcome: str | None = None
        self.refusal: dict[str, Any] | None = None
        self.finished = threading.Event()

    def __call__(self, ctx: MCPContext, batched: bool) -> None:
        def question() -> Coroutine[Any, Any, Any]:  # (2025-03-26, a batch's revision, has no elicitation)
            return ctx.list_roots() if batched else ctx.elicit("Which?", EMPTY_FORM)

        try:
            if self.how == "anyio":
                anyio.from_thread.run(question)
            else:
                assert self.loop is not None
                asyncio.run_coroutine_threadsafe(question(), self.loop).result()
            self.outcome = "returned"
        except BaseException as exc:
            self.outcome = type(exc).__name__
            if isinstance(exc, ClientRequestError):
                self.refusal = exc.error
        finally:
            self.finished.set()

    async def done(self) -> None:
        await anyio.to_thread.run_sync(self.finished.wait, abandon_on_cancel=True)


def _asking_app(asker: _Asker, route: str, batched: bool, gate: anyio.Event, **options: Any) -> FastAPI:
    """A sync route asking its client from its worker thread (``route`` "sync": the route itself;
    "streaming": a ``StreamingResponse``'s sync iterator after its first chunk). ``/hold`` keeps a
    batch's stream open until ``gate`` is set."""
    app = FastAPI()

    @app.get("/asking", operation_id="asking")
    def asking(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        if route == "sync":
            asker(ctx, batched)
            return "done"

        def chunks() -> Iterator[str]:
            yield "first "
            asker(ctx, batched)
            yield "second"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/hold", operation_id="hold")
    async def hold() -> str:
        await gate.wait()
        return "held"

    # the question's own limit is beyond the test's guard: only the stop can end it in time
    app.add_middleware(MCPMiddleware, ask_timeout=GUARD * 3, keepalive_interval=0.1, **options)
    return app


@pytest.mark.parametrize("asking", ["anyio", "asyncio"])
@pytest.mark.parametrize("route", ["sync", "streaming"])
@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("call", "cancelled"),
        ("call", "cancelled within its time limit"),
        ("call", "disconnected"),
        ("call", "timed out"),
        ("batched call", "cancelled"),
        ("batched call", "timed out"),
    ],
)
async def test_a_question_out_when_its_call_is_stopped_fails_at_once(
    kind: str, how: str, route: str, asking: str, guard_path: str
) -> None:
    """Review: a question a route's worker thread was already waiting on when its call was stopped
    (cancelled, the client gone, its time limit) waited for its answer until ``ask_timeout``
    (600 s by default), holding the thread, and then sent its ``notifications/cancelled``. Now it
    fails at once, as a question asked after the stop does (``ClientRequestError``), and nothing
    more goes out for it. (A handshake-era client going away does not stop the call, which runs
    on as over HTTP, but its questions fail the same way: nobody can answer them.) (Where an
    anyio cancel scope around the thread is cancelled, the portable guard's or a streaming
    response's task group's, anyio cancels a question asked through ``anyio.from_thread.run``
    itself, as it documents: the thread gets that cancellation.)"""
    asker, gate = _Asker(asking), anyio.Event()
    asker.loop = asyncio.get_running_loop()
    batched = kind == "batched call"
    limits = {"timed out": 0.5, "cancelled within its time limit": GUARD * 3}  # (the latter never reached)
    options: dict[str, Any] = {"call_timeout": limits[how]} if how in limits else {}
    app = _asking_app(asker, route, batched, gate, **options)
    call = request("tools/call", {"name": "asking", "arguments": {}}, 7)
    if batched:  # no version header: 2025-03-26; the second call keeps the stream open
        ex = Exchange(app, [call, request("tools/call", {"name": "hold", "arguments": {}}, 8)])
    else:
        ex = Exchange(app, call, {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"})
    asked = "roots/list" if batched else "elicitation/create"
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            try:
                while not [e for e in ex.reply.events() if e.get("method") == asked]:
                    await ex.chunk_seen.wait()
                if how.startswith("cancelled"):
                    assert (await Exchange(app, cancelled(7)).run()).status == 202
                elif how == "disconnected":
                    ex.disconnect.set()
                await asker.done()
            finally:
                gate.set()
    # (a handshake-era disconnect cancels no scope: the portable guard's is left alone, a
    # streaming response's task group is cancelled by the response itself, hearing it)
    if asking == "anyio" and ((guard_path == "portable" and how != "disconnected") or route == "streaming"):
        assert (asker.outcome, asker.refusal) == ("CancelledError", None)
    else:
        assert (asker.outcome, asker.refusal) == ("ClientRequestError", STOPPED)
    events = ex.reply.events()
    assert [e for e in events if e.get("method") == "notifications/cancelled"] == []
    assert "second" not in str(events)
    if how == "timed out":
        assert [e["result"]["isError"] for e in events if e.get("id") == 7] == [True]
    else:
        assert [e for e in events if e.get("id") == 7] == []


# -- why a question a worker thread waits on gets anyio's cancellation, not ClientRequestError --------


HEADERS_2025_11_25 = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}


class _FallingBack:
    """A route's thread that asks and falls back on ``ClientRequestError`` (a client that cannot
    answer): what it caught, whether it fell back, whether its code after the question ran."""

    def __init__(self) -> None:
        self.caught: BaseException | None = None
        self.fell_back = False
        self.went_on = False
        self.finished = threading.Event()

    def __call__(self, ctx: MCPContext) -> None:
        try:
            try:
                anyio.from_thread.run(lambda: ctx.elicit("Which?", EMPTY_FORM))
            except ClientRequestError:
                self.fell_back = True
            self.went_on = True
        except BaseException as exc:
            self.caught = exc
            raise
        finally:
            self.finished.set()

    async def done(self) -> None:
        await anyio.to_thread.run_sync(self.finished.wait, abandon_on_cancel=True)


@pytest.mark.parametrize("how", ["cancelled", "timed out"])
@pytest.mark.parametrize(
    ("route", "guard"),
    [("sync", "portable"), ("streaming", "asyncio-native"), ("streaming", "portable")],
)
async def test_a_question_waiting_in_a_thread_whose_host_scope_the_stop_cancels_is_cancelled_and_still_cancels(
    route: str, guard: str, how: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The one case where a stopped call's question does not fail with ``ClientRequestError``: a
    worker thread's question (``anyio.from_thread.run``) already waiting when the stop cancels the
    anyio scope around that thread (the portable guard's; a ``StreamingResponse``'s task group).
    anyio cancels the task it runs the question in, as it documents, and the thread gets that
    cancellation: a ``BaseException``, which a fallback on ``ClientRequestError`` (or ``except
    Exception``) does not take for an answer, so the thread stops, its host unwinds as the scope's
    owner meant, and the call ends as a stopped call does (no result once cancelled, the timeout's
    result), with no route failure logged. ``LiveContext.ask`` cannot tell anyio's helper task from
    the route's own tasks, where turning the cancellation into a ``ClientRequestError`` would
    swallow it (see its comment): the next test shows that task's side; the cases that fail at once
    are ``test_a_question_out_when_its_call_is_stopped_fails_at_once``'s."""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", guard == "portable")
    thread = _FallingBack()
    app = FastAPI()

    @app.get("/asking", operation_id="asking")
    def asking(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        if route == "sync":
            thread(ctx)
            return "done"

        def chunks() -> Iterator[str]:
            yield "first "
            thread(ctx)
            yield "second"

        return StreamingResponse(chunks(), media_type="text/plain")

    options: dict[str, Any] = {"call_timeout": 0.5} if how == "timed out" else {}
    app.add_middleware(MCPMiddleware, ask_timeout=GUARD * 3, keepalive_interval=0.1, **options)
    ex = Exchange(app, request("tools/call", {"name": "asking", "arguments": {}}, 7), HEADERS_2025_11_25)
    with caplog.at_level(logging.DEBUG, "mcp_middleware"), anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not [e for e in ex.reply.events() if e.get("method") == "elicitation/create"]:
                await ex.chunk_seen.wait()
            if how == "cancelled":
                assert (await Exchange(app, cancelled(7)).run()).status == 202
            await thread.done()
    assert isinstance(thread.caught, anyio.get_cancelled_exc_class())
    assert not isinstance(thread.caught, Exception)
    assert (thread.fell_back, thread.went_on) == (False, False)
    events = ex.reply.events()
    assert "second" not in str(events)
    if how == "timed out":
        assert [e["result"]["isError"] for e in events if e.get("id") == 7] == [True]
    else:
        assert [e for e in events if e.get("id") == 7] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert mcp_of(app).server.registry.active == 0


@pytest.mark.parametrize("how", ["cancelled", "timed out"])
async def test_a_question_waiting_in_the_route_s_own_task_is_cancelled_not_answered(how: str, guard_path: str) -> None:
    """An async route's question, waiting in the route's own task when its call is stopped: the
    stop's cancellation reaches it as a cancellation (the guard takes back exactly its own), never
    as a ``ClientRequestError``, which the route's fallback would take for the client's answer and
    go on after its call was stopped."""
    fell_back, went_on = anyio.Event(), anyio.Event()
    app = FastAPI()

    @app.get("/asking", operation_id="asking")
    async def asking(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> str:
        try:
            await ctx.elicit("Which?", EMPTY_FORM)
        except ClientRequestError:
            fell_back.set()
        went_on.set()
        return "done"

    options: dict[str, Any] = {"call_timeout": 0.5} if how == "timed out" else {}
    app.add_middleware(MCPMiddleware, ask_timeout=GUARD * 3, **options)
    ex = Exchange(app, request("tools/call", {"name": "asking", "arguments": {}}, 7), HEADERS_2025_11_25)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not [e for e in ex.reply.events() if e.get("method") == "elicitation/create"]:
                await ex.chunk_seen.wait()
            if how == "cancelled":
                assert (await Exchange(app, cancelled(7)).run()).status == 202
            await ex.done.wait()
    assert (fell_back.is_set(), went_on.is_set()) == (False, False)
    results = [e for e in ex.reply.events() if e.get("id") == 7]
    if how == "timed out":
        assert results[0]["result"]["content"][0]["text"] == "Tool 'asking' timed out after 0.5 s and was cancelled."
    else:
        assert results == []
