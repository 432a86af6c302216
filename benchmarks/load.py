"""Load test over a real socket: uvicorn (one worker, uvloop + httptools) on 127.0.0.1, wrk as load.

    python -m benchmarks.load                       # defaults: 2 x 5 s per row, concurrency 1 and 32
    python -m benchmarks.load --duration 2 --repeats 3 --concurrency 1,8,32 --json out.json

What it does, all by itself, then stops (about 1.5 minutes with the defaults):

1. starts ``uvicorn benchmarks.app:bare`` and ``uvicorn benchmarks.app:app`` (the same routes plus
   the middleware) side by side, each on a free port, and reads their RSS;
2. warms both up with the same direct load (``GET /items/1?q=x``) and reads their peak RSS;
   checks that the MCP calls succeed, warms them up;
3. at each concurrency, ``--repeats`` rounds of: direct on bare, direct on app, ``tools/call
   get_item`` in the handshake era (2025-06-18), the same in the 2026-07-28 era — interleaved so a
   slow phase of a shared host hits all four alike; each row reports the median of its runs;
4. time to first token of ``GET /stream``: direct on each app, and through MCP in both eras (with a
   ``progressToken``, so the tokens come as progress events), the four paths in a random order
   per repetition; the ratio is taken against the direct call on ``app``, the same process;
5. reads the peak RSS (``VmHWM``) again, stops both servers, prints markdown tables.

wrk (``apt-get install -y wrk``) generates the load, scripted in Lua for the MCP POSTs. Time to first
token is measured here with a raw socket: the connection is opened and warmed by one small request
first (not timed), then the clock runs from sending the request to the first token's bytes arriving;
the client then closes the connection, as an impatient client would, and the server stops the route.
With two or more CPUs the server is pinned to CPU 0 and the load generators to CPU 1 (``taskset``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ITEM_ARGS,
    Era,
    HttpRequest,
    OtherLoad,
    direct_get_item,
    direct_stream,
    exit_on_termination,
    mcp_tool_call,
)

ROOT = Path(__file__).resolve().parent.parent
MAX_DURATION = 30
MAX_CONCURRENCY = 256
MAX_TTFT_REPS = 2_000
STREAM_TOKENS = 8


# -- machine -------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0].strip()
    except (OSError, IndexError):
        wrk_version = "missing"
    import uvicorn

    return {
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "uvicorn": uvicorn.__version__,
        "wrk": wrk_version,
        "kernel": platform.release(),
    }


def _pinning() -> tuple[list[str], list[str], set[int] | None]:
    """(server prefix, load prefix, CPUs for this process) — empty when pinning is not possible."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return [], [], None
    return ["taskset", "-c", "0"], ["taskset", "-c", "1"], {1}


# -- server --------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of ``pid`` in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


@dataclass
class Server:
    target: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, target: str) -> str:
        return f"http://{self.host}{target}"

    def memory(self) -> dict[str, int]:
        return proc_status(self.proc.pid)

    def log_problems(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line or "ERROR" in line]


