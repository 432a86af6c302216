"""In-process MCP/direct ratios with the requests interleaved, for figures that survive a noisy host.

    python -m benchmarks.interleaved                  # ~15 s: 30 rounds of 400 requests per row
    python -m benchmarks.interleaved --rounds 10 --per-round 200

``pytest benchmarks/`` measures each benchmark to completion before the next, so a host that slows
down or speeds up between the direct row and the MCP row moves their ratio (on this host the same
code gave 1.52x to 1.74x for ``tools/call get_item`` from one run to the next). Here every round
runs each row once, in a new random order, ``--per-round`` requests back to back on one event loop,
and the ratio of each row is taken against its baseline *in the same round*; the table gives the
median of those per-round ratios (and the median times). Each request is checked once first.

Rows (the first of each group is its baseline):

* ``get_item``     direct GET /items/1?q=x │ tools/call get_item, handshake era and 2026-07-28
* ``create_item``  direct POST /items │ tools/call create_item, both eras
* ``pass-through`` GET /items/1?q=x on the bare app │ the same on the app with the middleware

The direct rows run on the bare app (no middleware), as in ``pytest benchmarks/`` and the load
script's first ratio column: a ratio is then all the middleware adds to a call, its pass-through
check included, and the baseline is the same code in a compiled copy (``benchmarks.compiled``).
The pass-through group shows that check alone. (Earlier, the direct rows ran on the app with the
middleware, which left the pass-through, ~0.5 µs, out of the ratios: see ``benchmarks/README.md``.)
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp

from benchmarks.app import app, bare
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

__all__ = ["Row", "main", "measure"]


@dataclass(frozen=True)
class Row:
    group: str
    name: str
    app: ASGIApp
    request: HttpRequest
    status: int
    mcp: bool = False


def rows() -> list[Row]:
    out: list[Row] = []
    for group, direct, tool, args, status in (
        ("get_item", direct_get_item(), "get_item", ITEM_ARGS, 200),
        ("create_item", direct_create_item(), "create_item", NEW_ITEM, 201),
    ):
        out.append(Row(group, f"direct {direct.method} {direct.target}", bare, direct, status))
        for era in ("handshake", "modern"):
            label = "2026-07-28" if era == "modern" else "handshake"
            out.append(Row(group, f"tools/call {tool} {label}", app, mcp_tool_call(era, tool, args), 200, mcp=True))
    out.append(Row("pass-through", "bare app", bare, direct_get_item(), 200))
    out.append(Row("pass-through", "app + MCPMiddleware", app, direct_get_item(), 200))
    return out


def _check(loop: asyncio.AbstractEventLoop, row: Row) -> None:
    ex = loop.run_until_complete(Exchange(row.request).run(row.app))
    if ex.status != row.status:
        raise SystemExit(f"{row.name}: status {ex.status}, expected {row.status}: {ex.body!r}")
    if row.mcp:
        result = ex.messages()[-1].get("result", {})
        if result.get("isError") or "structuredContent" not in result:
            raise SystemExit(f"{row.name}: not the structured result expected: {result!r}")


def measure(rounds: int, per_round: int, seed: int = 0) -> dict[str, list[float]]:
    """µs per request of every row, one value per round."""
    table = rows()
    loop = asyncio.new_event_loop()
    try:
        for row in table:
            _check(loop, row)
            per_request_us(loop, row.app, row.request, per_round)  # warm-up
        times: dict[str, list[float]] = {row.name + "|" + row.group: [] for row in table}
        order = list(table)
        shuffle = random.Random(seed).shuffle
        for _ in range(rounds):
            shuffle(order)
            for row in order:
                times[row.name + "|" + row.group].append(per_request_us(loop, row.app, row.request, per_round))
        return times
    finally:
        loop.close()


def report(times: dict[str, list[float]]) -> str:
    lines = [
        "| group | request | median per request | ratio (median of per-round ratios) |",
        "|---|---|---:|---:|",
    ]
    baselines: dict[str, list[float]] = {}
    for key, values in times.items():
        name, group = key.split("|")
        base = baselines.setdefault(group, values)
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        lines.append(f"| {group} | {name} | {statistics.median(values):.1f} µs | {ratio:.2f}x |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    title = "MCP / direct, in-process, interleaved: {rounds} rounds of {per_round} requests per row, asyncio loop"
    return rounds_main(argv, __doc__ or "", title, measure, report, rounds=30)


if __name__ == "__main__":
    raise SystemExit(main())
