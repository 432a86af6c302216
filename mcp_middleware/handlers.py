"""MCP methods ──▶ results. Knows nothing of HTTP: the transport hands in a ``Call`` and an outbox.

Results are returned as wire-shaped dicts (camelCase); the transport validates and serialises them
once, per protocol version, through ``jsonrpc``. Errors are raised as ``ProtocolError`` with the
spec's code; tool failures are results with ``isError: true``.

``Server``, ``Call`` and the method table are here; the methods are in three private modules:
``_protocol`` (the handshake, discovery, lists, log level, completion), ``_invocation`` (what runs
a route: tools, prompts, resources) and ``_listen_stream`` (``subscriptions/listen``). What the
server serves (the catalog and identity, built on the first request and rebuilt when the routes
change) is ``Server``'s base, :class:`~mcp_middleware._served_app.ServedApp`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from time import monotonic
from typing import Any, Literal

from mcp_types import jsonrpc as codes
from mcp_types.methods import CLIENT_REQUESTS
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Scope

from ._identity import Identity
from ._invocation import _call_tool, _get_prompt, _read_resource
from ._listen_stream import _listen
from ._once import with_room
from ._protocol import (
    _complete,
    _discover,
    _empty,
    _initialize,
    _list_prompts,
    _list_resources,
    _list_templates,
    _list_tools,
    _set_level,
    _subscribe,
)
from ._served_app import ServedApp
from .catalog import Catalog, ToolFilter
from .config import Settings
from .features import Features
from .interaction import PendingReplies, asked_elsewhere
from .jsonrpc import Notification, ProtocolError, Request, is_id
from .listen import Listeners
from .sealing import Round, Sealer, Sessions, StateError
from .toolcall import CallLimits, CallRegistry, Outbox
from .validation import PASSED, UNREAD, Envelope, Passed, RequestValidator, Unread

__all__ = ["Call", "Challenge", "Era", "Server"]

logger = logging.getLogger(__name__)

# How often take_reply may say that an answer reached a process other than the one that asked
_TELL_MISROUTED_EVERY = 3600.0

Era = Literal["handshake", "modern"]


@dataclass(slots=True)
class Call:
    """One request being served: what the handlers may know about where it came from."""

    request: Request
    era: Era
    version: str  # the request's revision (handshake era without MCP-Protocol-Version: 2025-03-26)
    # whose shapes what goes out takes (replies, and requests to the client): ``version``, except
    # for a handshake-era request stating none (VS Code never does): the latest handshake revision
    replies_as: str
    scope: Scope
    receive: Callable[[], Awaitable[Message]]
    outbox: Outbox
    forwarded: tuple[tuple[bytes, bytes], ...]
    caller: str
    host: bytes | None = None  # the Host header, which the route's request carries too
    # validation.envelope_of the params, when the transport has read it already (2026-07-28), or
    # PASSED: a remembered ladder verdict stands for the params' check (Server.handle skips it)
    envelope: Envelope | Unread | Passed | None = UNREAD
    # handshake era: the capabilities a route's questions need that the client declared in
    # initialize, as its session id carries them (sealing.Sessions); None: unknown
    declared: dict[str, Any] | None = None
    # the revision a route's questions to the client are held to (which requests it has, which
    # capabilities they need): the stated one, else the one the session id says was negotiated,
    # else (an id without it) 2025-03-26; ``replies_as`` when nothing is known (no session id)
    asks_as: str = ""
    # 2026-07-28: the ladder verdict's key (``Server.ladders``), kept once the params pass their check
    ladder: tuple[Any, ...] | None = None


Handler = Callable[["Server", Call, dict[str, Any]], Awaitable[dict[str, Any] | None]]
# (the MCP request's scope, the route's status and WWW-Authenticate) -> the endpoint's HTTP refusal
# (status, body, headers), or None when it stays the call's error: security.Security.route_refusal
Challenge = Callable[[Scope, int, str], tuple[int, bytes, list[tuple[bytes, bytes]]] | None]


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p not in ("params",)) or "params"
    return f"Invalid params: {where}: {first['msg']}"


def _refused_notification(method: str, message: str, param: Any) -> ProtocolError:
    """A client notification not accepted: -32602 (id null: it answers no request), its ``data``
    naming the notification's method and the param at fault (``"params"`` for the whole)."""
    return ProtocolError(codes.INVALID_PARAMS, message, {"method": method, "param": param})


