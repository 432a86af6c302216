"""``MCPMiddleware``: answer the MCP endpoint, pass everything else through untouched.

Pure ASGI. Per-request state lives in the transport's locals; this object holds configuration and
the server (identity, tool catalog, in-flight calls), both built once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from functools import partial, wraps
from typing import TYPE_CHECKING, Concatenate, Literal, ParamSpec, SupportsIndex, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import listen
from ._given_names import check_tool_names
from ._host_options import normalise_hosts
from ._once import Remembered, warn_once
from ._option_lists import header_names, http_methods, strings
from ._security_options import Guard, OAuthResource, cors_origins, effective_allowed_origins
from ._served_app import endpoint_below
from .catalog import ToolFilter
from .config import Secret, Settings, checked_limits, endpoint_paths
from .handlers import Server
from .transport import _responder, endpoint

if TYPE_CHECKING:
    from .security import Security

__all__ = ["MCPMiddleware"]

T = TypeVar("T")
P = ParamSpec("P")

logger = logging.getLogger(__name__)

# The refusals logged so far (their messages), so that Starlette's retries log each once; at most
# _REPORTED_MAX, then the set starts again (a message is never silenced for good).
_REPORTED_MAX = 64
_REPORTED = Remembered(_REPORTED_MAX)


def _route_path(scope: Scope) -> str:
    """The path below ``root_path``, as Starlette's ``get_route_path``: stripped only at a segment
    boundary (root "/m" leaves "/mcp" whole), since older servers gave ``path`` without it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def _optional(kind: Callable[[tuple[str, ...]], T], value: Collection[str] | None, option: str) -> T | None:
    """An include filter: None (everything), or its strings (``_option_lists.strings``) as ``kind``."""
    return None if value is None else kind(strings(value, option))


