"""``subscriptions/listen`` streams: a client reading slowly, what a stream holds pending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from starlette.types import Message

from mcp_middleware.handlers import Server
from mcp_middleware.listen import Listeners
from tests.apps import build_app, mcp_of
from tests.support import Exchange, meta, modern_headers, request

pytestmark = pytest.mark.anyio

GUARD = 10
# The stream's own poll period (min(keepalive, 1 s)): short, since the bug was that period
# expiring during a write, so the test has to let it expire (see below).
INTERVAL = 0.02


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


def listen(app: Any, wanted: dict[str, Any], id: str = "s") -> Exchange:
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
    uris = [f"test://item/{i}" for i in range(100)]
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
