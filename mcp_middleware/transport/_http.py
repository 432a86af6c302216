"""Shared HTTP plumbing for both eras: request checks, capped body read, the per-request responder.

``Responder`` is the one place that writes to the client. It answers with plain JSON unless
something is streamed first, in which case it switches to SSE at that moment (head with
``X-Accel-Buffering: no``, then one event per message) and sends the final message as the last
event. After the client is gone nothing more is written.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
from mcp_types import jsonrpc as codes
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from ..config import LOCAL_HOSTS, Settings
from ..context import ClientRequestError
from ..handlers import Call, Era, Server
from ..jsonrpc import (
    ProtocolError,
    Request,
    dumps,
    encode_error,
    encode_notification,
    error_status,
    result_message,
)
from ..results import error_result
from ..sse import KEEPALIVE, SSE_HEADERS, encode_event
from ..toolcall import Outbox

__all__ = [
    "ClientGone",
    "Decorate",
    "HeaderMap",
    "NullOutbox",
    "Responder",
    "Verdicts",
    "caller_key",
    "check_request",
    "decoded",
    "encode_reply",
    "header_map",
    "new_call",
    "plain",
    "read_body",
    "serve_request",
    "text_of",
]

logger = logging.getLogger(__name__)

_JSON = (b"content-type", b"application/json")


async def plain(send: Send, status: int, body: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    head = list(headers)
    if body:
        head.append(_JSON)
    head.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class HeaderMap(dict[bytes, bytes]):
    """Request headers by lower-case name, as bytes; the first of repeated headers wins, as in
    Starlette, except ``accept``, whose lines are joined into one list (RFC 9110 §5.3). Values are
    decoded only where they are read (:func:`text_of`).

    ``repeated`` names the ``mcp-*`` headers that appeared more than once (a mismatch in 2026-07-28:
    a proxy may have read the other copy); set only when there are any.
    """

    repeated: frozenset[bytes] = frozenset()


def header_map(scope: Scope) -> HeaderMap:
    raw = scope["headers"]
    out = HeaderMap(reversed(raw))  # back to front, so the first of a repeated header is kept
    # ASGI servers send lower-case names; one test over all of them finds a server that did not
    if not b"".join(out).islower():
        raw = [(key.lower(), value) for key, value in raw]
        out = HeaderMap(reversed(raw))
    if len(out) != len(raw):
        names = [key for key, _ in raw]
        out.repeated = frozenset(name for name in out if name.startswith(b"mcp-") and names.count(name) > 1)
        if names.count(b"accept") > 1:  # RFC 9110 §5.3: a repeated list is one, comma-joined
            out[b"accept"] = b", ".join([value for key, value in raw if key == b"accept"])
    return out


def text_of(headers: Mapping[bytes, bytes], name: bytes) -> str | None:
    """Header ``name``'s value as text (latin-1, as HTTP has it), or None when absent."""
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def decoded(headers: Mapping[bytes, bytes]) -> dict[str, str]:
    """All headers as text, for code off the hot path."""
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in headers.items()}


