"""``subscriptions/listen`` (2026-07-28, subscriptions.mdx): long-lived streams of list changes.

Each open listen stream registers a bounded queue with the filter the client asked for; a change
(``ctx.tools_changed()``, ``MCPMiddleware.notify_*``) is published to the streams of this process
that asked for that kind. Nothing is kept for streams that are not open: a client that reconnects
re-lists. A stream whose queue is full (a client not reading) skips notifications rather than
blocking the publisher: list-changed notifications are idempotent hints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["FILTER_KEYS", "Listener", "Listeners"]

# notification kind ──▶ the SubscriptionFilter flag that asks for it, and the method sent
FILTER_KEYS: Mapping[str, tuple[str, str]] = {
    "tools": ("toolsListChanged", "notifications/tools/list_changed"),
    "prompts": ("promptsListChanged", "notifications/prompts/list_changed"),
    "resources": ("resourcesListChanged", "notifications/resources/list_changed"),
}


@dataclass(eq=False, slots=True)
class Listener:
    kinds: frozenset[str]
    uris: frozenset[str]
    send: MemoryObjectSendStream[tuple[str, dict[str, Any]]]
    receive: MemoryObjectReceiveStream[tuple[str, dict[str, Any]]]


@dataclass(slots=True)
class Listeners:
    _open: set[Listener] = field(default_factory=set)

    def open(self, kinds: frozenset[str], uris: frozenset[str]) -> Listener:
        send, receive = anyio.create_memory_object_stream[tuple[str, dict[str, Any]]](64)
        listener = Listener(kinds, uris, send, receive)
        self._open.add(listener)
        return listener

    def close(self, listener: Listener) -> None:
        self._open.discard(listener)
        listener.send.close()
        listener.receive.close()

    def publish(self, kind: str) -> None:
        """Offer a list-changed notification to the open streams that asked for ``kind``."""
        method = FILTER_KEYS[kind][1]
        for listener in list(self._open):
            if kind in listener.kinds:
                self._offer(listener, method, {})

    def resource_updated(self, uri: str) -> None:
        for listener in list(self._open):
            if uri in listener.uris:
                self._offer(listener, "notifications/resources/updated", {"uri": uri})

    @staticmethod
    def _offer(listener: Listener, method: str, params: dict[str, Any]) -> None:
        with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            listener.send.send_nowait((method, params))

    def __len__(self) -> int:
        return len(self._open)
