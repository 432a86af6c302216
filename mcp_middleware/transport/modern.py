"""2026-07-28: stateless requests, each carrying its own ``_meta`` envelope and routing headers.

The validation ladder follows basic/index.mdx and transports/streamable-http.mdx, in the order the
conformance suite pins: envelope keys present (-32602), then headers against the body (-32020:
``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``; names case-insensitive, values
case-sensitive, ``=?base64?…?=`` decoded, raw non-ASCII or control characters refused), then the
version served (-32022 with ``data.supported``/``data.requested``). ``Mcp-Session-Id`` and
``Last-Event-ID`` are ignored. Every result carries ``resultType`` and the server's identity in
``_meta``; cacheable results carry caching hints (server/utilities/caching.mdx): lists are fresh
for ``LIST_TTL_MS`` (they depend on the routes only), a ``resources/read`` says what its route's
Cache-Control says (``_resource_read.cache_hints``, set before the decorator's defaults).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from operator import itemgetter
from typing import Any, NoReturn

from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)
from mcp_types import jsonrpc as codes
from mcp_types.methods import CACHEABLE_METHODS
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.types import Receive, Scope, Send

from .._once import Remembered
from .._protocol import SUPPORTED_VERSIONS
from ..handlers import Server
from ..jsonrpc import ClientReply, Notification, ProtocolError, Request, parse_message, request_id_of
from ..param_headers import check_param_headers, decode_header, is_plain
from ..validation import KEPT_BYTES, PASSED, Envelope, Passed, envelope_of, kept
from ._checks import LOGGED_CHARS, text_of
from ._http import Decorate, new_call, serve_request
from ._responder import ClosingCancels

__all__ = ["TOLERATED", "serve"]

logger = logging.getLogger(__name__)

_NAME_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_ROUTING = frozenset({b"mcp-protocol-version", b"mcp-method", b"mcp-name"})
_LOG_LEVELS = frozenset({"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"})
LIST_TTL_MS = 60_000
_MEMO_KEY = "modern.decorate"  # Server.memo: the decorators of public and private results, in that order
_CACHE_SCOPES = ("public", "private")  # (indexed by a bool, as the decorators)


def _mismatch(what: str) -> ProtocolError:
    return ProtocolError(codes.HEADER_MISMATCH, f"Header mismatch: {what}")


# What was told of the tolerated path so far (:func:`_tell_once`), each once per process: the
# (header, envelope, missing Mcp-Method/Mcp-Name) triples, from fixed lists (a few dozen), and the
# missing Mcp-Param-* header names, one entry each, which only the catalog's tools declare (review
# s10f: never the set of them a request lacked, which a client varying its optional arguments
# makes without bound). So this holds what clients send without emptying.
TOLERATED = Remembered(1024)


def _tolerated(stated: str, meta: dict[str, Any]) -> bool:
    """Whether a header stating ``stated`` passes although ``meta`` names another revision: only a
    handshake revision over a 2026-07-28 envelope, what Claude sends through claude.ai connectors
    (anthropics/claude-code#93290). The spec says the two MUST match (-32020); refusing it locks
    that client out, so the envelope's revision is served (and the caller logs it, :func:`_tell_once`).
    On that path a missing Mcp-Method or Mcp-Name passes too (the body decides): nothing shows these
    clients send them, and the handshake era, which served them before, reads neither."""
    named = meta[PROTOCOL_VERSION_META_KEY]
    return stated in HANDSHAKE_PROTOCOL_VERSIONS and type(named) is str and named in MODERN_PROTOCOL_VERSIONS


def _tell_once(stated: str, meta: dict[str, Any], missing: tuple[str, ...], lacked: tuple[str, ...] = ()) -> None:
    """Log a tolerated request (:func:`_tolerated`) with the routing headers ``missing`` and the
    Mcp-Param-* headers ``lacked``: when its pair of revisions and ``missing`` is new, or one of
    ``lacked`` was not told before (each header name is told once, :data:`TOLERATED`)."""
    named = meta[PROTOCOL_VERSION_META_KEY]
    new = TOLERATED.first((stated, named, missing))
    told = [name for name in lacked if TOLERATED.first(name)]  # (each one remembered)
    if new or told:
        _tell_tolerated(stated, named, meta.get(CLIENT_INFO_META_KEY), missing + lacked)


def _checked(
    server: Server, headers: Mapping[bytes, bytes], req: Request
) -> tuple[str, Envelope | Passed | None, tuple[Any, ...] | None]:
    """The request's protocol version, after the ladder (envelope, headers, version, Mcp-Param-*);
    its params' envelope (``validation.envelope_of``, for the params' check after it), or
    ``PASSED`` when a remembered verdict stands for that check too; and the key to remember a new
    verdict by once the params pass their check (``Server.keep_ladder``), or None.

    The ladder's verdict depends only on the envelope (the params without the arguments and the
    progress token), the method and four header values, which a client repeats on every call: a
    passed one is remembered by them (``Server.ladders``), unless they are large (:func:`_kept`),
    and only after the params' check passed (the envelope, method and revision are its key too,
    so a remembered verdict stands for it). The Mcp-Param-* check reads the arguments and runs
    every time."""
    envelope = envelope_of(req.method, req.params)
    key = None
    if envelope is not None and not getattr(headers, "repeated", ()):  # (never kept with a repeated mcp-*)
        try:
            key = (req.method, envelope, _ROUTING_VALUES.get(req.method, _VALUES_UNNAMED)(headers))
        except KeyError:  # a routing header missing: a ladder that fails, or (no Mcp-Name, no name) not kept
            key = None
    version = None
    if key is not None:
        try:
            version = server.ladders.get(key)
        except TypeError:  # a value that is no key (a bytearray: ASGI says bytes): checked, not kept
            key = None
    checked: Envelope | Passed | None = PASSED
    if version is None:
        version = _ladder(server, headers, req)
        key, checked = (_kept(key) if key is not None else None), envelope
    if req.method == "tools/call" and server.catalog.param_headers:
        _check_param_headers(server, req.params or {}, headers, version)
    return version, checked, key


# The header values a ladder's verdict depends on besides the envelope, read in one C call: the
# version and Mcp-Method, and Mcp-Name for a method with a name (on another it is not read). A
# KeyError when one is missing: such a request is not remembered.
_VALUES_UNNAMED = itemgetter(b"mcp-protocol-version", b"mcp-method")
_ROUTING_VALUES = {method: itemgetter(b"mcp-protocol-version", b"mcp-method", b"mcp-name") for method in _NAME_PARAM}


def _kept(key: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """A passed ladder's key as ``Server.ladders`` keeps it, or None: its envelope as
    ``validation.kept`` keeps one (none longer than ``KEPT_BYTES``), and the method and the
    header values no longer than that together (they are not bounded by the envelope: Mcp-Method
    is compared stripped). A request with a repeated ``mcp-*`` header has no key. So the table
    holds at most 1,024 times 4 KiB. Runs only to keep a new verdict."""
    method, envelope, values = key
    envelope = kept(envelope)
    if envelope is None or len(method) + sum(map(len, values)) > KEPT_BYTES:
        return None
    return method, envelope, values


def _ladder(server: Server, headers: Mapping[bytes, bytes], req: Request) -> str:
    """The checks of :func:`_checked` on the envelope and the headers: raises the first failure."""
    params = req.params or {}
    _check_stated(headers, params)
    meta = _check_envelope(params)
    # (a call where Mcp-Param-* are checked tells a tolerated request after them: _check_param_headers)
    told = req.method != "tools/call" or not server.catalog.param_headers
    _check_headers(headers, req.method, params, meta, told)
    # A version that is not a string never gets here: it cannot match the header (-32020).
    version: str = meta[PROTOCOL_VERSION_META_KEY]
    if version not in MODERN_PROTOCOL_VERSIONS:
        _unsupported(version)
    return version


def _tell_tolerated(stated: str, named: str, info: Any, missing: tuple[str, ...]) -> None:
    """Log that a header stating ``stated`` was tolerated over an envelope naming ``named``, with the
    routing headers ``missing``, and by whom (``info``: the envelope's clientInfo, as the client sent
    it: checked after this; its name quoted as Python writes a string, so it cannot pass for the rest
    of the line, and clipped as ``_checks`` clips a client's value)."""
    name = info.get("name") if isinstance(info, dict) else None
    client = "a client that gave no clientInfo name"
    if isinstance(name, str):
        client = repr(name[:LOGGED_CHARS])
        if len(name) > LOGGED_CHARS:
            client += f" (its first {LOGGED_CHARS} of {len(name)} characters)"
    absent = f", and no {' and no '.join(missing)} header (tolerated: the body decides)" if missing else ""
    logger.warning(
        "MCP endpoint read a request of %s as %r, its params._meta's revision, although its "
        "MCP-Protocol-Version header says %r%s (claude.ai connectors send this; the spec asks -32020, "
        "tolerated so they are not locked out; logged once per pair of revisions and missing Mcp-Method/"
        "Mcp-Name, and once per missing Mcp-Param-* header)",
        client,
        named,
        stated,
        absent,
    )


def _check_notification(headers: Mapping[bytes, bytes], note: Notification) -> str:
    """A notification's routing headers, required as on a request (transports: "all requests and
    notifications"): a version of ours, the same as its ``_meta``'s if it has one, and Mcp-Method.
    The revision it is read as: its header's (on the tolerated path, its ``_meta``'s)."""
    version = (text_of(headers, b"mcp-protocol-version") or "").strip()
    if not version:
        raise _mismatch("MCP-Protocol-Version is missing")
    meta = (note.params or {}).get("_meta")
    named = version
    if isinstance(meta, dict):
        named = meta.get(PROTOCOL_VERSION_META_KEY, version)
        if named != version and _tolerated(version, meta):  # (a handshake revision's header: the era rule's)
            _tell_once(version, meta, _tolerated_method(headers, note.method))
            return str(named)  # (a 2026-07-28 revision: _tolerated)
    if version not in MODERN_PROTOCOL_VERSIONS:
        _unsupported(version)
    if named != version:
        raise _mismatch("MCP-Protocol-Version does not match params._meta")
    sent = text_of(headers, b"mcp-method")
    if sent is None or sent.strip() != note.method:
        raise _mismatch("Mcp-Method does not match the body's method")
    return version


def _check_stated(headers: Mapping[bytes, bytes], params: dict[str, Any]) -> None:
    """A request without the envelope is here for its MCP-Protocol-Version header, which names no
    handshake revision (the endpoint's era rule): when it names none of ours either (a typo, a
    future revision), that is what the client is told, with every revision it could fall back to,
    rather than that ``params._meta`` lacks an envelope it never meant to send."""
    meta = params.get("_meta")
    if type(meta) is dict and PROTOCOL_VERSION_META_KEY in meta:
        return
    stated = (text_of(headers, b"mcp-protocol-version") or "").strip()
    if stated and stated not in MODERN_PROTOCOL_VERSIONS:
        _unsupported(stated)


def _check_envelope(params: dict[str, Any]) -> dict[str, Any]:
    meta = params.get("_meta")
    if type(meta) is not dict or PROTOCOL_VERSION_META_KEY not in meta or CLIENT_CAPABILITIES_META_KEY not in meta:
        _envelope_missing(meta)
    if type(meta[CLIENT_CAPABILITIES_META_KEY]) is not dict:
        raise ProtocolError(codes.INVALID_PARAMS, "Invalid params: client capabilities must be an object")
    level = meta.get(LOG_LEVEL_META_KEY)
    if level is not None and (type(level) is not str or level not in _LOG_LEVELS):  # a list is unhashable
        raise ProtocolError(codes.INVALID_PARAMS, f"Invalid params: unknown log level {level!r}")
    return meta


def _envelope_missing(meta: Any) -> NoReturn:
    if not isinstance(meta, dict):
        raise ProtocolError(
            codes.INVALID_PARAMS,
            f"Invalid params: params._meta must carry {PROTOCOL_VERSION_META_KEY!r} and "
            f"{CLIENT_CAPABILITIES_META_KEY!r}",
        )
    missing = [k for k in (PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY) if k not in meta]
    raise ProtocolError(codes.INVALID_PARAMS, f"Invalid params: params._meta is missing {', '.join(missing)}")


def _check_headers(
    headers: Mapping[bytes, bytes], method: str, params: dict[str, Any], meta: dict[str, Any], told: bool = True
) -> None:
    for name in getattr(headers, "repeated", ()):
        if name in _ROUTING or name.startswith(b"mcp-param-"):
            # A repeated routing or Mcp-Param-* header: proxies may read the other copy.
            raise _mismatch(f"{name.decode('latin-1')} appears more than once")
    version = headers.get(b"mcp-protocol-version")
    stated = None if version is None else version.decode("latin-1").strip()
    if stated is None or stated != meta[PROTOCOL_VERSION_META_KEY]:
        if stated is None or not _tolerated(stated, meta):
            raise _mismatch("MCP-Protocol-Version does not match params._meta")
        missing = _check_tolerated(headers, method, params)
        if told:
            _tell_once(stated, meta, missing)
        return
    sent = headers.get(b"mcp-method")
    if sent is None or sent.decode("latin-1").strip() != method:
        raise _mismatch("Mcp-Method does not match the body's method")
    _check_name(method, params, text_of(headers, b"mcp-name"))


def _check_tolerated(headers: Mapping[bytes, bytes], method: str, params: dict[str, Any]) -> tuple[str, ...]:
    """:func:`_check_headers` on the tolerated path (:func:`_tolerated`): a missing Mcp-Method or
    Mcp-Name passes (the body decides), a present one is checked as on any request; the headers
    it lacked (for the caller to tell, :func:`_tell_once`)."""
    missing = _tolerated_method(headers, method)
    name = text_of(headers, b"mcp-name")
    if name is None and method in _NAME_PARAM:
        missing += ("Mcp-Name",)
    elif name is not None:
        _check_name(method, params, name)
    return missing


def _tolerated_method(headers: Mapping[bytes, bytes], method: str) -> tuple[str, ...]:
    """Mcp-Method on the tolerated path: checked when present (-32020), and when missing the body
    decides; the headers found missing (Mcp-Method, or none)."""
    sent = text_of(headers, b"mcp-method")
    if sent is None:
        return ("Mcp-Method",)
    if sent.strip() != method:
        raise _mismatch("Mcp-Method does not match the body's method")
    return ()


def _check_name(method: str, params: dict[str, Any], name: str | None) -> None:
    """Mcp-Name (``name``, as the request carries it) against the params' name or URI, on a
    method that has one."""
    field = _NAME_PARAM.get(method)
    if field is None:
        return
    expected = params.get(field)
    if name is not None and name == expected and is_plain(name):
        return  # the usual case
    if name is None:
        if expected is None:  # no name in the params either: their own check refuses that (-32602)
            return
        # a required header missing (streamable-http.mdx §Server Validation: the same -32020)
        raise _mismatch(f"Mcp-Name is missing (params.{field})")
    decoded = decode_header(name)
    if decoded is None:
        raise _mismatch("Mcp-Name carries invalid characters or malformed base64")
    if decoded != expected:
        raise _mismatch(f"Mcp-Name does not match params.{field}")


def _check_param_headers(server: Server, params: dict[str, Any], headers: Mapping[bytes, bytes], version: str) -> None:
    """A call's Mcp-Param-* headers (an app with some). On the tolerated path (its header states
    another revision than ``version``, which the ladder passed) a missing one passes too (review
    s10e: a client that sends no Mcp-Name sends none of these), and the request is told here with
    every header it lacked (the ladder left that to this check): once per pair of revisions and
    missing Mcp-Method/Mcp-Name, and once per missing Mcp-Param-* header name."""
    name = params.get("name")
    spec = server.catalog.get(name) if isinstance(name, str) else None
    arguments = params.get("arguments")
    stated = (text_of(headers, b"mcp-protocol-version") or "").strip()
    lacked: tuple[str, ...] = ()
    if spec is not None and spec.param_headers and isinstance(arguments, dict):
        lacked = check_param_headers(spec.param_headers, arguments, headers, stated != version)
    if stated != version:
        _tell_once(stated, params["_meta"], _check_tolerated(headers, "tools/call", params), lacked)


def _unsupported(requested: str) -> NoReturn:
    raise ProtocolError(
        codes.UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {requested}",
        {"supported": list(SUPPORTED_VERSIONS), "requested": requested},  # the same list as server/discover's
    )


def _error_before(error: ProtocolError, payload: Any) -> ProtocolError:
    """What refuses a request that failed before it was served: ``error``, with the request's id
    when it has none (a client reply's id names a request of ours, not its own), or, for a batch,
    which ``parse_message`` refuses as no object, that batches are gone."""
    if isinstance(payload, list):
        return ProtocolError(codes.INVALID_REQUEST, "Invalid request: batches are not part of 2026-07-28")
    if error.id is None:
        error.id = request_id_of(payload)
    return error


def _decorator(server: Server, private: bool) -> Decorate:
    """What every result gets; made once per server and cache scope (``Server.memo``)."""
    identity = {SERVER_INFO_META_KEY: server.info}
    cache_scope = "private" if private else "public"

    def decorate(method: str, result: dict[str, Any]) -> dict[str, Any]:
        if "resultType" not in result:
            result["resultType"] = "complete"
        meta = result.get("_meta")
        result["_meta"] = {**meta, **identity} if meta else {**identity}  # each result its own
        if method in CACHEABLE_METHODS and result["resultType"] == "complete":
            # (a resources/read has its own, from its route's Cache-Control: _resource_read.cache_hints)
            result.setdefault("ttlMs", LIST_TTL_MS)
            result.setdefault("cacheScope", cache_scope)
        return result

    return decorate


def serve(
    server: Server, scope: Scope, receive: Receive, send: Send, headers: Mapping[bytes, bytes], payload: Any
) -> Awaitable[None]:
    """Checks the request at once and returns what answers it, for the endpoint to await (one
    coroutine fewer on every request's path)."""
    responder = ClosingCancels(send)
    try:
        message = parse_message(payload)  # a batch (a list) is no message: refused, with _error_before's reason
        if not isinstance(message, Request):  # one test for the usual case
            if isinstance(message, ClientReply):
                raise ProtocolError(
                    codes.INVALID_REQUEST, "Invalid request: clients do not send responses in 2026-07-28"
                )
            refused = server.notification_refusal(message, _check_notification(headers, message))
            if refused is not None:  # (its params: HTTP 400, transports.mdx §Sending Messages)
                raise refused
            return responder.accepted()
        version, envelope, ladder = _checked(server, headers, message)
    except ProtocolError as exc:
        return responder.error(_error_before(exc, payload), "modern")
    # (a new ladder verdict, ``ladder``: kept once the params pass their check, Server.keep_ladder)
    call = new_call(server, scope, receive, headers, message, "modern", version, responder, "", envelope, ladder=ladder)
    # The tool list does not depend on the caller today, so it is "public"; results of a call
    # that carried credentials (Authorization, Cookie, the app's API keys) are marked private
    # (caching.mdx: private when auth may matter).
    private = not headers.keys().isdisjoint(server.credentials)
    decorators = server.memo.get(_MEMO_KEY)
    if decorators is None:
        decorators = server.memo[_MEMO_KEY] = (_decorator(server, False), _decorator(server, True))
    return serve_request(server, call, responder, decorators[private], _CACHE_SCOPES[private])
