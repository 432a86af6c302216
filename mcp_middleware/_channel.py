"""What both eras' channels share: how a route's run is ended early, and what a channel talks to.

Part of :mod:`mcp_middleware.interaction`, which re-exports these names:

- :class:`Abort` and its two kinds, :class:`InputNeeded` (the 2026-07-28 round ended: answer
  ``input_required``) and :class:`ProtocolAbort` (answer a protocol error). They derive from
  ``BaseException`` so that route code (and frameworks) catching ``Exception`` do not swallow
  them; the channel also remembers what happened, so the call runner knows even if something
  converted the exception into a 500 response;
- :class:`RequestOutbox`: the call's stream, for notifications and server→client requests;
  :class:`Notifier`: the server, for a route's list changes and resource updates;
- ``_Channel``, the base of both channels: notifications on the call's stream, and announcements.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .jsonrpc import ProtocolError

__all__ = ["Abort", "InputNeeded", "Notifier", "ProtocolAbort", "RequestOutbox", "_Channel"]


class Abort(BaseException):
    """Ends the route's run early; the call runner turns it into the right answer."""


class InputNeeded(Abort):
    pass


class ProtocolAbort(Abort):
    def __init__(self, error: ProtocolError) -> None:
        super().__init__(error.message)
        self.error = error


class RequestOutbox(Protocol):
    @property
    def streams(self) -> bool:
        """Whether the client takes an SSE stream (a request to it goes out on one)."""
        ...

    async def notify(self, method: str, params: Mapping[str, Any]) -> None: ...

    async def request(self, request_id: str, method: str, params: Mapping[str, Any]) -> None: ...


class Notifier(Protocol):
    """The server, as far as a route's announcements go."""

    async def list_changed(self, kind: str) -> None: ...

    def resource_updated(self, uri: str) -> None: ...


class _Channel:
    """What both eras' channels do alike: notifications on the call's stream, and announcements."""

    __slots__ = ("_notifier", "_outbox")

    def __init__(self, outbox: RequestOutbox, notifier: Notifier) -> None:
        self._outbox = outbox
        self._notifier = notifier

    async def notify(self, method: str, params: Mapping[str, Any]) -> None:
        await self._outbox.notify(method, params)

    async def list_changed(self, kind: str) -> None:
        await self._notifier.list_changed(kind)

    def resource_updated(self, uri: str) -> None:
        self._notifier.resource_updated(uri)
