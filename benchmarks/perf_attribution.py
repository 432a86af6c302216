"""Where a served request's CPU time goes, per Python function, MCP beside the direct route: Linux
``perf`` sampling a uvicorn server under wrk load, with Python 3.12's perf trampoline (``-X perf``).

    python -m benchmarks.perf_attribution --python .venv-3.12/bin/python   # ~1 min
    python -m benchmarks.perf_attribution --python .venv-3.13/bin/python --era modern --top 40

Needs ``perf`` (Debian: ``apt-get install -y linux-perf``), ``wrk``, and a Python 3.12 or later with
the project installed (``.ci/run`` makes ``.venv-3.12`` / ``.venv-3.13`` when it finds one); the
server runs under that interpreter, this script may run under any.

For each request (direct ``GET /items/1?q=x``, then ``tools/call get_item`` in each era) it serves
``benchmarks.app:app`` with uvicorn (one worker, uvloop, httptools, pinned to CPU 0), loads it with
wrk at ``--concurrency`` connections (CPU 1), and records call stacks with ``perf record --call-graph
dwarf``. Each sample is charged to the innermost Python function on its stack (what that function
runs in C, orjson or the kernel included), and each function's share of the samples is turned into
µs per request with the server's CPU time (``/proc``) over the requests wrk counted.

Where py-spy or cProfile see only Python, this also sees the C and kernel time each Python function
causes (a ``transport.write`` is charged to uvicorn's ``send``, with its system call and the
wake-up of the client). Two caveats: with the trampoline, CPython 3.12 runs every Python call
through the C stack, so everything is ~25-40 % slower than without it (compare the rows of one run,
not with ``benchmarks.load``); and a sampled stack shows the innermost Python frame only, so there
is no inclusive (caller) time.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import (
    ITEM_ARGS,
    Era,
    HttpRequest,
    OtherLoad,
    direct_get_item,
    exit_on_termination,
    mcp_tool_call,
)
from benchmarks.load import ROOT, _pinning, run_wrk, serve, whole_seconds

__all__ = ["Profile", "attribute", "main"]

GROUPS = ("mcp_middleware", "uvicorn", "starlette", "fastapi", "pydantic", "benchmarks", "asyncio")


@dataclass
class Profile:
    """One request's profile: µs per request by innermost Python function, and of that in the kernel."""

    name: str
    rps: float
    cpu_us: float  # the server's CPU time per request
    functions: dict[str, float] = field(default_factory=dict)
    kernel: dict[str, float] = field(default_factory=dict)


def _frame(line: str) -> tuple[str, bool]:
    """(symbol without its offset, whether it is in the kernel) of one ``perf script`` stack line."""
    parts = line.split(None, 1)
    rest = parts[1] if len(parts) > 1 else ""
    symbol, _, dso = rest.rpartition(" (")
    return symbol.split("+0x", 1)[0], dso.startswith("[kernel")


def _python_name(symbol: str) -> str:
    """``py::qualname:/path/to/file.py`` as ``qualname (package/module.py)``."""
    qualname, _, path = symbol[4:].partition(":")
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib/python3."):
                path = path.split("/", 1)[-1]
            break
    return f"{qualname} ({path})"


