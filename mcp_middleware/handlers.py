"""MCP methods ──▶ results. Knows nothing of HTTP: the transport hands in a ``Call`` and an outbox.

Results are returned as wire-shaped dicts (camelCase); the transport validates and serialises them
once, per protocol version, through ``jsonrpc``. Errors are raised as ``ProtocolError`` with the
spec's code; tool failures are results with ``isError: true``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import anyio
from mcp_types import CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY
from mcp_types import jsonrpc as codes
from mcp_types.methods import CLIENT_REQUESTS
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Scope

from .catalog import Catalog, ToolFilter, catalog_from_app
from .config import Settings
from .context import ContextHolder, LiveContext
from .features import Features, not_found, prompt_messages, resource_contents
from .interaction import HandshakeChannel, ModernChannel, PendingReplies
from .jsonrpc import ProtocolError, Request
from .listen import FILTER_KEYS, Listener, Listeners
from .query_keys import QueryKeys, pseudo_names
from .sealing import Round, Sealer, Sessions, StateError, bound_target
from .toolcall import CallLimits, CallRegistry, Invocation, Outbox, run_tool
from .validation import RequestValidator

__all__ = ["Call", "Era", "Server"]

logger = logging.getLogger(__name__)

Era = Literal["handshake", "modern"]
# Handshake era without logging/setLevel: the spec lets the server choose what to send.
DEFAULT_LOG_LEVEL = "info"
SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId"
ROUTE_POLL_SECONDS = 1.0


@dataclass(slots=True)
class Call:
    """One request being served: what the handlers may know about where it came from."""

    request: Request
    era: Era
    version: str
    scope: Scope
    receive: Callable[[], Awaitable[Message]]
    outbox: Outbox
    forwarded: tuple[tuple[bytes, bytes], ...]
    caller: str
    host: bytes | None = None  # the Host header, which the route's request carries too


Handler = Callable[["Server", Call, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p not in ("params",)) or "params"
    return f"Invalid params: {where}: {first['msg']}"


_CREDENTIALS = frozenset({b"authorization", b"cookie"})  # and the app's API keys (headers, query)


class Server:
    """The MCP server behind one middleware instance: identity, catalog, in-flight calls."""

    def __init__(self, app: ASGIApp, settings: Settings, tool_filter: ToolFilter, max_name_length: int) -> None:
        self.app = app
        # what tool calls run: ``app``, behind QueryKeys when the app has query API keys (prepare)
        self.route_app: ASGIApp = app
        self.settings = settings
        self._tool_filter = tool_filter
        self._max_name_length = max_name_length
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
        self.forward_names = settings.forward_headers
        self.credentials: tuple[bytes, ...] = tuple(sorted(_CREDENTIALS))
        # the app's query API keys (APIKeyQuery) by parameter name, with their pseudo-header names
        self.query_keys: dict[str, bytes] = {}
        self.pending = PendingReplies()
        self.sealer = Sealer(settings.state_secret)
        self.sessions = Sessions(settings.state_secret) if settings.session_ids else None
        self.log_levels: dict[str, str] = {}
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
        app = self._app_ref = scope.get("app")
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
            max_name_length=self._max_name_length,
            exclude_paths=self.settings.paths,
        )
        self.features = Features.from_catalog(self.catalog)
        # API keys in the MCP request's query string travel as pseudo-headers (see query_keys)
        self.query_keys = pseudo_names(self.catalog.credential_query)
        keys = self.catalog.credential_headers | frozenset(self.query_keys.values())
        self.forward_names = self.settings.forward_headers | keys
        # what tells callers apart: every credential a call may carry, in a fixed order
        self.credentials = tuple(sorted(_CREDENTIALS | keys))
        self.route_app = QueryKeys(self.app) if self.query_keys else self.app

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
            raise ProtocolError(codes.INVALID_PARAMS, f"Invalid params: {exc}") from None

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
        router = getattr(self._app_ref, "router", None)
        version = getattr(router, "_get_routes_version", None)  # FastAPI: counts nested routers too
        if callable(version):
            return version()
        return len(getattr(self._app_ref, "routes", ()) or ())

    def _rebuild(self) -> None:
        self.reply_cache.clear()
        if hasattr(self._app_ref, "openapi_schema"):
            self._app_ref.openapi_schema = None  # FastAPI caches the document
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
            self.validator.check(req.method, call.version, req.params)
        except ValidationError as exc:
            raise ProtocolError(codes.INVALID_PARAMS, _validation_message(exc)) from None
        return handler(self, call, params)

    def cancel(self, caller: str, request_id: Any) -> None:
        self.registry.cancel(caller, request_id)


def negotiate(requested: Any) -> str:
    if isinstance(requested, str) and requested in HANDSHAKE_PROTOCOL_VERSIONS:
        return requested
    return LATEST_HANDSHAKE_VERSION


async def _initialize(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "protocolVersion": negotiate(params["protocolVersion"]),
        "capabilities": server.capabilities(call.era),
        "serverInfo": server.info,
    }
    if server._instructions:
        result["instructions"] = server._instructions
    return result


async def _empty(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _discover(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
        "capabilities": server.capabilities(call.era),
    }
    if server._instructions:
        result["instructions"] = server._instructions
    return result


async def _list_tools(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    server.refresh()
    return {"tools": server.catalog.tool_dicts()}


def invocation(server: Server, call: Call, params: Mapping[str, Any], target: str) -> Invocation:
    """The context and channel for running a route on behalf of ``call`` (tool, prompt, resource)."""
    meta = params.get("_meta")
    meta = meta if isinstance(meta, dict) else {}
    token = meta.get("progressToken")
    if token is not None and (isinstance(token, bool) or not isinstance(token, str | int)):
        raise ProtocolError(codes.INVALID_PARAMS, "Invalid params: _meta.progressToken must be a string or an integer")
    unsealed: Round | None = None
    if call.era == "modern" and isinstance(state := params.get("requestState"), str):
        unsealed = server.unseal(
            state, _bound(server, call, params, target)
        )  # verified even if the route never looks at it

    return Invocation(
        server.route_app,
        call.scope,
        call.receive,
        call.outbox,
        call.forwarded,
        token,
        (call.caller, call.request.id),
        ContextHolder(_live_context, server, call, params, target, token, meta, unsealed),
        call.host,
    )


def _bound(server: Server, call: Call, params: Mapping[str, Any], target: str) -> str:
    """What a requestState is sealed for: the target, the caller (every credential the call
    forwards: Authorization, Cookie, API-key headers and query parameters) and the call's arguments."""
    names = server.credentials
    principal = b"\n".join(name + b": " + value for name, value in call.forwarded if name in names)
    return bound_target(target, principal, params.get("arguments") or {})


