"""``subscriptions/listen`` streams: a client reading slowly, what a stream holds pending."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from sse_starlette.sse import AppStatus
from starlette.types import Message

from mcp_middleware import listen as listen_module
from mcp_middleware.handlers import Server
from mcp_middleware.listen import Listeners, shutting_down
from tests.apps import build_app, mcp_of
from tests.support import Exchange, meta, modern_headers, request

pytestmark = pytest.mark.anyio

GUARD = 10
# The stream's own poll period (min(keepalive, 1 s)): short, since the bug was that period
# expiring during a write, so the test has to let it expire (see below).
INTERVAL = 0.1


class SlowClient(Exchange):
    """A client that stops reading: once ``holding``, each body send waits for ``release``."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.holding = False
        self.held = anyio.Event()
        self.release = anyio.Event()
        self.write_cancelled = anyio.Event()

    async def send(self, message: Message) -> None:
        if self.holding and message["type"] == "http.response.body":
            self.held.set()
            try:
                await self.release.wait()
            except anyio.get_cancelled_exc_class():
                self.write_cancelled.set()
                raise
        await super().send(message)


def _tools(server: Server) -> None:
    server.listeners.publish("tools")


def _readme(server: Server) -> None:
    server.resource_updated("test://readme")


@pytest.mark.parametrize(
    ("change", "expected"),
    [(_tools, "notifications/tools/list_changed"), (_readme, "notifications/resources/updated")],
)
async def test_a_notification_written_to_a_slow_client_is_not_dropped(
    change: Callable[[Server], None], expected: str
) -> None:
    """The wait for the next notification had a time limit that also covered writing it: a write
    still blocked when the limit expired was cancelled, and the notification was lost."""
    app = build_app(keepalive_interval=INTERVAL)
    wanted = {"toolsListChanged": True, "resourceSubscriptions": ["test://readme"]}
    body = request("subscriptions/listen", {"notifications": wanted, "_meta": meta()}, id="s")
    client = SlowClient(app, body, modern_headers("subscriptions/listen"))
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            while not client.reply.chunks:
                await client.chunk_seen.wait()
            client.holding = True
            change(mcp_of(app).server)
            await client.held.wait()
            # Nothing but the clock can show the write is no longer cut short: give the poll period
            # time to expire several times over (the unfixed stream cancels the write at once).
            with anyio.move_on_after(5 * INTERVAL):
                await client.write_cancelled.wait()
            assert not client.write_cancelled.is_set()
            client.holding = False
            client.release.set()
            while len(client.reply.events()) < 2:
                await client.chunk_seen.wait()
            client.disconnect.set()
    ack, notification = client.reply.events()[:2]
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert notification["method"] == expected
    assert notification["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": "s"}


# --- what a stream has pending: coalesced, in the order of first arrival ------------------------------

RESOURCE_UPDATED = "notifications/resources/updated"
TOOLS_CHANGED = "notifications/tools/list_changed"


def listen(app: Any, wanted: dict[str, Any], id: str | int = "s") -> Exchange:
    body = request("subscriptions/listen", {"notifications": wanted, "_meta": meta()}, id=id)
    return Exchange(app, body, modern_headers("subscriptions/listen"))


async def acknowledged(stream: Exchange) -> None:
    while not stream.reply.chunks:
        await stream.chunk_seen.wait()


async def events(stream: Exchange, count: int) -> list[dict[str, Any]]:
    while len(stream.reply.events()) < count:
        await stream.chunk_seen.wait()
    return stream.reply.events()


def updated(uri: str) -> tuple[str, Any]:
    return RESOURCE_UPDATED, uri


def shown(event: dict[str, Any]) -> tuple[str, Any]:
    return event["method"], event["params"].get("uri")


