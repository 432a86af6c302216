"""The MCP endpoint: refuse what is not a well-formed POST, then pick the era for this request.

Era rule (clients.md §1, spec versioning.mdx): ``initialize`` is the handshake era unless it carries
the 2026 ``_meta`` envelope (then it is a removed method, 404). Otherwise
a request is 2026-07-28 when its ``MCP-Protocol-Version`` header names something other than a
handshake revision, when it has no header but carries the modern ``_meta`` envelope, or when its
envelope names a 2026-07-28 revision under a handshake revision's header (the claude.ai connectors'
requests, which ``modern`` tolerates); everything else is the handshake era (VS Code sends no
version header at all).
"""

from __future__ import annotations

from typing import Any

from mcp_types import PROTOCOL_VERSION_META_KEY
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.types import Message, Receive, Scope, Send

from ..handlers import Server
from ..jsonrpc import ProtocolError, encode_error, parse_payload
from ..query_keys import add_query_keys
from . import handshake, modern
from ._checks import NEITHER, NOT_ACCEPTABLE, SSE_ONLY, Headers, Lenient, check_caller, front_verdict, header_map
from ._http import ClientGone, declared_too_large, plain, read_rest, refusal
from ._responder import JsonOnly, SseOnly

__all__ = ["is_modern", "serve"]

_ALLOW = [(b"allow", b"POST")]


# Bytes that a body holds whenever its payload has what they name, however its JSON is written: the
# prefix of the envelope's keys, an initialize's method, or a JSON escape (``\u0069o.…``; ``\/``
# leaves the prefix whole). A body with neither is not looked into for it (the usual request).
_KEY_PREFIX = PROTOCOL_VERSION_META_KEY.split("/", 1)[0].encode()
_INITIALIZE = b'"initialize"'
_ESCAPE = b"\\u"