def _seal(
    server: Server, call: Call, params: Mapping[str, Any], target: str, state: str | None, answers: Mapping[str, Any]
) -> str:
    return server.sealer.seal_round(state, answers, _bound(server, call, params, target))


def _live_context(
    server: Server,
    call: Call,
    params: Mapping[str, Any],
    target: str,
    token: str | int | None,
    meta: Mapping[str, Any],
    unsealed: Round | None,
) -> tuple[LiveContext, HandshakeChannel | ModernChannel]:
    """The route's context and its channel, built the first time the route asks for them."""
    channel: HandshakeChannel | ModernChannel
    if call.era == "modern":
        caps = meta.get(CLIENT_CAPABILITIES_META_KEY) or {}
        seal = partial(_seal, server, call, params, target)  # bound only if the route asks
        state_value, answered = unsealed if unsealed is not None else (None, {})
        channel = ModernChannel(call.outbox, caps, params.get("inputResponses"), answered, server, seal)
        level, info = meta.get(LOG_LEVEL_META_KEY), meta.get(CLIENT_INFO_META_KEY)
    else:
        channel = HandshakeChannel(call.outbox, server.pending, call.caller, call.version, server, server.ask_timeout)
        caps, info, state_value = {}, None, None
        level = server.log_levels.get(call.caller, DEFAULT_LOG_LEVEL)
    context = LiveContext(
        channel,
        tool=target.partition(":")[2],
        protocol_version=call.version,
        progress_token=token,
        client_capabilities=caps,
        client_info=info,
        log_level=level,
        request_state=state_value,
    )
    return context, channel


def _call_tool(server: Server, call: Call, params: dict[str, Any]) -> Awaitable[dict[str, Any] | None]:
    """Checks at once; returns the run for the caller to await (no coroutine of its own)."""
    spec = server.catalog.get(params["name"])
    if spec is None:
        raise ProtocolError(codes.INVALID_PARAMS, f"Unknown tool: {params['name']}")
    inv = invocation(server, call, params, f"tool:{spec.name}")
    return run_tool(spec, params.get("arguments") or {}, inv, server.limits, server.registry)


