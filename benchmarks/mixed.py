"""Our code alone, and what running it beside the route costs: requests mixed, in-process.

    python -m benchmarks.mixed                    # ~40 s: 15 rounds of 400 requests (or pairs) per row
    python -m benchmarks.mixed --rounds 30 --per-round 200

``benchmarks.interleaved`` times each request in a loop of its own: the direct route then runs
hot, the same few functions one request after the other. A ``tools/call`` runs our code and the
route's in one request, so neither runs alone. This script separates the two parts:

* ``ours, stand-in route``: a ``tools/call get_item`` on a second app whose calls reach, instead of
  the app below the middleware, a stand-in ASGI app that answers the route's JSON at once (the
  same bytes; the stand-in alone is the row after it). What is left is our code, hot.
* ``A then B`` rows send one request of each kind in turn, and are timed per pair: the pair minus
  the two requests timed alone is what mixing them costs. Two direct routes mixed (GET then POST)
  pay it too: it is not something of ours, it is how this CPU runs two code paths in turn.
* ``mixed workload``: the MCP calls of both routes in turn against the direct calls of both in turn,
  the ratio an app serving several routes sees, next to the hot-loop ratios of the issue's targets.

As in ``benchmarks.interleaved``, every row runs once per round in a new random order, and the
derived figures are medians of per-round differences and ratios. The stand-in replaces the
middleware's ``server.route_app`` (a private attribute): an experiment, not an API.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from benchmarks.app import app, bare, build_app
from benchmarks.common import (
    ITEM_ARGS,
    NEW_ITEM,
    Exchange,
    HttpRequest,
    direct_create_item,
    direct_get_item,
    mcp_tool_call,
    per_request_us,
    rounds_main,
)

__all__ = ["main", "measure"]

Step = tuple[ASGIApp, HttpRequest]


@dataclass(frozen=True)
class Row:
    name: str
    steps: tuple[Step, ...]  # the requests of one iteration, in turn


def _stand_in(body: bytes) -> ASGIApp:
    """An ASGI app that answers ``body`` as JSON at once, whatever it is asked."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    done = {"type": "http.response.body", "body": body}

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send(done)

    return answer


def _with_stand_in(loop: asyncio.AbstractEventLoop) -> tuple[ASGIApp, ASGIApp]:
    """A second app with the middleware whose calls reach the stand-in, and the stand-in."""
    from mcp_middleware import MCPMiddleware

    direct = loop.run_until_complete(Exchange(direct_get_item()).run(bare))
    stand_in = _stand_in(direct.body)
    other = build_app(mcp=True)
    loop.run_until_complete(Exchange(mcp_tool_call("handshake", "get_item", ITEM_ARGS)).run(other))  # built
    node: object = other.middleware_stack
    while not isinstance(node, MCPMiddleware):
        node = getattr(node, "app")  # noqa: B009  (Starlette's middlewares keep the next as .app)
    node.server.route_app = stand_in
    return other, stand_in


def rows(loop: asyncio.AbstractEventLoop) -> list[Row]:
    get, post = direct_get_item(), direct_create_item()
    mcp_get = mcp_tool_call("handshake", "get_item", ITEM_ARGS)
    mcp_post = mcp_tool_call("handshake", "create_item", NEW_ITEM)
    other, stand_in = _with_stand_in(loop)
    return [
        Row("direct GET", ((bare, get),)),
        Row("direct POST", ((bare, post),)),
        Row("tools/call get_item", ((app, mcp_get),)),
        Row("tools/call create_item", ((app, mcp_post),)),
        Row("ours, stand-in route", ((other, mcp_get),)),
        Row("stand-in alone", ((stand_in, get),)),
        Row("direct GET then ours", ((bare, get), (other, mcp_get))),
        Row("direct GET then direct POST", ((bare, get), (bare, post))),
        Row("tools/call get_item then create_item", ((app, mcp_get), (app, mcp_post))),
    ]


def _check(loop: asyncio.AbstractEventLoop, step: Step) -> None:
    target, request = step
    ex = loop.run_until_complete(Exchange(request).run(target))
    if ex.status not in (200, 201):
        raise SystemExit(f"{request.path}: status {ex.status}: {ex.body!r}")
    if request.path == "/mcp":
        result = ex.messages()[-1].get("result", {})
        if result.get("isError") or "structuredContent" not in result:
            raise SystemExit(f"not the structured result expected: {result!r}")


def _per_iteration_us(loop: asyncio.AbstractEventLoop, row: Row, count: int) -> float:
    if len(row.steps) == 1:
        return per_request_us(loop, row.steps[0][0], row.steps[0][1], count)

    async def many() -> None:
        for _ in range(count):
            for target, request in row.steps:
                await Exchange(request).run(target)

    start = time.perf_counter()
    loop.run_until_complete(many())
    return (time.perf_counter() - start) / count * 1e6


def measure(rounds: int, per_round: int, seed: int = 0) -> dict[str, list[float]]:
    """µs per iteration of every row (a request, or a pair in turn), one value per round."""
    loop = asyncio.new_event_loop()
    try:
        table = rows(loop)
        for row in table:
            for step in row.steps:
                _check(loop, step)
            _per_iteration_us(loop, row, per_round)  # warm-up
        times: dict[str, list[float]] = {row.name: [] for row in table}
        order = list(table)
        shuffle = random.Random(seed).shuffle
        for _ in range(rounds):
            shuffle(order)
            for row in order:
                times[row.name].append(_per_iteration_us(loop, row, per_round))
        return times
    finally:
        loop.close()


def _median(times: dict[str, list[float]], each: Callable[[dict[str, float]], float]) -> float:
    rounds = [dict(zip(times, values, strict=True)) for values in zip(*times.values(), strict=True)]
    return statistics.median(each(one) for one in rounds)


def report(times: dict[str, list[float]]) -> str:
    lines = ["| row | median per request (or pair) |", "|---|---:|"]
    lines += [f"| {name} | {statistics.median(values):.1f} µs |" for name, values in times.items()]
    derived: list[tuple[str, Callable[[dict[str, float]], float], str]] = [
        ("MCP − direct, get_item (hot loops)", lambda t: t["tools/call get_item"] - t["direct GET"], "µs"),
        (
            "our code, hot (stand-in route: ours minus the stand-in)",
            lambda t: t["ours, stand-in route"] - t["stand-in alone"],
            "µs",
        ),
        (
            "mixing cost, direct GET then ours (pair minus both alone)",
            lambda t: t["direct GET then ours"] - t["direct GET"] - t["ours, stand-in route"],
            "µs",
        ),
        (
            "mixing cost, direct GET then direct POST",
            lambda t: t["direct GET then direct POST"] - t["direct GET"] - t["direct POST"],
            "µs",
        ),
        ("ratio, get_item (hot loops)", lambda t: t["tools/call get_item"] / t["direct GET"], "x"),
        (
            "ratio, mixed workload (both tools in turn / both routes in turn)",
            lambda t: t["tools/call get_item then create_item"] / t["direct GET then direct POST"],
            "x",
        ),
    ]
    lines += ["", "| derived (median of per-round values) | |", "|---|---:|"]
    for label, each, unit in derived:
        value = _median(times, each)
        lines.append(f"| {label} | {value:.2f}{unit} |" if unit == "x" else f"| {label} | {value:+.1f} µs |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    title = "Requests mixed, in-process: {rounds} rounds of {per_round} per row, asyncio loop, handshake era"
    per_round = "requests (or pairs) per row and round"
    return rounds_main(argv, __doc__ or "", title, measure, report, rounds=15, per_round=per_round)


if __name__ == "__main__":
    raise SystemExit(main())
