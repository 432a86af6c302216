"""The same load against the other ways to put this app on MCP: FastMCP and fastapi-mcp.

    python -m benchmarks.compare                       # ~3 min the first time (installs), ~2 min after
    python -m benchmarks.compare --duration 3 --repeats 3 --ttft-reps 30 --json compare.json
    python -m benchmarks.compare --only fastmcp        # one contender (and ours)

Optional: nothing in the test run uses it. It makes one virtualenv per library under
``--venvs`` (default ``.bench-venvs/`` in the repository, ignored by git) and installs there, from
PyPI: ``fastmcp`` (+ fastapi, uvicorn[standard]) and ``fastapi-mcp`` with ``mcp<2`` (its
requirement). Each contender module in ``benchmarks/contenders/`` builds the same routes
(``benchmarks.app.build_app``) and adds its library as its documentation shows; ours is
``benchmarks.app:app``. Then, for each contender in turn, alone on the machine:

1. the bare app (no MCP layer) in the same interpreter: the direct load, then its peak RSS;
2. the contender's app: the direct load, a check that ``tools/call get_item`` answers the right
   structured result (fastapi-mcp needs a session: ``initialize`` first, its ``Mcp-Session-Id`` on
   every request after), then ``--repeats`` rounds of wrk at ``--concurrency`` connections,
   direct ``GET /items/1?q=x`` and MCP ``tools/call get_item`` interleaved (median per row);
3. time to first token of the ``stream`` route (8 tokens, 20 ms apart) directly and through MCP
   with a ``progressToken``, interleaved, over a raw socket as in ``benchmarks.load``;
4. the app's peak RSS at the end, against the bare app's.

Same host, same Python, same FastAPI app, same wrk settings and CPU pinning as ``benchmarks.load``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from benchmarks.common import (
    ITEM_ARGS,
    HttpRequest,
    OtherLoad,
    direct_get_item,
    direct_stream,
    exit_on_termination,
    mcp_tool_call,
)
from benchmarks.load import (
    ROOT,
    STREAM_TOKENS,
    Server,
    _check_mcp,
    _pinning,
    add_run_options,
    bound_run_options,
    exchange,
    lua_script,
    machine,
    run_wrk,
    serve,
    time_to_first_token,
    wrk_missing,
)

__all__ = ["CONTENDERS", "Contender", "main"]


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    target: str  # the uvicorn target of the app with MCP
    packages: tuple[str, ...] = ()  # what its virtualenv gets; empty: this project's interpreter
    report: tuple[str, ...] = ()  # distributions whose versions the table names
    sessions: bool = False  # needs initialize + Mcp-Session-Id


CONTENDERS: tuple[Contender, ...] = (
    Contender("ours", "mcp-middleware", "benchmarks.app:app", report=("mcp-types",)),
    Contender(
        "fastmcp",
        "FastMCP from_fastapi",
        "benchmarks.contenders.fastmcp_app:app",
        ("fastmcp", "fastapi", "uvicorn[standard]"),
        ("fastmcp", "mcp"),
    ),
    Contender(
        "fastapi-mcp",
        "fastapi-mcp",
        "benchmarks.contenders.fastapi_mcp_app:app",
        ("fastapi-mcp", "mcp<2", "uvicorn[standard]"),
        ("fastapi-mcp", "mcp"),
        sessions=True,
    ),
)


LogFn = Callable[[str], None]


# -- virtualenvs ---------------------------------------------------------------------------------
def interpreter(contender: Contender, venvs: Path, reinstall: bool, log: LogFn) -> str:
    """The Python that runs ``contender`` (its virtualenv made and filled if needed)."""
    if not contender.packages:
        return sys.executable
    venv = venvs / contender.key
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    wanted = "\n".join(contender.packages)
    if reinstall or not marker.exists() or marker.read_text() != wanted:
        log(f"{contender.label}: making {venv} and installing {', '.join(contender.packages)} from PyPI")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *contender.packages], check=True)
        marker.write_text(wanted)
    return str(python)


def versions(python: str, names: Sequence[str]) -> dict[str, str]:
    code = (
        "import json, sys\nfrom importlib.metadata import version\n"
        "print(json.dumps({n: version(n) for n in sys.argv[1:]}))"
    )
    done = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(done.stdout)
    return found


# -- MCP requests, with a session where the contender needs one -----------------------------------
def with_session(request: HttpRequest, session: str | None) -> HttpRequest:
    if session is None:
        return request
    headers = (*request.headers, ("mcp-session-id", session))
    return HttpRequest(request.method, request.path, request.query, headers, request.body)


def open_session(server: Server) -> str:
    """initialize, then notifications/initialized: the session id every later request carries."""
    client = {"name": "bench", "version": "1"}
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
    base = mcp_tool_call("handshake", "get_item", ITEM_ARGS)
    status, headers, body = exchange(server.port, _post(base, init).raw(server.host))
    session = headers.get("mcp-session-id")
    if status != 200 or not session:
        raise RuntimeError(f"initialize answered {status} without a session id: {body[:300]!r}")
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    status, _, body = exchange(server.port, with_session(_post(base, done), session).raw(server.host))
    if status not in (200, 202):
        raise RuntimeError(f"notifications/initialized answered {status}: {body[:300]!r}")
    return session


def rotating_sessions_lua(request: HttpRequest, sessions: Sequence[str]) -> str:
    """wrk script: ``request``, each time with the next of ``sessions`` (a client per session)."""
    quoted = ", ".join(f'"{s}"' for s in sessions)
    rotate = (
        f"local sessions = {{{quoted}}}\nlocal turn = 0\n"
        "request = function()\n"
        "  turn = turn % #sessions + 1\n"
        '  wrk.headers["mcp-session-id"] = sessions[turn]\n'
        "  return wrk.format()\n"
        "end\n"
    )
    return lua_script(request) + rotate


def _post(template: HttpRequest, message: Mapping[str, object]) -> HttpRequest:
    return HttpRequest("POST", template.path, headers=template.headers, body=orjson.dumps(message))


def _check_structured(server: Server, request: HttpRequest) -> None:
    status, headers, body = exchange(server.port, request.raw(server.host))
    _check_mcp(status, headers, body)
    result = orjson.loads(body)["result"]
    item = result.get("structuredContent")
    if item is None:  # fastapi-mcp answers with text only
        item = orjson.loads(result["content"][0]["text"])
    if item.get("id") != ITEM_ARGS["item_id"] or item.get("q") != ITEM_ARGS["q"]:
        raise RuntimeError(f"tools/call get_item did not return the item: {body[:300]!r}")


# -- one contender -------------------------------------------------------------------------------
Run = dict[str, object]


@dataclass
class Outcome:
    key: str
    label: str
    versions: dict[str, str]
    direct_rps: float = 0.0
    mcp_rps: float = 0.0
    mcp_p50_ms: float = 0.0
    mcp_p99_ms: float = 0.0
    errors: int = 0
    ttft_direct_ms: float = 0.0
    ttft_mcp_ms: float = 0.0
    bare_peak_kib: int = 0
    app_peak_kib: int = 0
    runs: list[dict[str, object]] = field(default_factory=list)


def measure(contender: Contender, python: str, args: argparse.Namespace, workdir: Path, log: LogFn) -> Outcome:
    server_prefix, load_prefix, _ = ([], [], None) if args.no_pin else _pinning()
    outcome = Outcome(contender.key, contender.label, versions(python, ("fastapi", "starlette", *contender.report)))
    direct = direct_get_item()

    def wrk(server: Server, request: HttpRequest, seconds: int, name: str, lua: str | None = None) -> Run:
        result = run_wrk(
            server,
            request,
            concurrency=args.concurrency,
            duration=seconds,
            threads=1,
            prefix=load_prefix,
            workdir=workdir,
            scenario=name,
            lua=lua,
        )
        return asdict(result)

    with serve("benchmarks.app:bare", server_prefix, workdir, python=python, label=f"{contender.key}-") as bare:
        wrk(bare, direct, args.warmup + args.duration, "warm-up")
        outcome.bare_peak_kib = bare.memory()["VmHWM"]
    with serve(contender.target, server_prefix, workdir, python=python, label=f"{contender.key}-") as server:
        # With sessions, as many as connections (as many clients), used in turn: one shared
        # session fails under concurrent calls with fastapi-mcp 0.4.0 (ClosedResourceError).
        sessions = [open_session(server) for _ in range(args.concurrency)] if contender.sessions else []
        session = sessions[0] if sessions else None
        call = with_session(mcp_tool_call("handshake", "get_item", ITEM_ARGS), session)
        _check_structured(server, call)
        lua = rotating_sessions_lua(call, sessions) if sessions else None
        if args.warmup:
            wrk(server, direct, args.warmup, "warm-up")
            wrk(server, call, args.warmup, "warm-up", lua)
        rows: dict[str, list[dict[str, object]]] = {"direct": [], "mcp": []}
        for rep in range(args.repeats):
            for name, request in (("direct", direct), ("mcp", call)):
                run = wrk(server, request, args.duration, name, lua if name == "mcp" else None)
                rows[name].append(run)
                log(f"{contender.label}: run {rep + 1} {name}: {run['rps']:,.0f} req/s, {run['errors']} errors")
        outcome.runs = rows["direct"] + rows["mcp"]
        outcome.direct_rps = statistics.median(float(str(r["rps"])) for r in rows["direct"])
        outcome.mcp_rps = statistics.median(float(str(r["rps"])) for r in rows["mcp"])
        outcome.mcp_p50_ms = statistics.median(float(str(r["p50_ms"])) for r in rows["mcp"])
        outcome.mcp_p99_ms = statistics.median(float(str(r["p99_ms"])) for r in rows["mcp"])
        outcome.errors = sum(int(str(r["errors"])) for r in outcome.runs)
        stream_args = {"n": STREAM_TOKENS, "delay_ms": args.stream_delay_ms}
        paths = [
            direct_stream(STREAM_TOKENS, args.stream_delay_ms),
            with_session(mcp_tool_call("handshake", "stream", stream_args, progress_token="t"), session),
        ]
        times: list[list[float]] = [[], []]
        shuffle = random.Random(0).shuffle
        order = [0, 1]
        for _ in range(args.ttft_reps):
            shuffle(order)
            for i in order:
                times[i] += time_to_first_token(server, paths[i], 1)
        outcome.ttft_direct_ms = statistics.median(times[0]) * 1e3
        outcome.ttft_mcp_ms = statistics.median(times[1]) * 1e3
        outcome.app_peak_kib = server.memory()["VmHWM"]
        problems = server.log_problems()
        if problems:
            log(f"{contender.label}: server log problems: {problems[:3]}")
            outcome.errors += len(problems)
    return outcome


def report(outcomes: list[Outcome], args: argparse.Namespace, info: dict[str, str], other: str) -> str:
    pinned = "server on CPU 0, wrk on CPU 1" if not args.no_pin and _pinning()[2] else "not pinned"
    lines = [
        f"Machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, uvicorn {info['uvicorn']} "
        f"(1 worker, uvloop, httptools), {info['wrk']}. Each contender alone; wrk at {args.concurrency} "
        f"connections, {args.repeats} interleaved runs of {args.duration:g} s per row (medians), {pinned}; "
        f"{other}.",
        "",
        "| contender | versions | tools/call req/s | direct GET req/s | throughput vs direct | "
        "tools/call p50 / p99 | time to first token: direct → MCP (extra) | peak RSS: bare → app (ratio) | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        names = ", ".join(f"{k} {v}" for k, v in o.versions.items())
        ratio = o.mcp_rps / o.direct_rps if o.direct_rps else 0.0
        extra = o.ttft_mcp_ms - o.ttft_direct_ms
        memory = o.app_peak_kib / o.bare_peak_kib if o.bare_peak_kib else 0.0
        lines.append(
            f"| {o.label} | {names} | {o.mcp_rps:,.0f} | {o.direct_rps:,.0f} | {ratio:.3f}x | "
            f"{o.mcp_p50_ms:.2f} / {o.mcp_p99_ms:.2f} ms | {o.ttft_direct_ms:.2f} → {o.ttft_mcp_ms:.2f} ms "
            f"({extra:+.2f} ms) | {o.bare_peak_kib / 1024:.1f} → {o.app_peak_kib / 1024:.1f} MiB "
            f"({memory:.2f}x) | {o.errors} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--venvs", type=Path, default=ROOT / ".bench-venvs", help="where the virtualenvs go")
    p.add_argument("--reinstall", action="store_true", help="make the virtualenvs again")
    p.add_argument("--only", action="append", choices=[c.key for c in CONTENDERS[1:]], help="these (and ours)")
    p.add_argument("--concurrency", type=int, default=32, help="wrk connections (1..256)")
    add_run_options(p, ttft_reps=20)
    args = p.parse_args(argv)
    bound_run_options(args, 1, 500)
    args.concurrency = min(max(args.concurrency, 1), 256)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    exit_on_termination()
    args = parse_args(argv)
    if wrk_missing():
        return 2
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {message}", file=sys.stderr, flush=True)

    _, _, own_cpus = ([], [], None) if args.no_pin else _pinning()
    if own_cpus is not None:
        os.sched_setaffinity(0, own_cpus)
    chosen = [c for c in CONTENDERS if c.key == "ours" or not args.only or c.key in args.only]
    args.venvs.mkdir(parents=True, exist_ok=True)
    pythons = {c.key: interpreter(c, args.venvs, args.reinstall, log) for c in chosen}
    witness = OtherLoad()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="mcp-compare-") as tmp:
        for contender in chosen:
            outcomes.append(measure(contender, pythons[contender.key], args, Path(tmp), log))
            log(f"{contender.label}: done")
    print(report(outcomes, args, machine(), witness.describe()))
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    # Another library's errors are a finding (the table shows them); ours fail the run.
    return 1 if any(o.errors for o in outcomes if o.key == "ours") else 0


if __name__ == "__main__":
    raise SystemExit(main())
