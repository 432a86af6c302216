"""Where does the time of an in-process ``tools/call`` go? cProfile over a loop of calls.

    python -m benchmarks.profile_toolcall                    # 2026-07-28 era, 3000 calls
    python -m benchmarks.profile_toolcall --era handshake --calls 5000 --top 15
    python -m benchmarks.profile_toolcall --dump toolcall.prof   # for snakeviz / pstats
    python -m benchmarks.profile_toolcall --py-spy /path/to/py-spy  # a sampling profile as well

``--py-spy`` (``pip install py-spy``; it needs ptrace, fine as root) also records the same loop with
py-spy at 1 kHz, which does not slow small functions down the way cProfile does, and attributes each
sample to the innermost ``mcp_middleware`` function on its stack (the libraries it calls included);
samples inside the app below the middleware count as "the route".

Prints, per call (µs):
1. un-profiled time of the direct route call and of the MCP call (cProfile inflates everything,
   small Python functions most, so its figures are for ranking, not for absolute costs);
2. own time (tottime) per package, direct vs MCP, and the difference: what MCP adds, by package;
3. the top functions of ``mcp_middleware`` by own time and by cumulative time;
4. the top functions overall by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from benchmarks.app import app, bare
from benchmarks.common import ITEM_ARGS, Era, Exchange, HttpRequest, direct_get_item, mcp_tool_call

# (filename, line, function) -> (primitive calls, total calls, tottime, cumtime, callers)
Key = tuple[str, int, str]

_PACKAGES: tuple[tuple[str, str], ...] = (
    ("/mcp_middleware/", "mcp_middleware"),
    ("/mcp_types/", "mcp_types (SDK types)"),
    ("/fastapi/", "fastapi"),
    ("/starlette/", "starlette"),
    ("/pydantic_core/", "pydantic"),
    ("/pydantic/", "pydantic"),
    ("/anyio/", "anyio"),
    ("/asyncio/", "asyncio"),
    ("/benchmarks/", "benchmark driver"),
    ("/opentelemetry/", "opentelemetry (fastapi telemetry)"),
    ("/typing.py", "typing"),
    ("/enum.py", "stdlib"),
    ("/urllib/", "stdlib"),
    ("/json/", "stdlib"),
    ("/http/", "stdlib"),
    ("/email/", "stdlib"),
    ("/contextlib.py", "stdlib"),
    ("/dataclasses.py", "stdlib"),
    ("/codecs.py", "stdlib"),
    ("/re/", "stdlib"),
    ("/inspect.py", "stdlib"),
)


def package_of(key: Key) -> str:
    filename, _, name = key
    for needle, label in _PACKAGES:
        if needle in filename:
            return label
    if filename == "~":  # built-ins: classify by the callable's name
        if "orjson" in name:
            return "orjson"
        if "pydantic_core" in name or "SchemaValidator" in name or "SchemaSerializer" in name:
            return "pydantic"
        if "_asyncio" in name or "asyncio" in name or "Future" in name or "Task" in name:
            return "asyncio"
        return "builtins"
    if filename.startswith("<frozen"):
        return "stdlib"
    return "other"


def _label(key: Key) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    for marker in ("/mcp_middleware/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/mcp_middleware/":
                filename = "mcp_middleware/" + filename
            break
    return f"{filename}:{line}({name})"


def _run(loop: asyncio.AbstractEventLoop, target: ASGIApp, request: HttpRequest, count: int) -> None:
    async def many() -> None:
        for _ in range(count):
            ex = await Exchange(request).run(target)
            assert ex.status in (200, 201), ex.body

    loop.run_until_complete(many())


def _timed(run: Callable[[], None], calls: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best / calls


def _profile(run: Callable[[], None]) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    return pstats.Stats(profiler)


def _entries(stats: pstats.Stats) -> dict[Key, tuple[int, int, float, float]]:
    raw: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]  # documented, but not in typeshed
    return {key: (cc, nc, tt, ct) for key, (cc, nc, tt, ct, _callers) in raw.items()}


def by_package(stats: pstats.Stats) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for key, (_cc, _nc, tt, _ct) in _entries(stats).items():
        totals[package_of(key)] += tt
    return totals


_ROUTE = "the route: the app below the middleware (Starlette, FastAPI, pydantic)"
_DRIVER = "(the benchmark driver and the event loop, outside the middleware)"


def _frame_package(frame: str) -> str:
    """Package of a py-spy frame ``function (path/file.py:line)``."""
    where = frame.rpartition(" (")[2]
    for needle, label in _PACKAGES:
        if needle in "/" + where:
            return "stdlib/other" if label == "stdlib" else label
    return "stdlib/other"


def _callee(frames: list[str], index: int) -> str:
    """What frame ``index`` was doing: the function it called, or its own line."""
    if index + 1 < len(frames):
        name, _, where = frames[index + 1].rpartition(" (")
        return f"{name} ({where.rsplit(':', 1)[0]})"
    return f"own code, line {frames[index].rsplit(':', 1)[-1].rstrip(')')}"


def sampled(py_spy: str, era: Era, calls: int, top: int, per_call: float) -> None:
    """Record ``--spin`` under py-spy and print where the samples fall."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "samples.txt"
        cmd = [py_spy, "record", "-r", "1000", "-f", "raw", "-o", str(out), "--"]
        cmd += [sys.executable, "-m", "benchmarks.profile_toolcall", "--spin", str(calls), "--era", era]
        subprocess.run(cmd, check=True, capture_output=True)
        lines = out.read_text().splitlines()
    total = 0
    owner: Counter[str] = Counter()
    callees: dict[str, Counter[str]] = defaultdict(Counter)
    leaf: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any(f.startswith("Exchange.run (") for f in frames):
            continue  # start-up and imports, not the measured loop
        n = int(count)
        total += n
        leaf[_frame_package(frames[-1])] += n
        ours = [i for i, f in enumerate(frames) if "mcp_middleware/" in f.rpartition(" (")[2]]
        if not ours:
            owner[_DRIVER] += n
            continue
        inner = frames[ours[-1]]
        name = inner.rpartition(" (")[0]
        if any("benchmarks/" in f.rpartition(" (")[2] for f in frames[ours[-1] + 1 :]):
            owner[_DRIVER] += n  # our send/receive, called back by the middleware
        elif name == "SubExchange.exchange" and ours[-1] != len(frames) - 1:
            owner[_ROUTE] += n
        else:
            label = f"{name} ({inner.rpartition(' (')[2].rsplit(':', 1)[0]})"
            owner[label] += n
            callees[label][_callee(frames, ours[-1])] += n
    if not total:
        print("py-spy recorded no sample of the loop")
        return
    print()
    print(f"py-spy, {total} samples of the loop ({era} era): leaf frame by package")
    print()
    print("| package | share |")
    print("|---|---:|")
    for name, n in leaf.most_common():
        print(f"| {name} | {n / total:.1%} |")
    print()
    print(f"py-spy: innermost mcp_middleware function on the stack (callees included), top {top + 2};")
    print(f"µs = share × the un-profiled MCP call ({per_call * 1e6:.0f} µs)")
    print()
    print("| where | share of the MCP call | ≈ µs | mostly in |")
    print("|---|---:|---:|---|")
    for name, n in owner.most_common(top + 2):
        parts = callees.get(name, Counter()).most_common(3)
        mostly = "; ".join(f"{callee} {m / total:.1%}" for callee, m in parts if m / total >= 0.002)
        print(f"| {name} | {n / total:.1%} | {n / total * per_call * 1e6:.1f} | {mostly} |")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--era", choices=("modern", "handshake"), default="modern")
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--dump", type=Path, help="write the MCP profile here (pstats format)")
    p.add_argument("--py-spy", metavar="PATH", help="py-spy executable: add a sampling profile")
    p.add_argument("--spin", type=int, metavar="N", help="only run N MCP calls (what --py-spy records)")
    args = p.parse_args(argv)
    era: Era = args.era
    calls = min(max(args.calls, 100), 100_000)
    direct = direct_get_item()
    mcp = mcp_tool_call(era, "get_item", ITEM_ARGS)
    if args.spin:
        with asyncio.Runner() as runner:
            _run(runner.get_loop(), app, mcp, min(max(args.spin, 1), 1_000_000))
        return 0

    with asyncio.Runner() as runner:
        loop = runner.get_loop()

        def run_direct() -> None:
            _run(loop, bare, direct, calls)

        def run_mcp() -> None:
            _run(loop, app, mcp, calls)

        run_direct()  # warm-up: imports, route tables, the tool catalog
        run_mcp()
        t_direct = _timed(run_direct, calls)
        t_mcp = _timed(run_mcp, calls)
        prof_direct = _profile(run_direct)
        prof_mcp = _profile(run_mcp)

    if args.dump is not None:
        prof_mcp.dump_stats(str(args.dump))
    us = 1e6 / calls
    print(f"tools/call get_item, {era} era, {calls} calls, in-process, asyncio loop")
    print()
    print(f"un-profiled: direct {t_direct * 1e6:.1f} µs/call, MCP {t_mcp * 1e6:.1f} µs/call, ")
    print(f"             MCP/direct {t_mcp / t_direct:.2f}x, MCP adds {(t_mcp - t_direct) * 1e6:.1f} µs/call")
    total_d = sum(by_package(prof_direct).values())
    total_m = sum(by_package(prof_mcp).values())
    print(f"profiled:    direct {total_d * us:.1f} µs/call, MCP {total_m * us:.1f} µs/call")
    print()
    print("Own time (tottime) by package, µs per call under cProfile:")
    print()
    print("| package | direct | MCP | MCP − direct | share of MCP |")
    print("|---|---:|---:|---:|---:|")
    pd, pm = by_package(prof_direct), by_package(prof_mcp)
    for name in sorted(set(pd) | set(pm), key=lambda n: -pm.get(n, 0.0)):
        d, m = pd.get(name, 0.0) * us, pm.get(name, 0.0) * us
        print(f"| {name} | {d:.1f} | {m:.1f} | {m - d:+.1f} | {m / (total_m * us):.0%} |")

    entries = _entries(prof_mcp)
    ours = {k: v for k, v in entries.items() if package_of(k) == "mcp_middleware"}
    for title, index in (("own time (tottime)", 2), ("cumulative time", 3)):
        print()
        print(f"Top {args.top} in mcp_middleware by {title}, µs per call under cProfile:")
        print()
        print("| function | calls/call | tottime | cumtime |")
        print("|---|---:|---:|---:|")
        top = sorted(ours.items(), key=lambda kv: -kv[1][index])[: args.top]
        for key, (_cc, nc, tt, ct) in top:
            print(f"| {_label(key)} | {nc / calls:.1f} | {tt * us:.2f} | {ct * us:.2f} |")

    print()
    print(f"Top {args.top} overall by own time (MCP run), µs per call under cProfile:")
    print()
    print("| function | package | calls/call | tottime | cumtime |")
    print("|---|---|---:|---:|---:|")
    for key, (_cc, nc, tt, ct) in sorted(entries.items(), key=lambda kv: -kv[1][2])[: args.top]:
        print(f"| {_label(key)} | {package_of(key)} | {nc / calls:.1f} | {tt * us:.2f} | {ct * us:.2f} |")
    if args.py_spy:
        sampled(args.py_spy, era, max(calls * 20, 20_000), args.top, t_mcp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
