"""Where the MCP overhead of ``tools/call get_item`` goes, layer by layer, against a hand-written floor.

    python -m benchmarks.layers                     # in-process, both eras, 9 rounds (~1.5 min)
    python -m benchmarks.layers --load --rounds 5   # the same variants served by uvicorn, wrk at c=32 (~3 min)

Each variant cuts the middleware at one layer and answers from there with the **floor**: the least
code that can answer this one call (a sub-request of ``GET /items/{item_id}?q=`` with two closures,
the body as text plus ``structuredContent``, one ``orjson.dumps``; no checks at all). Going down the
table, one more layer of the real middleware runs before the floor takes over:

* ``floor``: the floor alone, as a middleware of its own (no ``mcp_middleware`` code);
* ``front``: + the endpoint (header map, Host/Origin/Accept/Content-Type verdicts, capped body read,
  JSON parse, era choice);
* ``era``: + the era's request handling (JSON-RPC classification, the 2026-07-28 validation ladder,
  the ``Call``, the responder);
* ``handle``: + the handlers and the answer (method table, params validation, tool lookup, result
  decoration, encoding, the write); the route still runs through the floor's sub-request;
* ``full``: the real middleware (+ the call's context, cancel guard, watcher ticker, request
  builder, response collector and result).

The figure is each variant's cost above the direct route (MCP − direct, µs per call) and the ratio.
The floor's code is for this benchmark route only; it is a yardstick, not an implementation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.app import build_app
from benchmarks.common import (
    ITEM_ARGS,
    Era,
    Exchange,
    HttpRequest,
    direct_get_item,
    exit_on_termination,
    mcp_tool_call,
    per_request_us,
)

__all__ = ["VARIANTS", "Floor", "main"]

VARIANTS = ("floor", "front", "era", "handle", "full")
ENV = "MCP_LAYERS_VARIANT"  # which variant ``benchmarks.layers:app`` serves (for --load)
PER_ROUND = 2000


# -- the floor -------------------------------------------------------------------------------------
async def floor_result(app: ASGIApp, scope: Scope, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Run ``GET /items/{item_id}?q=`` below the middleware; the result as text + structuredContent."""
    from mcp_middleware.jsonrpc import Built

    path = f"/items/{arguments['item_id']}"
    child: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"q=" + str(arguments["q"]).encode(),
        "headers": [],
        "client": scope.get("client"),
        "server": scope.get("server"),
        "extensions": {},
        "state": {},
        "app": scope.get("app"),
    }
    parts: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(child, receive, send)
    text = b"".join(parts).decode()
    return Built({"content": [{"type": "text", "text": text}], "structuredContent": orjson.loads(text)})


async def floor_answer(app: ASGIApp, scope: Scope, send: Send, request: Mapping[str, Any]) -> None:
    """The floor's whole answer to a ``tools/call`` message: run the route, write the reply."""
    result = await floor_result(app, scope, request["params"]["arguments"])
    body = orjson.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Floor:
    """The floor as a middleware: ``POST /mcp`` is a ``tools/call get_item``, whatever it says."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/mcp":
            await self.app(scope, receive, send)
            return
        message = await receive()
        await floor_answer(self.app, scope, send, orjson.loads(message["body"]))


# -- the cuts ------------------------------------------------------------------------------------
def _cuts(variant: str) -> list[tuple[Any, str, Callable[..., Any]]]:
    """(module, attribute, stand-in) for each module attribute the variant replaces."""
    from mcp_middleware import _invocation
    from mcp_middleware.transport import handshake, modern

    def after_front(
        server: Any, scope: Scope, receive: Receive, send: Send, headers: Any, payload: Any, stated: Any = None
    ) -> Any:
        # (stated: the handshake era's serve takes the revision the endpoint read)
        return floor_answer(server.app, scope, send, payload)

    def after_era(server: Any, call: Any, responder: Any, decorate: Any, variant: str = "") -> Awaitable[None]:
        request = {"id": call.request.id, "params": call.request.params}
        return floor_answer(server.app, call.scope, responder._send, request)

    def invocation(server: Any, call: Any, params: Any, target: str) -> Any:
        return server.app, call.scope

    def run_tool(spec: Any, arguments: Any, inv: Any, limits: Any, registry: Any) -> Any:
        return floor_result(inv[0], inv[1], arguments)

    if variant == "front":
        return [(modern, "serve", after_front), (handshake, "serve", after_front)]
    if variant == "era":
        return [(modern, "serve_request", after_era), (handshake, "serve_request", after_era)]
    if variant == "handle":
        return [(_invocation, "invocation", invocation), (_invocation, "run_tool", run_tool)]
    return []


def apply_cut(variant: str) -> list[tuple[Any, str, Any]]:
    """Replace the layers below ``variant``'s cut with the floor; returns what to put back."""
    saved = [(module, name, getattr(module, name)) for module, name, _ in _cuts(variant)]
    for module, name, stand_in in _cuts(variant):
        setattr(module, name, stand_in)
    return saved


@contextmanager
def cut(variant: str) -> Iterator[None]:
    """``variant``'s cut for the duration of the block."""
    saved = apply_cut(variant)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def variant_app(variant: str) -> FastAPI:
    if variant == "floor":
        api = build_app(mcp=False)
        api.add_middleware(Floor)
        return api
    return build_app(mcp=True)


def __getattr__(name: str) -> FastAPI:
    """``app``: the variant named by $MCP_LAYERS_VARIANT, its cut applied for the process (--load)."""
    if name != "app":
        raise AttributeError(name)
    variant = os.environ.get(ENV, "full")
    apply_cut(variant)  # for the server's lifetime
    api = globals()["app"] = variant_app(variant)
    return api