async def test_updates_published_before_the_stream_runs_all_arrive_once_in_order() -> None:
    """A route announcing 100 updates in a loop publishes them all before the stream writes one
    (publishing does not wait): a queue of 64 dropped the rest. Pending updates are coalesced per
    stream instead: each URI once, in the order of its first update, list changes as flags."""
    app = build_app()
    uris = [f"test://items/{i}" for i in range(100)]  # served: the app's template test://items/{item_id}
    stream = listen(app, {"resourceSubscriptions": uris, "toolsListChanged": True})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            await acknowledged(stream)
            server = mcp_of(app).server
            for uri in uris:  # one burst: nothing is written until it is over
                server.resource_updated(uri)
            server.listeners.publish("tools")
            for uri in reversed(uris[:10]):
                server.resource_updated(uri)  # pending already
            server.listeners.publish("tools")  # pending already
            server.resource_updated("test://not-subscribed")
            await events(stream, 1 + len(uris) + 1)
            server.resource_updated(uris[0])  # written already: pending again, and sent again
            got = await events(stream, 1 + len(uris) + 2)
            stream.disconnect.set()
    assert [shown(e) for e in got[1:]] == [*map(updated, uris), (TOOLS_CHANGED, None), updated(uris[0])]
    assert all(e["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": "s"} for e in got[1:])


async def test_what_a_stream_holds_is_bounded_by_what_it_subscribed_to() -> None:
    listeners = Listeners()
    listener = listeners.open(frozenset({"tools"}), frozenset({"test://a", "test://b"}))
    try:
        for _ in range(1000):
            listeners.resource_updated("test://b")
            listeners.publish("prompts")  # not asked for
            listeners.publish("tools")
            listeners.resource_updated("test://a")
            listeners.resource_updated("test://c")  # not subscribed
        assert len(listener.pending) == 3
        taken = [listener.take() for _ in range(4)]
    finally:
        listeners.close(listener)
    assert taken == [
        (RESOURCE_UPDATED, {"uri": "test://b"}),
        (TOOLS_CHANGED, {}),
        (RESOURCE_UPDATED, {"uri": "test://a"}),
        None,
    ]


async def test_an_empty_uri_is_a_resource_update_like_any_other() -> None:
    listeners = Listeners()
    listener = listeners.open(frozenset(), frozenset({""}))
    try:
        listeners.resource_updated("")
        assert listener.take() == (RESOURCE_UPDATED, {"uri": ""})
    finally:
        listeners.close(listener)


# --- the server ends its streams when it shuts down ------------------------------------------------------


