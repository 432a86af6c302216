"""Run one HTTP request in-process against an ASGI app and hand its response back as it comes.

Knows nothing of MCP. The caller gets the response head first, then every body chunk the moment
the app sends it (a push model: the app's ``send`` awaits the consumer, so a slow consumer slows
the app down and nothing piles up in between — that is the backpressure).

Modelled on httpx's ``ASGITransport`` with the two differences that matter for streaming:
the child ``receive`` does not answer ``http.disconnect`` as soon as the body is read (Starlette's
``StreamingResponse`` would stop after one chunk), it waits until the response is complete (and
its last body message handled: see :meth:`SubExchange.child_send`) or the caller says the real
client went away; and the body is never buffered here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from urllib.parse import quote, unquote

import anyio
from starlette.types import ASGIApp, Message, Scope

__all__ = ["AppMisbehaved", "Disconnect", "SubExchange", "SubRequest"]


@dataclass(slots=True)
class SubRequest:
    """An HTTP request to send to the app below the middleware (a slotted dataclass, not a named
    tuple: its fields are read a few times per call, see ``_rpc_messages.Request``).

    ``path`` is the app-relative path, already percent-encoded segment by segment (``raw_path``
    is derived from it, ``path`` in the scope is its decoded form, as a server would do). The
    parent's ``root_path`` (decoded text) is put in front of both, encoded for ``raw_path``.
    """

    method: str
    path: str
    query_string: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""


class AppMisbehaved(Exception):
    """The app broke the ASGI contract (returned without a response, sent out of order)."""


class Disconnect:
    """Set when the real client went away, the call was cancelled, or the response is complete
    (once its last body message is handled).

    The child ``receive`` then answers ``http.disconnect`` so a streaming response stops itself;
    the caller is expected to cancel the app's scope as well for routes that never listen. The
    event behind it is made only if someone has to wait (most routes never call ``receive`` twice).
    """

    __slots__ = ("_event", "is_set")

    def __init__(self) -> None:
        self.is_set = False
        self._event: anyio.Event | None = None

    def set(self) -> None:
        self.is_set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self.is_set:
            return
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


# characters a path may hold as they are (RFC 3986 pchar and "/"); a root made of them is its raw form
_PLAIN_ROOT = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=._~-]*")


def _raw_root(parent: Scope, root_path: str) -> bytes:
    """The encoded form of ``root_path`` (decoded text, as servers give it): the prefix of the
    parent's ``raw_path`` that decodes to it, else ``root_path`` percent-encoded."""
    if _PLAIN_ROOT.fullmatch(root_path):
        return root_path.encode("ascii")
    raw = parent.get("raw_path")
    if isinstance(raw, bytes):
        text = raw.decode("latin-1")
        end = len(text)
        while end > 0:  # a mount point ends where a segment does
            if unquote(text[:end]) == root_path:
                return raw[:end]
            end = text.rfind("/", 0, end)
    return quote(root_path, safe="/:@!$&'()*+,;=~").encode("ascii")


# the parent's fields the child scope takes, read in one step when the parent has them all (uvicorn
# gives the first six, Starlette the app), else with ASGI's defaults (_partial_parent)
_PARENT_FIELDS = itemgetter("http_version", "scheme", "client", "server", "root_path", "state", "app")
_DEFAULTS: dict[str, Any] = {
    "http_version": "1.1",
    "scheme": "http",
    "client": None,
    "server": None,
    "root_path": "",
    "state": None,
    "app": None,
}


def _partial_parent(parent: Scope, sub: SubRequest, extensions: dict[str, Any], host: bytes | None) -> Scope:
    """The child scope of a parent that lacks some of :data:`_PARENT_FIELDS`: ASGI's defaults for
    those (and no ``app`` when the parent has none)."""
    scope = _child_scope({**_DEFAULTS, **parent}, sub, extensions, host)
    if "app" not in parent:
        del scope["app"]
    return scope


