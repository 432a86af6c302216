"""Soak test: many concurrent MCP clients, both protocol eras, against one uvicorn for a while.

    python benchmarks/soak.py                        # 60 s, 32 clients
    python benchmarks/soak.py --seconds 30 --clients 64 --app examples.demo:app

It starts the app (default ``examples.demo:app``) under uvicorn on a free port of 127.0.0.1, in a
child process of its own (``soak.py --serve``) so that the server's memory is measured alone, runs
the load, stops everything and prints a markdown summary. The exit status is 1 when a check fails.

The load: ``--clients`` asyncio tasks, each with its own ``httpx.AsyncClient`` (HTTP/1.1
keep-alive), each picking its next call at random (seeded) from:

* ``quick``: ``tools/call get_item {"item_id": 1}``, checked against the item;
* ``stream``: ``tools/call chat`` with a ``progressToken``, the SSE read to the end: every token as a
  ``notifications/progress`` in order, then the final result with the whole text;
* ``disconnect``: a long ``chat`` stream (500 tokens, ~10 s), closed after its first event: the
  server must stop the route (a route left running shows up as a leaked task at the end);

in the handshake era (one ``initialize`` per client, then ``MCP-Protocol-Version: 2025-11-25``)
or the 2026-07-28 era (``_meta`` envelope and ``Mcp-Method``/``Mcp-Name`` on every request).

Measured: calls and failures by kind (failures must be zero), p50/p99 latency by kind (complete
answer; for ``disconnect`` the first event), the server's RSS every second (``VmRSS`` of
``/proc/<pid>/status``; after warm-up vs at the end: flat is less than 10 % growth), error lines in
the server's log, and the asyncio tasks in the server's loop: counted by the ``--serve`` process
itself on ``SIGUSR1`` (nothing is added to the middleware) before the load and after it, once the
connections are closed (more than the baseline = leaked tasks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
HANDSHAKE_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
HAMMER = {"id": 1, "name": "Hammer", "price": 12.5, "tags": ["tools"]}
STREAM_TOKENS = 5
DISCONNECT_TOKENS = 500  # the demo's maximum: ~10 s of route if nobody stops it
MIX = (("quick", 70), ("stream", 20), ("disconnect", 10))
ERAS = ("handshake", "modern")
RSS_GROWTH_LIMIT = 0.10
STARTUP_DEADLINE_SECONDS = 20.0
SETTLE_DEADLINE_SECONDS = 5.0  # after the load: time for the server's tasks to wind down
CALL_TIMEOUT_SECONDS = 30.0
TASKS_LINE = "SOAK-TASKS"


# -- the server process (soak.py --serve) ---------------------------------------------------------


def serve(app: str, port: int) -> None:
    """uvicorn in this process; on SIGUSR1 print how many asyncio tasks its loop has."""
    import uvicorn

    sys.path.insert(0, str(ROOT))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    def report_tasks() -> None:
        tasks = asyncio.all_tasks()
        names = sorted(_describe_task(task) for task in tasks)
        print(f"{TASKS_LINE} {len(tasks)} {json.dumps(names)}", flush=True)

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, report_tasks)
        await server.serve()

    asyncio.run(main())


def _describe_task(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or type(coro).__name__
    return f"{task.get_name()}:{name}"


@dataclass
class ServerProcess:
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def rss_kib(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    async def tasks(self) -> tuple[int, list[str]]:
        """The number of asyncio tasks in the server's loop (and what they are), asked by SIGUSR1."""
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGUSR1)
        while True:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), 10.0)).decode()
            if not line:
                raise RuntimeError("the server exited while reporting its tasks")
            if line.startswith(TASKS_LINE):
                _, count, names = line.split(" ", 2)
                return int(count), list(json.loads(names))

    def problems(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line or "ERROR" in line]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@contextlib.asynccontextmanager
async def server_process(app: str, logdir: Path) -> AsyncIterator[ServerProcess]:
    port = _free_port()
    log = logdir / "server.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            "--serve",
            "--app",
            app,
            "--port",
            str(port),
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=sink,
        )
    server = ServerProcess(proc, port, log)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while not _accepts(port):
            if proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; its log:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 0.05)
        yield server
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()


# -- the clients ------------------------------------------------------------------------------------


class CallFailed(Exception):
    pass


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)

    def ok(self, kind: str, seconds: float) -> None:
        self.latencies[kind].append(seconds)

    def failed(self, kind: str, problem: str) -> None:
        self.failures[kind] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{kind}: {problem}")


def _sse_events(lines: list[str]) -> list[dict[str, Any]]:
    data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
    return [json.loads("\n".join(data))] if data else []


