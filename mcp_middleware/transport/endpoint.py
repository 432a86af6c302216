"""The MCP endpoint: refuse what is not a well-formed POST, then pick the era for this request.

Era rule (clients.md §1, spec versioning.mdx): ``initialize`` is the handshake era unless it carries
the 2026 ``_meta`` envelope (then it is a removed method, 404). Otherwise
a request is 2026-07-28 when its ``MCP-Protocol-Version`` header names something other than a
handshake revision, or when it has no header but carries the modern ``_meta`` envelope; everything
else is the handshake era (VS Code sends no version header at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_types import PROTOCOL_VERSION_META_KEY
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Receive, Scope, Send

from .._protocol import SUPPORTED_VERSIONS
from ..handlers import Server
from ..jsonrpc import ProtocolError, encode_error, parse_payload
from ..query_keys import add_query_keys
from . import handshake, modern
from ._checks import Headers, check_caller, check_request, header_map
from ._http import ClientGone, declared_too_large, plain, read_rest, refusal

__all__ = ["is_modern", "serve", "stated_modern"]

_ALLOW = [(b"allow", b"POST")]


def _has_envelope(payload: Any) -> bool:
    params = payload.get("params") if isinstance(payload, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta


def stated_modern(version: bytes | None) -> bool | None:
    """What an ``MCP-Protocol-Version`` value states: 2026-07-28 (True: anything but a handshake
    revision), the handshake era (False), or nothing (None: absent, or empty)."""
    if version is None or not (stated := version.decode("latin-1").strip()):  # an empty one states nothing
        return None
    return stated not in HANDSHAKE_PROTOCOL_VERSIONS


# The values clients send (each revision we serve, as written, and none), read once by the rule.
_STATED: dict[bytes | None, bool | None] = {None: None}
_STATED.update({version.encode(): stated_modern(version.encode()) for version in SUPPORTED_VERSIONS})


def is_modern(headers: Mapping[bytes, bytes], payload: Any) -> bool:
    if isinstance(payload, dict) and payload.get("method") == "initialize":
        # A handshake is never refused, whatever its headers say; only an initialize wrapped in
        # the 2026 envelope is a 2026 request (and gets the spec's 404 for a removed method).
        return _has_envelope(payload)
    version = headers.get(b"mcp-protocol-version")
    try:
        stated = _STATED[version]
    except KeyError:  # a value of another form (padded, empty, unknown)
        stated = stated_modern(version)
    return _has_envelope(payload) if stated is None else stated


async def _not_post(server: Server, scope: Scope, send: Send, headers: Headers) -> None:
    """Anything but POST: 405, once the caller passed the guard against DNS rebinding (a refused
    Host or Origin is 403 whatever the method, as on the OAuth metadata)."""
    refused = check_caller(scope, headers, server.settings)
    if refused is not None:
        await plain(send, refused[0], refusal(refused[1]))
        return
    # No standalone GET stream and no sessions to DELETE (transports.mdx §Listening, §Sessions).
    await plain(send, 405, refusal("Method Not Allowed: the MCP endpoint takes POST"), _ALLOW)


async def serve(server: Server, scope: Scope, receive: Receive, send: Send, headers: Headers | None = None) -> None:
    """``headers``: the request's header map, when the security layer in front already made it."""
    if headers is None:
        headers = header_map(scope)
    if scope["method"] != "POST":
        await _not_post(server, scope, send, headers)
        return
    refused = check_request(scope, headers, server.settings, server.verdicts)
    if refused is not None:
        await plain(send, refused[0], refusal(refused[1]))
        return
    limit = server.settings.max_body_bytes
    body: bytes | None = None
    if not declared_too_large(headers, limit):
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
    era = modern if is_modern(headers, payload) else handshake
    await era.serve(server, scope, receive, send, headers, payload)
