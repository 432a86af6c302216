"""``subscriptions/listen`` (2026-07-28): one open stream of the notifications a client asked for.

Part of :mod:`mcp_middleware.handlers`, whose method table names ``_listen``. The stream lasts until
the client goes away (an abrupt close: no response) or the server ends it when it shuts down (the
empty ``subscriptions/listen`` result, tagged with the subscription id, after what was pending);
:mod:`mcp_middleware.listen` keeps the open streams, publishes to them and ends them.
``handlers`` is imported for its types only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from mcp_types import jsonrpc as codes

from . import listen
from .jsonrpc import ProtocolError
from .listen import FILTER_KEYS, Listener

if TYPE_CHECKING:
    from .handlers import Call, Server

__all__ = ["_listen"]

SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId"
# The URIs one stream may subscribe to (its resourceSubscriptions; more is -32602). A client
# watching more opens several streams, each counted toward max_listen_streams.
MAX_LISTEN_URIS = 1000


async def _listen(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any] | None:
    """subscriptions.mdx: acknowledge first, then only the notifications the client asked for,
    each tagged with the subscription id (the listen request's JSON-RPC id).

    The acknowledgement is "the subset the server agrees to honour": the list kinds the server
    announces changes of, and of the URIs asked for those a ``resources/read`` would serve
    (:meth:`Features.serves`); the rest are left out, and not kept. A stream holds at most
    :data:`MAX_LISTEN_URIS` URIs, and an ``MCPMiddleware`` at most ``max_listen_streams`` streams: past
    either, an error naming the limit. Once the stream's filter is built, the request's params
    are emptied: the stream outlives its request, and keeps its id only."""
    kinds, uris, honoured = _subscription(server, call, params["notifications"])
    _forget_request(call, params)
    # Open before the acknowledgement goes out: counted at once (no other stream passes the check
    # while it is written), and what is published meanwhile is held, to follow it.
    listener = server.listeners.open(kinds, uris)
    tag = {SUBSCRIPTION_ID_META_KEY: call.request.id}
    try:
        await call.outbox.notify("notifications/subscriptions/acknowledged", {"notifications": honoured, "_meta": tag})
        del honoured
        ended = await _relay(server, call, listener, tag)
    finally:
        server.listeners.close(listener)
    # The server ended it (subscriptions.mdx, Cancellation): the empty result, then the end of the
    # stream. The client went away: an abrupt close carries no response.
    return {"_meta": tag} if ended else None


def _subscription(
    server: Server, call: Call, wanted: dict[str, Any]
) -> tuple[frozenset[str], frozenset[str], dict[str, Any]]:
    """The list kinds and URIs the stream will hold, and the acknowledgement's ``notifications``
    (what of ``wanted`` the server honours), once the request passed its checks."""
    _flags_checked(wanted)
    if not call.outbox.streams:  # its notifications would be dropped, and it would never end
        raise ProtocolError(
            codes.INVALID_REQUEST,
            "Invalid request: subscriptions/listen answers with an SSE stream, and the client's Accept header "
            "does not admit text/event-stream",
        )
    _room_checked(server)
    asked = wanted.get("resourceSubscriptions")
    if isinstance(asked, list):
        # a resource added at run time is served by a stream opened after it, as by resources/read;
        # one walk of the route table per stream (as a list request), not per call
        server.refresh()
    offered = server.capabilities(call.era)
    kinds = frozenset(
        kind
        for kind, (flag, _) in FILTER_KEYS.items()
        if wanted.get(flag) is True and offered.get(kind, {}).get("listChanged")
    )
    honoured: dict[str, Any] = {FILTER_KEYS[kind][0]: True for kind in sorted(kinds)}
    uris: frozenset[str] = frozenset()
    if offered.get("resources", {}).get("subscribe") and isinstance(asked, list):
        uris = _served(server, asked)
        honoured["resourceSubscriptions"] = sorted(uris)
    return kinds, uris, honoured


def _forget_request(call: Call, params: dict[str, Any]) -> None:
    """Let go of the request, which the transport holds as long as the stream is open (its frames,
    the ``Call``): its params, parsed (emptied: the transport's ``payload`` is the same dict), and
    their envelope, serialised for the params' check and the ladder's (``validation.envelope_of``:
    the whole params, resourceSubscriptions and all), both done by now (``Server.handle``)."""
    params.clear()
    call.envelope = call.ladder = None


def _room_checked(server: Server) -> None:
    """Refuse a stream past ``max_listen_streams``: each lasts until its client leaves, holding
    what it subscribed to, and counts toward no other limit (-32603: the server's state, not
    the request, is at fault; a client may try again later)."""
    limit = server.settings.max_listen_streams
    if limit is not None and (open_now := len(server.listeners)) >= limit:
        raise ProtocolError(
            codes.INTERNAL_ERROR,
            f"The server is busy: {open_now} subscriptions/listen streams are open on this endpoint "
            f"(limit {limit}: max_listen_streams). Try again later.",
        )


def _served(server: Server, asked: list[Any]) -> frozenset[str]:
    """The URIs of ``asked`` (at most :data:`MAX_LISTEN_URIS`, else -32602) that name a resource
    or match a template of the app (a made-up one would be held, and echoed, for nothing)."""
    if len(asked) > MAX_LISTEN_URIS:
        raise ProtocolError(
            codes.INVALID_PARAMS,
            f"Invalid params: notifications.resourceSubscriptions names {len(asked)} URIs, "
            f"more than one stream takes ({MAX_LISTEN_URIS}): open several streams",
        )
    features = server.features
    return frozenset(u for u in asked if isinstance(u, str) and features.serves(u))


def _flags_checked(wanted: dict[str, Any]) -> None:
    """Refuse a list flag that is no boolean (nor null): the SDK's type, read by pydantic, takes
    "yes", 1 or "off" for one, where the filter reads only ``true`` (a resourceSubscriptions of [1]
    is refused by the type itself: -32602 alike)."""
    for flag, _ in FILTER_KEYS.values():
        if type(wanted.get(flag)) not in (bool, type(None)):
            raise ProtocolError(
                codes.INVALID_PARAMS, f"Invalid params: notifications.{flag}: Input should be a valid boolean"
            )


async def _relay(server: Server, call: Call, listener: Listener, tag: dict[str, Any]) -> bool:
    """Write what the stream is sent, and keep-alives, until the server ends it (True) or the
    client goes away (False)."""
    interval = server.settings.keepalive_interval
    listeners = server.listeners
    last_write = anyio.current_time()
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while (await call.receive())["type"] != "http.disconnect":
                pass
            call.outbox.abandon()
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        while True:
            item = listener.take()
            if item is not None:
                # Written outside any time limit: a client reading slowly delays a notification,
                # and cancelling the write would lose it (it is already taken).
                await call.outbox.notify(item[0], {**item[1], "_meta": tag})
                last_write = anyio.current_time()
                continue
            if listener.ended:
                tg.cancel_scope.cancel()  # the watcher
                return True
            ticking = listeners.ticking  # else this stream ticks (no asyncio timer)
            wait = last_write + interval - anyio.current_time()
            with anyio.move_on_after(wait if ticking else min(wait, listen.TICK_SECONDS)):
                await listener.ready.wait()
            if not ticking:
                listeners.tick_if_due()
            if listener.ready.is_set() or anyio.current_time() - last_write < interval:
                continue
            await call.outbox.keepalive()
            last_write = anyio.current_time()
    return False  # the watcher cancelled the loop: the client went away