def bytecode_env(python: str) -> dict[str, str]:
    """The servers' environment: the repository importable, its own code byte-compiled beforehand.

    A pip-installed package (and every dependency here) is byte-compiled at install time; the
    repository's code, run from the tree under ``PYTHONDONTWRITEBYTECODE``, would otherwise be
    compiled from source at every start, which leaves ~2 MiB of compiler memory in the app's process
    that the bare app never pays. The ``.pyc`` files go to the tree's (git-ignored) ``__pycache__``.
    """
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}
    dirs = [str(ROOT / "mcp_middleware"), str(ROOT / "benchmarks")]
    subprocess.run([python, "-m", "compileall", "-q", *dirs], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return env


@contextmanager
def serve(
    target: str,
    prefix: Sequence[str],
    logdir: Path,
    *,
    python: str = sys.executable,
    label: str = "",
    python_args: Sequence[str] = (),
) -> Iterator[Server]:
    """Start uvicorn on a free port; stop it (SIGTERM, then SIGKILL) whatever happens.

    ``python`` is the interpreter (another virtualenv's, for ``benchmarks.compare``), started with
    ``python_args`` (``-X perf`` for ``benchmarks.perf_attribution``); the server always runs from
    the repository root, so ``benchmarks.app`` is importable.
    """
    for attempt in range(3):
        port = _free_port()
        log = logdir / f"{label}{target.replace(':', '_')}-{port}.log"
        cmd = [
            *prefix,
            python,
            *python_args,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ]
        env = bytecode_env(python)
        with log.open("wb") as sink:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=env)
        server = Server(target, port, proc, log)
        try:
            if _wait_ready(server, timeout=20.0):
                yield server
                return
            if attempt == 2:
                raise RuntimeError(f"{target} did not start; log:\n{log.read_text(errors='replace')}")
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_ready(server: Server, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            return False
        try:
            status, _, _ = exchange(server.port, direct_get_item().raw(server.host))
            if status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


# -- a tiny HTTP/1.1 client (sanity checks and time to first token) -------------------------------
def _read_head(sock: socket.socket, buf: bytes) -> tuple[int, dict[str, str], bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, rest


def _read_body(sock: socket.socket, headers: dict[str, str], rest: bytes) -> bytes:
    if "content-length" in headers:
        size = int(headers["content-length"])
        while len(rest) < size:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside the body")
            rest += chunk
        return rest[:size]
    # chunked (or close-delimited): read to the terminating chunk, then decode
    while not rest.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += rest[:size]
        rest = rest[size + 2 :]
    return body


def exchange(port: int, raw: bytes, sock: socket.socket | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send one request and read the whole response (a new connection unless ``sock`` is given)."""
    own = sock is None
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(raw)
        status, headers, rest = _read_head(s, b"")
        return status, headers, _read_body(s, headers, rest)
    finally:
        if own:
            s.close()


def _check_mcp(status: int, headers: dict[str, str], body: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"MCP call answered {status}: {body[:300]!r}")
    if headers.get("content-type", "").startswith("text/event-stream"):
        lines = [ln for ln in body.decode().splitlines() if ln.startswith("data:")]
        message = json.loads(lines[-1][5:])
    else:
        message = json.loads(body)
    result = message.get("result")
    if not isinstance(result, dict) or result.get("isError"):
        raise RuntimeError(f"MCP call did not succeed: {body[:300]!r}")


def time_to_first_token(server: Server, request: HttpRequest, reps: int, marker: bytes = b"tok0") -> list[float]:
    """Seconds from sending ``request`` to the first token's bytes, ``reps`` times."""
    warm = direct_get_item().raw(server.host)
    raw = request.raw(server.host)
    out: list[float] = []
    for _ in range(reps):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            exchange(server.port, warm, s)  # the server has accepted and set the connection up
            t0 = time.perf_counter()
            s.sendall(raw)
            buf = b""
            while marker not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError(f"no token: {buf[:300]!r}")
                buf += chunk
            out.append(time.perf_counter() - t0)
            if not buf.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"stream answered {buf[:200]!r}")
        time.sleep(0.002)  # let the server finish stopping the route before the next one
    return out


# -- wrk -----------------------------------------------------------------------------------------
_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def lua_script(request: HttpRequest) -> str:
    lines = [f'wrk.method = "{request.method}"']
    if request.body:
        assert b"]==]" not in request.body
        lines.append(f"wrk.body = [==[{request.body.decode()}]==]")
    for key, value in request.header_dict().items():
        lines.append(f'wrk.headers["{key}"] = "{value}"')
    return "\n".join(lines) + "\n" + _DONE


@dataclass
class LoadResult:
    scenario: str
    server: str
    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def whole_seconds(least: int) -> Callable[[str], int]:
    """An argparse type: a duration for wrk, whole seconds from ``least`` on. wrk's ``-d`` takes
    whole seconds (or minutes, hours) only: it refuses ``1.5s`` and ``1500ms``, so a fraction is
    refused here rather than rounded behind the report's back (``5.0`` is taken as 5)."""

    def parse(text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"{text}: wrk runs for whole seconds only (no fractions)")
        if value < least:
            raise argparse.ArgumentTypeError(f"{text}: at least {least} s")
        return int(value)

    return parse


def run_wrk(
    server: Server,
    request: HttpRequest,
    *,
    concurrency: int,
    duration: int,
    threads: int,
    prefix: Sequence[str],
    workdir: Path,
    scenario: str,
    lua: str | None = None,
) -> LoadResult:
    """``duration``: whole seconds, at least 1 (see :func:`whole_seconds`); ``lua``: a wrk script of
    the caller's (default: ``lua_script(request)``)."""
    if not (isinstance(duration, int) and duration >= 1):
        raise ValueError(f"wrk runs for whole seconds, at least 1: not {duration!r}")
    script = workdir / "load.lua"
    script.write_text(lua if lua is not None else lua_script(request))
    threads = max(1, min(threads, concurrency))
    cmd = [
        *prefix,
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        server.url(request.target),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line[len("WRKJSON ") :])
    seconds = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        scenario=scenario,
        server=server.target.split(":")[1],
        concurrency=concurrency,
        requests=data["requests"],
        seconds=seconds,
        rps=data["requests"] / seconds,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
    )


# -- the run -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "bare" or "app"
    request: HttpRequest

    @property
    def mcp(self) -> bool:
        return self.request.path == "/mcp"


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("direct GET /items/1?q=x", "bare", direct_get_item()),
    Scenario("direct GET /items/1?q=x", "app", direct_get_item()),
    Scenario(
        "MCP tools/call get_item (handshake, 2025-06-18)",
        "app",
        mcp_tool_call("handshake", "get_item", ITEM_ARGS),
    ),
    Scenario("MCP tools/call get_item (2026-07-28)", "app", mcp_tool_call("modern", "get_item", ITEM_ARGS)),
)