async def _listen(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any] | None:
    """subscriptions.mdx: acknowledge first, then only the notifications the client asked for,
    each tagged with the subscription id (the listen request's JSON-RPC id)."""
    wanted = params["notifications"]
    offered = server.capabilities(call.era)
    kinds = frozenset(
        kind
        for kind, (flag, _) in FILTER_KEYS.items()
        if wanted.get(flag) is True and offered.get(kind, {}).get("listChanged")
    )
    honoured: dict[str, Any] = {FILTER_KEYS[kind][0]: True for kind in sorted(kinds)}
    uris: frozenset[str] = frozenset()
    if offered.get("resources", {}).get("subscribe") and isinstance(wanted.get("resourceSubscriptions"), list):
        uris = frozenset(u for u in wanted["resourceSubscriptions"] if isinstance(u, str))
        honoured["resourceSubscriptions"] = sorted(uris)
    tag = {SUBSCRIPTION_ID_META_KEY: call.request.id}
    await call.outbox.notify("notifications/subscriptions/acknowledged", {"notifications": honoured, "_meta": tag})
    listener = server.listeners.open(kinds, uris)
    try:
        await _relay(server, call, listener, tag)
    finally:
        server.listeners.close(listener)
    return None  # the client went away: an abrupt close carries no response


async def _relay(server: Server, call: Call, listener: Listener, tag: dict[str, Any]) -> None:
    interval = server.settings.keepalive_interval
    last_write = anyio.current_time()
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while (await call.receive())["type"] != "http.disconnect":
                pass
            call.outbox.abandon()
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        while True:
            server.refresh()  # routes added or removed at run time reach open streams within a second
            item = None
            with anyio.move_on_after(min(interval, ROUTE_POLL_SECONDS)):
                item = await listener.receive.receive()
            # Writes happen outside the timeout: a client reading slowly delays a notification,
            # and cancelling the write would lose it (it is already off the queue).
            if item is not None:
                await call.outbox.notify(item[0], {**item[1], "_meta": tag})
            elif anyio.current_time() - last_write >= interval:
                await call.outbox.keepalive()
            else:
                continue
            last_write = anyio.current_time()


async def _set_level(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Stateless endpoint: remembered per caller in this process, best effort (README).
    levels = server.log_levels
    levels.pop(call.caller, None)
    levels[call.caller] = params["level"]
    while len(levels) > 4096:
        del levels[next(iter(levels))]
    return {}


async def _list_resources(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    server.refresh()
    return {"resources": [entry.wire for entry in server.features.resources.values()]}


async def _list_templates(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    return {"resourceTemplates": [entry.wire for entry in server.features.templates]}


async def _read_resource(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any] | None:
    uri: str = params["uri"]
    modern = call.era == "modern"
    found = server.features.find_resource(uri)
    if found is None:
        raise not_found(uri, modern)
    spec, arguments, mime = found
    target = f"resource:{uri}"
    finish = partial(resource_contents, uri, mime, modern)
    inv = invocation(server, call, params, target)
    result = await run_tool(spec, arguments, inv, server.limits, server.registry, finish, f"resource {uri}", tool=False)
    return _not_a_tool_error(result)


async def _list_prompts(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    server.refresh()
    return {"prompts": [entry.wire for entry in server.features.prompts.values()]}


async def _get_prompt(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any] | None:
    name: str = params["name"]
    entry = server.features.prompts.get(name)
    if entry is None:
        raise ProtocolError(codes.INVALID_PARAMS, f"Unknown prompt: {name}")
    target = f"prompt:{name}"
    arguments = params.get("arguments") or {}
    finish = partial(prompt_messages, name)
    inv = invocation(server, call, params, target)
    what = f"prompt {name!r}"
    result = await run_tool(entry.spec, arguments, inv, server.limits, server.registry, finish, what, tool=False)
    return _not_a_tool_error(result)


def _not_a_tool_error(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Resources and prompts have no ``isError`` result: a failed run is a JSON-RPC error (its text
    names the prompt or resource, as :func:`run_tool` was told)."""
    if result is not None and result.get("isError"):
        text = result["content"][0].get("text", "") if result.get("content") else ""
        raise ProtocolError(codes.INTERNAL_ERROR, text)
    return result


async def _complete(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    argument = params["argument"]
    prefix = str(argument.get("value", ""))
    values = [v for v in server.features.completions(params["ref"], str(argument.get("name"))) if v.startswith(prefix)]
    return {"completion": {"values": values[:100], "total": len(values), "hasMore": len(values) > 100}}


async def _subscribe(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Accepted; a stateless handshake-era endpoint has no standalone stream to deliver updates on
    # (2026-07-28 clients get them on subscriptions/listen). README: "Resources".
    return {}


def _no_cursor(params: Mapping[str, Any]) -> None:
    if params.get("cursor") is not None:
        raise ProtocolError(codes.INVALID_PARAMS, "Invalid params: unknown cursor")


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