class Server(ServedApp):
    """The MCP server behind one middleware instance: identity, catalog, in-flight calls."""

    def __init__(self, app: ASGIApp, settings: Settings, tool_filter: ToolFilter) -> None:
        self.app = app
        # what tool calls run: ``app``, behind QueryKeys when the app has query API keys (prepare)
        self.route_app: ASGIApp = app
        self.settings = settings
        self.limit_digits = len(str(settings.max_body_bytes))  # (transport: declared_too_large)
        self._tool_filter = tool_filter
        self.prepared = False
        # Filled by prepare() before the first request is handled; plain attributes, read per call.
        self.catalog = Catalog()
        self.features = Features()
        self._app_ref: Any = None
        self._below = True  # (prepare: whether the app served is below us; no error handler until then)
        self._seen_routes: object = None
        self.reply_cache: dict[tuple[str, str, str], bytes] = {}
        self.listeners = Listeners(self.refresh)  # routes added or removed at run time, each tick
        self.info: dict[str, str] = {}
        # What a transport derives from the identity once rather than per request (cleared by prepare)
        self.memo: dict[object, Any] = {}
        self._instructions: str | None = settings.instructions
        self.registry = CallRegistry()
        self.validator = RequestValidator()  # the SDK's check, remembered per envelope
        # by header values: a refusal, or how the answer is written to an Accept that does not list
        # both types (transport._checks.Verdicts, spelled out: this layer does not import the transport)
        self.verdicts: dict[
            tuple[Any, ...], tuple[tuple[int, str] | Literal["json", "sse", "neither"] | None, str | None]
        ] = {}
        # 2026-07-28 ladder verdicts, by envelope and headers, each kept once the params passed their
        # check too (keep_ladder), which a remembered one then stands for
        self.ladders: dict[tuple[Any, ...], str] = {}
        self.credentials: tuple[bytes, ...]
        self.identity: Identity
        self.callers: tuple[bytes, ...]
        self._know_credentials(frozenset())
        # the app's query API keys (APIKeyQuery) by parameter name, with their pseudo-header names
        self.query_keys: Mapping[str, bytes] = {}
        self.pending = PendingReplies()
        self.sealer = Sealer(settings.secret_key)
        self.sessions = Sessions(settings.secret_key) if settings.session_ids else None
        self.log_levels: dict[str, str] = {}
        self._told_secret = False  # foreign_token has warned
        self._told_reply_at = -math.inf  # when take_reply last warned (monotonic seconds)
        self.ask_timeout = settings.ask_timeout
        # With oauth (set by security.Security): how a route's refusal of the token becomes the
        # endpoint's HTTP refusal (transport.Responder.refused); None: it stays the call's error
        self.challenge: Challenge | None = None
        self.limits = CallLimits(
            keepalive_interval=settings.keepalive_interval,
            timeout=settings.call_timeout,
            max_text=settings.max_result_chars,
            max_binary=settings.max_binary_bytes,
            max_concurrent=settings.max_concurrent_calls,
        )

    def _hide_headers(self, names: frozenset[bytes]) -> None:
        """The app's credential header names, which no result shows, go with every call's limits
        (``_body.Hiding``): this server's own, not another's in the process (review mend item 4)."""
        self.limits = replace(self.limits, hidden_headers=names)

    def capabilities(self, era: Era) -> dict[str, Any]:
        # List changes reach clients only on 2026-07-28 listen streams: the stateless handshake
        # era has no standalone GET stream to carry them.
        changes = era == "modern"
        return {"tools": {"listChanged": changes}, "logging": {}, **self.features.capabilities(changes)}

    # -- multi round-trip state --------------------------------------------------------------------
    def unseal(self, state: str, target: str) -> Round:
        try:
            return self.sealer.unseal_round(state, target)
        except StateError as exc:
            if "verification" in str(exc):
                self.foreign_token("a requestState")
            raise ProtocolError(codes.INVALID_PARAMS, f"Invalid params: {exc}") from None

    def foreign_token(self, what: str) -> None:
        """A token this process did not seal reached it: without a configured secret each process
        has a key of its own, so say once (the client only sees a refusal) what the operator can do."""
        if self.settings.secret_key is None and not self._told_secret:
            self._told_secret = True
            logger.warning(
                "%s failed verification and no state_secret is set: each process then seals with a key "
                "of its own, so one sealed by another worker (or before a restart) is refused; set "
                "MCP_MIDDLEWARE_STATE_SECRET (or state_secret) to the same value in every worker",
                what,
            )

    def take_reply(self, request_id: Any, reply: dict[str, Any], caller: str) -> None:
        """Hand a client's response to the question of ours it answers (handshake era). One that
        answers none is still accepted: a late or repeated answer is legitimate. One whose id
        another process minted (``asked_elsewhere``) is said at most once an hour
        (``_TELL_MISROUTED_EVERY``): that process's route waits for it until ``ask_timeout``; one
        of ours that nothing waits for (late, repeated, another caller's) only at DEBUG, and any
        other id not at all (a stray POST tells nothing). Anyone can send an id of our shape with a
        made-up mark, which no process can tell from a sibling's: it takes that hour's WARNING, but
        cannot silence a real misrouting for longer, nor log more than once an hour."""
        if self.pending.resolve(request_id, reply, caller):
            return
        elsewhere = asked_elsewhere(request_id)
        if elsewhere is False:
            logger.debug(
                "a client's response to %s answers no question waiting for it here: late or repeated", request_id
            )
        elif elsewhere and (now := monotonic()) - self._told_reply_at >= _TELL_MISROUTED_EVERY:
            self._told_reply_at = now
            logger.warning(
                "a client's response (to elicitation/create, sampling/createMessage or roots/list) "
                "answers a request another process sent: with several workers or hosts it reached a "
                "process other than the one that asked (or the server restarted since it asked), and "
                "that route waits until ask_timeout; use sticky routing (see README's Deployment "
                "notes) or 2026-07-28 clients (logged at most once an hour)"
            )

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, call: Call) -> Awaitable[dict[str, Any] | None]:
        """The result for ``call.request`` (None: cancelled, answer nothing), or ProtocolError.

        Checks at once (raising ProtocolError) and returns the handler's coroutine for the caller
        to await: no coroutine of its own on every request's path."""
        req = call.request
        route = _ROUTES.get((req.method, call.version))
        if route is None:
            raise ProtocolError(codes.METHOD_NOT_FOUND, f"Method not found: {req.method}")
        handler, needs = route
        if needs is not None and needs not in self.capabilities(call.era):
            # Capabilities advertised and methods served always agree (server/discover checks it).
            raise ProtocolError(codes.METHOD_NOT_FOUND, f"Method not found: {req.method}")
        if call.envelope is not PASSED:  # (a remembered 2026-07-28 ladder verdict stands for the check)
            try:
                # Validated against this revision's wire type; handlers then read the plain dict.
                self.validator.check(req.method, call.version, req.params, call.envelope)
            except ValidationError as exc:
                raise ProtocolError(codes.INVALID_PARAMS, _validation_message(exc)) from None
            if call.ladder is not None:  # (tested here: the handshake era's calls make no method call)
                self.keep_ladder(call.ladder, call.version)
        return handler(self, call, req.params or {})

    def keep_ladder(self, key: tuple[Any, ...], version: str) -> None:
        """Remember a request's passed 2026-07-28 ladder (``transport.modern``, ``Call.ladder``),
        now that its params passed their check too: a request with the same key skips both."""
        with_room(self.ladders, _LADDERS)[key] = version

    def notification_refusal(self, note: Notification, version: str) -> ProtocolError | None:
        """Why a client notification of ``version`` cannot be accepted, or None (transports.mdx
        §Sending Messages: 202 when accepted, else an HTTP error status, which the transport
        gives the error): params its wire type refuses (-32602 with the message a request's
        params get, checked by the same validator), or a ``notifications/cancelled`` whose
        ``requestId`` is no request id (``5.0``, ``true``): the SDK's lax type takes them, but a
        request with such an id is refused (-32600, ``jsonrpc.is_id``), so none ever names a
        call (5.0 is not matched to 5). Unknown methods are accepted (nothing to check them by)."""
        try:
            self.validator.check_notification(note.method, version, note.params)
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            return _refused_notification(note.method, _validation_message(exc), loc[1] if len(loc) > 1 else "params")
        if note.method == "notifications/cancelled" and note.params:
            request_id = note.params.get("requestId")
            if request_id is not None and not is_id(request_id):
                message = "Invalid params: requestId: a request id is a string or an integer"
                return _refused_notification(note.method, message, "requestId")
        return None

    def cancel(self, caller: str, request_id: Any) -> None:
        self.registry.cancel(caller, request_id)