def _host_only(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _hosts_for(scope: Scope, settings: Settings) -> frozenset[str] | None:
    if settings.allowed_hosts is not None:
        return None if "*" in settings.allowed_hosts else settings.allowed_hosts
    server = scope.get("server")
    own = {str(server[0]).lower()} if server else set()
    return LOCAL_HOSTS | own


def _origin_ok(origin: str, hosts: frozenset[str] | None, settings: Settings) -> bool:
    if settings.allowed_origins is not None:
        # the allowlist is lower case (security.effective_allowed_origins); verdicts are remembered
        return "*" in settings.allowed_origins or origin.strip().lower().rstrip("/") in settings.allowed_origins
    if hosts is None:
        return True
    _, sep, rest = origin.partition("://")
    return bool(sep) and _host_only(rest.split("/", 1)[0]) in hosts


def _accepts(accept: str, wanted: str) -> bool:
    major = wanted.split("/", 1)[0]
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in (wanted, "*/*", f"{major}/*"):
            return True
    return False


Verdicts = dict[tuple[Any, ...], tuple[int, str] | None]
_UNKNOWN: Any = object()


def check_request(
    scope: Scope, headers: Mapping[bytes, bytes], settings: Settings, verdicts: Verdicts | None = None
) -> tuple[int, str] | None:
    """Transport-level checks in the order the spec implies; returns (status, message) to refuse.

    The verdict depends only on a handful of header values (and the settings), and clients repeat
    the same ones on every request: ``verdicts`` (one bounded table per middleware) remembers them.
    """
    if verdicts is None:
        return _check_request(scope, headers, settings)
    server = scope.get("server")
    key = (
        tuple(server) if server else None,  # Daphne gives [host, port]; tuple() of a tuple is itself
        headers.get(b"host"),
        headers.get(b"origin"),
        headers.get(b"accept"),
        headers.get(b"content-type"),
    )
    known: tuple[int, str] | None = verdicts.get(key, _UNKNOWN)
    if known is not _UNKNOWN:
        return known
    if len(verdicts) > 1024:
        verdicts.clear()
    verdict = verdicts[key] = _check_request(scope, headers, settings)
    return verdict


def _check_request(scope: Scope, headers: Mapping[bytes, bytes], settings: Settings) -> tuple[int, str] | None:
    hosts = _hosts_for(scope, settings)
    host = text_of(headers, b"host")
    if hosts is not None and host is not None and _host_only(host) not in hosts:
        return 403, "Forbidden: Host not allowed"
    origin = text_of(headers, b"origin")
    if origin is not None and not _origin_ok(origin, hosts, settings):
        return 403, "Forbidden: Origin not allowed"
    accept = text_of(headers, b"accept") or ""
    if not (_accepts(accept, "application/json") and _accepts(accept, "text/event-stream")):
        return 406, "Not Acceptable: the client must accept both application/json and text/event-stream"
    ctype = (text_of(headers, b"content-type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        return 415, "Unsupported Media Type: the body must be application/json"
    return None


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


async def read_body(receive: Receive, headers: Mapping[bytes, bytes], limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit`` (checked before reading when known).

    Raises :class:`ClientGone` when the client disconnects before the body is complete.
    """
    declared = headers.get(b"content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")  # the usual case: the whole body in one message
        return body if len(body) <= limit else None
    parts: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)
        message = await receive()


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

    __slots__ = ("_lock", "_send", "closed", "early", "headers", "started", "streaming")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.headers: list[tuple[bytes, bytes]] = []  # extra response headers (e.g. a session id)
        self._lock: _WriteLock | None = None  # made by the first write that may contend
        self.started = False
        self.streaming = False
        self.closed = False
        # A tools/call's (request, version, decorate), set by serve_request: what :meth:`answer`
        # needs to write the result while the route's app is still running (its background work).
        # Not the Call: it holds this responder, and the cycle would leave every call to the GC.
        self.early: tuple[Request, str, Decorate] | None = None

    def _locked(self) -> _WriteLock:
        if self._lock is None:
            self._lock = _WriteLock()
        return self._lock

    async def json(self, payload: bytes, status: int = 200) -> None:
        if not self.started and not self.closed:
            self.started = True
            await plain(self._send, status, payload, self.headers)

    async def error(self, error: ProtocolError, era: Any, status: int | None = None) -> None:
        await self.json(encode_error(error), status or error_status(error.code, era, error.id is not None))

    async def accepted(self) -> None:
        if not self.started:
            self.started = True
            await plain(self._send, 202)

    async def _ensure_stream(self) -> None:
        if not self.started:
            self.started = self.streaming = True
            await self._send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *self.headers]})

    async def stream_now(self) -> None:
        """Answer with an SSE stream whatever happens (the ``response_mode="sse"`` option)."""
        async with self._locked():
            await self._ensure_stream()

    async def event(self, payload: bytes) -> None:
        """Send one JSON-RPC message as an SSE event, switching to SSE if this is the first."""
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
        await self._send({"type": "http.response.body", "body": encode_event(payload), "more_body": True})

    async def keepalive(self) -> None:
        async with self._locked():
            if self.closed or (self.started and not self.streaming):
                return
            await self._ensure_stream()
            await self._send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})

    async def finish(self, payload: bytes | None, status: int = 200) -> None:
        """The final message: the last SSE event (then end of stream), or a plain JSON reply."""
        if payload is not None and not self.started and not self.closed and self._lock is None:
            # The usual case, a JSON reply with nothing written before: no lock needed, as nothing
            # else writes once ``closed`` is set (and setting it does not wait).
            self.started = self.closed = True
            await plain(self._send, status, payload, self.headers)
            return
        async with self._locked():
            if self.closed:
                return
            if not self.streaming:
                if payload is None:
                    await self._ensure_stream()
                else:
                    self.started = True
                    self.closed = True
                    await plain(self._send, status, payload, self.headers)
                    return
            body = encode_event(payload) if payload is not None else b""
            self.closed = True
            await self._send({"type": "http.response.body", "body": body, "more_body": False})

    def abandon(self) -> None:
        """The client went away: from now on nothing is written."""
        self.closed = True

    def answer(self) -> Callable[[dict[str, Any]], Awaitable[None]] | None:
        """How to write a tools/call's result before the handler returns it, or None (not a
        tools/call). For a route whose response is complete while its app goes on."""
        return None if self.early is None else self._answer

    async def _answer(self, result: dict[str, Any]) -> None:
        assert self.early is not None
        req, version, decorate = self.early
        await self.finish(encode_reply(req, version, decorate(req.method, result), decorate))

    # -- the handlers' outbox: notifications and requests become SSE events on this response ----
    async def notify(self, method: str, params: Any) -> None:
        await self.event(encode_notification(method, params))

    async def request(self, request_id: str, method: str, params: Any) -> None:
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        await self.event(dumps(message))


class NullOutbox:
    """For calls inside a JSON-RPC batch, whose replies are one JSON array: nothing is streamed."""

    async def notify(self, method: str, params: Any) -> None:
        return None

    async def request(self, request_id: str, method: str, params: Any) -> None:
        raise ClientRequestError(method, {"message": "cannot ask the client from inside a JSON-RPC batch"})

    async def keepalive(self) -> None:
        return None

    def abandon(self) -> None:
        return None

    def answer(self) -> None:
        return None  # a batch's replies go out together


def new_call(
    server: Server,
    scope: Scope,
    receive: Receive,
    headers: Mapping[bytes, bytes],
    request: Request,
    era: Era,
    version: str,
    outbox: Outbox,
) -> Call:
    """The handlers' view of one request (either era)."""
    present = headers.keys() & server.forward_names  # one C-level pass; usually nothing, or one
    forwarded = tuple([(name, headers[name]) for name in sorted(present)]) if present else ()
    # 2026-07-28 has no notifications/cancelled, answer POSTs or logging/setLevel to match callers by
    caller = caller_key(server, headers) if era == "handshake" else ""
    return Call(request, era, version, scope, receive, outbox, forwarded, caller, headers.get(b"host"))


def caller_key(server: Server, headers: Mapping[bytes, bytes]) -> str:
    """Who is calling, as far as a stateless endpoint can tell (handshake era: which calls a
    notifications/cancelled may stop, whose answers a route takes, whose log level): its
    credentials (Authorization, Cookie, the app's API keys: headers, and the URL's query parameters
    that the endpoint put into ``headers``, see ``query_keys``), hashed."""
    return str(hash(tuple([headers.get(name) for name in server.credentials])))


Decorate = Callable[[str, dict[str, Any]], dict[str, Any]]


# List results depend only on the app's routes (and the revision, era and cache scope): they are
# serialised once and spliced into each reply until the routes change (Server.refresh).
_LISTS = frozenset({"tools/list", "prompts/list", "resources/list", "resources/templates/list"})


def _plain_list(req: Request) -> bool:
    params = req.params
    return not params or (params.keys() <= {"_meta"} and isinstance(params["_meta"], dict))


def _params_ok(server: Server, call: Call) -> bool:
    """The check ``Server.handle`` makes (remembered per envelope, so cheap when warm); a failure
    takes the uncached path, where ``Server.handle`` reports it."""
    try:
        server.validator.check(call.request.method, call.version, call.request.params)
    except ValidationError:
        return False
    return True


def _splice(request_id: Any, result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + dumps(request_id) + b',"result":' + result + b"}"


async def serve_request(
    server: Server, call: Call, responder: Responder, decorate: Decorate, variant: str = ""
) -> None:
    """Run one request through the handlers and write its one answer (result or error)."""
    req = call.request
    key = (req.method, call.version, variant) if req.method in _LISTS and _plain_list(req) else None
    if key is not None:
        server.refresh()
        cached = server.reply_cache.get(key)
        if cached is not None and _params_ok(server, call):
            await responder.finish(_splice(req.id, cached))
            return
    if req.method == "tools/call":
        responder.early = (req, call.version, decorate)
    try:
        result = await server.handle(call)
        if result is None:  # cancelled (send nothing, as the spec says), or already answered
            await responder.finish(None)
            return
        if key is not None:
            encoded = dumps(result_message(req.id, req.method, call.version, decorate(req.method, result))["result"])
            server.reply_cache[key] = encoded
            await responder.finish(_splice(req.id, encoded))
            return
        payload = encode_reply(req, call.version, decorate(req.method, result), decorate)
    except ProtocolError as exc:
        exc.id = req.id
        await responder.finish(encode_error(exc), error_status(exc.code, call.era))
        return
    await responder.finish(payload)


def encode_reply(req: Request, version: str, result: dict[str, Any], decorate: Decorate) -> bytes:
    """The response bytes; a result that cannot be serialised (wrong shape for the revision,
    nesting too deep for orjson) is a tool error for tools/call and an internal error otherwise."""
    try:
        return dumps(result_message(req.id, req.method, version, result))
    except (ValidationError, ValueError, TypeError):
        logger.exception("result of %s does not fit the %s schema", req.method, version)
    if req.method == "tools/call":
        fallback = decorate(req.method, error_result("The tool's result could not be encoded as an MCP result."))
        return dumps(result_message(req.id, req.method, version, fallback))
    raise ProtocolError(codes.INTERNAL_ERROR, "Internal error: invalid result")
