"""The per-request responder: the one place that writes the answer to a request it serves (the
refusals made before, the endpoint's and the security layer's, are :func:`._http.plain`'s).

``Responder`` answers with plain JSON unless something is streamed first, in which case it switches
to SSE at that moment (head with ``X-Accel-Buffering: no``, then one event per message) and sends
the final message as the last event. After the client is gone nothing more is written. A
2025-03-26 JSON-RPC batch has one responder for all its calls, which stream on it alike. With
``oauth``, a route's refusal of the token is the endpoint's HTTP 401/403 instead, as long as
nothing was written (:meth:`Responder.refused`); with ``response_mode="sse"`` too, whose stream's
head then waits for the first thing written (:meth:`Responder.stream_later`).

To a client whose Accept admits JSON alone (or that sent none: its ``send`` is a :class:`JsonOnly`)
nothing is streamed: notifications and keep-alives are dropped, and a question to the client is
refused before it is sent (``streams``); to one whose Accept admits SSE alone, a 200 JSON reply
goes out as a one-event stream (:class:`SseOnly`).
"""

from __future__ import annotations

import copy
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.types import Message, Scope, Send

from .._once import Remembered
from ..handlers import Challenge
from ..jsonrpc import ProtocolError, Request, dumps_exactly, encode_error, encode_notification, error_status
from ..results import Refusal
from ..sse import KEEPALIVE, SSE_HEADERS, encode_event
from ._http import JSON_TYPE, Decorate, encode_reply, plain, plain_start

__all__ = ["LAST_WORD_SECONDS", "ClosingCancels", "JsonOnly", "Responder", "SseOnly"]

logger = logging.getLogger(__name__)

# How long the last word of a request cancelled while the server shuts down may take to go out
# (:meth:`Responder.last_word`): the server's send returns at once unless the client reads nothing.
LAST_WORD_SECONDS = 1.0

# The tools whose session write a stream's head had already left behind were logged (once each)
_LOST_SESSIONS = Remembered(256)


class _WriteLock:
    """Serialises writes of one response (the call and its keep-alive watcher may both write).

    Uncontended, entering costs an attribute check: no event, no checkpoint. Contended, writers
    queue on events and ownership passes in order.
    """

    __slots__ = ("_busy", "_waiting")

    def __init__(self) -> None:
        self._busy = False
        self._waiting: deque[anyio.Event] | None = None  # made on the first contention

    def try_acquire(self) -> bool:
        """Take the lock if it is free (no waiting, no coroutine); False when it is held."""
        if self._busy:
            return False
        self._busy = True
        return True

    async def __aenter__(self) -> None:
        if self.try_acquire():
            return
        turn = anyio.Event()
        if self._waiting is None:
            self._waiting = deque()
        self._waiting.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():
                self.release()  # handed over just as we were cancelled: pass it on
            else:
                self._waiting.remove(turn)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        if self._waiting:  # None or empty: nobody waits
            self._waiting.popleft().set()  # ownership passes on; _busy stays True
        else:
            self._busy = False


