"""Shared HTTP plumbing for both eras: plain answers, capped body read, one request's run.

The request's headers and checks are in :mod:`._checks`; the per-request responder, which writes
every answer to a request it serves, is in :mod:`._responder`; :func:`plain` writes the refusals
made before one is served (and the responder's own plain answers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import anyio
from mcp_types import jsonrpc as codes
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from ..handlers import Call, Era, Server
from ..interaction import SHUTTING_DOWN
from ..jsonrpc import (
    NestedTooDeep,
    ProtocolError,
    Request,
    dumps,
    dumps_again,
    encode_error,
    error_status,
    result_message,
)
from ..results import Refusal, RefusedError, error_result
from ..toolcall import Outbox
from ..validation import PASSED, UNREAD, Envelope, Passed, Unread

if TYPE_CHECKING:
    from ._responder import Responder

__all__ = [
    "JSON_TYPE",
    "ClientGone",
    "Decorate",
    "caller_key",
    "declared_too_large",
    "encode_reply",
    "internal_failure",
    "last_word",
    "new_call",
    "plain",
    "plain_start",
    "read_rest",
    "refusal",
    "serve_request",
    "servers_cancel",
    "shutdown_error",
]

logger = logging.getLogger(__name__)

JSON_TYPE = (b"content-type", b"application/json")


async def plain(send: Send, status: int, body: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """A whole response in one body: every refusal of the middleware's own that is no JSON-RPC
    reply (the endpoint's 400/405/406/413, the security layer's, CORS's, the OAuth metadata's).
    An ``OSError`` from the server's ``send`` is the client gone (the ASGI spec lets a server raise
    one on a closed connection): the write is dropped, logged at DEBUG, as the responder drops it."""
    try:
        await send(plain_start(status, body, headers))
        await send({"type": "http.response.body", "body": body})
    except OSError as exc:
        logger.debug("the client is gone: the server's send raised %r", exc)


def plain_start(status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()) -> Message:
    """The start of :func:`plain`'s response (JSON when there is a body), for a caller that sends
    its two messages itself rather than awaiting another coroutine."""
    length = (b"content-length", b"%d" % len(body))
    head = [*headers, JSON_TYPE, length] if body else [*headers, length]
    return {"type": "http.response.start", "status": status, "headers": head}


def refusal(message: str) -> bytes:
    """The body of an HTTP-level refusal (403, 405, 401, ...): an id-less JSON-RPC error, -32600
    (transports.mdx allows one), for the endpoint and the security layer alike."""
    return encode_error(ProtocolError(codes.INVALID_REQUEST, message))


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


def declared_too_large(headers: Mapping[bytes, bytes], limit: int, digits: int) -> bool:
    """Whether the request's Content-Length says its body exceeds ``limit`` (refused unread).
    ``digits``: how many digits ``limit`` has (``Server.limit_digits``, made once): a value of
    fewer characters is below it, whatever they are (no number is made of the usual length)."""
    declared = headers.get(b"content-length")
    if declared is None or len(declared) < digits or not declared.isdigit():  # (ASCII digits only)
        return False
    if len(declared) > 18:  # leading zeros are allowed (1*DIGIT): only a long value is stripped of them
        stripped = declared.lstrip(b"0")
        return len(stripped) > 18 or int(stripped or b"0") > limit  # 19 digits and more: beyond any limit (and int())
    return int(declared) > limit


async def read_rest(receive: Receive, message: Message, limit: int) -> bytes | None:
    """The whole request body from its first ``message`` on, or None when it exceeds ``limit``
    (the endpoint reads a body that comes whole in one message itself, without this coroutine).

    Raises :class:`ClientGone` when the client disconnects before the body is complete.
    """
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


def new_call(
    server: Server,
    scope: Scope,
    receive: Receive,
    headers: Mapping[bytes, bytes],
    request: Request,
    era: Era,
    version: str,
    outbox: Outbox,
    caller: str,
    envelope: Envelope | Unread | Passed | None = UNREAD,
    replies_as: str | None = None,
    declared: dict[str, Any] | None = None,
    asks_as: str | None = None,
    ladder: tuple[Any, ...] | None = None,
) -> Call:
    """The handlers' view of one request (either era); ``caller``: :func:`caller_key` in the
    handshake era, computed once for a batch's items ("" in 2026-07-28, which has no
    notifications/cancelled, answer POSTs or logging/setLevel to match callers by);
    ``envelope``: its params' envelope, when
    already read (``validation.envelope_of``); ``replies_as``: see ``Call`` (default ``version``);
    ``declared``, ``asks_as``, ``ladder``: see ``Call`` (``asks_as`` defaults to ``replies_as``)."""
    forwarded: tuple[tuple[bytes, bytes], ...] = ()
    if not headers.keys().isdisjoint(server.forward_names):  # one C-level pass, no set; usually none
        forwarded = tuple([(name, headers[name]) for name in sorted(headers.keys() & server.forward_names)])
    replies_as = replies_as or version
    return Call(
        request,
        era,
        version,
        replies_as,
        scope,
        receive,
        outbox,
        forwarded,
        caller,
        headers.get(b"host"),
        envelope,
        declared,
        asks_as or replies_as,
        ladder,
    )


def caller_key(server: Server, headers: Mapping[bytes, bytes]) -> str:
    """Who is calling, as far as a stateless endpoint can tell (handshake era: which calls a
    notifications/cancelled may stop, whose answers a route takes, whose log level): the
    credentials the app authenticates with (``_identity``: Authorization, the app's API keys:
    headers, and the URL's query parameters that the endpoint put into ``headers``, see
    ``query_keys``; the ``forward_headers``; the app's cookies, or the whole Cookie header as a
    fallback when neither Authorization nor an API key came) and, with ``session_ids``, its session
    id (verified by then), hashed (``Server.callers``). Callers without either share one key."""
    values = tuple(map(headers.get, server.callers))
    cookie = headers.get(b"cookie")
    if cookie is None:
        return str(hash(values))
    part = server.identity.cookie(cookie, headers)  # the cookie rule: _identity's
    return str(hash(values if part is None else (*values, part)))


Decorate = Callable[[str, dict[str, Any]], dict[str, Any]]


# List results depend only on the app's routes (and the revision, era and cache scope): they are
# serialised once and spliced into each reply until the routes change (Server.refresh).
_LISTS = frozenset({"tools/list", "prompts/list", "resources/list", "resources/templates/list"})


def _plain_list(req: Request) -> bool:
    params = req.params
    return not params or (params.keys() <= {"_meta"} and isinstance(params["_meta"], dict))


def _params_ok(server: Server, call: Call) -> bool:
    """The check ``Server.handle`` makes (remembered per envelope, so cheap when warm); a failure
    takes the uncached path, where ``Server.handle`` reports it. A passed one keeps the call's
    2026-07-28 ladder verdict, which stands for it after that (``Server.keep_ladder``)."""
    if call.envelope is PASSED:
        return True
    try:
        server.validator.check(call.request.method, call.version, call.request.params, call.envelope)
    except ValidationError:
        return False
    if call.ladder is not None:
        server.keep_ladder(call.ladder, call.version)
    return True


def _splice(request_id: Any, result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + dumps(request_id) + b',"result":' + result + b"}"


async def serve_request(
    server: Server, call: Call, responder: Responder, decorate: Decorate, variant: str = ""
) -> None:
    """Run one request through the handlers and write its one answer (result or error)."""
    req = call.request
    key = (req.method, call.replies_as, variant) if req.method in _LISTS and _plain_list(req) else None
    if key is not None:
        server.refresh()
        cached = server.reply_cache.get(key)
        if cached is not None and _params_ok(server, call):
            await responder.finish(_splice(req.id, cached))
            return
    if server.challenge is not None:  # oauth: a route's refusal of the token may be an HTTP 401
        responder.lift = (server.challenge, call.scope)
    if req.method == "tools/call":
        responder.early = (req, call.replies_as, decorate, call.scope)
    try:
        result = await server.handle(call)
        if result is None:  # cancelled (send nothing, as the spec says), or already answered
            await responder.finish(None)
            return
        if responder.lift is not None and isinstance(result, Refusal) and await responder.refused(result):
            return
        if key is not None:
            encoded = _list_result(req, call.replies_as, result, decorate)
            server.reply_cache[key] = encoded
            await responder.finish(_splice(req.id, encoded))
            return
        payload = encode_reply(req, call.replies_as, result, decorate)
    except ProtocolError as exc:
        if isinstance(exc, RefusedError) and await responder.refused(exc.refusal):
            return
        await _error_reply(call, responder, exc)
        return
    except anyio.get_cancelled_exc_class() as cancelled:  # (evaluated only for an exception that gets this far)
        if servers_cancel(server, cancelled):
            await _shutdown_reply(server, call, responder)
        raise  # the cancellation goes on, whatever was written
    except Exception:  # (evaluated only for an exception that gets this far) the middleware's own bug
        failure = internal_failure(req, call.replies_as, decorate)
        if isinstance(failure, ProtocolError):
            await _error_reply(call, responder, failure)
            return
        payload = failure
    await responder.finish(payload)


async def _error_reply(call: Call, responder: Responder, error: ProtocolError) -> None:
    """``error`` as the request's answer: its JSON reply with the error's status, or the last event
    of a stream already begun (whose 200 head stands: logged)."""
    req = call.request
    error.id = req.id
    status = error_status(error.code, call.era)
    if status != 200 and responder.streaming:
        _too_late_for(req, error, status)
    await responder.finish(encode_error(error), status)


# A tools/call's result when the middleware failed serving it: the route may have run
INTERNAL_FAILURE: Final = (
    "The MCP middleware failed serving this call (an internal error, logged on the server); "
    "the tool's route may have run."
)


def internal_failure(req: Request, version: str, decorate: Decorate) -> bytes | ProtocolError:
    """In an ``except`` clause: the answer of a request that the middleware failed serving (an
    exception of its own, a bug: a route's failure, a 4xx or bad arguments are results, a
    protocol fault a ``ProtocolError``), logged at ERROR with its traceback. A tools/call's is its
    ``isError`` result's reply (the route may have run: the model should know it failed, not retry
    blindly); any other request's -32603. Only that request's answer: a 2025-03-26 batch's other
    calls keep theirs, and the ones after it run."""
    logger.exception("%s (id %r) failed in the middleware", req.method, req.id)
    if req.method != "tools/call":
        return ProtocolError(codes.INTERNAL_ERROR, "Internal error")
    return encode_reply(req, version, error_result(INTERNAL_FAILURE), decorate)


async def _shutdown_reply(server: Server, call: Call, responder: Responder) -> None:
    """The request's task is cancelled while the server shuts down (uvicorn cancels what is still
    running once ``--timeout-graceful-shutdown`` is over): its client gets -32000 "the server is
    shutting down" (the error of a question the shutdown leaves unanswered) as the last event of
    its stream, or as its JSON reply, rather than a stream cut off without a response (the
    Streamable HTTP spec: the server SHOULD NOT close it before) or no response at all."""
    error = shutdown_error(call.request.id)
    await last_word(server, responder, encode_error(error), error_status(error.code, call.era))


# What uvicorn's ``Server.shutdown`` cancels each request still running with once its graceful
# timeout is over (the same text from 0.31, the floor, to 0.54; tests/interop/test_shutdown_cancel.py
# runs a real uvicorn, so a change of it shows there).
UVICORN_SHUTDOWN_CANCEL: Final = "Task cancelled, timeout graceful shutdown exceeded"


def servers_cancel(server: Server, cancelled: BaseException) -> bool:
    """Whether ``cancelled`` is the server's, at its shutdown: the server shows it is stopping
    (``PendingReplies.shutting_down``) and the cancellation is uvicorn's own, told by its message.
    Any other is left to end the request as it would have: an outer middleware's time limit
    (``anyio.fail_after`` or ``asyncio.timeout``, which cancel the task as uvicorn does) may write
    its own response; Starlette's BaseHTTPMiddleware's task group cancels our task when the server
    cancels its own, and nothing would reach the client from there anyway."""
    return server.pending.shutting_down() and cancelled.args[:1] == (UVICORN_SHUTDOWN_CANCEL,)


def shutdown_error(request_id: Any) -> ProtocolError:
    """The error of a request the server's shutdown cut off: ``interaction.SHUTTING_DOWN``, the
    error of a question it leaves unanswered (-32000)."""
    return ProtocolError(codes.CONNECTION_CLOSED, str(SHUTTING_DOWN["message"]), id=request_id)


async def last_word(
    server: Server, responder: Responder, payload: bytes | None, status: int, before: tuple[bytes, ...] = ()
) -> None:
    """:meth:`Responder.last_word`, counted as ``answering`` meanwhile, which the lifespan's
    shutdown waits for (uvicorn exits once it is over: ``CallRegistry.settled``)."""
    registry = server.registry
    registry.answering += 1  # before any await: the route's run has just left the registry
    try:
        await responder.last_word(payload, status, before)
    finally:
        registry.answering -= 1
        registry.ended()


def _too_late_for(req: Request, error: ProtocolError, status: int) -> None:
    """An error that the route's run decided (a capability it asked for, the answers it was
    given, its resource) after the response had become an SSE stream: the stream's 200 head is
    sent, so the error is its last event instead of an HTTP ``status``. The client still reads the
    error's code and data; the app's developer is told (a route can check capabilities first)."""
    missing = error.code == codes.MISSING_REQUIRED_CLIENT_CAPABILITY
    hint = " (to have the 400, check ctx.client_capabilities before streaming)" if missing else ""
    logger.warning(
        "%s (id %r): error %d came after the response had become an SSE stream, so it is the stream's "
        "last event under HTTP 200, not an HTTP %d%s",
        req.method,
        req.id,
        error.code,
        status,
        hint,
    )


def _list_result(req: Request, version: str, result: dict[str, Any], decorate: Decorate) -> bytes:
    """A list's result alone, encoded (the reply cache keeps it for requests of any id), as
    :func:`encode_reply` writes results: integers beyond 64 bits exactly (a parameter's default),
    and one that does not fit the revision's wire type an internal error."""
    try:
        wire = result_message(req.id, req.method, version, decorate(req.method, result))["result"]
        try:
            return dumps(wire)
        except TypeError as exc:
            return dumps_again(wire, exc)
    except (ValidationError, ValueError, TypeError):
        logger.exception("result of %s does not fit the %s schema", req.method, version)
    raise ProtocolError(codes.INTERNAL_ERROR, "Internal error: invalid result")


def encode_reply(req: Request, version: str, result: dict[str, Any], decorate: Decorate) -> bytes:
    """The response bytes of ``result``, decorated for the era; a result that cannot be serialised
    is a tool error for tools/call and an internal error otherwise: one of the wrong shape for the
    revision (our bug: logged with its traceback), or nested deeper than even ``dumps_again``
    writes (a value the client's input made: a warning)."""
    try:
        message = result_message(req.id, req.method, version, decorate(req.method, result))
        try:
            return dumps(message)  # the usual path: no Python call besides
        except TypeError as exc:  # e.g. a question's default beyond 64 bits, a result deeper than orjson writes
            return dumps_again(message, exc)
    except NestedTooDeep:
        logger.warning("the result of %s (id %r) is nested too deep to be written as JSON", req.method, req.id)
        why = "The tool's result is nested too deep to be written as JSON."
    except (ValidationError, ValueError, TypeError):  # the one that failed last: the retry's, if any
        logger.exception("result of %s does not fit the %s schema", req.method, version)
        why = "The tool's result could not be encoded as an MCP result."
    if req.method == "tools/call":
        fallback = decorate(req.method, error_result(why))
        return dumps(result_message(req.id, req.method, version, fallback))
    raise ProtocolError(codes.INTERNAL_ERROR, "Internal error: invalid result")
