"""Machine instructions per request, counted by valgrind (callgrind): MCP against the direct route.

    python -m benchmarks.instructions                # get_item and create_item, both eras (~2 min on 2 CPUs)
    python -m benchmarks.instructions --cache-sim    # also simulated cache misses and branch mispredictions
    python -m benchmarks.instructions --calls 400

Time on a shared 2-CPU host moves by ±2 µs from run to run and with whatever else runs; a count of
instructions does not. Each figure comes from two processes under ``valgrind --tool=callgrind``
that import the benchmark app, warm every request up, then send ``--calls`` of one request or none:
the difference, divided by ``--calls``, is that request's instructions, interpreter and C code
alike (orjson, pydantic-core, allocations), which ``benchmarks.footprint``'s bytecode counts leave
out. ``PYTHONHASHSEED`` is fixed and the objects alive after the warm-up are frozen out of the
garbage collector, so the processes do the same work.

What it does not see: what an instruction costs. Cache misses and branch mispredictions are only
simulated (``--cache-sim``: valgrind's model of a generic CPU), and MCP's instructions run at a
lower rate than the route's (the route's code is a loop over the same functions; ours is many small
pieces touched once per request), so a time ratio is larger than the instruction ratio. Use it to
compare two versions of the code (a change that removes work removes instructions) and time the
result with ``benchmarks.interleaved`` or ``benchmarks.ab``.

Needs ``valgrind`` (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["main"]

REQUESTS = ("direct_get", "get_handshake", "get_modern", "direct_post", "create_handshake", "create_modern")
WARM_UP = 30
_COLLECTED = re.compile(r"(I|I1|D1|LLd|LLi)\s+(?:refs|misses):\s+([\d,]+)|Mispredicts:\s+([\d,]+)")


def _request(name: str) -> object:
    from benchmarks.common import ITEM_ARGS, NEW_ITEM, direct_create_item, direct_get_item, mcp_tool_call

    if name == "direct_get":
        return direct_get_item()
    if name == "direct_post":
        return direct_create_item()
    tool, era = name.split("_")
    if tool == "get":
        return mcp_tool_call("modern" if era == "modern" else "handshake", "get_item", ITEM_ARGS)
    return mcp_tool_call("modern" if era == "modern" else "handshake", "create_item", NEW_ITEM)


def _child(name: str, calls: int) -> None:
    """What one valgrind process runs: warm every request up, then ``calls`` of ``name``."""
    from benchmarks.app import app
    from benchmarks.common import per_request_us

    loop = asyncio.new_event_loop()
    for each in REQUESTS:
        per_request_us(loop, app, _request(each), WARM_UP)  # type: ignore[arg-type]
    # What is alive now is left out of later collections: an older generation's collection, which
    # walks every object, would land in one process's count and not another's (~3 % per request
    # without this). The young generation's collections, which grow with what a request allocates,
    # still count.
    gc.collect()
    gc.freeze()
    if calls:
        per_request_us(loop, app, _request(name), calls)  # type: ignore[arg-type]


def _counts(name: str, calls: int, workdir: Path, cache_sim: bool) -> dict[str, int]:
    out = workdir / f"callgrind.{name}.{calls}"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    if cache_sim:
        command += ["--cache-sim=yes", "--branch-sim=yes"]
    command += [sys.executable, "-m", "benchmarks.instructions", "--child", name, str(calls)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True, cwd=Path.cwd())
    found: dict[str, int] = {}
    for match in _COLLECTED.finditer(done.stderr):
        if match.group(3):
            found["Mispredicts"] = int(match.group(3).replace(",", ""))
        else:
            found[match.group(1)] = int(match.group(2).replace(",", ""))
    if "I" not in found:
        raise RuntimeError(f"valgrind printed no count for {name}:\n{done.stderr[-2000:]}")
    return found


def measure(calls: int, cache_sim: bool, jobs: int) -> dict[str, dict[str, float]]:
    """Per request: each counter's value per call (the run with calls minus the run without)."""
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(jobs) as pool:
        workdir = Path(tmp)
        base = pool.submit(_counts, "direct_get", 0, workdir, cache_sim)
        runs = {name: pool.submit(_counts, name, calls, workdir, cache_sim) for name in REQUESTS}
        zero = base.result()
        per_call: dict[str, dict[str, float]] = {}
        for name, run in runs.items():
            per_call[name] = {key: (value - zero[key]) / calls for key, value in run.result().items()}
        return per_call


def report(per_call: dict[str, dict[str, float]]) -> str:
    keys = [key for key in ("I", "I1", "D1", "Mispredicts") if key in per_call["direct_get"]]
    label = {"I": "instructions", "I1": "I1 misses", "D1": "D1 misses", "Mispredicts": "mispredicts"}
    head = "| request | " + " | ".join(f"{label[k]} per call | ratio" for k in keys) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(keys)]
    for name in REQUESTS:
        direct = per_call["direct_post" if "create" in name or name == "direct_post" else "direct_get"]
        cells = [f"{per_call[name][k]:,.0f} | {per_call[name][k] / direct[k]:.3f}x" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="requests counted per process (default 200)")
    parser.add_argument("--cache-sim", action="store_true", help="also simulate caches and branch prediction")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="valgrind processes at once")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    per_call = measure(args.calls, args.cache_sim, args.jobs)
    print(f"Per request, counted by callgrind ({args.calls} calls after a warm-up; Python {sys.version.split()[0]}):\n")
    print(report(per_call))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