def _reported(init: Callable[Concatenate[MCPMiddleware, P], None]) -> Callable[Concatenate[MCPMiddleware, P], None]:
    """``init``, whose refused option (``TypeError``/``ValueError``) is also logged at ERROR.

    Starlette builds its middleware lazily: at start-up when the server runs the lifespan, else on
    the first request, and again on every request while the build raises. ``uvicorn app:app``
    (``--lifespan auto``) takes the exception at start-up for "lifespan unsupported" (INFO), so
    the whole app answers 500 with nothing said but each request's traceback. Each distinct
    message is logged once (bounded: ``_REPORTED``)."""

    @wraps(init)
    def checked(self: MCPMiddleware, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            init(self, *args, **kwargs)
        except (TypeError, ValueError) as error:
            _report(str(error))
            raise

    return checked


def _report(message: str) -> None:
    if not _REPORTED.first(message):
        return
    logger.error(
        "MCPMiddleware refused an option: %s. The app cannot serve until this is fixed: Starlette builds "
        "its middleware when the server runs the lifespan, else on each request, which then answers 500; "
        "run uvicorn with --lifespan on to stop at start-up instead",
        message,
    )


def _warn_stacked(outer: MCPMiddleware) -> None:
    """Warn when ``outer`` wraps another MCPMiddleware (Starlette builds the inner one first) that
    serves one of its paths: the outer one answers every request to it, and the inner one, whose
    options were meant for it, never does (review: an inner ``include_methods=["POST"]`` ignored).
    The bare OAuth metadata path, which every endpoint with ``oauth`` claims, is no clash: the
    outer one answers it, and each endpoint's own metadata path stays its own. An app whose stack
    Starlette has not built yet (``MCPMiddleware(app)`` around ``app.add_middleware(MCPMiddleware)``)
    is read from its ``add_middleware`` list."""
    inner = endpoint_below(outer.app)
    if isinstance(inner, MCPMiddleware):
        shared = outer._paths & inner._paths
        if outer._security is not None:
            from .security import WELL_KNOWN  # (loaded already: the middleware has a Security)

            shared -= {WELL_KNOWN}
    else:
        shared = outer.settings.paths & _added_endpoints(inner)
    if shared:
        warn_once(
            logger,
            "Two MCPMiddleware in the app's stack serve %s: the one added last (the outer one) answers every "
            "request to it, and the options of the one added before it never apply; give each endpoint a "
            'path of its own (path="/mcp/read", path="/mcp/admin"), or add one MCPMiddleware',
            " and ".join(repr(path) for path in sorted(shared)),
        )


def _added_endpoints(app: object) -> frozenset[str]:
    """The endpoint paths of the MCPMiddleware in ``app``'s ``add_middleware`` list (Starlette's
    ``user_middleware``: each entry's ``cls`` and keyword options, ``path`` by default ``/mcp``)."""
    paths: set[str] = set()
    for entry in getattr(app, "user_middleware", None) or ():
        path = getattr(entry, "kwargs", {}).get("path", "/mcp")
        if getattr(entry, "cls", None) is MCPMiddleware and isinstance(path, str):
            paths |= endpoint_paths(path)
    return frozenset(paths)


class MCPMiddleware:
    """Serve the app's routes as MCP tools at ``path`` (default ``/mcp``).

    ``app.add_middleware(MCPMiddleware)`` is the whole install. Every option has a safe default
    and is checked here (a bad value is a ``TypeError``/``ValueError``, also logged at ERROR).
    In short (the README's table of options has the details):

    * ``path``: the endpoint (``/mcp`` and ``/mcp/``); not a path of one of the app's routes.
    * ``name``, ``version``, ``instructions``: server identity; default the app's ``title``,
      ``version`` and ``description`` (a plain Starlette app: ``"mcp-middleware"``, ``"0.0.0"``).
    * ``include_tags``/``exclude_tags``, ``include_operations``/``exclude_operations`` (operation id
      or tool name), ``include_paths``/``exclude_paths`` (``fnmatch`` globs over path templates,
      ``*`` crosses ``/``), ``include_methods``: which routes are tools; each takes a list of
      strings, an include filter ``None`` (the default) includes everything, an empty one nothing.
    * ``max_tool_name_length``: tool names are shortened to fit (default 40, at most 128); given
      names longer than it are kept, but must be unique within that many characters.
    * ``tool_names``: MCP-only tool names, by operation id or default tool name
      (``{"get_item": "fetch_item"}``), leaving ``/openapi.json`` as it is; held to the rules of
      ``declare.tool``'s names (at most 128 characters, one longer than
      ``max_tool_name_length`` kept with a warning).
    * ``allowed_hosts``, ``allowed_origins``: the Host and Origin allowlists against DNS
      rebinding (default localhost names and the server's own address); set your public host
      name behind a proxy. A refused request is a 403, logged once per value.
    * ``max_body_bytes``, ``max_result_chars``, ``max_binary_bytes``: size limits;
      ``max_batch_messages``: messages in one 2025-03-26 JSON-RPC batch (a longer one is refused).
    * ``keepalive_interval``, ``call_timeout``, ``max_concurrent_calls``, ``ask_timeout``: timing
      and concurrency of the calls; ``max_listen_streams``: 2026-07-28 ``subscriptions/listen``
      streams open at once on this middleware, each instance counting its own (default 1000,
      ``None``: no limit).
    * ``state_secret``: HMAC key of 2026-07-28 ``requestState`` and session ids (default
      ``$MCP_MIDDLEWARE_STATE_SECRET``, else random per process: give every worker the same one).
    * ``session_ids``, ``response_mode``: handshake-era transport (signed session ids; ``"sse"``
      answers every request with a stream).
    * ``forward_headers``: further request headers (names, case-insensitive) forwarded from the
      MCP request to every route as credentials, and no tool arguments: a header the app
      authenticates with outside a security scheme (a global ``Header()`` dependency).
    * ``auth``, ``oauth``, ``cors_allow_origins``: a guard for the endpoint, OAuth
      protected-resource metadata, CORS for browser clients (an app ``CORSMiddleware`` added after
      this one answers the ``/mcp`` preflight itself and replaces the exposed headers: use this).
    """

    @_reported
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str = "/mcp",
        name: str | None = None,
        version: str | None = None,
        instructions: str | None = None,
        include_tags: Collection[str] | None = None,
        exclude_tags: Collection[str] = (),
        include_operations: Collection[str] | None = None,
        exclude_operations: Collection[str] = (),
        include_paths: Collection[str] | None = None,
        exclude_paths: Collection[str] = (),
        include_methods: Collection[str] | None = None,
        max_tool_name_length: float | SupportsIndex = 40,
        tool_names: Mapping[str, str] | None = None,
        allowed_hosts: Collection[str] | None = None,
        allowed_origins: Collection[str] | None = None,
        max_body_bytes: float | SupportsIndex = 4 * 1024 * 1024,
        max_result_chars: float | SupportsIndex = 100_000,
        max_binary_bytes: float | SupportsIndex = 16 * 1024 * 1024,
        max_batch_messages: float | SupportsIndex = 100,
        keepalive_interval: float | SupportsIndex = 15.0,
        call_timeout: float | SupportsIndex | None = None,
        max_concurrent_calls: float | SupportsIndex | None = 256,
        max_listen_streams: float | SupportsIndex | None = 1000,
        ask_timeout: float | SupportsIndex = 600.0,
        state_secret: Secret | None = None,
        session_ids: bool = False,
        response_mode: Literal["auto", "sse"] = "auto",
        forward_headers: Collection[str] = (),
        auth: Guard | None = None,
        oauth: OAuthResource | None = None,
        cors_allow_origins: Collection[str] | None = None,
    ) -> None:
        if oauth is not None and not isinstance(oauth, OAuthResource):
            raise TypeError("oauth must be a mcp_middleware.security.OAuthResource")
        cors = cors_origins(cors_allow_origins)
        # as given (1e6, numpy.int64), checked and converted to the fields' types (int sizes)
        limits = checked_limits(
            max_tool_name_length=max_tool_name_length,
            max_body_bytes=max_body_bytes,
            max_result_chars=max_result_chars,
            max_binary_bytes=max_binary_bytes,
            max_batch_messages=max_batch_messages,
            max_concurrent_calls=max_concurrent_calls,
            max_listen_streams=max_listen_streams,
            keepalive_interval=keepalive_interval,
            call_timeout=call_timeout,
            ask_timeout=ask_timeout,
        )
        names = check_tool_names({} if tool_names is None else tool_names)
        self.app = app
        self.settings = Settings(
            path=path,
            name=name,
            version=version,
            instructions=instructions,
            allowed_hosts=normalise_hosts(allowed_hosts),
            allowed_origins=effective_allowed_origins(allowed_origins, cors),
            state_secret=state_secret,
            session_ids=session_ids,
            response_mode=response_mode,
            forward_headers=header_names(forward_headers, "forward_headers"),
            tool_names=tuple(names.items()),
            **limits,
        )
        tool_filter = ToolFilter(
            include_tags=_optional(frozenset, include_tags, "include_tags"),
            exclude_tags=frozenset(strings(exclude_tags, "exclude_tags")),
            include_operations=_optional(frozenset, include_operations, "include_operations"),
            exclude_operations=frozenset(strings(exclude_operations, "exclude_operations")),
            include_paths=_optional(tuple, include_paths, "include_paths"),
            exclude_paths=strings(exclude_paths, "exclude_paths"),
            methods=http_methods(include_methods),
        )
        self.server = Server(app, self.settings, tool_filter)
        self._endpoint = partial(endpoint.serve, self.server)
        self._security: Security | None = None
        if auth is not None or oauth is not None or cors is not None:
            from .security import Security  # opt-in: loaded only when an option asks for it

            self._security = Security(self.server, auth=auth, oauth=oauth, cors=cors)
        # The endpoint and, with `oauth`, the metadata paths: one set test decides pass-through.
        self._paths = self.settings.paths | (self._security.paths if self._security else frozenset())
        _warn_stacked(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            await self.app(scope, self._lifespan(receive) if kind == "lifespan" else receive, send)
            return
        path = _route_path(scope) if scope.get("root_path") else scope.get("path")
        if path not in self._paths:
            await self.app(scope, receive, send)
            return
        if self._security is not None:
            await self._security.serve(scope, receive, send, path, self._endpoint)
            return
        await self._endpoint(scope, receive, send)

    def _lifespan(self, receive: Receive) -> Receive:
        """The server's lifespan messages, unchanged: at ``lifespan.shutdown`` the open listen
        streams end and the questions waiting for an answer fail (a server that sends it while
        responses are open; uvicorn sends it only once they are all over, and is watched for
        otherwise: ``listen.shutting_down``). When the server shows its exit flag, the message
        waits (at most ``LAST_WORD_SECONDS``) for the calls it cancelled to unwind and write their
        last word: uvicorn, past ``--timeout-graceful-shutdown``, cancels them and then exits as
        soon as the lifespan is over (``CallRegistry.settled``). A ``lifespan.startup`` undoes that: Starlette keeps
        the middleware it built, so the same app's next lifespan in the process (a test's
        ``with TestClient(app):``, a reload) has the same server, which asks again."""
        listeners, pending, registry = self.server.listeners, self.server.pending, self.server.registry

        async def watched() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                pending.reopen()
            elif message["type"] == "lifespan.shutdown":
                listeners.end_all()
                pending.shut()
                if listen.shutting_down():  # the server's exit: calls it cancelled answer first
                    await registry.settled(_responder.LAST_WORD_SECONDS)
            return message

        return watched