def _has_envelope(payload: Any) -> bool:
    params = payload.get("params") if isinstance(payload, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta


def _names_modern(payload: Any) -> bool:
    """Whether ``payload`` is an enveloped ``initialize`` (a removed method), or its envelope names
    a 2026-07-28 revision: then a handshake revision's header does not make it a handshake request."""
    if not _has_envelope(payload):
        return False
    named = payload["params"]["_meta"][PROTOCOL_VERSION_META_KEY]
    return payload.get("method") == "initialize" or (type(named) is str and named in MODERN_PROTOCOL_VERSIONS)


def is_modern(stated: str | None, payload: Any, body: bytes) -> bool:
    """``stated``: the revision the request's MCP-Protocol-Version header states (``stated_version``);
    ``body``: the bytes ``payload`` was read from."""
    if stated is None:  # no header, or an empty one: it states nothing, the envelope decides
        # (an initialize too: only one wrapped in the envelope is a 2026 request, whose 404 it gets)
        return _has_envelope(payload)
    if stated in HANDSHAKE_PROTOCOL_VERSIONS:
        # Claude through claude.ai connectors states 2025-11-25 over a 2026-07-28 envelope
        # (anthropics/claude-code#93290): the envelope wins (clients.md §1), modern tolerates the header
        # (.find, not ``in``: bytes.__contains__ first tries its operand as an integer, and makes
        # and drops a TypeError each time, ~1,900 machine instructions: see _rpc_parse)
        return (body.find(_KEY_PREFIX) >= 0 or body.find(_ESCAPE) >= 0) and _names_modern(payload)
    if (
        (body.find(_INITIALIZE) >= 0 or body.find(_ESCAPE) >= 0)
        and isinstance(payload, dict)
        and payload.get("method") == "initialize"
    ):
        # A handshake is never refused, whatever its headers say; only an initialize wrapped in
        # the 2026 envelope is a 2026 request (and gets the spec's 404 for a removed method).
        return _has_envelope(payload)
    return True


async def _not_post(server: Server, scope: Scope, send: Send, headers: Headers) -> None:
    """Anything but POST: 405, once the caller passed the guard against DNS rebinding (a refused
    Host or Origin is 403 whatever the method, as on the OAuth metadata)."""
    refused = check_caller(scope, headers, server.settings)
    if refused is not None:
        await plain(send, refused[0], refusal(refused[1]))
        return
    # No standalone GET stream and no sessions to DELETE (transports.mdx §Listening, §Sessions).
    await plain(send, 405, refusal("Method Not Allowed: the MCP endpoint takes POST"), _ALLOW)


async def _lenient(
    server: Server, receive: Receive, send: Send, headers: Headers, how: Lenient
) -> tuple[Receive, Send] | None:
    """A request whose Accept does not admit both JSON and SSE (``_checks.leniency``): the
    ``receive`` and ``send`` it is served with, the latter writing a form it admits
    (:class:`JsonOnly`, :class:`SseOnly`); None when it was refused: 406 for an Accept admitting
    neither on anything but an initialize (:func:`_initialize_only`), answered as JSON."""
    if how == SSE_ONLY:
        return receive, SseOnly(send)
    if how == NEITHER:
        replay = await _initialize_only(server, receive, headers)
        if replay is None:
            await plain(send, 406, refusal(NOT_ACCEPTABLE))
            return None
        receive = replay
    return receive, JsonOnly(send)


async def _initialize_only(server: Server, receive: Receive, headers: Headers) -> Receive | None:
    """An Accept admitting neither type is refused, but on an initialize (clients.md §2: VS Code
    reads any 4xx to one but 401 as an old SSE server; RFC 9110 §12.5.1 lets a server disregard
    Accept): the body is read to tell, and a ``receive`` that hands it over again is returned, or
    None (406) when it is no initialize, or too large or malformed to tell."""
    limit = server.settings.max_body_bytes
    if declared_too_large(headers, limit, server.limit_digits):
        return None
    try:
        body = await read_rest(receive, await receive(), limit)
        payload = None if body is None else parse_payload(body)
    except (ClientGone, ProtocolError):
        return None
    if body is None or not handshake.is_initialize(payload):
        return None
    left: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return left.pop() if left else await receive()

    return replay


async def serve(server: Server, scope: Scope, receive: Receive, send: Send, headers: Headers | None = None) -> None:
    """``headers``: the request's header map, when the security layer in front already made it."""
    if headers is None:
        headers = header_map(scope)
    if scope["method"] != "POST":
        await _not_post(server, scope, send, headers)
        return
    refused, stated = front_verdict(scope, headers, server.settings, server.verdicts)
    if refused is not None:
        if isinstance(refused, tuple):
            await plain(send, refused[0], refusal(refused[1]))
            return
        lenient = await _lenient(server, receive, send, headers, refused)
        if lenient is None:
            return
        receive, send = lenient  # and on as any request, answered in a form the client admits
    limit = server.settings.max_body_bytes
    body: bytes | None = None
    if not declared_too_large(headers, limit, server.limit_digits):
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body", b"")  # the usual case, without read_rest's coroutine
        else:
            try:
                body = await read_rest(receive, message, limit)
            except ClientGone:
                return  # the client left before sending its whole request: no one to answer
    if body is None or len(body) > limit:
        await plain(send, 413, refusal(f"Payload Too Large: the body exceeds {limit} bytes"))
        return
    try:
        payload = parse_payload(body)
    except ProtocolError as exc:
        await plain(send, 400, encode_error(exc))
        return
    if not server.prepared:
        server.prepare(scope)
    if server.query_keys:  # the app has APIKeyQuery schemes: their values on our URL are credentials
        add_query_keys(headers, scope.get("query_string", b""), server.query_keys)
    if is_modern(stated, payload, body):
        # Its bytes are read: a subscriptions/listen stream outlives its request (_listen_stream)
        del body, message
        await modern.serve(server, scope, receive, send, headers, payload)
    else:
        await handshake.serve(server, scope, receive, send, headers, payload, stated)
