"""Handshake era (2024-11-05 … 2025-11-25): ``initialize``, version header defaults, batches, 202s.

Stateless by design: every POST stands alone, and an ``Mcp-Session-Id`` is minted and checked only
with ``session_ids=True`` (a signed id, no server-side state, which carries the revision and the
capabilities of ``initialize``: ``sealing.Sessions``). The negotiated version is read from
``MCP-Protocol-Version`` on each request; absent, it is the one the session id carries, else
2025-03-26 (transports.mdx §Protocol Version Header: assumed only when the server "has no other way
to identify the version"). A header that differs from the id's revision wins. ``initialize`` is
never refused with a 4xx: VS Code would take that as a sign of the old SSE transport. Differences
from the spec, on purpose: a ``MCP-Protocol-Version`` value we do not know never reaches this module
(the router sends it to the 2026-07-28 path, which answers it properly), so this era has no 400 for
it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import anyio
from mcp_types import jsonrpc as codes
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from starlette.types import Receive, Scope, Send

from .._protocol import negotiate
from ..handlers import Call, Server
from ..jsonrpc import (
    ClientReply,
    Message,
    Notification,
    ProtocolError,
    Request,
    dumps,
    error_message,
    error_status,
    is_id,
    parse_message,
    request_id_of,
)
from ..sealing import Session, StateError
from ._checks import text_of
from ._http import (
    caller_key,
    encode_reply,
    internal_failure,
    last_word,
    new_call,
    serve_request,
    servers_cancel,
    shutdown_error,
)
from ._responder import Responder

__all__ = ["is_initialize", "serve"]

DEFAULT_VERSION = "2025-03-26"
SESSION_NOT_FOUND = -32001
_BATCH_VERSIONS = frozenset({"2024-11-05", "2025-03-26"})
# the requests a route answers, whose refusal of the token oauth makes the endpoint's (_streamed)
_ROUTED = frozenset({"tools/call", "resources/read", "prompts/get"})
_CANCELLED = b""  # a batch item's reply: the request was cancelled (cancellation.mdx: send nothing)


def _unchanged(method: str, result: dict[str, Any]) -> dict[str, Any]:
    return result


def serve(
    server: Server,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: Mapping[bytes, bytes],
    payload: Any,
    stated: str | None,
) -> Awaitable[None]:
    """Checks the request at once and returns what answers it, for the endpoint to await (one
    coroutine fewer on every request's path, as in the 2026-07-28 era). ``stated``: the revision
    the MCP-Protocol-Version header states (``_checks.stated_version``), which counts here when it
    is a handshake revision (an initialize may state another: it is read as stating none). Without
    it, a valid session id's negotiated revision counts as stated."""
    responder = Responder(send)
    stated = stated if stated in HANDSHAKE_PROTOCOL_VERSIONS else None
    sessions = server.sessions
    session: Session | None = None  # what its session id says of the client, when it says
    if sessions is not None and not is_initialize(payload):
        try:
            session = sessions.open(text_of(headers, b"mcp-session-id"))
        except StateError:
            # transports.mdx §Session Management: an id we did not issue (or that expired) is 404,
            # whatever the POST carries; only a lone initialize starts afresh.
            if b"mcp-session-id" in headers:
                server.foreign_token("an Mcp-Session-Id")
            return responder.error(_session_not_found(payload), "handshake", 404)
        if stated is None and session is not None:
            # no header, but the id says what initialize negotiated (None in an id sealed before
            # ids said): that revision is the stated one, for the shapes, the reading and batches
            stated = session.version
    version = stated or DEFAULT_VERSION
    try:
        message = parse_message(payload)
    except ProtocolError as exc:
        if isinstance(payload, list):  # a batch, which is no one message (tested here, not on every request)
            return _batch(server, scope, receive, headers, payload, stated, responder, session)
        return responder.error(exc, "handshake")
    if not isinstance(message, Request):  # one test for the usual case
        return _not_request(server, headers, message, responder, version)
    if message.method == "initialize":
        version = stated = negotiate((message.params or {}).get("protocolVersion"))
        if sessions is not None:
            capabilities = (message.params or {}).get("capabilities")
            responder.headers = ((b"mcp-session-id", sessions.mint(capabilities, version).encode()),)
    # What goes out to a client stating no revision (nor a session id that says it) takes the latest
    # one's shapes: VS Code never states it and speaks a later revision than the 2025-03-26 the
    # request is read as
    replies_as = stated or LATEST_HANDSHAKE_VERSION
    call = new_call(
        server,
        scope,
        receive,
        headers,
        message,
        "handshake",
        version,
        responder,
        caller_key(server, headers),
        replies_as=replies_as,
        declared=None if session is None else session.declared,
        # without a session, what _asks_as gives is replies_as: new_call's default
        asks_as=None if session is None else _asks_as(stated, session, replies_as),
    )
    if server.settings.response_mode == "sse":
        return _streamed(server, call, responder)
    return serve_request(server, call, responder, _unchanged)


def _not_request(
    server: Server,
    headers: Mapping[bytes, bytes],
    message: Notification | ClientReply,
    responder: Responder,
    version: str,
) -> Awaitable[None]:
    """A lone notification (202, or 400 when its params are refused: ``Server.notification_refusal``),
    or a client's reply to a question of ours."""
    if isinstance(message, Notification):
        refused = server.notification_refusal(message, version)
        if refused is not None:
            return responder.error(refused, "handshake")
        _notification(server, headers, message)
        return responder.accepted()
    # Ignored (still 202, as for an id nobody waits for; Server.take_reply logs a misrouted one) unless the
    # caller that was asked answers; refused (400, not taken: the request stays open) when it does
    # not answer what was asked.
    caller = caller_key(server, headers)
    refused = server.pending.refusal(message.id, message.body, caller)
    if refused is not None:
        return responder.error(refused, "handshake")
    server.take_reply(message.id, message.body, caller)
    return responder.accepted()


async def _streamed(server: Server, call: Call, responder: Responder) -> None:
    """``response_mode="sse"``: the stream begins before the request is handled, except, with
    ``oauth``, for a request a route answers (``_ROUTED``): its head waits for the first thing
    written, as in the default mode, so that the route's refusal of the token, when nothing was
    written before it, is the endpoint's HTTP 401 (or 403), not an event under a 200 already sent
    (authorization.mdx: an invalid or expired token MUST get HTTP 401). The reply is a stream
    either way."""
    if server.challenge is not None and call.request.method in _ROUTED:
        responder.stream_later()
    else:
        await responder.stream_now()
        responder.keep_session(call.scope)  # the head went out before the call: its session as the route finds it
    await serve_request(server, call, responder, _unchanged)


def _asks_as(stated: str | None, session: Session | None, otherwise: str) -> str:
    """The revision a route's questions to the client are held to (``Call.asks_as``): the one the
    request states (its header, else what its session id says initialize negotiated: ``serve``
    counts that as stated), else, for an id that does not say, the 2025-03-26 a request stating
    none is read as (transports.mdx); ``otherwise`` when nothing is known (no session id, or one
    that carries nothing of initialize)."""
    if stated is not None:
        return stated
    if session is None:
        return otherwise
    return session.version or DEFAULT_VERSION


def is_initialize(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("method") == "initialize"


def _session_not_found(payload: Any) -> ProtocolError:
    return ProtocolError(SESSION_NOT_FOUND, "Session not found", id=request_id_of(payload))


def _notification(server: Server, headers: Mapping[bytes, bytes], message: Notification) -> None:
    # A notification accepted (Server.notification_refusal found nothing to refuse).
    # basic/utilities/cancellation.mdx: stop the work and send no response for it. A requestId
    # absent or null (the SDK's types allow them) matches nothing, and the server MAY ignore what
    # it cannot match.
    if message.method == "notifications/cancelled" and message.params:
        request_id = message.params.get("requestId")
        if is_id(request_id):
            server.cancel(caller_key(server, headers), request_id)


async def _batch(
    server: Server,
    scope: Scope,
    receive: Receive,
    headers: Mapping[bytes, bytes],
    items: list[Any],
    stated: str | None,
    responder: Responder,
    session: Session | None,
) -> None:
    """2025-03-26 §Sending Messages: a POST may carry a batch; later revisions removed batching.
    A batch of more than ``max_batch_messages`` items is refused whole (400, -32600, id null, as an
    empty batch is) before any item is read: each item's reply is kept until the batch's goes
    out, so without a bound one cheap POST (80,000 ``tools/list`` in 4 MiB) built a reply of
    hundreds of MiB. Every item is read first. A batch of only notifications and responses is all or nothing
    (:func:`_answers_only`); one with requests is refused whole if a notification's params are
    (:func:`_first_bad_notification`). Otherwise the items run one after the other, and each gets its answer:
    one JSON array, unless a call streams: then it is an SSE stream carrying what the calls send
    (the server MAY send requests and notifications before the responses) and then the responses.
    Those responses are held until then in either form, so once the held ones pass
    ``max_body_bytes`` each further request is answered with :func:`_over_budget`, not run: a
    batch holds at most that plus one reply (as large as a lone request's), however many items.
    ``stated``: the handshake revision the request states, by its header or else its session id
    (``serve``), if any (else it is read as 2025-03-26)."""
    version = stated or DEFAULT_VERSION
    most = server.settings.max_batch_messages
    if version not in _BATCH_VERSIONS or not items or len(items) > most:
        # Refused whole, before any item is read or run: the items are counted as sent
        reason = "an empty batch"
        if version not in _BATCH_VERSIONS:
            reason = f"JSON-RPC batches (not allowed in protocol {version})"
        elif items:
            reason = f"a batch of {len(items)} messages (at most {most}: max_batch_messages)"
        await responder.error(ProtocolError(codes.INVALID_REQUEST, f"Invalid request: {reason}"), "handshake")
        return
    messages = [_parsed(item) for item in items]
    if not any(map(_requests, messages)):
        await _answers_only(server, headers, messages, responder, version)
        return
    refused = _first_bad_notification(server, messages, version)
    if refused is not None:
        await responder.error(refused, "handshake")
        return
    if server.settings.response_mode == "sse":
        await responder.stream_now()  # the option's every reply, a batch's responses included
    # what the items' calls know of the client, the same for each: the batch's headers and session
    declared = None if session is None else session.declared
    asks_as = _asks_as(stated, session, version)
    replies: list[bytes] = []
    budget = server.settings.max_body_bytes
    held = 0  # the bytes of ``replies``, each kept until the batch's reply is written
    for index, (item, message) in enumerate(zip(items, messages, strict=True)):
        if isinstance(message, ProtocolError):
            answer: bytes | ProtocolError | None = message
        elif held > budget and isinstance(message, Request):
            answer = _over_budget(message, budget)
        else:
            try:
                answer = await _batch_item(
                    server, scope, receive, headers, item, message, version, responder, declared, asks_as
                )
            except anyio.get_cancelled_exc_class() as cancelled:
                if servers_cancel(server, cancelled):
                    await _batch_shut(server, responder, replies, messages[index:])
                raise  # the cancellation goes on, whatever was written
        if isinstance(answer, ProtocolError):
            answer = dumps(error_message(answer))
        if answer is not None and answer != _CANCELLED:
            replies.append(answer)
            held += len(answer)
    if responder.streaming:
        # A call streamed (a request to the client, progress, a log, a keep-alive): the responses
        # are the stream's last events, one message each (as clients read an event), the last
        # one ending it; none when every request was cancelled.
        for reply in replies[:-1]:
            await responder.event(reply)
        await responder.finish(replies[-1] if replies else None)
        return
    if not replies:
        # Every request was cancelled: a JSON-RPC batch reply is never an empty array, so the batch
        # gets a stream that ends without an event (as a lone request does).
        await responder.finish(None)
        return
    # Joined by hand: each reply was encoded (and checked against orjson's depth limit) alone.
    await responder.json(b"[" + b",".join(replies) + b"]")


def _over_budget(message: Request, budget: int) -> ProtocolError:
    """The answer to a batch's request not run because the replies held before it passed
    ``budget`` (``max_body_bytes``): -32600 with its id, as an item that cannot be batched is."""
    reason = f"the batch's reply reached its size limit ({budget} bytes: max_body_bytes); this request was not run"
    return ProtocolError(codes.INVALID_REQUEST, f"Invalid request: {reason}", id=message.id)


async def _batch_shut(
    server: Server, responder: Responder, replies: list[bytes], rest: list[Message | ProtocolError]
) -> None:
    """A batch whose task is cancelled while the server shuts down (as ``_http._shutdown_reply``
    answers a lone request): the replies of the items that ran, then the shutdown's error for each
    request cut off or not run yet (an item refused before it could run keeps its own error), as
    the batch's reply would have been written: with no reply (each request cancelled, only a
    notification cut off), a stream that ends without an event, as :func:`_batch` ends such a batch."""
    for message in rest:
        if isinstance(message, Request):
            replies.append(dumps(error_message(shutdown_error(message.id))))
        elif isinstance(message, ProtocolError) and message.id is not None:
            replies.append(dumps(error_message(message)))
    if not replies:
        await last_word(server, responder, None, 200)
    elif responder.streaming:
        await last_word(server, responder, replies[-1], 200, tuple(replies[:-1]))
    else:
        await last_word(server, responder, b"[" + b",".join(replies) + b"]", 200)


def _parsed(item: Any) -> Message | ProtocolError:
    """A batch item read (parse_message), or why it cannot be: its error, carrying its id if any."""
    try:
        return parse_message(item)
    except ProtocolError as exc:
        return exc


def _first_bad_notification(
    server: Server, messages: list[Message | ProtocolError], version: str
) -> ProtocolError | None:
    """The refusal of a batch's first notification whose params are refused
    (:meth:`Server.notification_refusal`), if any: a batch with requests that holds one is refused
    whole, before any item runs, with a lone bad notification's 400. An error item for it would
    need an id, and it has none: JSON-RPC 2.0 §6, the server MUST NOT reply to a notification,
    including within a batch; an item with id null is refused by clients (the TypeScript SDK's
    JSONRPCMessageSchema; 2025-03-26's JSONRPCError.id is a RequestId)."""
    for message in messages:
        if isinstance(message, Notification):
            refused = server.notification_refusal(message, version)
            if refused is not None:
                return refused
    return None


def _requests(message: Message | ProtocolError) -> bool:
    """Whether a batch item is a request: one read as such, or one refused with its id (an id
    that can be echoed makes the refusal its response)."""
    return isinstance(message, Request) or (isinstance(message, ProtocolError) and message.id is not None)


async def _answers_only(
    server: Server,
    headers: Mapping[bytes, bytes],
    messages: list[Message | ProtocolError],
    responder: Responder,
    version: str,
) -> None:
    """A batch of only notifications and responses (transports.mdx §Sending Messages: 202 if the
    server accepts the input, else an HTTP error): every item is checked before any is acted on, so
    that a refused body has had no effect (a response taken, a call cancelled, under a 400 that says
    the input was not accepted); the errors, none with an id, are the 400's body."""
    caller = caller_key(server, headers)
    refused = [
        refusal for message in messages if (refusal := _item_refusal(server, message, caller, version)) is not None
    ]
    if refused:
        status = error_status(refused[0].code, "handshake", request=False)
        await responder.json(b"[" + b",".join(dumps(error_message(error)) for error in refused) + b"]", status)
        return
    for message in messages:
        if isinstance(message, Notification):
            _notification(server, headers, message)
        elif isinstance(message, ClientReply):
            server.take_reply(message.id, message.body, caller)
    await responder.accepted()


def _item_refusal(server: Server, message: Message | ProtocolError, caller: str, version: str) -> ProtocolError | None:
    """Why a batch item cannot be accepted (its error, a reply's :meth:`PendingReplies.refusal`,
    or a notification's :meth:`Server.notification_refusal`)."""
    if isinstance(message, ClientReply):
        return server.pending.refusal(message.id, message.body, caller)
    if isinstance(message, Notification):
        return server.notification_refusal(message, version)
    return message if isinstance(message, ProtocolError) else None


async def _batch_item(
    server: Server,
    scope: Scope,
    receive: Receive,
    headers: Mapping[bytes, bytes],
    item: Any,
    message: Message,
    version: str,
    responder: Responder,
    declared: dict[str, Any] | None,
    asks_as: str,
) -> bytes | ProtocolError | None:
    """The reply to ``item`` (read as ``message``): a result's bytes, its error (id filled in when
    known), ``_CANCELLED`` (a request that is answered with nothing), or None (a notification, its
    params checked by :func:`_first_bad_notification`, or a client's response accepted). A call's
    notifications and requests to the client go out on ``responder``, the batch's: the first makes
    its reply an SSE stream (the call's result is not written early: ``early`` is never set for a
    batch, the batch's responses go out together)."""
    try:
        if isinstance(message, Notification):
            _notification(server, headers, message)  # accepted: _batch refused the batch otherwise
            return None
        if isinstance(message, ClientReply):
            caller = caller_key(server, headers)
            refused = server.pending.refusal(message.id, message.body, caller)
            if refused is None:
                server.take_reply(message.id, message.body, caller)
            return refused
        if message.method == "initialize":
            raise ProtocolError(codes.INVALID_REQUEST, "Invalid request: initialize cannot be batched")
        call = new_call(
            server,
            scope,
            receive,
            headers,
            message,
            "handshake",
            version,
            responder,
            # per item: an earlier item's list request may rebuild the catalog, and with it the
            # headers that name the caller (a new API-key scheme), which later requests then use
            caller_key(server, headers),
            declared=declared,
            asks_as=asks_as,
        )
        result = await server.handle(call)
        if result is None:
            return _CANCELLED
        return encode_reply(message, version, result, _unchanged)
    except ProtocolError as exc:
        if exc.id is None:
            exc.id = request_id_of(item)
        return exc
    except Exception:  # the middleware's own bug: this request's answer alone, the batch goes on
        if not isinstance(message, Request):
            raise  # (a notification or a client's reply, which has no answer to carry it)
        failure = internal_failure(message, version, _unchanged)
        if isinstance(failure, ProtocolError):
            failure.id = request_id_of(item)
        return failure