@dataclass
class Aggregate:
    """The median over the repeats of one (scenario, app, concurrency)."""

    scenario: str
    server: str
    concurrency: int
    runs: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rps_runs: list[float]


def aggregate(results: list[LoadResult]) -> list[Aggregate]:
    keys: dict[tuple[str, str, int], list[LoadResult]] = {}
    for r in results:
        keys.setdefault((r.scenario, r.server, r.concurrency), []).append(r)
    return [
        Aggregate(
            scenario=scenario,
            server=server,
            concurrency=level,
            runs=len(rs),
            rps=statistics.median(r.rps for r in rs),
            p50_ms=statistics.median(r.p50_ms for r in rs),
            p99_ms=statistics.median(r.p99_ms for r in rs),
            errors=sum(r.errors for r in rs),
            rps_runs=[round(r.rps) for r in rs],
        )
        for (scenario, server, level), rs in keys.items()
    ]


@dataclass
class TTFT:
    path: str
    server: str
    reps: int
    median_ms: float
    p90_ms: float


def _summary(path: str, server: str, times: list[float]) -> TTFT:
    p90 = statistics.quantiles(times, n=10, method="inclusive")[-1]
    return TTFT(path, server, len(times), statistics.median(times) * 1e3, p90 * 1e3)


def add_run_options(p: argparse.ArgumentParser, ttft_reps: int) -> None:
    """The options of a wrk run that this script and ``compare.py`` share (bounded by
    :func:`bound_run_options`)."""
    p.add_argument(
        "--duration", type=whole_seconds(1), default=5, help=f"whole seconds per wrk run (1..{MAX_DURATION})"
    )
    p.add_argument("--repeats", type=int, default=2, help="runs per row, interleaved; medians reported (1..5)")
    p.add_argument(
        "--warmup", type=whole_seconds(0), default=1, help="whole seconds of unrecorded load per scenario (0..5)"
    )
    p.add_argument("--ttft-reps", type=int, default=ttft_reps, help="time-to-first-token repetitions per path")
    p.add_argument("--stream-delay-ms", type=float, default=20.0, help="delay between streamed tokens")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    p.add_argument("--no-pin", action="store_true", help="do not pin server and load to separate CPUs")


def bound_run_options(args: argparse.Namespace, min_ttft_reps: int, max_ttft_reps: int) -> None:
    args.duration = min(args.duration, MAX_DURATION)
    args.repeats = min(max(args.repeats, 1), 5)
    args.warmup = min(args.warmup, 5)
    args.ttft_reps = min(max(args.ttft_reps, min_ttft_reps), max_ttft_reps)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(p, ttft_reps=300)
    p.add_argument("--concurrency", default="1,32", help="comma-separated connection counts")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: one CPU for the load)")
    args = p.parse_args(argv)
    bound_run_options(args, 10, MAX_TTFT_REPS)
    try:
        levels = sorted({int(c) for c in str(args.concurrency).split(",") if c.strip()})
    except ValueError:
        levels = []
    if not levels or levels[0] < 1 or levels[-1] > MAX_CONCURRENCY:
        p.error(f"--concurrency takes comma-separated integers within 1..{MAX_CONCURRENCY}")
    args.levels = levels
    args.threads = min(max(args.threads, 1), 16)
    return args


