"""Benchmarks only (``pytest benchmarks/``): a persistent event loop per module, and at the end of the
session one table of MCP/direct ratios per group (the figures we report; absolute times vary by host).

Every benchmark stores ``requests_per_round`` in ``extra_info`` (requests are batched per round so
that entering the event loop is amortised); one benchmark per group has ``baseline=True``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from benchmarks.common import OtherLoad

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
    uvloop = None  # type: ignore[assignment]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """BENCH_LOOP=uvloop runs the in-process benchmarks on uvloop; the default is asyncio's loop."""
    if os.environ.get("BENCH_LOOP", "asyncio") == "uvloop":
        if uvloop is None:
            raise pytest.UsageError("BENCH_LOOP=uvloop but uvloop is not installed")
        return uvloop.new_event_loop
    return None


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One loop for the whole module: ``loop.run_until_complete`` per round, never a new loop."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        yield runner.get_loop()


_witness: list[OtherLoad] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _witness.append(OtherLoad())


def _rows(benchmarks: list[Any]) -> list[tuple[str, str, float, float | None, float | None]]:
    groups: dict[str, list[Any]] = {}
    for bench in benchmarks:
        if bench.stats and bench.stats.rounds:
            groups.setdefault(bench.group or "(none)", []).append(bench)
    rows: list[tuple[str, str, float, float | None, float | None]] = []
    for group, members in groups.items():
        base = next((b for b in members if b.extra_info.get("baseline")), None)

        def per_request(bench: Any, stat: str) -> float:
            return float(getattr(bench.stats, stat)) / int(bench.extra_info.get("requests_per_round", 1))

        for bench in sorted(members, key=lambda b: (not b.extra_info.get("baseline"), b.name)):
            median = per_request(bench, "median")
            ratio = median / per_request(base, "median") if base is not None else None
            ratio_min = per_request(bench, "min") / per_request(base, "min") if base is not None else None
            label = str(bench.param or bench.name).removeprefix(f"{group}: ")
            rows.append((group, label, median, ratio, ratio_min))
    return rows


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = getattr(config, "_benchmarksession", None)
    benchmarks = list(getattr(session, "benchmarks", None) or [])
    rows = _rows(benchmarks)
    if not rows:
        return
    write = terminalreporter.write_line
    loop = os.environ.get("BENCH_LOOP", "asyncio")
    write("")
    write(f"MCP / direct, in-process (event loop: {loop}; ratio of medians, and of minimums)")
    if _witness:
        write(f"During the session {_witness[0].describe()}.")
    write("")
    write("| group | benchmark | median per request | ratio (median) | ratio (min) |")
    write("|---|---|---:|---:|---:|")
    for group, label, median, ratio, ratio_min in rows:
        r = f"{ratio:.2f}x" if ratio is not None else "-"
        rm = f"{ratio_min:.2f}x" if ratio_min is not None else "-"
        write(f"| {group} | {label} | {median * 1e6:.1f} µs | {r} | {rm} |")