class Client:
    """One simulated MCP client: its own HTTP connection, calls one after another."""

    def __init__(self, index: int, url: str, seed: int, stats: Stats) -> None:
        self.url = url
        self.rng = random.Random(seed * 1_000_003 + index)
        self.stats = stats
        self.ids = itertools.count(1)
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(CALL_TIMEOUT_SECONDS),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            trust_env=False,
        )
        self.initialized = False

    # building requests
    def _body(self, era: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request_id = next(self.ids)
        if era == "modern":
            params = {
                **params,
                "_meta": {
                    **params.get("_meta", {}),
                    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": {"name": "soak", "version": "1"},
                },
            }
        return request_id, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}

    def _headers(self, era: str, method: str, name: str | None = None) -> dict[str, str]:
        headers = {"accept": ACCEPT, "content-type": "application/json"}
        if era == "modern":
            headers.update({"mcp-protocol-version": MODERN_VERSION, "mcp-method": method})
            if name is not None:
                headers["mcp-name"] = name
        else:
            headers["mcp-protocol-version"] = HANDSHAKE_VERSION
        return headers

    async def initialize(self) -> None:
        """The handshake era's ``initialize`` and ``notifications/initialized`` (once per client)."""
        started = time.perf_counter()
        params = {
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "soak", "version": "1"},
        }
        body = {"jsonrpc": "2.0", "id": next(self.ids), "method": "initialize", "params": params}
        reply = await self.http.post(self.url, json=body, headers={"accept": ACCEPT})
        if reply.status_code != 200 or reply.json().get("result", {}).get("protocolVersion") != HANDSHAKE_VERSION:
            raise CallFailed(f"initialize: {reply.status_code} {reply.text[:200]}")
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        reply = await self.http.post(self.url, json=note, headers=self._headers("handshake", "x"))
        if reply.status_code != 202:
            raise CallFailed(f"notifications/initialized: {reply.status_code} {reply.text[:200]}")
        self.initialized = True
        self.stats.ok("initialize (handshake)", time.perf_counter() - started)

    async def quick(self, era: str) -> float:
        started = time.perf_counter()
        request_id, body = self._body(era, "tools/call", {"name": "get_item", "arguments": {"item_id": 1}})
        reply = await self.http.post(self.url, json=body, headers=self._headers(era, "tools/call", "get_item"))
        elapsed = time.perf_counter() - started
        if reply.status_code != 200 or not reply.headers.get("content-type", "").startswith("application/json"):
            raise CallFailed(f"{reply.status_code} {reply.headers.get('content-type')} {reply.text[:200]}")
        message = reply.json()
        result = message.get("result") or {}
        if message.get("id") != request_id or result.get("isError") or result.get("structuredContent") != HAMMER:
            raise CallFailed(f"unexpected answer {reply.text[:300]}")
        return elapsed

    async def stream(self, era: str) -> float:
        started = time.perf_counter()
        token = f"soak-{next(self.ids)}"
        request_id, body = self._body(
            era,
            "tools/call",
            {
                "name": "chat",
                "arguments": {"prompt": "soak", "tokens": STREAM_TOKENS},
                "_meta": {"progressToken": token},
            },
        )
        messages: list[dict[str, Any]] = []
        async with self.http.stream(
            "POST", self.url, json=body, headers=self._headers(era, "tools/call", "chat")
        ) as reply:
            if reply.status_code != 200 or not reply.headers.get("content-type", "").startswith("text/event-stream"):
                await reply.aread()
                raise CallFailed(f"{reply.status_code} {reply.headers.get('content-type')} {reply.text[:200]}")
            block: list[str] = []
            async for line in reply.aiter_lines():
                if line:
                    block.append(line)
                    continue
                messages.extend(_sse_events(block))
                block = []
            messages.extend(_sse_events(block))
        elapsed = time.perf_counter() - started
        expected = [f"tok{i} " for i in range(STREAM_TOKENS)]
        progress = [m["params"] for m in messages if m.get("method") == "notifications/progress"]
        texts = [p.get("message") for p in progress if p.get("message") is not None]
        if texts != expected or any(p.get("progressToken") != token for p in progress):
            raise CallFailed(f"progress out of order or for another token: {progress}")
        counts = [p["progress"] for p in progress]
        if counts != sorted(set(counts)):
            raise CallFailed(f"progress does not increase: {counts}")
        final = messages[-1] if messages else {}
        content = (final.get("result") or {}).get("content") or [{}]
        if final.get("id") != request_id or content[0].get("text") != "".join(expected):
            raise CallFailed(f"final result wrong: {final}")
        return elapsed

    async def disconnect(self, era: str) -> float:
        """Start a long stream, read its first event, and hang up (time to first event)."""
        started = time.perf_counter()
        _, body = self._body(
            era,
            "tools/call",
            {
                "name": "chat",
                "arguments": {"prompt": "soak", "tokens": DISCONNECT_TOKENS},
                "_meta": {"progressToken": "bye"},
            },
        )
        async with self.http.stream(
            "POST", self.url, json=body, headers=self._headers(era, "tools/call", "chat")
        ) as reply:
            if reply.status_code != 200:
                await reply.aread()
                raise CallFailed(f"{reply.status_code} {reply.text[:200]}")
            block: list[str] = []
            first: list[dict[str, Any]] = []
            async for line in reply.aiter_lines():
                if line:
                    block.append(line)
                    continue
                first = _sse_events(block)
                if first:
                    break
                block = []
            elapsed = time.perf_counter() - started
        # Leaving the block with the body unread closes the connection: the server sees a disconnect.
        if not first or first[0].get("params", {}).get("message") != "tok0 ":
            raise CallFailed(f"first event was not the first token: {first}")
        return elapsed

    async def run(self, until: float) -> None:
        kinds = [kind for kind, _ in MIX]
        weights = [weight for _, weight in MIX]
        try:
            while time.monotonic() < until:
                kind = self.rng.choices(kinds, weights)[0]
                era = self.rng.choice(ERAS)
                label = f"{kind} ({era})"
                try:
                    if era == "handshake" and not self.initialized:
                        await self.initialize()
                    call = {"quick": self.quick, "stream": self.stream, "disconnect": self.disconnect}[kind]
                    self.stats.ok(label, await call(era))
                except (CallFailed, httpx.HTTPError, ValueError, KeyError) as exc:
                    self.stats.failed(label, f"{type(exc).__name__}: {exc}")
        finally:
            await self.http.aclose()


