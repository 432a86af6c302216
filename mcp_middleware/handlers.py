"""MCP methods ──▶ results. Knows nothing of HTTP: the transport hands in a ``Call`` and an outbox.

Results are returned as wire-shaped dicts (camelCase); the transport validates and serialises them
once, per protocol version, through ``jsonrpc``. Errors are raised as ``ProtocolError`` with the
spec's code; tool failures are results with ``isError: true``.

``Server``, ``Call`` and the method table are here; the methods are in three private modules:
``_protocol`` (the handshake, discovery, lists, log level, completion), ``_invocation`` (what runs
a route: tools, prompts, resources) and ``_listen_stream`` (``subscriptions/listen``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mcp_types import jsonrpc as codes
from mcp_types.methods import CLIENT_REQUESTS
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Scope

from ._invocation import _call_tool, _get_prompt, _read_resource
from ._listen_stream import _listen
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
from .catalog import Catalog, ToolFilter, catalog_from_app
from .config import CREDENTIALS, Settings
from .features import Features
from .interaction import PendingReplies
from .jsonrpc import ProtocolError, Request
from .listen import Listeners
from .query_keys import QueryKeys
from .sealing import Round, Sealer, Sessions, StateError
from .toolcall import CallLimits, CallRegistry, Outbox
from .validation import UNREAD, Envelope, RequestValidator, Unread

__all__ = ["Call", "Era", "Server"]

logger = logging.getLogger(__name__)

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
    # validation.envelope_of the params, when the transport has read it already (2026-07-28)
    envelope: Envelope | Unread | None = UNREAD


Handler = Callable[["Server", Call, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p not in ("params",)) or "params"
    return f"Invalid params: {where}: {first['msg']}"


class Server:
    """The MCP server behind one middleware instance: identity, catalog, in-flight calls."""

    def __init__(self, app: ASGIApp, settings: Settings, tool_filter: ToolFilter) -> None:
        self.app = app
        # what tool calls run: ``app``, behind QueryKeys when the app has query API keys (prepare)
        self.route_app: ASGIApp = app
        self.settings = settings
        self._tool_filter = tool_filter
        self.prepared = False
        # Filled by prepare() before the first request is handled; plain attributes, read per call.
        self.catalog = Catalog()
        self.features = Features()
        self._app_ref: Any = None
        self._seen_routes: object = None
        self.reply_cache: dict[tuple[str, str, str], bytes] = {}
        self.listeners = Listeners()
        self.info: dict[str, str] = {}
        # What a transport derives from the identity once rather than per request (cleared by prepare)
        self.memo: dict[object, Any] = {}
        self._instructions: str | None = settings.instructions
        self.registry = CallRegistry()
        self.validator = RequestValidator()  # the SDK's check, remembered per envelope
        self.verdicts: dict[tuple[Any, ...], tuple[int, str] | None] = {}  # transport checks, by header values
        self.ladders: dict[tuple[Any, ...], str] = {}  # 2026-07-28 ladder verdicts, by envelope and headers
        self.forward_names = settings.forward_headers
        self.credentials: tuple[bytes, ...]
        self.callers: tuple[bytes, ...]
        self._know_credentials(frozenset())
        # the app's query API keys (APIKeyQuery) by parameter name, with their pseudo-header names
        self.query_keys: Mapping[str, bytes] = {}
        self.pending = PendingReplies()
        self.sealer = Sealer(settings.secret_key)
        self.sessions = Sessions(settings.secret_key) if settings.session_ids else None
        self.log_levels: dict[str, str] = {}
        self._told_secret = False  # foreign_token has warned
        self.ask_timeout = settings.ask_timeout
        self.limits = CallLimits(
            keepalive_interval=settings.keepalive_interval,
            timeout=settings.call_timeout,
            max_text=settings.max_result_chars,
            max_binary=settings.max_binary_bytes,
            max_concurrent=settings.max_concurrent_calls,
        )

    # -- identity and catalog: built once, from the app that serves the first MCP request ----------
    def prepare(self, scope: Scope) -> None:
        """Build the catalog and identity; the endpoint calls it while ``prepared`` is False."""
        # the app wrapped directly (``MCPMiddleware(app)``: served as it is, or mounted in another
        # app, which ``scope["app"]`` then names), else the app whose stack we are in (add_middleware)
        wrapped = getattr(self.app, "routes", None) is not None
        app = self._app_ref = self.app if wrapped else scope.get("app")
        self.memo.clear()
        self._seen_routes = self._routes_version()
        self._load_catalog()
        name = self.settings.name or getattr(app, "title", None) or "mcp-middleware"
        version = self.settings.version or getattr(app, "version", None) or "0.0.0"
        self.info = {"name": str(name), "version": str(version)}
        if self._instructions is None:
            description = getattr(app, "description", None)
            self._instructions = str(description) if description else None
        if len(self.catalog.tools) > 40:
            logger.warning(
                "MCP endpoint exposes %d tools; Cursor handles about 40 and Copilot caps at 128 (with its "
                "own tools): consider tool filters",
                len(self.catalog.tools),
            )
        self.prepared = True  # last: a build that raised is tried again on the next request

    def _load_catalog(self) -> None:
        """The tools and features of the app's routes, and the headers its calls forward."""
        self.catalog = catalog_from_app(
            self._app_ref,
            tool_filter=self._tool_filter,
            max_name_length=self.settings.max_tool_name_length,
            exclude_paths=self.settings.paths,
        )
        self.features = Features.from_catalog(self.catalog)
        # API keys in the MCP request's query string travel as pseudo-headers (see query_keys)
        self.query_keys = self.catalog.query_keys
        keys = self.catalog.credential_headers | frozenset(self.query_keys.values())
        self.forward_names = self.settings.forward_headers | keys
        self._know_credentials(keys)
        self.route_app = QueryKeys(self.app) if self.query_keys else self.app

    def _know_credentials(self, keys: frozenset[bytes]) -> None:
        """``credentials``: every credential a call may carry (``keys``: the app's API keys), in a
        fixed order; ``callers``: what tells handshake-era callers apart (``caller_key``), the
        credentials and, with ``session_ids``, the session id (the handshake era refuses one it
        did not sign before any caller key is made)."""
        self.credentials = tuple(sorted(CREDENTIALS | keys))
        self.callers = self.credentials + ((b"mcp-session-id",) if self.settings.session_ids else ())

    def capabilities(self, era: Era) -> dict[str, Any]:
        # List changes reach clients only on 2026-07-28 listen streams: the stateless handshake
        # era has no standalone GET stream to carry them.
        changes = era == "modern"
        return {"tools": {"listChanged": changes}, "logging": {}, **self.features.capabilities(changes)}

    # -- multi round-trip state and list changes ---------------------------------------------------
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

    async def list_changed(self, kind: str) -> None:
        """A route said its list changed: rebuild what is served, then tell listening clients."""
        if self.prepared:
            self._rebuild()
        self.listeners.publish(kind)

    def resource_updated(self, uri: str) -> None:
        """Tell the listen streams that subscribed to ``uri`` (2026-07-28) that it changed."""
        self.listeners.resource_updated(uri)

    def refresh(self) -> None:
        """Notice routes added or removed at run time (checked on list requests and while
        listen streams are open, not on every call: the check walks the route table)."""
        if not self.prepared or self._routes_version() == self._seen_routes:
            return
        before = self._lists()
        self._rebuild()
        after = self._lists()
        for kind in ("tools", "prompts", "resources"):
            if before[kind] != after[kind]:
                self.listeners.publish(kind)

    def _routes_version(self) -> object:
        """What changes when a route is added or taken off anywhere in the app: for the app and
        each router and app mounted in it, the number of its routes (also a route taken off a
        list, or added to a Router) and FastAPI's version (what its routers' methods add)."""
        marks: list[object] = []
        for node, routes in _routers(self._app_ref, 0):
            version = getattr(getattr(node, "router", None), "_get_routes_version", None)
            marks.append((len(routes), version() if callable(version) else None))
        return tuple(marks)

    def _rebuild(self) -> None:
        self.reply_cache.clear()
        for node, _ in _routers(self._app_ref, 0):
            if hasattr(node, "openapi_schema"):
                node.openapi_schema = None  # FastAPI caches the document, a mounted FastAPI app too
        self._seen_routes = self._routes_version()
        self._load_catalog()

    def _lists(self) -> dict[str, object]:
        features = self.features
        return {
            "tools": [spec.tool for spec in self.catalog.tools],
            "prompts": [e.wire for e in features.prompts.values()],
            "resources": ([e.wire for e in features.resources.values()], [e.wire for e in features.templates]),
        }

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, call: Call) -> Awaitable[dict[str, Any] | None]:
        """The result for ``call.request`` (None: cancelled, answer nothing), or ProtocolError.

        Checks at once (raising ProtocolError) and returns the handler's coroutine for the caller
        to await: no coroutine of its own on every request's path."""
        req = call.request
        handler = _HANDLERS.get(req.method)
        if handler is None or (req.method, call.version) not in CLIENT_REQUESTS:
            raise ProtocolError(codes.METHOD_NOT_FOUND, f"Method not found: {req.method}")
        needs = _CAPABILITY.get(req.method)
        if needs is not None and needs not in self.capabilities(call.era):
            # Capabilities advertised and methods served always agree (server/discover checks it).
            raise ProtocolError(codes.METHOD_NOT_FOUND, f"Method not found: {req.method}")
        params = req.params or {}
        try:
            # Validated against this revision's wire type; handlers then read the plain dict.
            self.validator.check(req.method, call.version, req.params, call.envelope)
        except ValidationError as exc:
            raise ProtocolError(codes.INVALID_PARAMS, _validation_message(exc)) from None
        return handler(self, call, params)

    def cancel(self, caller: str, request_id: Any) -> None:
        self.registry.cancel(caller, request_id)


def _routers(app: Any, depth: int) -> Iterator[tuple[Any, list[Any]]]:
    """``app`` and the routers and apps mounted in it (a bounded walk), each with its routes."""
    try:
        routes = list(getattr(app, "routes", None) or ())  # (an app's own property may give anything)
    except Exception:
        return
    yield app, routes
    if depth < 8:
        for route in routes:
            if getattr(route, "routes", None):  # a Mount (of a Router or an app with routes)
                yield from _routers(getattr(route, "_base_app", route), depth + 1)


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