_LADDERS = 1024  # remembered ladder verdicts (a client repeats one envelope; a bound on the odd ones)

_CAPABILITY: Mapping[str, str] = {
    "resources/list": "resources",
    "resources/templates/list": "resources",
    "resources/read": "resources",
    "resources/subscribe": "resources",
    "resources/unsubscribe": "resources",
    "prompts/list": "prompts",
    "prompts/get": "prompts",
    "completion/complete": "completions",
}

_HANDLERS: Mapping[str, Handler] = {
    "initialize": _initialize,
    "ping": _empty,
    "logging/setLevel": _set_level,
    "server/discover": _discover,
    "tools/list": _list_tools,
    "tools/call": _call_tool,
    "subscriptions/listen": _listen,
    "resources/list": _list_resources,
    "resources/templates/list": _list_templates,
    "resources/read": _read_resource,
    "resources/subscribe": _subscribe,
    "resources/unsubscribe": _subscribe,
    "prompts/list": _list_prompts,
    "prompts/get": _get_prompt,
    "completion/complete": _complete,
}

# What Server.handle looks up, once per request: each (method, revision) of the SDK's client
# requests that has a handler, with the capability it needs (None: none)
_ROUTES: Mapping[tuple[str, str], tuple[Handler, str | None]] = {
    key: (_HANDLERS[key[0]], _CAPABILITY.get(key[0])) for key in CLIENT_REQUESTS if key[0] in _HANDLERS
}
