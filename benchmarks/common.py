"""Shared by the benchmarks: the requests they send (direct and MCP, both eras) and a raw ASGI driver.

The driver is deliberately minimal (no httpx, no anyio objects): a scripted ``receive`` that hands
out the body once and then waits, like uvicorn, until the response is complete (or the caller
disconnects), and a ``send`` that collects the response. Its own cost is a few microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal

import orjson
from starlette.types import ASGIApp, Message

__all__ = [
    "ACCEPT",
    "HANDSHAKE_VERSION",
    "ITEM_ARGS",
    "MODERN_VERSION",
    "NEW_ITEM",
    "Era",
    "Exchange",
    "HttpRequest",
    "OtherLoad",
    "call",
    "direct_create_item",
    "direct_get_item",
    "direct_stream",
    "exit_on_termination",
    "mcp_initialize",
    "mcp_request",
    "mcp_tool_call",
    "rounds_main",
    "until_terminated",
]

Era = Literal["handshake", "modern"]

HANDSHAKE_VERSION = "2025-06-18"
MODERN_VERSION = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
HOST = "127.0.0.1:8000"
# uvicorn's httptools and h11 protocols both announce ASGI spec 2.3; so do we.
_ASGI = {"version": "3.0", "spec_version": "2.3"}

ITEM_ARGS: dict[str, Any] = {"item_id": 1, "q": "x"}
NEW_ITEM: dict[str, Any] = {"name": "Widget", "price": 3.5, "tags": ["a", "b"]}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request, reusable: turned into an ASGI scope or raw HTTP/1.1 bytes."""

    method: str
    path: str
    query: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    _raw_headers: list[tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)
    _template: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        if not any(k == b"host" for k, _ in raw):
            raw.insert(0, (b"host", HOST.encode()))
        if self.body:
            raw.append((b"content-length", str(len(self.body)).encode()))
        object.__setattr__(self, "_raw_headers", raw)
        object.__setattr__(
            self,
            "_template",
            {
                "type": "http",
                "asgi": _ASGI,
                "http_version": "1.1",
                "method": self.method,
                "scheme": "http",
                "path": self.path,
                "raw_path": self.path.encode(),
                "root_path": "",
                "query_string": self.query,
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            },
        )

    def scope(self) -> dict[str, Any]:
        """A fresh scope (the app below adds keys to it, so it is never shared between calls)."""
        return {**self._template, "headers": list(self._raw_headers), "state": {}}

    @property
    def target(self) -> str:
        return self.path + ("?" + self.query.decode() if self.query else "")

    def header_dict(self) -> dict[str, str]:
        """Headers other than Host and Content-Length (for load generators that add their own)."""
        return {k: v for k, v in self.headers if k.lower() not in ("host", "content-length")}

    def raw(self, host: str) -> bytes:
        """The request as HTTP/1.1 bytes, for a socket client."""
        lines = [f"{self.method} {self.target} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in self.header_dict().items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


class Exchange:
    """Drives one request through an ASGI app and records the response.

    ``first_chunk`` (optional) is resolved when the first non-empty body chunk is sent;
    :meth:`disconnect` makes the next ``receive`` answer ``http.disconnect`` (the client went away).
    """

    __slots__ = ("_body", "_done", "_waiter", "chunks", "first_chunk", "headers", "request", "status")

    def __init__(self, request: HttpRequest, first_chunk: asyncio.Future[None] | None = None) -> None:
        self.request = request
        self._body: bytes | None = request.body
        self._done = False  # response complete, or the client left
        self._waiter: asyncio.Future[None] | None = None  # a receive() waiting for that
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.first_chunk = first_chunk

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        if not self._done:
            waiter = self._waiter
            if waiter is None or waiter.done():  # done: a previous receive() was cancelled
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
        elif kind == "http.response.body":
            body = message.get("body", b"")
            if body:
                self.chunks.append(body)
                first = self.first_chunk
                if first is not None and not first.done():
                    first.set_result(None)
            if not message.get("more_body", False):
                self.disconnect()  # response complete: a later receive() answers http.disconnect

    def disconnect(self) -> None:
        self._done = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self, app: ASGIApp) -> Exchange:
        await app(self.request.scope(), self.receive, self.send)
        return self

    # -- reading the response (validation only, never in a measured path) ------------------------
    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def content_type(self) -> str:
        for key, value in self.headers:
            if key.lower() == b"content-type":
                return value.decode("latin-1")
        return ""

    def messages(self) -> list[Any]:
        """The JSON-RPC messages of an MCP reply (one JSON body, or every SSE ``data:``)."""
        if self.content_type.startswith("text/event-stream"):
            out: list[Any] = []
            for block in self.body.decode().split("\n\n"):
                data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
                if data:
                    out.append(orjson.loads("\n".join(data)))
            return out
        return [orjson.loads(self.body)]