class Responder:
    """Writes the one answer to a POST: JSON, 202, or an SSE stream begun on the first event.
    It is also the handlers' outbox (:class:`~mcp_middleware.toolcall.Outbox`) for that request."""

    # What every response starts with, as class attributes: a request sets only what it changes
    # (no __slots__, so that the defaults cost nothing per request); but what every reply reads
    # (its headers, started, streaming, closed, lift) is set by __init__: on CPython 3.11 a name
    # that is also a class attribute is read through the generic lookup (~280 machine
    # instructions against ~80).
    # extra response headers (a session id)
    headers: tuple[tuple[bytes, bytes], ...]
    _lock: _WriteLock | None = None  # made by the first write that may contend
    started: bool
    streaming: bool
    closed: bool
    # The server's send raised an OSError: its client is gone (see _lost)
    lost = False
    # The handshake era: a client that goes away does not cancel its call (transports.mdx,
    # "Disconnection SHOULD NOT be interpreted as the client cancelling its request"); 2026-07-28's
    # is a :class:`ClosingCancels`
    leaving_cancels = False
    # A tools/call's (request, version, decorate, the MCP request's scope), set by serve_request:
    # what :meth:`answer` needs to write the result while the route's app is still running (its
    # background work); the scope, for its session (:meth:`keep_session`). Not the Call: it holds
    # this responder, and the cycle would leave every call to the GC.
    early: tuple[Request, str, Decorate, Scope] | None = None
    # An outer SessionMiddleware's session as the stream's head carried it in its Set-Cookie (a
    # copy), for a tools/call: see keep_session
    _at_head: Any = None
    # With oauth (set by serve_request): the server's Challenge and the request's scope, which
    # turn a route's refusal of the token into the endpoint's HTTP refusal (see refused)
    lift: tuple[Challenge, Scope] | None

    def __init__(self, send: Send) -> None:
        self._send = send
        self.headers = ()
        self.started = self.streaming = self.closed = False
        self.lift = None

    def _locked(self) -> _WriteLock:
        if self._lock is None:
            self._lock = _WriteLock()
        return self._lock

    async def json(self, payload: bytes, status: int = 200) -> None:
        """The whole answer as one JSON reply, unless something was written (or the client left).
        No lock: every writer sets ``started`` before its first await, and after this one
        nothing is written (``closed``)."""
        if not self.started and not self.closed:
            self.started = self.closed = True
            try:  # plain()'s two messages, without a coroutine of its own (nor _write's)
                await self._send(plain_start(status, payload, self.headers))
                await self._send({"type": "http.response.body", "body": payload})
            except OSError as exc:  # the server's: its client is gone (the response was over anyway)
                self._lost(exc)

    async def _write(self, message: Message) -> None:
        """Every write to the server but the JSON reply's (:meth:`json`, which does the same
        itself): nothing once it raised for a client gone."""
        if self.lost:
            return
        try:
            await self._send(message)
        except OSError as exc:
            self._lost(exc)

    def _lost(self, exc: OSError) -> None:
        """The server's ``send`` raised an ``OSError``: the ASGI spec lets a server do so once the
        connection is closed (asgiref #431; uvicorn and Hypercorn drop such a send instead). The
        client is gone, as ``http.disconnect`` says: the write is dropped and nothing more is
        written; a call that wrote it (``_ToolRun``) applies its era's rule (``_RunHandle.gone``)."""
        logger.debug("the client is gone: the server's send raised %r", exc)
        self.lost = True
        self.abandon()

    async def error(self, error: ProtocolError, era: Any, status: int | None = None) -> None:
        await self.json(encode_error(error), status or error_status(error.code, era, error.id is not None))

    async def accepted(self) -> None:
        if not self.started:
            self.started = True
            await plain(self._write, 202)

    async def _ensure_stream(self) -> None:
        if not self.started:
            self.started = self.streaming = True
            if self.early is not None:
                self.keep_session(self.early[3])
            await self._write({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *self.headers]})

    def keep_session(self, scope: Scope) -> None:
        """The stream's head goes out (or went out before the call began: ``response_mode="sse"``),
        so an outer ``SessionMiddleware`` writes ``scope["session"]`` into its ``Set-Cookie`` now: a
        copy of it, which the stream's end compares with the session then (:meth:`_session_left`).
        Nothing without a session, or with one that cannot be copied."""
        if "session" in scope:
            try:
                self._at_head = copy.deepcopy(scope["session"])
            except Exception:  # (a session object of another middleware, not deep-copyable): not watched
                self._at_head = None

    def _session_left(self) -> None:
        """A tools/call's stream ends: a WARNING (once per tool) when its session differs from the
        one the head's Set-Cookie carried, a write that reaches no client (README, SessionMiddleware)."""
        if self.early is None:
            return
        req, _, _, scope = self.early
        name = req.params.get("name") if isinstance(req.params, dict) else None
        if scope.get("session") != self._at_head and _LOST_SESSIONS.first(name):
            logger.warning(
                "a session write by tool %r cannot reach the client: the MCP response had become an SSE "
                "stream, its head and Set-Cookie sent, before the route wrote to request.session "
                "(logged once per tool)",
                name,
            )

    @property
    def streams(self) -> bool:
        """Whether the client takes an SSE stream: not one whose Accept admits JSON alone
        (:class:`JsonOnly`), whose answer is JSON whatever happens."""
        return type(self._send) is not JsonOnly

    async def stream_now(self) -> None:
        """Answer with an SSE stream whatever happens (the ``response_mode="sse"`` option)."""
        if not self.streams:
            return
        async with self._locked():
            await self._ensure_stream()

    def stream_later(self) -> None:
        """Answer with an SSE stream whatever happens, its head going out with the first thing
        written on it (progress, a log, a keep-alive, or the final message), not now: the
        ``response_mode="sse"`` option with ``oauth``, so that a route's refusal of the token,
        answered before anything was written, is still the endpoint's HTTP 401 (:meth:`refused`).
        ``streaming`` before ``started``: :meth:`finish` then ends a stream instead of writing
        JSON."""
        self.streaming = self.streams

    async def event(self, payload: bytes) -> None:
        """Send one JSON-RPC message as an SSE event, switching to SSE if this is the first
        (dropped for a client that takes no stream: progress and logs never reach it)."""
        if not self.streams:
            return
        lock = self._locked()
        if not lock.try_acquire():  # another writer is at it: wait for our turn
            async with lock:
                await self._event(payload)
            return
        try:
            await self._event(payload)
        finally:
            lock.release()

    async def _event(self, payload: bytes) -> None:
        if self.closed or (self.started and not self.streaming):
            return
        if not self.started:
            await self._ensure_stream()
        await self._write({"type": "http.response.body", "body": encode_event(payload), "more_body": True})

    async def keepalive(self) -> None:
        if not self.streams:
            return
        async with self._locked():
            if self.closed or (self.started and not self.streaming):
                return
            await self._ensure_stream()
            await self._write({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})

    def finish(self, payload: bytes | None, status: int = 200) -> Awaitable[None]:
        """The final message: a plain JSON reply with ``status`` when nothing was written before
        (the usual case), else the last SSE event and the end of the stream (None: the end alone),
        whatever ``status``: the stream's head said 200 already (or says it now, for a response
        that streams whatever happens but whose head waited: :meth:`stream_later`)."""
        if payload is not None and not self.streaming:
            return self.json(payload, status)
        if not self.streams:  # no reply (a cancelled call) to a client that takes no stream
            return self.accepted()
        return self._end_stream(payload)

    async def _end_stream(self, payload: bytes | None) -> None:
        async with self._locked():
            if self.closed or (self.started and not self.streaming):
                return
            await self._ensure_stream()
            self.closed = True
            if self._at_head is not None:
                self._session_left()
            body = encode_event(payload) if payload is not None else b""
            await self._write({"type": "http.response.body", "body": body, "more_body": False})

    async def refused(self, refusal: Refusal) -> bool:
        """With ``oauth`` (``lift``), while nothing has been written: answer a route's 401 (or 403
        ``insufficient_scope``) as the endpoint's own HTTP refusal, the one the ``auth`` guard
        gives, with the route's challenge (``security.Security.route_refusal``); True when it did.
        Otherwise (no ``oauth``, a stream already begun, a 403 of another kind) the caller writes
        the refusal's result as it is."""
        if self.lift is None or self.started or self.closed:
            return False
        challenge, scope = self.lift
        answer = challenge(scope, refusal.status, refusal.challenge)
        if answer is None:
            return False
        self.started = self.closed = True
        status, body, headers = answer
        await plain(self._write, status, body, [*headers, *self.headers])
        return True

    async def last_word(self, payload: bytes | None, status: int, before: tuple[bytes, ...] = ()) -> None:
        """The final message of a request whose task is being cancelled while the server shuts
        down (``payload``, an error; ``status`` if it is the JSON reply): the last event of its
        stream (after the events ``before``: a batch's other replies), or its JSON reply when
        nothing was written yet (None: the stream's end alone, :meth:`finish`). Nothing once the response is over,
        the client has gone (:meth:`abandon`), or a JSON head is out (nothing can follow it).
        Written in a shielded scope (nothing cancelled after uvicorn's one ``task.cancel()`` cuts
        it short) bounded by :data:`LAST_WORD_SECONDS`; a send that fails is logged,
        never raised: the caller re-raises its cancellation, which nothing here may replace."""
        if self.closed or (self.started and not self.streaming):
            return
        with anyio.move_on_after(LAST_WORD_SECONDS, shield=True):
            try:
                for event in before:
                    await self.event(event)
                await self.finish(payload, status)
            except Exception as exc:
                logger.debug("the last word of a request cancelled at shutdown could not be sent: %r", exc)

    def abandon(self) -> None:
        """The client went away: from now on nothing is written."""
        self.closed = True

    def answer(self) -> Callable[[dict[str, Any] | None], Awaitable[None]] | None:
        """How to write a tools/call's result before the handler returns it (given None: end the
        response without one, a cancelled call's), or None (not a tools/call, or the response is
        over). For a route whose response is complete while its app goes on, or that cannot be
        unwound once its call was stopped."""
        return None if self.early is None or self.closed else self._answer

    async def _answer(self, result: dict[str, Any] | None) -> None:
        assert self.early is not None
        req, version, decorate, _ = self.early
        if isinstance(result, Refusal) and await self.refused(result):
            return
        await self.finish(None if result is None else encode_reply(req, version, result, decorate))

    # -- the handlers' outbox: notifications and requests become SSE events on this response ----
    async def notify(self, method: str, params: Any) -> None:
        await self.event(encode_notification(method, params))

    async def request(self, request_id: str, method: str, params: Any) -> None:
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        await self.event(dumps_exactly(message))


class JsonOnly:
    """The server's ``send`` for a client whose Accept admits JSON but not SSE, or that sent no
    Accept (the endpoint wraps it): passed on as it is; the :class:`Responder` writing on it
    streams nothing (:attr:`Responder.streams`)."""

    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    def __call__(self, message: Message) -> Awaitable[None]:
        return self._send(message)


class SseOnly:
    """The server's ``send`` for a client whose Accept admits SSE but not JSON (the endpoint wraps
    it): a 200 JSON reply goes out as a stream of its one event; a stream, a 202 or an HTTP error
    as it is."""

    __slots__ = ("_send", "_wrapping")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._wrapping = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            head = message.get("headers", ())
            if message["status"] == 200 and JSON_TYPE in head:
                self._wrapping = True
                rest = [header for header in head if header != JSON_TYPE and header[0] != b"content-length"]
                message = {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *rest]}
        elif self._wrapping:  # the JSON reply's one body
            message = {**message, "body": encode_event(message.get("body", b""))}
        await self._send(message)


class ClosingCancels(Responder):
    """A 2026-07-28 request's responder: its client closing the stream cancels the call
    (transports.mdx: the server MUST treat it as cancellation). A class of its own, so that
    neither era's requests pay for the difference."""

    leaving_cancels = True