# -- the run -----------------------------------------------------------------------------------------


@dataclass
class Memory:
    samples: list[tuple[float, int]] = field(default_factory=list)

    async def sample(self, server: ServerProcess, started: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            rss = server.rss_kib()
            if rss is not None:
                self.samples.append((time.monotonic() - started, rss))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def at(self, seconds: float) -> int:
        """The first sample taken at or after ``seconds`` into the run (the last one otherwise)."""
        return next((rss for t, rss in self.samples if t >= seconds), self.samples[-1][1])


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


async def idle_tasks(server: ServerProcess) -> tuple[int, list[str]]:
    """The server's tasks once the readiness probe's connection is gone (the baseline)."""
    deadline = time.monotonic() + SETTLE_DEADLINE_SECONDS
    while True:
        count, names = await server.tasks()
        if not any("_accept_connection" in name for name in names) or time.monotonic() > deadline:
            return count, names
        await asyncio.sleep(0.05)


async def settle_tasks(server: ServerProcess, baseline: int) -> tuple[int, list[str]]:
    """The server's task count once it is back at its baseline, or whatever it is at the deadline."""
    deadline = time.monotonic() + SETTLE_DEADLINE_SECONDS
    while True:
        count, names = await server.tasks()
        if count <= baseline or time.monotonic() > deadline:
            return count, names
        await asyncio.sleep(0.1)


async def soak(app: str, seconds: float, clients: int, seed: int) -> int:
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        async with server_process(app, Path(tmp)) as server:
            baseline, baseline_names = await idle_tasks(server)
            stats = Stats()
            memory = Memory()
            stop = asyncio.Event()
            started = time.monotonic()
            sampler = asyncio.create_task(memory.sample(server, started, stop))
            until = started + seconds
            workers = [Client(i, server.url, seed, stats) for i in range(clients)]
            # (not wait_for: when cancelled, it leaves the gather's CancelledError unretrieved, and
            # asyncio logs it)
            async with asyncio.timeout(seconds + 4 * CALL_TIMEOUT_SECONDS):
                await asyncio.gather(*(worker.run(until) for worker in workers))
            elapsed = time.monotonic() - started
            stop.set()
            await sampler
            end_rss = memory.samples[-1][1] if memory.samples else 0
            tasks, task_names = await settle_tasks(server, baseline)
            settled_rss = server.rss_kib() or 0
            problems = server.problems()
        return report(
            app=app,
            seconds=seconds,
            elapsed=elapsed,
            clients=clients,
            stats=stats,
            memory=memory,
            end_rss=end_rss,
            settled_rss=settled_rss,
            baseline=baseline,
            baseline_names=baseline_names,
            tasks=tasks,
            task_names=task_names,
            problems=problems,
        )


def report(
    *,
    app: str,
    seconds: float,
    elapsed: float,
    clients: int,
    stats: Stats,
    memory: Memory,
    end_rss: int,
    settled_rss: int,
    baseline: int,
    baseline_names: list[str],
    tasks: int,
    task_names: list[str],
    problems: list[str],
) -> int:
    kinds = sorted(set(stats.latencies) | set(stats.failures))
    total_calls = sum(len(v) for v in stats.latencies.values()) + sum(stats.failures.values())
    total_failures = sum(stats.failures.values())
    warmup = min(10.0, seconds * 0.2)
    warm_rss = memory.at(warmup) if memory.samples else 0
    peak_rss = max((rss for _, rss in memory.samples), default=0)
    growth = (end_rss - warm_rss) / warm_rss if warm_rss else 0.0
    rss_ok = growth < RSS_GROWTH_LIMIT
    tasks_ok = tasks <= baseline
    lines = [
        f"## Soak: `{app}`, {clients} clients, {seconds:g} s (ran {elapsed:.1f} s)",
        "",
        "| kind | calls | failures | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in kinds:
        values = stats.latencies.get(kind, [])
        p50 = f"{percentile(values, 0.50) * 1000:.1f}" if values else "–"
        p99 = f"{percentile(values, 0.99) * 1000:.1f}" if values else "–"
        lines.append(
            f"| {kind} | {len(values) + stats.failures.get(kind, 0)} | {stats.failures.get(kind, 0)} | {p50} | {p99} |"
        )
    lines += [
        f"| **all** | **{total_calls}** | **{total_failures}** | | |",
        "",
        f"Throughput: {total_calls / elapsed:.0f} calls/s. Latency: whole answer (`stream`: to the final "
        "result; `disconnect`: to the first event, then the client hangs up).",
        "",
        "| server | value |",
        "|---|---:|",
        f"| RSS after warm-up ({warmup:g} s) | {warm_rss / 1024:.1f} MiB |",
        f"| RSS at the end of the load | {end_rss / 1024:.1f} MiB |",
        f"| RSS growth (warm-up → end) | {growth * 100:+.1f} % |",
        f"| RSS peak | {peak_rss / 1024:.1f} MiB |",
        f"| RSS after the load settled | {settled_rss / 1024:.1f} MiB |",
        f"| asyncio tasks before the load (baseline) | {baseline} |",
        f"| asyncio tasks after the load | {tasks} |",
        f"| error lines in the server log | {len(problems)} |",
        "",
        "RSS every second (MiB): "
        + " ".join(f"{rss / 1024:.0f}" for _, rss in memory.samples[:: max(1, len(memory.samples) // 30)]),
        "",
        "| check | result |",
        "|---|---|",
        f"| zero failures | {'pass' if total_failures == 0 else f'FAIL ({total_failures})'} |",
        f"| RSS flat (< {RSS_GROWTH_LIMIT * 100:.0f} % growth after warm-up) | {'pass' if rss_ok else 'FAIL'} |",
        f"| no leaked asyncio tasks | {'pass' if tasks_ok else f'FAIL ({tasks - baseline} more than baseline)'} |",
        f"| no errors in the server log | {'pass' if not problems else 'FAIL'} |",
    ]
    if stats.examples:
        lines += ["", "Failures (first 10):", *(f"- `{example}`" for example in stats.examples)]
    if not tasks_ok:
        extra = sorted(set(task_names) - set(baseline_names)) or task_names
        lines += ["", "Tasks still in the server's loop:", *(f"- `{name}`" for name in extra[:20])]
    if problems:
        lines += ["", "Server log (error lines, first 10):", *(f"- `{line}`" for line in problems[:10])]
    print("\n".join(lines))
    return 0 if total_failures == 0 and rss_ok and tasks_ok and not problems else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Soak test of the MCP endpoint (see the module docstring).")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs (default 60)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--app", default="examples.demo:app", help="the ASGI app (module:attr)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the clients' random choices")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.app, args.port)
        return 0
    if str(ROOT) not in sys.path:  # run as a script (not imported by the server process, --serve)
        sys.path.insert(0, str(ROOT))
    from benchmarks.common import until_terminated

    if not 0 < args.seconds <= 3600 or not 0 < args.clients <= 1024:
        parser.error("--seconds must be in (0, 3600] and --clients in [1, 1024]")
    if not Path("/proc/self/status").exists():
        parser.error("needs Linux /proc to read the server's RSS")
    os.chdir(ROOT)
    # SIGTERM/SIGHUP: the server stopped, the temporary directory removed, exit status 128 + signum
    return asyncio.run(until_terminated(soak(args.app, args.seconds, args.clients, args.seed)))


if __name__ == "__main__":
    sys.exit(main())