async def call(app: ASGIApp, request: HttpRequest) -> Exchange:
    return await Exchange(request).run(app)


def per_request_us(loop: asyncio.AbstractEventLoop, app: ASGIApp, request: HttpRequest, count: int) -> float:
    """µs per request of ``count`` requests sent one after the other (responses are not checked:
    check one beforehand)."""

    async def many() -> None:
        for _ in range(count):
            await Exchange(request).run(app)

    start = time.perf_counter()
    loop.run_until_complete(many())
    return (time.perf_counter() - start) / count * 1e6


# -- the requests ------------------------------------------------------------------------------------
def direct_get_item() -> HttpRequest:
    return HttpRequest("GET", "/items/1", b"q=x")


def direct_create_item() -> HttpRequest:
    return HttpRequest("POST", "/items", headers=(("content-type", "application/json"),), body=orjson.dumps(NEW_ITEM))


def direct_stream(n: int = 8, delay_ms: float = 0.0) -> HttpRequest:
    return HttpRequest("GET", "/stream", f"n={n}&delay_ms={delay_ms:g}".encode())


def mcp_request(
    era: Era,
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    progress_token: str | int | None = None,
    request_id: int = 1,
    path: str = "/mcp",
) -> HttpRequest:
    """A POST to the MCP endpoint. ``name`` is the ``Mcp-Name`` header (2026-07-28 tools/call)."""
    body_params: dict[str, Any] = dict(params or {})
    meta: dict[str, Any] = {}
    headers = [("content-type", "application/json"), ("accept", ACCEPT)]
    if era == "modern":
        meta["io.modelcontextprotocol/protocolVersion"] = MODERN_VERSION
        meta["io.modelcontextprotocol/clientCapabilities"] = {}
        headers += [("mcp-protocol-version", MODERN_VERSION), ("mcp-method", method)]
        if name is not None:
            headers.append(("mcp-name", name))
    else:
        headers.append(("mcp-protocol-version", HANDSHAKE_VERSION))
    if progress_token is not None:
        meta["progressToken"] = progress_token
    if meta:
        body_params["_meta"] = meta
    payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": body_params}
    return HttpRequest("POST", path, headers=tuple(headers), body=orjson.dumps(payload))


def mcp_initialize() -> HttpRequest:
    params = {
        "protocolVersion": HANDSHAKE_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    }
    return mcp_request("handshake", "initialize", params)


def mcp_tool_call(
    era: Era, tool: str, arguments: Mapping[str, Any], *, progress_token: str | int | None = None
) -> HttpRequest:
    return mcp_request(
        era,
        "tools/call",
        {"name": tool, "arguments": dict(arguments)},
        name=tool,
        progress_token=progress_token,
    )