def attribute(script: str) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """Samples by innermost Python function, those of them whose leaf is in the kernel, and the
    total, from ``perf script -F ip,sym,dso`` output (one block of stack lines per sample)."""
    charged: collections.Counter[str] = collections.Counter()
    in_kernel: collections.Counter[str] = collections.Counter()
    total = 0
    for block in script.split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        total += 1
        frames = [_frame(line) for line in lines]
        owner = next((_python_name(sym) for sym, _ in frames if sym.startswith("py::")), "(no Python frame)")
        charged[owner] += 1
        if frames[0][1]:
            in_kernel[owner] += 1
    return charged, in_kernel, total


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile_one(name: str, request: HttpRequest, python: str, args: argparse.Namespace, workdir: Path) -> Profile:
    server_prefix, load_prefix, _ = ([], [], None) if args.no_pin else _pinning()
    with serve("benchmarks.app:app", server_prefix, workdir, python=python, python_args=["-X", "perf"]) as server:

        def load(seconds: int) -> tuple[int, float]:
            done = run_wrk(
                server,
                request,
                concurrency=args.concurrency,
                duration=seconds,
                threads=1,
                prefix=load_prefix,
                workdir=workdir,
                scenario=name,
            )
            if done.errors:
                raise RuntimeError(f"{name}: wrk counted {done.errors} errors")
            return done.requests, done.rps

        load(1)  # warm-up
        data = workdir / "perf.data"
        record = subprocess.Popen(
            [
                *("perf", "record", "-q", "-F", str(args.frequency), "--call-graph", "dwarf,16384"),
                *("-p", str(server.proc.pid), "-o", str(data), "--", "sleep", str(args.duration)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        before = _cpu_seconds(server.proc.pid)
        requests, rps = load(args.duration)
        cpu = _cpu_seconds(server.proc.pid) - before
        _, err = record.communicate(timeout=args.duration + 60)
        if record.returncode != 0 or not data.exists():
            raise RuntimeError(f"perf record failed ({record.returncode}): {err.decode(errors='replace')}")
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "ip,sym,dso"], capture_output=True, text=True, check=True
    ).stdout
    data.unlink()
    charged, in_kernel, total = attribute(script)
    per_sample = cpu / requests * 1e6 / max(total, 1)
    return Profile(
        name,
        rps,
        cpu / requests * 1e6,
        {k: v * per_sample for k, v in charged.items()},
        {k: v * per_sample for k, v in in_kernel.items()},
    )


def _group(function: str) -> str:
    path = function.rsplit(" (", 1)[-1]
    return next((g for g in GROUPS if path.startswith(g)), "other")


def report(direct: Profile, mcp: Profile, top: int) -> str:
    lines = [
        f"\n{mcp.name}: {mcp.rps:,.0f} req/s, {mcp.cpu_us:.1f} µs of server CPU per request; "
        f"{direct.name}: {direct.rps:,.0f} req/s, {direct.cpu_us:.1f} µs ({mcp.cpu_us - direct.cpu_us:+.1f} µs, "
        f"throughput {mcp.rps / direct.rps:.2f}x)",
        "",
        "| charged to (innermost Python frame) | direct µs | MCP µs | MCP − direct | of which in the kernel |",
        "|---|---:|---:|---:|---:|",
    ]
    groups: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for function in direct.functions.keys() | mcp.functions.keys():
        row = groups[_group(function)]
        row[0] += direct.functions.get(function, 0.0)
        row[1] += mcp.functions.get(function, 0.0)
        row[2] += direct.kernel.get(function, 0.0)
        row[3] += mcp.kernel.get(function, 0.0)
    for name, (d, m, dk, mk) in sorted(groups.items(), key=lambda item: item[1][0] - item[1][1]):
        lines.append(f"| {name} | {d:.1f} | {m:.1f} | {m - d:+.1f} | {mk - dk:+.1f} |")
    lines += ["", f"The {top} functions that add the most per request:", ""]
    lines += ["| function | direct µs | MCP µs | MCP − direct | of which in the kernel |", "|---|---:|---:|---:|---:|"]
    names = direct.functions.keys() | mcp.functions.keys()
    ranked = sorted(names, key=lambda f: direct.functions.get(f, 0.0) - mcp.functions.get(f, 0.0))
    for function in ranked[:top]:
        d, m = direct.functions.get(function, 0.0), mcp.functions.get(function, 0.0)
        k = mcp.kernel.get(function, 0.0) - direct.kernel.get(function, 0.0)
        lines.append(f"| `{function}` | {d:.1f} | {m:.1f} | {m - d:+.1f} | {k:+.1f} |")
    return "\n".join(lines)


def _default_python() -> str | None:
    for venv in (".venv-3.13", ".venv-3.12"):
        candidate = ROOT / venv / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return sys.executable if sys.version_info >= (3, 12) else None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--python", default=_default_python(), help="the server's interpreter (3.12+, project installed)")
    p.add_argument("--era", choices=("handshake", "modern", "both"), default="both")
    p.add_argument("--duration", type=whole_seconds(1), default=5, help="whole seconds recorded per request (1..20)")
    p.add_argument("--concurrency", type=int, default=32, help="wrk connections (1..256)")
    p.add_argument("--frequency", type=int, default=999, help="samples per second (100..4000)")
    p.add_argument("--top", type=int, default=25, help="functions listed")
    p.add_argument("--no-pin", action="store_true", help="do not pin the server and wrk to CPUs")
    args = p.parse_args(argv)
    args.duration = min(args.duration, 20)
    args.concurrency = min(max(args.concurrency, 1), 256)
    args.frequency = min(max(args.frequency, 100), 4000)
    return args


def _missing(args: argparse.Namespace) -> str | None:
    for tool, package in (("perf", "linux-perf"), ("wrk", "wrk")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian/Ubuntu: apt-get install -y {package})"
    if args.python is None:
        return "no Python 3.12+ found: pass --python (a 3.12+ interpreter with the project installed)"
    check = [args.python, "-c", "import sys, uvicorn, uvloop, httptools; sys.exit(sys.version_info < (3, 12))"]
    if subprocess.run(check, capture_output=True, check=False).returncode != 0:
        return f"{args.python} is not Python 3.12+ with uvicorn, uvloop and httptools"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    exit_on_termination()
    args = parse_args(argv)
    problem = _missing(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    _, _, own_cpus = ([], [], None) if args.no_pin else _pinning()
    if own_cpus is not None:
        os.sched_setaffinity(0, own_cpus)
    eras: tuple[Era, ...] = ("handshake", "modern") if args.era == "both" else (args.era,)
    witness = OtherLoad()
    with tempfile.TemporaryDirectory(prefix="mcp-perf-") as tmp:
        workdir = Path(tmp)
        direct = profile_one("direct GET /items/1?q=x", direct_get_item(), args.python, args, workdir)
        calls = {f"tools/call get_item ({era})": mcp_tool_call(era, "get_item", ITEM_ARGS) for era in eras}
        profiles = [profile_one(name, request, args.python, args, workdir) for name, request in calls.items()]
    version = subprocess.run([args.python, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    print(
        f"perf, {args.frequency} Hz, {args.duration:g} s per request at {args.concurrency} connections; "
        f"server: {version} -X perf, uvicorn (uvloop, httptools). {witness.describe()}"
    )
    for mcp in profiles:
        print(report(direct, mcp, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
