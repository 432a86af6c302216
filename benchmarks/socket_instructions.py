"""Machine instructions per request over a real socket, counted by valgrind (callgrind) in a uvicorn worker.

    python -m benchmarks.socket_instructions                   # 224 of each request on 32 connections
    python -m benchmarks.socket_instructions --connections 1 --rounds 200
    python -m benchmarks.socket_instructions --cache-sim --keep /tmp/socket-counts

``benchmarks.instructions`` counts the in-process call; this counts what a server does for the same
requests: ``uvicorn benchmarks.app:app`` (uvloop, httptools, one worker, as ``benchmarks.load``
starts it) under ``valgrind --tool=callgrind --instr-atstart=no``. A plain client warms every request
up, then, with instrumentation switched on (``callgrind_control``), sends ``--rounds`` of each
request on each of ``--connections`` keep-alive connections (all of a round's requests written
before any answer is read, so the worker has that many in flight) and has callgrind dump the
counts after each kind: a direct ``GET``, ``tools/call get_item`` in each era, and the direct ``GET``
again (the two direct figures show the run's own spread). Each figure is the worker's whole work for
those requests (uvicorn's parser, the event loop, the middleware, the route), divided by their
number; the kernel's is not in it. ``--keep DIR`` keeps the dumps, to compare two of them function by
function with ``callgrind_annotate``.

Needs ``valgrind`` (Debian package ``valgrind``). Counts, not times: other load on the host does not
change them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import ITEM_ARGS, HttpRequest, direct_get_item, mcp_tool_call
from benchmarks.load import ROOT, _free_port, _read_body, _read_head, _stop

__all__ = ["main"]

PHASES = ("direct", "handshake", "modern", "direct again")
_EVENTS = ("Ir", "I1mr", "D1mr", "D1mw", "Bcm", "Bim")
_LABELS = {
    "Ir": "instructions",
    "I1mr": "I1 misses",
    "D1mr": "D1 read misses",
    "D1mw": "D1 write misses",
    "Bcm": "cond. mispredicts",
    "Bim": "ind. mispredicts",
}


def _request(phase: str) -> HttpRequest:
    if phase.startswith("direct"):
        return direct_get_item()
    return mcp_tool_call("modern" if phase == "modern" else "handshake", "get_item", ITEM_ARGS)


def _send_rounds(socks: list[socket.socket], raw: bytes, rounds: int) -> None:
    for _ in range(rounds):
        for sock in socks:
            sock.sendall(raw)
        for sock in socks:
            status, headers, rest = _read_head(sock, b"")
            body = _read_body(sock, headers, rest)
            if status != 200:
                raise RuntimeError(f"answered {status}: {body[:300]!r}")


def _connect(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=300)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _callgrind_control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _summary(path: Path) -> dict[str, int]:
    names: list[str] = []
    values: list[int] = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("summary:"):
            values = [int(v) for v in line.split()[1:]]
    return dict(zip(names, values, strict=True))


def measure(connections: int, rounds: int, cache_sim: bool, workdir: Path) -> dict[str, dict[str, float]]:
    """Per request, by phase: each counted event's value."""
    port = _free_port()
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={workdir}/callgrind.%p"]
    if cache_sim:
        command += ["--cache-sim=yes", "--branch-sim=yes"]
    command += [sys.executable, "-m", "uvicorn", "benchmarks.app:app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    command += ["--timeout-keep-alive", "3600"]  # (under valgrind a switch of callgrind_control takes seconds)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with (workdir / "valgrind.log").open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        socks = [_connect(port, time.monotonic() + 300)]
        socks += [_connect(port, time.monotonic() + 60) for _ in range(connections - 1)]
        raws = {phase: _request(phase).raw(f"127.0.0.1:{port}") for phase in PHASES}
        for phase in PHASES[:3]:
            _send_rounds(socks, raws[phase], 4)
        _callgrind_control(proc.pid, "-i", "on")
        for phase in PHASES:
            _send_rounds(socks, raws[phase], rounds)
            _callgrind_control(proc.pid, "-d", phase.replace(" ", "_"))
        _callgrind_control(proc.pid, "-i", "off")
        for sock in socks:
            sock.close()
    finally:
        _stop(proc)
    dumps = sorted(workdir.glob(f"callgrind.{proc.pid}.*"), key=lambda p: int(p.suffix[1:]))
    if len(dumps) < len(PHASES):
        raise RuntimeError(f"callgrind wrote {len(dumps)} dumps, not {len(PHASES)}: see {workdir}/valgrind.log")
    count = connections * rounds
    return {
        phase: {k: v / count for k, v in _summary(dump).items()}
        for phase, dump in zip(PHASES, dumps[: len(PHASES)], strict=True)
    }


def report(per_request: dict[str, dict[str, float]]) -> str:
    keys = [key for key in _EVENTS if key in per_request["direct"]]
    direct = {key: (per_request["direct"][key] + per_request["direct again"][key]) / 2 for key in keys}
    lines = ["| request | " + " | ".join(f"{_LABELS[k]} | ratio" for k in keys) + " |"]
    lines.append("|---|" + "---:|---:|" * len(keys))
    for phase in PHASES:
        cells = [f"{per_request[phase][k]:,.0f} | {per_request[phase][k] / direct[k]:.3f}x" for k in keys]
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--rounds", type=int, default=7, help="requests of each kind per connection (default 7)")
    parser.add_argument("--cache-sim", action="store_true", help="also simulate caches and branch prediction")
    parser.add_argument("--keep", type=Path, help="a directory to keep callgrind's dumps in")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        per_request = measure(args.connections, args.rounds, args.cache_sim, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            per_request = measure(args.connections, args.rounds, args.cache_sim, Path(tmp))
    print(
        f"Per request over a socket, counted by callgrind in the uvicorn worker "
        f"({args.connections} connections x {args.rounds} requests of each kind; Python {sys.version.split()[0]}):\n"
    )
    print(report(per_request))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
