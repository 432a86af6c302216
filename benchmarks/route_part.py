"""How long the route itself takes, below the middleware, depending on what ran just before it.

    python -m benchmarks.route_part                 # ~10 s: 9 rounds of 600 timed requests per row
    python -m benchmarks.route_part --rounds 5 --per-round 300

The in-process ratio of ``benchmarks.interleaved`` compares a ``tools/call`` with the direct route
called back to back, over and over: nothing but the route (and the tiny driver) runs between two
direct calls, so the CPU's caches and branch predictors hold the route's code and data, which no
server sees. This script times only the app below ``MCPMiddleware`` (the time in its ``send``
taken out, where an MCP call's collector runs) in sequences where other requests run in between,
untimed:

* ``direct``                          direct GET /items/1?q=x, back to back (the hot baseline);
* ``direct after GET /nope``          each timed direct call preceded by a 404 of the same app;
* ``direct after POST /items``        ... by another route of the same app;
* ``direct after MCP initialize``     ... by an MCP ``initialize`` (the route does not run in it);
* ``direct after tools/call``         ... by a ``tools/call get_item`` (handshake era);
* ``tools/call (route part)``         the route's part of ``tools/call get_item``, back to back.

The gap between the first row and the others is time the route loses to the code that ran before
it, whatever that code is: in an MCP call the route's part runs after ours, so part of what
``benchmarks.interleaved`` counts as MCP overhead is this. Medians of per-round medians, µs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.app import app
from benchmarks.common import (
    ITEM_ARGS,
    Exchange,
    HttpRequest,
    OtherLoad,
    direct_create_item,
    direct_get_item,
    mcp_initialize,
    mcp_tool_call,
)

__all__ = ["RouteTimer", "main", "measure"]

# (label, the untimed request before each timed one or None, the timed request)
Sequence_ = tuple[str, HttpRequest | None, HttpRequest]


class RouteTimer:
    """Wraps the app below the middleware; adds up its time, less the time spent in its ``send``."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        self.on = False
        self.total_ns = 0
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.on:
            await self.inner(scope, receive, send)
            return
        in_send = 0

        async def timed_send(message: Message) -> None:
            nonlocal in_send
            start = time.perf_counter_ns()
            await send(message)
            in_send += time.perf_counter_ns() - start

        start = time.perf_counter_ns()
        await self.inner(scope, receive, timed_send)
        self.total_ns += time.perf_counter_ns() - start - in_send
        self.count += 1


def install(outer: Any) -> RouteTimer:
    """Put a :class:`RouteTimer` below the ``MCPMiddleware`` of ``outer`` (built on first request)."""
    from mcp_middleware import MCPMiddleware

    layer = outer.middleware_stack
    while not isinstance(layer, MCPMiddleware):
        layer = layer.app
    timer = RouteTimer(layer.app)
    layer.app = timer
    if layer.server.prepared:  # the catalog is built: calls use the route app it chose
        layer.server.route_app = timer
    return timer


def sequences() -> list[Sequence_]:
    direct = direct_get_item()
    call = mcp_tool_call("handshake", "get_item", ITEM_ARGS)
    return [
        ("direct", None, direct),
        ("direct after GET /nope", HttpRequest("GET", "/nope", b""), direct),
        ("direct after POST /items", direct_create_item(), direct),
        ("direct after MCP initialize", mcp_initialize(), direct),
        ("direct after tools/call", call, direct),
        ("tools/call (route part)", None, call),
    ]


def measure(rounds: int, per_round: int) -> dict[str, list[float]]:
    loop = asyncio.new_event_loop()
    rows = sequences()
    try:
        for _, before, timed in rows:  # build the middleware stack and the catalog, warm up
            for request in (before, timed):
                if request is not None:
                    loop.run_until_complete(Exchange(request).run(app))
        timer = install(app)

        async def run(before: HttpRequest | None, timed: HttpRequest) -> None:
            for _ in range(per_round):
                if before is not None:
                    timer.on = False
                    await Exchange(before).run(app)
                timer.on = True
                await Exchange(timed).run(app)
            timer.on = False

        samples: dict[str, list[float]] = {label: [] for label, _, _ in rows}
        for _ in range(rounds):
            for label, before, timed in rows:
                timer.total_ns = timer.count = 0
                loop.run_until_complete(run(before, timed))
                samples[label].append(timer.total_ns / timer.count / 1000)
        return samples
    finally:
        loop.close()


def report(samples: dict[str, list[float]], rounds: int, per_round: int, load: str) -> str:
    base = statistics.median(samples["direct"])
    lines = [
        f"The route's own time below the middleware: {rounds} rounds of {per_round} timed requests per row",
        load[:1].upper() + load[1:] + ".",
        "",
        "| sequence | route part, median | above the direct call back to back |",
        "|---|---:|---:|",
    ]
    for label, values in samples.items():
        median = statistics.median(values)
        lines.append(f"| {label} | {median:.1f} µs | {median - base:+.1f} µs |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9, choices=range(3, 101), metavar="3..100")
    parser.add_argument("--per-round", type=int, default=600, choices=range(50, 5001), metavar="50..5000")
    args = parser.parse_args(argv)
    other = OtherLoad()
    samples = measure(args.rounds, args.per_round)
    print(report(samples, args.rounds, args.per_round, other.describe()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
