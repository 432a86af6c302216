"""How much work one ``tools/call`` does beyond the route itself: counted, not timed.

    python -m benchmarks.footprint                 # both eras: bytecodes, Python calls, C calls
    python -m benchmarks.footprint --functions 25  # plus the functions of ours that run the most bytecodes

Timing a change of a microsecond or two is at the noise floor of every timer here (an A/A run of
``benchmarks.ab`` reads up to ~0.9 µs; a loop of 100 empty iterations added to the hot path read
+0.8 µs in one era and +2.3 µs in the other). Counting is exact and repeatable: one request is
traced after a warm-up, and the same is done for the direct route, so each figure is what MCP adds.

* **bytecodes**: instructions the interpreter executed (``sys.settrace`` with opcode events), in
  any module; for ours, by function;
* **Python calls**: function and coroutine frames entered (``sys.setprofile`` ``call`` events);
* **C calls**: builtin functions and methods called from Python (``c_call`` events; orjson, dict
  lookups, ``isinstance``, ``bytes.decode``...).

A lower count is strictly less work, but its worth in time varies: C calls range from a dict
lookup to a pydantic validation, and memory effects (the route's own work leaves our data out of the
CPU caches) make a call cost more in context than in a micro-benchmark. Use it to see what a change
removes, and ``benchmarks.ab`` to see whether that shows in time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from benchmarks.app import app
from benchmarks.common import ITEM_ARGS, Era, Exchange, HttpRequest, direct_get_item, mcp_tool_call

__all__ = ["Counts", "count", "main"]

Where = tuple[str, int, str]  # (file, first line, function)
WARM_UP = 50


@dataclass(frozen=True)
class Counts:
    bytecodes: Counter[Where]
    python_calls: int
    c_calls: int

    def total(self) -> int:
        return sum(self.bytecodes.values())


def _where(frame: FrameType) -> Where:
    code = frame.f_code
    return code.co_filename, code.co_firstlineno, code.co_name


def count(loop: asyncio.AbstractEventLoop, request: HttpRequest) -> Counts:
    """Bytecodes (by function), Python calls and C calls of one request, after a warm-up."""
    for _ in range(WARM_UP):
        loop.run_until_complete(Exchange(request).run(app))
    bytecodes: Counter[Where] = Counter()

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            bytecodes[_where(frame)] += 1
        return trace

    sys.settrace(trace)
    try:
        loop.run_until_complete(Exchange(request).run(app))
    finally:
        sys.settrace(None)
    calls = Counter[str]()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        calls[event] += 1

    sys.setprofile(profile)
    try:
        loop.run_until_complete(Exchange(request).run(app))
    finally:
        sys.setprofile(None)
    return Counts(bytecodes, calls["call"], calls["c_call"])


def _ours(where: Where) -> bool:
    return "/mcp_middleware/" in where[0].replace("\\", "/")


def _short(where: Where) -> str:
    path = where[0].replace("\\", "/").split("/mcp_middleware/")[-1]
    return f"{path}:{where[1]} {where[2]}"


def report(direct: Counts, mcp: dict[str, Counts], functions: int) -> str:
    lines = [
        "Work per request that MCP adds to the route (MCP minus direct GET /items/1?q=x), one request "
        "traced after a warm-up:",
        "",
        "| tools/call get_item | bytecodes | of which in mcp_middleware | Python calls | C calls |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, counts in mcp.items():
        ours = sum(n for where, n in counts.bytecodes.items() if _ours(where))
        lines.append(
            f"| {label} | {counts.total() - direct.total():+,} | {ours:,} | "
            f"{counts.python_calls - direct.python_calls:+,} | {counts.c_calls - direct.c_calls:+,} |"
        )
    lines.append(f"\n(the direct route itself: {direct.total():,} bytecodes, {direct.python_calls:,} Python calls)")
    if functions:
        for label, counts in mcp.items():
            top = sorted(((n, w) for w, n in counts.bytecodes.items() if _ours(w)), reverse=True)[:functions]
            lines += ["", f"Functions of mcp_middleware by bytecodes, {label}:", ""]
            lines += [f"{n:6,}  {_short(where)}" for n, where in top]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--functions", type=int, default=0, help="also list the top N functions of ours")
    args = parser.parse_args(argv)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        raise SystemExit("a tracer or profiler is already active (a debugger or coverage?): counts would be wrong")
    loop = asyncio.new_event_loop()
    try:
        direct = count(loop, direct_get_item())
        eras: tuple[tuple[str, Era], ...] = (("handshake", "handshake"), ("2026-07-28", "modern"))
        mcp = {label: count(loop, mcp_tool_call(era, "get_item", ITEM_ARGS)) for label, era in eras}
    finally:
        loop.close()
    print(report(direct, mcp, max(args.functions, 0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
