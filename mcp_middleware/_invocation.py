"""Running a route on behalf of an MCP call: ``tools/call``, ``prompts/get``, ``resources/read``.

Part of :mod:`mcp_middleware.handlers`, whose method table names the three handlers. Each builds the
call's :class:`~mcp_middleware.toolcall.Invocation` (``invocation``: the route's context, built
when the route first asks, and its channel; a ``requestState`` unsealed and bound to the target, the
caller and the arguments) and hands it to :func:`~mcp_middleware.toolcall.run_tool`. ``handlers``
is imported for its types only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from weakref import WeakMethod

from mcp_types import CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY
from mcp_types import jsonrpc as codes

from ._call_context import LiveContext
from ._feature_errors import about, first_text, not_found
from ._printable import printable
from .context import ContextHolder
from .interaction import HandshakeChannel, ModernChannel
from .jsonrpc import ProtocolError
from .results import CachingCollector, ResponseCollector
from .sealing import Round, bound_target
from .toolcall import Invocation, run_tool

if TYPE_CHECKING:
    from .handlers import Call, Server
    from .toolcall import _ToolRun

__all__ = ["_call_tool", "_get_prompt", "_read_resource", "invocation"]

# Handshake era without logging/setLevel: the spec lets the server choose what to send.
DEFAULT_LOG_LEVEL = "info"
# the _meta of a call without one (shared: read only)
_NO_META: Mapping[str, Any] = MappingProxyType({})


def invocation(server: Server, call: Call, params: Mapping[str, Any], target: str) -> Invocation:
    """The context and channel for running a route on behalf of ``call`` (tool, prompt, resource)."""
    meta = params.get("_meta")
    if isinstance(meta, dict):
        token = meta.get("progressToken")
        if token is not None and (isinstance(token, bool) or not isinstance(token, str | int)):
            raise ProtocolError(
                codes.INVALID_PARAMS, "Invalid params: _meta.progressToken must be a string or an integer"
            )
    else:  # (usual in the handshake era) none, or not an object: as an empty one
        meta, token = _NO_META, None
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
    """What a requestState is sealed for: the target, the caller (the credentials the app
    authenticates with, ``_identity``: not a load balancer's cookie) and the call's arguments."""
    return bound_target(target, server.identity.principal(call.forwarded), params.get("arguments") or {})


def _seal(
    server: Server, call: Call, params: Mapping[str, Any], target: str, state: str | None, answers: Mapping[str, Any]
) -> str:
    return server.sealer.seal_round(state, answers, _bound(server, call, params, target))


def _live_context(
    holder: ContextHolder,
    server: Server,
    call: Call,
    params: Mapping[str, Any],
    target: str,
    token: str | int | None,
    meta: Mapping[str, Any],
    unsealed: Round | None,
) -> tuple[LiveContext, HandshakeChannel | ModernChannel]:
    """The route's context and its channel, built the first time the route asks for them; the
    context knows when its call is stopped (the run it serves, found by its holder)."""
    channel: HandshakeChannel | ModernChannel
    if call.era == "modern":
        caps = meta.get(CLIENT_CAPABILITIES_META_KEY) or {}
        seal = partial(_seal, server, call, params, target)  # bound only if the route asks
        state_value, answered = unsealed if unsealed is not None else (None, {})
        responses = params.get("inputResponses")
        channel = ModernChannel(call.outbox, caps, responses, answered, server, seal, call.replies_as)
        level, info = meta.get(LOG_LEVEL_META_KEY), meta.get(CLIENT_INFO_META_KEY)
    else:
        pending, timeout, declared = server.pending, server.ask_timeout, call.declared
        channel = HandshakeChannel(call.outbox, pending, call.caller, call.asks_as, server, timeout, declared)
        caps, info, state_value = declared or {}, None, None  # known only from a session id
        level = server.log_levels.get(call.caller, DEFAULT_LOG_LEVEL)
    context = LiveContext(
        channel,
        tool=target.partition(":")[2],
        protocol_version=call.replies_as,  # the revision it is served as (see Call.replies_as)
        progress_token=token,
        client_capabilities=caps,
        client_info=info,
        log_level=level,
        request_state=state_value,
        stopped=_stop_check(server.registry.holding((call.caller, call.request.id), holder)),
    )
    return context, channel


def _stop_check(run: _ToolRun | None) -> Callable[[], bool]:
    """Whether ``run`` is stopped or its client gone (``_RunHandle.halted``), or over (a context
    built for a run that has ended, or that the route keeps once its run is gone). Holds the run
    weakly: the run holds the context."""
    if run is None:
        return _over
    method = WeakMethod(run.halted)
    return lambda: (stopped := method()) is None or stopped()


def _over() -> bool:
    return True


def _call_tool(server: Server, call: Call, params: dict[str, Any]) -> Awaitable[dict[str, Any] | None]:
    """Checks at once; returns the run for the caller to await (no coroutine of its own)."""
    spec = server.catalog.get(params["name"])
    if spec is None:
        raise ProtocolError(codes.INVALID_PARAMS, f"Unknown tool: {params['name']}")
    inv = invocation(server, call, params, spec.target)
    return run_tool(spec, params.get("arguments") or {}, inv, server.limits, server.registry)


async def _read_resource(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any] | None:
    uri: str = params["uri"]
    modern = call.era == "modern"
    found = server.features.find_resource(uri)
    if found is None:
        raise not_found(uri, modern)
    spec, arguments, mime = found
    target = f"resource:{uri}"
    # 2026-07-28: the result's caching hints come from the route's Cache-Control, which only a
    # CachingCollector keeps; its scope is private when the request carried credentials (as the
    # transport decides for every result: each credential is forwarded to the route)
    names = server.credentials
    private = modern and any(name in names for name, _ in call.forwarded)
    from ._resource_read import resource_contents  # on first use: resources/read

    finish = partial(resource_contents, uri, mime, modern, private=private)
    inv = invocation(server, call, params, target)
    what = f"resource {printable(uri)}"  # the client's text, in the log record of a failure too
    collector = CachingCollector if modern else ResponseCollector
    limits, registry = server.limits, server.registry
    result = await run_tool(spec, arguments, inv, limits, registry, finish, what, collector, about(uri))
    return _not_a_tool_error(result)


async def _get_prompt(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any] | None:
    name: str = params["name"]
    entry = server.features.prompts.get(name)
    if entry is None:
        raise ProtocolError(codes.INVALID_PARAMS, f"Unknown prompt: {name}")
    target = f"prompt:{name}"
    arguments = entry.arguments(params.get("arguments") or {})
    from ._prompt_messages import prompt_messages  # on first use: prompts/get

    finish = partial(prompt_messages, name)
    inv = invocation(server, call, params, target)
    what = f"prompt {name!r}"
    result = await run_tool(entry.spec, arguments, inv, server.limits, server.registry, finish, what)
    return _not_a_tool_error(result)


def _not_a_tool_error(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Resources and prompts have no ``isError`` result: a failed run is a JSON-RPC error (its text
    names the prompt or resource, as :func:`run_tool` was told)."""
    if result is not None and result.get("isError"):
        raise ProtocolError(codes.INTERNAL_ERROR, first_text(result))
    return result