# -- is anything else using the CPUs while we measure? ----------------------------------------------
def _busy_seconds() -> float:
    """CPU time of all CPUs in user, nice, system and steal since boot, from /proc/stat.

    Interrupt time is left out: loopback traffic is handled there, and it is charged to no process.
    """
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system = fields[0:3]
    steal = fields[7] if len(fields) > 7 else 0
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (0.0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """CPU time used by processes other than ours while a measurement ran (Linux only).

    Busy time of the whole machine minus this process (and its waited-for children, such as
    wrk) minus the given server processes. A shared machine (other test suites running beside the
    benchmark) shows up here, so the figures can be judged.
    """

    def __init__(self) -> None:
        self.available = os.path.exists("/proc/stat")
        self._busy = _busy_seconds() if self.available else 0.0
        self._own = self._own_seconds()
        self._wall = time.monotonic()

    @staticmethod
    def _own_seconds() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def other_seconds(self, pids: Iterable[int] = ()) -> float:
        """CPU-seconds used by other processes so far; ``pids`` started after this object."""
        if not self.available:
            return 0.0
        busy = _busy_seconds() - self._busy
        ours = self._own_seconds() - self._own + sum(_proc_cpu_seconds(p) for p in pids)
        return max(busy - ours, 0.0)

    def describe(self, pids: Iterable[int] = ()) -> str:
        if not self.available:
            return "other CPU load: unknown (no /proc/stat)"
        other = self.other_seconds(pids)
        wall = max(time.monotonic() - self._wall, 1e-9)
        share = other / wall
        text = f"other processes used {other:.1f} CPU-s in {wall:.0f} s ({share:.0%} of one CPU)"
        if share > 0.1:
            text += " — the machine was not quiet, figures are disturbed"
        return text


# -- the in-process scripts' command line ----------------------------------------------------------
def rounds_main(
    argv: Sequence[str] | None,
    doc: str,
    title: str,
    measure: Callable[[int, int], dict[str, list[float]]],
    report: Callable[[dict[str, list[float]]], str],
    *,
    rounds: int,
    per_round: str = "requests per row and round",
) -> int:
    """``main`` of a script measured in rounds (``benchmarks.interleaved``, ``benchmarks.mixed``):
    ``--rounds`` (3..200, default ``rounds``) and ``--per-round`` (20..5000, default 400), then
    ``measure(rounds, per_round)``; prints ``title`` (``{rounds}``, ``{per_round}`` filled in), how
    much CPU other processes used meanwhile, and ``report`` of the figures."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=rounds, help="rounds (each row once per round), 3..200")
    parser.add_argument("--per-round", type=int, default=400, help=f"{per_round}, 20..5000")
    args = parser.parse_args(argv)
    chosen_rounds = min(max(args.rounds, 3), 200)
    chosen_per_round = min(max(args.per_round, 20), 5000)
    other = OtherLoad()
    times = measure(chosen_rounds, chosen_per_round)
    print(title.format(rounds=chosen_rounds, per_round=chosen_per_round))
    described = other.describe()
    print(described[:1].upper() + described[1:] + ".")
    print()
    print(report(times))
    return 0


# -- stopped from outside -------------------------------------------------------------------------
_TERMINATION = (signal.SIGTERM, signal.SIGHUP)


def _exit(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once
    raise SystemExit(128 + signum)


def exit_on_termination() -> None:
    """SIGTERM and SIGHUP end the process like an exception (``SystemExit(128 + signum)``), so that
    ``finally`` blocks and context managers run: the servers a benchmark started are stopped and
    its temporary directory removed. (By default they kill it, and its servers live on under PID 1.)

    Call it first thing in a benchmark's ``main``, in the main thread (asyncio programs: see
    :func:`until_terminated`). A second signal of the same kind, during that clean-up, ends the
    process at once.
    """
    for signum in _TERMINATION:
        signal.signal(signum, _exit)


async def until_terminated(main: Awaitable[int]) -> int:
    """``await main`` (an exit status), :func:`exit_on_termination` for asyncio: SIGTERM or SIGHUP
    cancel it, so its clean-up runs, and the answer is then ``128 + signum``.

    Use: ``sys.exit(asyncio.run(until_terminated(program())))``. (An exception raised by a signal
    handler would surface in whichever task was running, and asyncio would cancel every task at
    once; cancelling the main one lets each ``finally`` and context manager unwind in order.)
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def on_signal(signum: int) -> None:
        loop.remove_signal_handler(signum)  # back to the default: a second one ends the process
        received.append(signum)
        task.cancel()

    for signum in _TERMINATION:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await main
    except asyncio.CancelledError:
        if not received:
            raise
        task.uncancel()
        return 128 + received[0]
    finally:
        for signum in _TERMINATION:
            loop.remove_signal_handler(signum)