def _child_scope(parent: Scope, sub: SubRequest, extensions: dict[str, Any], host: bytes | None) -> Scope:
    try:
        http_version, scheme, client, server, root_path, state, app = _PARENT_FIELDS(parent)
    except KeyError:
        return _partial_parent(parent, sub, extensions, host)
    path = sub.path
    raw_path = path.encode("ascii")
    if "%" in path:
        path = unquote(path)
    if root_path:
        raw_path = _raw_root(parent, root_path) + raw_path
        path = root_path + path
    scope: dict[str, Any] = {
        "type": "http",
        # a fresh dict per scope, as a server gives each request its own (an inner middleware may
        # write to it, e.g. spec 2.4 for a streaming proxy). 2.3: Starlette's StreamingResponse
        # then listens for http.disconnect itself, which is how a cancelled call stops a generator
        # that is waiting for its next chunk.
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": http_version,
        "method": sub.method,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "root_path": root_path,
        "query_string": sub.query_string,
        "headers": [(b"host", host), *sub.headers] if host is not None else list(sub.headers),
        "client": client,
        "server": server,
        "extensions": extensions,
        "state": dict(state) if state else {},  # the child's own: never the parent's dict
        "app": app,
    }
    # what outer middlewares (SessionMiddleware, AuthenticationMiddleware) set for this client: the
    # same objects, so a route's session write reaches the cookie of the MCP response
    if "session" in parent:
        scope["session"] = parent["session"]
    if "user" in parent:
        scope["user"] = parent["user"]
    if "auth" in parent:
        scope["auth"] = parent["auth"]
    return scope


# the body message that ends a response whose app returned without one
_LAST: Message = {"type": "http.response.body", "body": b"", "more_body": False}


class SubExchange(Disconnect):
    """One sub-request in flight; the child's ``receive`` and ``send`` are its methods.

    Subclasses say what to do with the response (:meth:`on_head`, synchronous, once; then
    :meth:`on_body` for every body message, the last one with ``more=False``). Being the
    :class:`Disconnect` signal as well, one object serves a whole run: no closures per request.
    """

    # Instance attributes, not class defaults: on CPython 3.11 a name that is also a class
    # attribute is read through the generic attribute lookup (~280 machine instructions against
    # ~80), and these are read on every call (``_RunHandle.__init__`` sets them too, without this
    # method's call).
    _body: bytes
    _body_sent: bool
    _started: bool
    _complete: bool

    def __init__(self) -> None:
        super().__init__()
        self._body = b""
        self._body_sent = False
        self._started = False
        self._complete = False

    def on_head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        """The response head; ``headers`` as the app sent them (its own list: read it, don't keep
        it), names in whatever case the app used."""
        raise NotImplementedError

    def on_body(self, chunk: bytes, more: bool) -> Awaitable[None] | None:
        """A body message (the last one with ``more=False``). Returns what to await before the app
        may go on, or None when there is nothing to wait for (no coroutine for that case)."""
        raise NotImplementedError

    async def exchange(
        self,
        app: ASGIApp,
        parent: Scope,
        sub: SubRequest,
        extensions: dict[str, Any],
        host: bytes | None = None,
    ) -> None:
        """Call ``app`` with ``sub``; raises whatever the app raises, or :class:`AppMisbehaved`.

        ``extensions`` becomes the child scope's ``extensions`` (the dict itself, not a copy);
        ``host``, the Host header the parent request came with, goes first in its headers.
        """
        self._body = sub.body
        await app(_child_scope(parent, sub, extensions, host), self.child_receive, self.child_send)
        if not self._started:
            raise AppMisbehaved("the app returned without sending a response")
        if not self._complete:  # its last body message, as child_send handles one (set() once handled)
            await self.child_send(_LAST)

    async def child_receive(self) -> Message:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self.wait()  # set when the response completes (last message handled), or the call is cancelled
        return {"type": "http.disconnect"}

    async def child_send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                raise AppMisbehaved("http.response.start sent twice")
            self._started = True
            headers = message.get("headers") or ()
            if type(headers) is not list and type(headers) is not tuple:  # any iterable of pairs (dict.items())
                headers = list(headers)  # read more than once, by position
            status = message["status"]
            # (int() and bytes() of an exact int or bytes return it, through a generic call each:
            # ~500 and ~800 machine instructions on CPython 3.11, so only other types are converted)
            self.on_head(status if type(status) is int else int(status), headers)
        elif kind == "http.response.body":
            if not self._started:
                raise AppMisbehaved("http.response.body sent before http.response.start")
            if self._complete:
                return  # late writes after the response ended are dropped, as servers do
            body = message.get("body", b"")
            if type(body) is not bytes:  # (a bytearray or memoryview: the collector keeps bytes)
                body = bytes(body)
            if message.get("more_body"):
                pending = self.on_body(body, True)
                if pending is not None:
                    await pending
                return
            self._complete = True  # (a late write is dropped from here on)
            pending = self.on_body(body, False)
            try:
                if pending is not None:
                    await pending  # (the call's result, when it goes out from here)
            finally:
                # Only now: a streaming response listens for the disconnect beside its stream and
                # cancels the stream's task when it comes, this send included; signalled before
                # the write above, a write that yielded (an outer middleware's send) was cut off.
                self.set()
        # other message types (trailers, pathsend, zerocopy) are not enabled in the child scope
