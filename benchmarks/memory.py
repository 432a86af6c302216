"""Server memory without timing anything: peak RSS of the app against the bare app.

    python -m benchmarks.memory                    # 3 rounds of both servers
    python -m benchmarks.memory --rounds 2 --requests 3000

Each round starts ``uvicorn benchmarks.app:bare`` and ``uvicorn benchmarks.app:app`` (one worker,
uvloop + httptools, byte-compiled first, as ``benchmarks.load`` does), then sends each, over
``--connections`` keep-alive connections at once (a request on every connection, then every
answer read), ``--requests`` direct ``GET /items/1?q=x``, then ``--streams`` direct ``GET /stream``
one after the other; the app also an ``initialize``, the same number of ``tools/call get_item`` in
each era (2025-06-18 and 2026-07-28) and of ``tools/call stream`` (as ``benchmarks.load`` does:
the streams one at a time). It reads ``VmRSS`` after start-up and ``VmHWM`` (peak RSS) at the end.
Nothing is timed, so it can run while other work shares the CPUs; the rounds show the noise.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import (
    ITEM_ARGS,
    HttpRequest,
    direct_get_item,
    direct_stream,
    mcp_initialize,
    mcp_tool_call,
)
from benchmarks.load import Server, _check_mcp, _read_body, _read_head, exchange, serve

MIB = 1024


def _load(server: Server, request: HttpRequest, count: int, connections: int) -> None:
    """``count`` requests over ``connections`` keep-alive connections, all in flight per round."""
    raw = request.raw(server.host)
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(connections)]
    try:
        for _ in range(max(1, count // connections)):
            for s in socks:
                s.sendall(raw)
            for s in socks:
                status, headers, rest = _read_head(s, b"")
                body = _read_body(s, headers, rest)
                if request.path == "/mcp":
                    _check_mcp(status, headers, body)
                elif status != 200:
                    raise RuntimeError(f"{request.path} answered {status}: {body[:200]!r}")
    finally:
        for s in socks:
            s.close()


def one_round(requests: int, connections: int, streams: int, workdir: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name in ("bare", "app"):
        with serve(f"benchmarks.app:{name}", [], workdir) as server:
            start = server.memory()["VmRSS"]
            _load(server, direct_get_item(), requests, connections)
            _load(server, direct_stream(), streams, 1)
            if name == "app":
                _check_mcp(*exchange(server.port, mcp_initialize().raw(server.host)))
                for era in ("handshake", "modern"):
                    _load(server, mcp_tool_call(era, "get_item", ITEM_ARGS), requests, connections)
                    stream = mcp_tool_call(era, "stream", {"n": 8, "delay_ms": 0}, progress_token="t")
                    _load(server, stream, streams, 1)
            end = server.memory()
            out[name] = {"start": start, "rss": end["VmRSS"], "hwm": end["VmHWM"]}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per kind of request (default 2000)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--streams", type=int, default=50, help="streamed calls per kind, one at a time (default 50)")
    args = parser.parse_args(argv)
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mcp-mem-") as tmp:
        for i in range(args.rounds):
            m = one_round(args.requests, args.connections, args.streams, Path(tmp))
            bare, app = m["bare"], m["app"]
            ratio = app["hwm"] / bare["hwm"]
            ratios.append(ratio)
            print(
                f"round {i + 1}: start RSS bare {bare['start'] / MIB:.1f} app {app['start'] / MIB:.1f} MiB; "
                f"peak bare {bare['hwm'] / MIB:.1f} app {app['hwm'] / MIB:.1f} MiB ({ratio:.3f}x, "
                f"+{(app['hwm'] - bare['hwm']) / MIB:.2f} MiB)",
                flush=True,
            )
    print(f"peak ratio: median {statistics.median(ratios):.3f}x, range {min(ratios):.3f}-{max(ratios):.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