def wrk_missing() -> bool:
    """Whether wrk is missing, said on stderr if so: checked before any server starts (exit status 2)."""
    if shutil.which("wrk") is not None:
        return False
    print(
        "error: wrk is not installed; it generates the load.\n"
        "       Install it with:  apt-get install -y wrk   (Debian/Ubuntu; brew install wrk on macOS)",
        file=sys.stderr,
    )
    return True


def main(argv: Sequence[str] | None = None) -> int:
    exit_on_termination()
    args = parse_args(argv)
    if wrk_missing():
        return 2
    server_prefix, load_prefix, own_cpus = ([], [], None) if args.no_pin else _pinning()
    if own_cpus is not None:
        os.sched_setaffinity(0, own_cpus)
    started = time.monotonic()
    witness = OtherLoad()
    info = machine()
    results: list[LoadResult] = []
    memory: dict[str, dict[str, int]] = {}
    problems: list[str] = []

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        # Both servers run side by side (the idle one costs nothing), so that the runs can be
        # interleaved: a slow phase of a shared host then hits direct and MCP alike.
        servers = {
            name: stack.enter_context(serve(f"benchmarks.app:{name}", server_prefix, workdir))
            for name in ("bare", "app")
        }
        for name, server in servers.items():
            memory[name] = {"start_rss_kib": server.memory()["VmRSS"]}
            log(f"started benchmarks.app:{name} on port {server.port} (pid {server.proc.pid})")

        def wrk(scenario: Scenario, level: int, duration: int) -> LoadResult:
            return run_wrk(
                servers[scenario.server],
                scenario.request,
                concurrency=level,
                duration=duration,
                threads=args.threads,
                prefix=load_prefix,
                workdir=workdir,
                scenario=scenario.name,
            )

        # 1. the same direct load on both apps, then their peak RSS
        for scenario in SCENARIOS:
            if not scenario.mcp and args.warmup:
                wrk(scenario, max(args.levels), args.warmup)
        for name, server in servers.items():
            memory[name]["hwm_after_direct_kib"] = server.memory()["VmHWM"]
        # 2. the MCP calls answer what they should; warm them up
        app = servers["app"]
        for scenario in SCENARIOS:
            if scenario.mcp:
                _check_mcp(*exchange(app.port, scenario.request.raw(app.host)))
                if args.warmup:
                    wrk(scenario, max(args.levels), args.warmup)
        log("warmed up")
        # 3. the measured runs, interleaved
        for level in args.levels:
            for rep in range(args.repeats):
                for scenario in SCENARIOS:
                    r = wrk(scenario, level, args.duration)
                    results.append(r)
                    log(f"c={level:<3} run {rep + 1} {r.server:4} {r.scenario}: {r.rps:,.0f} req/s")
        # 4. time to first token, the paths interleaved request by request
        stream_args = {"n": STREAM_TOKENS, "delay_ms": args.stream_delay_ms}
        paths: list[tuple[str, Server, HttpRequest]] = [
            ("direct GET /stream", servers["bare"], direct_stream(STREAM_TOKENS, args.stream_delay_ms)),
            ("direct GET /stream", app, direct_stream(STREAM_TOKENS, args.stream_delay_ms)),
        ]
        eras: tuple[tuple[Era, str], ...] = (("handshake", "handshake"), ("modern", "2026-07-28"))
        for era, label in eras:
            request = mcp_tool_call(era, "stream", stream_args, progress_token="t")
            paths.append((f"MCP tools/call stream ({label})", app, request))
        # A fixed order biases the figures (what ran just before, on which process, matters by
        # ~0.1 ms here), so each repetition takes the four paths in a new random order.
        times: list[list[float]] = [[] for _ in paths]
        shuffle = random.Random(0).shuffle
        order = list(range(len(paths)))
        for _ in range(args.ttft_reps):
            shuffle(order)
            for i in order:
                _, server, request = paths[i]
                times[i] += time_to_first_token(server, request, 1)
        ttfts = [
            _summary(path, server.target.split(":")[1], t) for (path, server, _), t in zip(paths, times, strict=True)
        ]
        log("time to first token measured")
        for name, server in servers.items():
            memory[name]["hwm_end_kib"] = server.memory()["VmHWM"]
        other_load = witness.describe(s.proc.pid for s in servers.values())
    # the servers are stopped: their logs are complete
    for name, server in servers.items():
        problems += [f"{name}: {line}" for line in server.log_problems()]

    rows = aggregate(results)
    elapsed = time.monotonic() - started
    print(report(info, args, rows, ttfts, memory, problems, elapsed, other_load))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "settings": {k: v for k, v in vars(args).items() if k != "json"},
                    "rows": [asdict(r) for r in rows],
                    "runs": [asdict(r) for r in results],
                    "ttft": [asdict(t) for t in ttfts],
                    "memory_kib": memory,
                    "server_log_problems": problems,
                    "other_load": other_load,
                },
                indent=2,
            )
        )
    return 1 if problems or any(r.errors for r in results) else 0


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:.1f} MiB" if kib is not None else "-"


