"""``subscriptions/listen`` streams whose client reads slowly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from starlette.types import Message

from mcp_middleware.handlers import Server
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