class FakeUvicorn:
    """What a uvicorn ``Server`` shows of itself: its ``handle_exit``, bound, is the SIGTERM handler
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


def ended_gracefully(stream: Exchange, id: str | int) -> None:
    """The stream's last event is the empty subscriptions/listen result, and the response is over."""
    assert stream.done.is_set()
    last = stream.reply.events()[-1]
    assert last["id"] == id
    assert last["result"]["resultType"] == "complete"
    assert last["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == id
    assert set(last["result"]) == {"resultType", "_meta"}


async def test_a_server_shutting_down_ends_each_stream_with_the_empty_result(uvicorn_server: FakeUvicorn) -> None:
    """subscriptions.mdx: a server ending a subscription (during shutdown) sends the empty
    subscriptions/listen result carrying its subscription id, then closes the stream. Nothing told
    the streams that uvicorn was shutting down, and uvicorn waits for open responses to finish."""
    app = build_app()
    tools = listen(app, {"toolsListChanged": True}, id=7)
    readme = listen(app, {"resourceSubscriptions": ["test://readme"]}, id="r")
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            for stream in (tools, readme):
                tg.start_soon(stream.run)
                await acknowledged(stream)
            server = mcp_of(app).server
            server.listeners.tick()  # not shutting down: nothing happens
            assert len(server.listeners) == 2
            server.resource_updated("test://readme")
            uvicorn_server.should_exit = True  # what its SIGTERM handler does
            server.listeners.tick()
            server.resource_updated("test://readme")  # after the end: not for these streams
            for stream in (tools, readme):
                await stream.done.wait()
    ended_gracefully(tools, 7)
    assert [e.get("method") for e in tools.reply.events()] == ["notifications/subscriptions/acknowledged", None]
    ended_gracefully(readme, "r")
    assert [shown(e) for e in readme.reply.events()[1:-1]] == [updated("test://readme")]  # what was pending
    assert len(server.listeners) == 0
    assert not server.listeners.ticking  # nothing left to tick for


async def test_sse_starlettes_app_status_ends_them_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """``AppStatus.should_exit`` is sse-starlette's public shutdown flag (set by its own hook into
    uvicorn, or by the app for servers it does not know): its SSE responses stop on it, and so do
    listen streams."""
    app = build_app()
    stream = listen(app, {"toolsListChanged": True})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            await acknowledged(stream)
            monkeypatch.setattr(AppStatus, "should_exit", True)
            mcp_of(app).server.listeners.tick()
            await stream.done.wait()
    ended_gracefully(stream, "s")


async def test_the_ticker_is_a_timer_on_the_loop_while_streams_are_open(
    uvicorn_server: FakeUvicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One timer per server and loop (not a task per stream) notices route changes and checks
    for shutdown; here it fires at every turn of the loop, so nothing but the timer announces the
    route and ends the stream."""
    monkeypatch.setattr(listen_module, "TICK_SECONDS", 0)
    app = build_app()
    stream = listen(app, {"toolsListChanged": True})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            await acknowledged(stream)
            assert mcp_of(app).server.listeners.ticking

            async def added() -> dict[str, str]:
                return {"new": "yes"}

            app.add_api_route("/added", added, operation_id="added_later")
            await events(stream, 2)
            uvicorn_server.should_exit = True
            await stream.done.wait()
    assert shown(stream.reply.events()[1]) == (TOOLS_CHANGED, None)
    ended_gracefully(stream, "s")
    assert not mcp_of(app).server.listeners.ticking


async def test_the_ticker_stops_with_the_last_stream() -> None:
    app = build_app()
    stream = listen(app, {"toolsListChanged": True})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            await acknowledged(stream)
            listeners = mcp_of(app).server.listeners
            assert listeners.ticking
            stream.disconnect.set()
    assert not stream.done.is_set()  # the client left: an abrupt close, no result
    assert len(listeners) == 0
    listeners.tick()
    assert not listeners.ticking


async def test_a_tick_announces_routes_added_at_run_time() -> None:
    """Routes added or removed at run time are noticed once per tick for all of a server's
    streams (each stream walked the route table every second)."""
    app = build_app()
    stream = listen(app, {"toolsListChanged": True})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            await acknowledged(stream)

            async def added() -> dict[str, str]:
                return {"new": "yes"}

            app.add_api_route("/added", added, operation_id="added_later")
            mcp_of(app).server.listeners.tick()
            got = await events(stream, 2)
            stream.disconnect.set()
    assert shown(got[1]) == (TOOLS_CHANGED, None)


async def test_a_failing_refresh_is_logged_and_the_ticker_goes_on(
    uvicorn_server: FakeUvicorn, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("the route table is broken")

    listeners = Listeners(broken)
    listener = listeners.open(frozenset({"tools"}), frozenset())
    try:
        with caplog.at_level(logging.ERROR, logger="mcp_middleware.listen"):
            listeners.tick()
        assert "the route table is broken" in caplog.text
        assert listeners.ticking
        uvicorn_server.should_exit = True
        listeners.tick()
        assert listener.ended
    finally:
        listeners.close(listener)


async def test_the_lifespan_shutdown_ends_open_streams() -> None:
    """A server that sends ``lifespan.shutdown`` while responses are still open (uvicorn does only
    once they are all over) ends the listen streams through the middleware too."""
    app = build_app()
    shutdown = anyio.Event()
    sent: list[Message] = []
    queue = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        if queue:
            return queue.pop()
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        sent.append(message)

    stream = listen(app, {"toolsListChanged": True})
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(app, scope, receive, send)
            tg.start_soon(stream.run)
            await acknowledged(stream)
            shutdown.set()
            await stream.done.wait()
    ended_gracefully(stream, "s")
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_portable_streams_tick_themselves(uvicorn_server: FakeUvicorn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an asyncio loop to set a timer on, each stream's own wait is cut at the tick period
    and ticks (at most once per period for all streams)."""
    monkeypatch.setattr(listen_module, "PORTABLE_TICKS", True)
    monkeypatch.setattr(listen_module, "TICK_SECONDS", 0.001)
    app = build_app()
    stream = listen(app, {"toolsListChanged": True})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            await acknowledged(stream)
            assert not mcp_of(app).server.listeners.ticking
            uvicorn_server.should_exit = True
            await stream.done.wait()
    ended_gracefully(stream, "s")


class _NotAFlag:
    def should_exit(self) -> bool:
        return True

    def handle(self, sig: int, frame: FrameType | None) -> None:
        return None


def _plain(sig: int, frame: FrameType | None) -> None:
    return None


@pytest.mark.parametrize("handler", [signal.SIG_DFL, _plain, _NotAFlag().handle])
def test_only_a_servers_own_flag_says_it_is_shutting_down(handler: Any) -> None:
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        assert not shutting_down()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_server_that_is_not_shutting_down_is_not(uvicorn_server: FakeUvicorn) -> None:
    assert not shutting_down()
    uvicorn_server.should_exit = True
    assert shutting_down()


async def test_one_timer_however_the_ticks_come(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick called other than by the timer (the lifespan, a test) sets the timer again in place
    of the one that was set, not beside it: each turn of the loop then ticks once, not twice."""
    monkeypatch.setattr(listen_module, "TICK_SECONDS", 0)  # every turn of the loop
    ticks: list[None] = []
    listeners = Listeners(lambda: ticks.append(None))
    listener = listeners.open(frozenset({"tools"}), frozenset())
    try:
        listeners.tick()
        before = len(ticks)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert 10 <= len(ticks) - before <= 21
    finally:
        listeners.close(listener)
        listeners.tick()  # no stream left: the timer stops
    assert not listeners.ticking


class StrayMessageClient(Exchange):
    """A client whose server hands the app one more ``http.request`` after the body (ASGI promises
    only ``http.disconnect`` there; the stream must not take it for one)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.stray_taken = anyio.Event()

    async def receive(self) -> Message:
        if self._body or self.stray_taken.is_set():
            return await super().receive()
        self.stray_taken.set()
        return {"type": "http.request", "body": b"", "more_body": False}


async def test_a_message_that_is_no_disconnect_leaves_the_stream_open() -> None:
    app = build_app()
    body = request("subscriptions/listen", {"notifications": {"toolsListChanged": True}, "_meta": meta()}, id="p")
    client = StrayMessageClient(app, body, modern_headers("subscriptions/listen"))
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            while not client.reply.chunks:
                await client.chunk_seen.wait()
            await client.stray_taken.wait()
            await anyio.wait_all_tasks_blocked()  # the stream's watcher has read it, and waits again
            _tools(mcp_of(app).server)
            while len(client.reply.events()) < 2:
                await client.chunk_seen.wait()
            client.disconnect.set()
    ack, changed = client.reply.events()
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert changed["method"] == "notifications/tools/list_changed"
    assert len(mcp_of(app).server.listeners) == 0


@pytest.mark.parametrize("flag", ["toolsListChanged", "promptsListChanged", "resourcesListChanged"])
@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "off"])
async def test_a_list_flag_that_is_no_boolean_is_32602(flag: str, value: Any) -> None:
    """Fuzzing review: {"toolsListChanged": "yes"} passed the SDK's type (pydantic reads "yes", 1,
    "off" as booleans) and was acknowledged with {} (the stream read it as not true), where a
    resourceSubscriptions of [1] is -32602. The schema's flags are booleans: -32602 alike, with the
    request's id, before anything is written."""
    body = request("subscriptions/listen", {"notifications": {flag: value}, "_meta": meta()}, id="L1")
    ex = Exchange(build_app(), body, modern_headers("subscriptions/listen"))
    with anyio.fail_after(GUARD):
        await ex.run()
    assert ex.reply.status == 400
    assert ex.reply.json() == {
        "jsonrpc": "2.0",
        "id": "L1",
        "error": {"code": -32602, "message": f"Invalid params: notifications.{flag}: Input should be a valid boolean"},
    }


@pytest.mark.parametrize("value", [True, False, None])
async def test_a_list_flag_that_is_a_boolean_or_null_is_acknowledged(value: Any) -> None:
    body = request("subscriptions/listen", {"notifications": {"toolsListChanged": value}, "_meta": meta()}, id="L1")
    ex = Exchange(build_app(), body, modern_headers("subscriptions/listen"))
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not ex.reply.chunks:
                await ex.chunk_seen.wait()
            ex.disconnect.set()
    acknowledged = ex.reply.events()[0]
    assert acknowledged["method"] == "notifications/subscriptions/acknowledged"
    assert acknowledged["params"]["notifications"] == ({"toolsListChanged": True} if value else {})