def report(
    info: dict[str, str],
    args: Any,
    rows: list[Aggregate],
    ttfts: list[TTFT],
    memory: dict[str, dict[str, int]],
    problems: list[str],
    elapsed: float,
    other_load: str,
) -> str:
    out: list[str] = []
    out.append(
        f"Machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, uvicorn {info['uvicorn']} "
        f"(1 worker, uvloop, httptools), {info['wrk']}, Linux {info['kernel']}"
    )
    pinned = "server on CPU 0, load on CPU 1" if not args.no_pin and _pinning()[2] else "not pinned"
    out.append(
        f"Each row: median of {args.repeats} interleaved wrk runs of {args.duration:g} s (after "
        f"{args.warmup:g} s warm-up), keep-alive, {args.threads} wrk thread(s), {pinned}. "
        f"Total run {elapsed:.0f} s; {other_load}."
    )
    out.append("")
    # Two baselines: the bare app (what the middleware costs in all), and the direct call in the
    # same process as the MCP calls (what an MCP call costs against a GET, as for time to first token).
    out.append(
        "| request | app | conc. | req/s | p50 | p99 | errors | throughput vs direct (bare) "
        "| vs direct (app) | runs req/s |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for level in args.levels:
        level_rows = [r for r in rows if r.concurrency == level]
        bare = next((r for r in level_rows if r.server == "bare"), None)
        same = next((r for r in level_rows if r.server == "app" and r.scenario.startswith("direct")), None)
        for r in level_rows:
            ratio = f"{r.rps / bare.rps:.2f}x" if bare else "-"
            ratio_app = f"{r.rps / same.rps:.2f}x" if same and r.server == "app" else "-"
            runs = ", ".join(f"{x:,}" for x in r.rps_runs)
            out.append(
                f"| {r.scenario} | {r.server} | {level} | {r.rps:,.0f} | {r.p50_ms:.2f} ms | "
                f"{r.p99_ms:.2f} ms | {r.errors} | {ratio} | {ratio_app} | {runs} |"
            )
    out.append("")
    out.append(
        f"Time to first token of GET /stream ({STREAM_TOKENS} tokens, {args.stream_delay_ms:g} ms apart; "
        "MCP with a progressToken), raw socket on a warmed keep-alive connection, paths in random order:"
    )
    out.append("")
    out.append("| path | app | reps | median | p90 | median vs direct (app) |")
    out.append("|---|---|---:|---:|---:|---:|")
    # the baseline is the direct call in the same server process as the MCP calls
    base_t = next((t for t in ttfts if t.server == "app" and t.path.startswith("direct")), None)
    for t in ttfts:
        ratio = f"{t.median_ms / base_t.median_ms:.2f}x" if base_t else "-"
        out.append(f"| {t.path} | {t.server} | {t.reps} | {t.median_ms:.3f} ms | {t.p90_ms:.3f} ms | {ratio} |")
    out.append("")
    out.append("Server memory (/proc/<pid>/status): bare served the direct load only, app the direct and the MCP load:")
    out.append("")
    out.append("| app | RSS after start-up | peak after the same direct warm-up | peak at the end |")
    out.append("|---|---:|---:|---:|")
    for name, mem in memory.items():
        out.append(
            f"| {name} | {_mib(mem.get('start_rss_kib'))} | {_mib(mem.get('hwm_after_direct_kib'))} | "
            f"{_mib(mem.get('hwm_end_kib'))} |"
        )
    if problems:
        out.append("")
        out.append(f"Server log problems ({len(problems)}):")
        out += [f"    {line}" for line in problems[:20]]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
