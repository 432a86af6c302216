"""Paired A/B of two versions of the middleware in one process: is a change faster, and by how much?

    python -m benchmarks.ab                  # the working tree against HEAD, 60 rounds (~1 min)
    python -m benchmarks.ab HEAD~3 --rounds 40
    python -m benchmarks.ab HEAD --same      # A/A: HEAD against itself, to read the noise floor

``REV``'s ``mcp_middleware`` is extracted with ``git archive`` into a temporary directory and
renamed ``mcp_middleware_ab`` (its own imports rewritten), so both versions load side by side; each
wraps its own copy of the benchmark app. Every round runs, for both versions in alternating order,
400 direct ``GET /items/1?q=x`` and 400 ``tools/call get_item`` in each era. The figure that counts
is the **paired overhead difference**: per round, (MCP − direct) of the working tree minus the same
of ``REV``, median over rounds. Pairing within a round cancels the host's drift, and subtracting
each app's own direct call cancels what differs between two app instances (their direct calls can
differ by ~2 µs). On the benchmark host A/A runs of 40–60 rounds read up to ±1 µs either way, and
a real change of about 1 µs read anywhere from 0 to −1.7 µs from one run to the next: the spread
is between processes (each lays out its memory differently), not between rounds, so more rounds
do not narrow it. ``--runs N`` measures in N processes one after the other and reports each and
their median:

    python -m benchmarks.ab HEAD --runs 3    # ~3 min
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from benchmarks.app import build_app
from benchmarks.common import (
    ITEM_ARGS,
    Exchange,
    HttpRequest,
    direct_get_item,
    exit_on_termination,
    mcp_tool_call,
    per_request_us,
)

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
PER_ROUND = 400
_NAME = re.compile(r"\bmcp_middleware\b")


def _extract(rev: str, into: Path) -> None:
    """``rev``'s package as ``into/mcp_middleware_ab``, importing itself under that name."""
    archive = subprocess.run(["git", "archive", rev, "mcp_middleware"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    package = into / "mcp_middleware_ab"
    (into / "mcp_middleware").rename(package)
    for path in package.rglob("*.py"):
        path.write_text(_NAME.sub("mcp_middleware_ab", path.read_text()))


def _app_with(package: str) -> ASGIApp:
    app = build_app(mcp=False)
    app.add_middleware(importlib.import_module(package).MCPMiddleware)
    return app


def _check(loop: asyncio.AbstractEventLoop, app: ASGIApp, request: HttpRequest) -> None:
    exchange = loop.run_until_complete(Exchange(request).run(app))
    if exchange.status != 200:
        raise SystemExit(f"{request.method} {request.target}: status {exchange.status}: {exchange.body!r}")


def measure(apps: dict[str, ASGIApp], rounds: int) -> dict[tuple[str, str], list[float]]:
    """Per (version, request), the µs per request of every round."""
    requests = {
        "direct": direct_get_item(),
        "handshake": mcp_tool_call("handshake", "get_item", ITEM_ARGS),
        "2026-07-28": mcp_tool_call("modern", "get_item", ITEM_ARGS),
    }
    loop = asyncio.new_event_loop()
    try:
        for app in apps.values():
            for request in requests.values():
                _check(loop, app, request)
                per_request_us(loop, app, request, PER_ROUND)  # warm-up
        times: dict[tuple[str, str], list[float]] = {(v, r): [] for v in apps for r in requests}
        order = list(apps)
        for i in range(rounds):
            for version in order if i % 2 else reversed(order):
                for name, request in requests.items():
                    times[(version, name)].append(per_request_us(loop, apps[version], request, PER_ROUND))
        return times
    finally:
        loop.close()


def paired(times: dict[tuple[str, str], list[float]]) -> dict[str, float]:
    """Per era, the median over rounds of (MCP − direct) new minus the same of old, in µs."""
    out: dict[str, float] = {}
    for era in ("handshake", "2026-07-28"):
        new, old = times[("new", era)], times[("old", era)]
        new_direct, old_direct = times[("new", "direct")], times[("old", "direct")]
        diffs = [(n - nd) - (o - od) for n, nd, o, od in zip(new, new_direct, old, old_direct, strict=True)]
        out[era] = statistics.median(diffs)
    return out


def report(times: dict[tuple[str, str], list[float]], title: str) -> str:
    median = statistics.median
    lines = [f"{title}, {len(times[('old', 'direct')])} rounds:"]
    for version in ("old", "new"):
        direct = median(times[(version, "direct")])
        cells = [f"direct {direct:.1f} µs"]
        for era in ("handshake", "2026-07-28"):
            mcp = median(times[(version, era)])
            cells.append(f"{era} {mcp / direct:.3f}x ({mcp - direct:.1f} µs)")
        lines.append(f"  {version}: " + ", ".join(cells))
    for era, diff in paired(times).items():
        lines.append(f"  {era}: overhead new − old, paired per round: {diff:+.2f} µs (negative: faster)")
    return "\n".join(lines)


_RESULT = "AB-RESULT "


def _in_processes(argv: list[str], runs: int) -> None:
    """Run this script ``runs`` times, each in its own process; print each run and the medians."""
    found: dict[str, list[float]] = {"handshake": [], "2026-07-28": []}
    for run in range(1, runs + 1):
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.ab", *argv], cwd=ROOT, check=True, capture_output=True, text=True
        )
        for line in child.stdout.splitlines():
            if line.startswith(_RESULT):
                for era, diff in json.loads(line.removeprefix(_RESULT)).items():
                    found[era].append(diff)
            else:
                print(line)
        print(f"  (run {run} of {runs})", flush=True)
    for era, diffs in found.items():
        shown = ", ".join(f"{d:+.2f}" for d in diffs)
        print(f"{era}: overhead new − old, median of {runs} runs: {statistics.median(diffs):+.2f} µs ({shown})")


def main(argv: Sequence[str] | None = None) -> None:
    exit_on_termination()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev", nargs="?", default="HEAD", help="the git revision to compare with (default HEAD)")
    parser.add_argument("--rounds", type=int, default=60, help="interleaved rounds (default 60)")
    parser.add_argument("--same", action="store_true", help="A/A: compare REV with itself (the noise floor)")
    parser.add_argument("--runs", type=int, default=1, help="measure in this many processes in turn (default 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")
    if not 1 <= args.runs <= 20:
        parser.error("--runs must be between 1 and 20")
    if args.runs > 1:
        _in_processes([args.rev, "--rounds", str(args.rounds), *(["--same"] if args.same else [])], args.runs)
        return
    with tempfile.TemporaryDirectory(prefix="mcp-ab-") as tmp:
        _extract(args.rev, Path(tmp))
        sys.path.insert(0, tmp)
        try:
            new: Any = _app_with("mcp_middleware_ab") if args.same else _app_with("mcp_middleware")
            apps = {"old": _app_with("mcp_middleware_ab"), "new": new}
            title = f"A/A: {args.rev} against itself" if args.same else f"working tree (new) against {args.rev} (old)"
            times = measure(apps, args.rounds)
            print(report(times, title))
            print(_RESULT + json.dumps(paired(times)))
        finally:
            sys.path.remove(tmp)


if __name__ == "__main__":
    main()