# -- in-process ------------------------------------------------------------------------------------
EXPECTED_TEXT = '{"name":"Hammer","price":12.5,"tags":["tools"],"id":1,"q":"x"}'  # the route's JSON body


def answer(body: bytes) -> tuple[Any, Any]:
    """What every variant must answer alike: the result's content and structuredContent."""
    result = orjson.loads(body)["result"]
    return result["content"], result.get("structuredContent")


def _check(variant: str, era: str, status: int, body: bytes) -> None:
    expected = ([{"type": "text", "text": EXPECTED_TEXT}], orjson.loads(EXPECTED_TEXT))
    try:
        same = status == 200 and answer(body) == expected
    except (orjson.JSONDecodeError, KeyError, TypeError):
        same = False
    if not same:
        raise RuntimeError(f"{variant} ({era}) answered differently: {status} {body[:300]!r}")


def in_process(rounds: int, eras: Sequence[Era]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Per (variant, era): every round's (direct µs, MCP µs), the variants interleaved."""
    apps = {variant: variant_app(variant) for variant in VARIANTS}
    direct = direct_get_item()
    calls = {era: mcp_tool_call(era, "get_item", ITEM_ARGS) for era in eras}
    out: dict[tuple[str, str], list[tuple[float, float]]] = {(v, e): [] for v in VARIANTS for e in eras}
    loop = asyncio.new_event_loop()
    try:
        for variant in VARIANTS:
            with cut(variant):
                for era in eras:
                    exchange = Exchange(calls[era])
                    loop.run_until_complete(exchange.run(apps[variant]))
                    _check(variant, era, exchange.status, exchange.body)
        for _ in range(rounds + 1):  # the first round warms up and is dropped
            for variant in VARIANTS:
                with cut(variant):
                    for era in eras:
                        app = apps[variant]
                        took = per_request_us(loop, app, direct, PER_ROUND)  # direct first, then MCP
                        out[(variant, era)].append((took, per_request_us(loop, app, calls[era], PER_ROUND)))
        return {key: samples[1:] for key, samples in out.items()}
    finally:
        loop.close()


# -- over uvicorn ----------------------------------------------------------------------------------
def under_load(rounds: int, eras: Sequence[Era], duration: int) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Per (variant, era): every round's (direct req/s, MCP req/s) at c=32, one server per variant."""
    from benchmarks import load

    prefix_server, prefix_load, _ = load._pinning()
    direct = direct_get_item()
    calls = {era: mcp_tool_call(era, "get_item", ITEM_ARGS) for era in eras}
    out: dict[tuple[str, str], list[tuple[float, float]]] = {(v, e): [] for v in VARIANTS for e in eras}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        servers = {}
        for variant in VARIANTS:
            os.environ[ENV] = variant
            servers[variant] = stack.enter_context(load.serve("benchmarks.layers:app", prefix_server, workdir))

        def rps(variant: str, request: HttpRequest, seconds: int) -> float:
            result = load.run_wrk(
                servers[variant],
                request,
                concurrency=32,
                duration=seconds,
                threads=1,
                prefix=prefix_load,
                workdir=workdir,
                scenario=variant,
            )
            if result.errors:
                raise RuntimeError(f"{variant}: {result.errors} errors under load")
            return result.rps

        for variant in VARIANTS:  # check each answer, then warm up
            for era in eras:
                server = servers[variant]
                status, _, body = load.exchange(server.port, calls[era].raw(server.host))
                _check(variant, era, status, body)
            for request in (direct, *calls.values()):
                rps(variant, request, 1)
        for _ in range(rounds):
            for variant in VARIANTS:
                for era in eras:
                    out[(variant, era)].append((rps(variant, direct, duration), rps(variant, calls[era], duration)))
    return out


# -- report ----------------------------------------------------------------------------------------
def report(samples: dict[tuple[str, str], list[tuple[float, float]]], eras: Sequence[Era], *, rates: bool) -> str:
    """Markdown: per variant and era, the median cost above direct (µs) and the ratio."""
    head = "| variant | " + " | ".join(f"{era}: above direct | ratio" for era in eras) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(eras)]
    for variant in VARIANTS:
        cells = []
        for era in eras:
            pairs = samples[(variant, era)]
            if rates:  # req/s: cost per request is 1/rate, the ratio MCP/direct throughput
                extra = statistics.median(1e6 / m - 1e6 / d for d, m in pairs)
                ratio = statistics.median(m / d for d, m in pairs)
            else:  # µs per call: the ratio MCP/direct time
                extra = statistics.median(m - d for d, m in pairs)
                ratio = statistics.median(m / d for d, m in pairs)
            cells.append(f"{extra:.1f} µs | {ratio:.3f}x")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.load import whole_seconds, wrk_missing

    exit_on_termination()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--era", choices=("handshake", "modern", "both"), default="both")
    parser.add_argument("--load", action="store_true", help="serve each variant with uvicorn; wrk at c=32")
    parser.add_argument(
        "--duration", type=whole_seconds(1), default=4, help="whole seconds per wrk run with --load (default 4)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50 or not args.duration <= 30:
        parser.error("--rounds must be 1..50 and --duration 1..30")
    eras: list[Era] = ["handshake", "modern"] if args.era == "both" else [args.era]
    if args.load:
        if wrk_missing():  # before the five servers start
            return 2
        samples = under_load(args.rounds, eras, args.duration)
        title = f"Over uvicorn, c=32: medians of {args.rounds} interleaved rounds of {args.duration:g} s"
    else:
        samples = in_process(args.rounds, eras)
        title = f"In-process: medians of {args.rounds} interleaved rounds of {PER_ROUND} calls"
    print(f"{title} (Python {sys.version.split()[0]})\n")
    print(report(samples, eras, rates=args.load))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
