"""Property-based hardening of the MCP endpoint: adversarial bodies and headers, in both eras.

Every example is one POST (or other method) driven in-process through a strict ASGI driver. Whatever
the input, the endpoint must:

* answer exactly once (``http.response.start`` once, then body messages ending with
  ``more_body: False``), never raise out of the middleware, never leave a task running, never hang;
* answer with a status from the transport spec's set (200, 202, 400, 403, 404, 405, 406, 413, 415;
  never 500);
* write JSON (or SSE carrying JSON) that is valid JSON-RPC 2.0: errors carry ``jsonrpc``, ``id``,
  an integer ``error.code`` and a string ``error.message``; the id of a well-formed request is
  echoed; a JSON-RPC error means no route ran;
* run no route but the called tool's own (every route of the test app counts its runs, from the
  moment it matches), and hand path, query, header, cookie and form values to that route as given
  (after what HTTP parsing itself does to them), or refuse them with an error result.

The app and its counters are module-level (the catalog is built once); each example resets the
counters and runs in a fresh event loop (``anyio.run``), so examples cannot leak into each other.
Hypothesis' example database is off (``database=None``): nothing is written into the repository.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

import anyio
import orjson
import pytest
from fastapi import APIRouter, Cookie, FastAPI, Form, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from pydantic import BaseModel
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message

from mcp_middleware import MCPMiddleware
from mcp_middleware.results import ResponseCollector
from tests.support import ACCEPT, MODERN, asgi_scope, meta

Headers = list[tuple[bytes, bytes]]

ERAS = ("handshake", "modern")
SPEC_STATUSES = frozenset({200, 202, 400, 403, 404, 405, 406, 413, 415})
# Refused before the body is read as JSON-RPC: the error body carries no id (transports.mdx).
HTTP_REFUSALS = frozenset({403, 405, 406, 413, 415})
BODY_LIMIT = 64 * 1024  # the fuzz app's max_body_bytes (the default 4 MiB is checked separately)
EXCHANGE_TIMEOUT = 10.0  # a hang fails the example instead of the whole run
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
# subscriptions/listen is a long-lived stream by design: it would (rightly) wait for the client.
METHODS = (
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "resources/list",
    "logging/setLevel",
    "completion/complete",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
)


# FUZZ_SCALE=20 pytest tests/unit/test_fuzz.py: a longer hunt (the default keeps the file ~15 s).
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# -- the app: every route counts its runs and records what it was handed ----------------------------

RUNS: Counter[str] = Counter()
SEEN: dict[str, Any] = {}


class CountingRoute(APIRoute):
    """Counts a run as soon as the route matched, before FastAPI validates anything."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        operation = self.operation_id or self.name

        async def counted(request: Request) -> Response:
            RUNS[operation] += 1
            return await handler(request)

        return counted


class NewThing(BaseModel):
    name: str
    size: int = 1


class Doc(BaseModel):
    data: Any = None


class Tree(BaseModel):
    tree: Any = None


def fuzz_app(**options: Any) -> FastAPI:
    router = APIRouter(route_class=CountingRoute)

    @router.get("/things/{thing_id}", operation_id="get_thing")
    async def get_thing(thing_id: int, q: str | None = None) -> dict[str, Any]:
        return {"id": thing_id, "q": q}

    @router.delete("/things/{thing_id}", operation_id="delete_thing")
    async def delete_thing(thing_id: int) -> dict[str, bool]:
        return {"deleted": True}

    @router.post("/things", operation_id="create_thing", status_code=201)
    async def create_thing(thing: NewThing) -> NewThing:
        return thing

    @router.get("/echo-path/{value}", operation_id="echo_path")
    async def echo_path(value: str) -> dict[str, str]:
        SEEN["echo_path"] = value
        return {"value": value}

    @router.get("/echo-path", operation_id="echo_root")
    async def echo_root() -> dict[str, str]:
        return {"decoy": "echo_root"}

    @router.get("/pair/{a}/{b}", operation_id="pair")
    async def pair(a: str, b: str) -> dict[str, str]:
        SEEN["pair"] = (a, b)
        return {"a": a, "b": b}

    @router.get("/pair/{a}", operation_id="pair_short")
    async def pair_short(a: str) -> dict[str, str]:
        return {"decoy": a}

    @router.get("/files/{p:path}", operation_id="file")
    async def file(p: str) -> dict[str, str]:
        SEEN["file"] = p
        return {"p": p}

    @router.get(
        "/regions/{region}",
        operation_id="region",
        openapi_extra={
            "x-mcp-input-schema": {
                "type": "object",
                "properties": {
                    "region": {"type": "string", "x-mcp-header": "Region"},
                    "limit": {"type": "integer", "x-mcp-header": "Limit"},
                    "flag": {"type": "boolean", "x-mcp-header": "Flag"},
                },
                "required": ["region"],
            }
        },
    )
    async def region(region: str, limit: int | None = None, flag: bool | None = None) -> dict[str, Any]:
        SEEN["region"] = (region, limit, flag)
        return {"region": region, "limit": limit, "flag": flag}

    @router.get("/secret", operation_id="secret")
    async def secret() -> dict[str, str]:
        return {"secret": "42"}

    @router.get("/hidden", include_in_schema=False)
    async def hidden() -> dict[str, str]:
        return {"hidden": "yes"}

    @router.get("/", include_in_schema=False)
    async def root() -> dict[str, str]:
        return {"root": "yes"}

    @router.get("/search", operation_id="search")
    async def search(q: str | None = None, tags: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
        SEEN["search"] = (q, tags)
        return {"q": q, "tags": tags}

    @router.get("/header", operation_id="header_echo")
    async def header_echo(x_token: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        SEEN["header_echo"] = x_token
        return {"x_token": x_token}

    @router.get("/cookie", operation_id="cookie_echo")
    async def cookie_echo(session: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
        SEEN["cookie_echo"] = session
        return {"session": session}

    @router.post("/form", operation_id="form_echo")
    async def form_echo(title: Annotated[str, Form()], note: Annotated[str | None, Form()] = None) -> dict[str, Any]:
        SEEN["form_echo"] = (title, note)
        return {"title": title, "note": note}

    @router.post("/echo-body", operation_id="echo_body")
    async def echo_body(doc: Doc) -> Doc:
        return doc

    @router.get("/nest", operation_id="nest", response_model=Tree)
    async def nest(depth: Annotated[int, Query(ge=0, le=20_000)] = 0) -> Response:
        # A route returning a deep (but valid) JSON document, built as text.
        return Response('{"tree":' + "[" * depth + "]" * depth + "}", media_type="application/json")

    @router.get("/big-text", operation_id="big_text")
    async def big_text(size: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> PlainTextResponse:
        return PlainTextResponse("x" * size)

    @router.get("/stream", operation_id="stream")
    async def stream(count: Annotated[int, Query(ge=0, le=20)] = 3) -> StreamingResponse:
        async def tokens() -> Any:
            for i in range(count):
                yield f"t{i} "

        return StreamingResponse(tokens(), media_type="text/plain")

    app = FastAPI(title="Fuzz", version="1")
    app.include_router(router)
    app.add_middleware(MCPMiddleware, **options)
    return app


APP = fuzz_app(max_body_bytes=BODY_LIMIT)
TOOLS = (
    "get_thing",
    "delete_thing",
    "create_thing",
    "echo_path",
    "echo_root",
    "pair",
    "pair_short",
    "file",
    "region",
    "secret",
    "search",
    "header_echo",
    "cookie_echo",
    "form_echo",
    "echo_body",
    "nest",
    "big_text",
    "stream",
)
ROUTE_NAMES = (*TOOLS, "hidden", "root")


# -- the strict in-process driver ------------------------------------------------------------------


@dataclass
class Outcome:
    status: int = 0
    headers: Headers = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    complete: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: bytes) -> bytes | None:
        values = [v for k, v in self.headers if k.lower() == name]
        assert len(values) <= 1, f"response header {name!r} repeated: {self.headers}"
        return values[0] if values else None


async def exchange(
    app: ASGIApp, body: bytes, headers: Headers, *, method: str = "POST", path: str = "/mcp", chunks: int = 1
) -> Outcome:
    """One request; asserts the ASGI response contract while it runs. The client never leaves."""
    step = max(1, -(-len(body) // max(chunks, 1)))
    parts = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
    out = Outcome()
    stay = anyio.Event()  # never set: the client keeps the connection open

    async def receive() -> Message:
        if parts:
            chunk = parts.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(parts)}
        await stay.wait()
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: Message) -> None:
        try:
            check_sent(message)
        except AssertionError as exc:  # kept: the middleware must not be able to swallow it
            out.problems.append(str(exc))
            raise

    def check_sent(message: Message) -> None:
        kind = message["type"]
        assert not out.complete, f"{kind} sent after the response was complete"
        if kind == "http.response.start":
            assert out.status == 0, "http.response.start sent twice"
            status = message["status"]
            assert isinstance(status, int)
            raw = list(message.get("headers", []))
            for pair in raw:
                key, value = pair
                assert isinstance(key, bytes), pair
                assert isinstance(value, bytes), pair
                assert not any(c in value for c in b"\r\n\x00"), f"response header with CR/LF/NUL: {pair!r}"
            out.status, out.headers = status, raw
            return
        assert kind == "http.response.body", f"unexpected ASGI message {kind}"
        assert out.status, "http.response.body before http.response.start"
        chunk = message.get("body", b"")
        assert isinstance(chunk, bytes)
        out.chunks.append(chunk)
        if not message.get("more_body", False):
            out.complete = True

    scope = asgi_scope(method, path, list(headers))
    with anyio.fail_after(EXCHANGE_TIMEOUT):
        await app(scope, receive, send)
    assert not out.problems, f"ASGI contract broken: {out.problems}"
    assert out.status, "the middleware returned without answering"
    assert out.complete, "the middleware returned before ending the response (more_body never False)"
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    assert not left, f"tasks still running after the response: {left}"
    return out


def report(text: str) -> None:
    """A note on the failing example (hypothesis), or captured output pytest shows on failure."""
    try:
        note(text)
    except InvalidArgument:  # not inside a hypothesis test
        print(text)


def send_request(
    body: bytes, headers: Headers, *, app: ASGIApp = APP, method: str = "POST", path: str = "/mcp", chunks: int = 1
) -> Outcome:
    RUNS.clear()
    SEEN.clear()
    report(f"request: {method} {path} headers={headers!r} body={body[:2000]!r}{'…' if len(body) > 2000 else ''}")
    try:
        outcome = anyio.run(partial(exchange, app, body, headers, method=method, path=path, chunks=chunks))
    except AssertionError:
        raise
    except Exception as exc:  # anything else escaped the middleware (or it hung: TimeoutError)
        raise AssertionError(f"exception escaped the middleware: {type(exc).__name__}: {exc}") from exc
    report(f"response: {outcome.status} {outcome.headers!r} {outcome.body[:2000]!r}")
    report(f"routes run: {dict(RUNS)} seen: {SEEN!r}")
    with contextlib.suppress(InvalidArgument):
        event(f"status {outcome.status}")
        event("a route ran" if RUNS else "no route ran")
    return outcome


# -- JSON-RPC checks --------------------------------------------------------------------------------


def valid_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (``1`` is not ``1.0`` nor ``true``)."""
    return type(a) is type(b) and a == b


def sse_messages(body: bytes) -> list[Any]:
    text = body.decode("utf-8")
    assert "\r" not in text, "SSE from the middleware uses LF line ends"
    out: list[Any] = []
    for block in text.split("\n\n"):
        data = [line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")]
        others = [line for line in block.split("\n") if line and not line.startswith(("data:", ":", "event:", "id:"))]
        assert not others, f"unexpected SSE lines {others!r}"
        if data:
            out.append(orjson.loads("\n".join(data)))
    return out


def check_message(message: Any) -> None:
    """One JSON-RPC 2.0 message written by the server."""
    assert isinstance(message, dict), message
    assert message.get("jsonrpc") == "2.0", message
    if "error" in message:
        assert "result" not in message, message
        assert "id" in message, message
        assert message["id"] is None or valid_id(message["id"]), message
        error = message["error"]
        assert isinstance(error, dict), message
        code = error.get("code")
        assert isinstance(code, int), message
        assert not isinstance(code, bool), message
        assert isinstance(error.get("message"), str), message
    elif "result" in message:
        assert valid_id(message.get("id")), message
        assert isinstance(message["result"], dict), message
    else:
        assert isinstance(message.get("method"), str), message
        assert "id" not in message or valid_id(message["id"]), message
        if message["method"] == "notifications/progress":
            params = message.get("params")
            assert isinstance(params, dict), message
            assert valid_id(params.get("progressToken")), f"progress token must be a string or integer: {message}"


def is_response(message: Any) -> bool:
    return isinstance(message, dict) and ("result" in message or "error" in message)


def well_formed_request(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and payload.get("jsonrpc") == "2.0"
        and valid_id(payload.get("id"))
        and isinstance(payload.get("method"), str)
    )


def check_reply(outcome: Outcome, body: bytes) -> list[Any]:
    """The properties every answer has; returns the JSON-RPC messages it carried."""
    assert outcome.status in SPEC_STATUSES, f"status {outcome.status} is not one the spec allows"
    if outcome.status == 405:
        assert outcome.header(b"allow") == b"POST"
    if outcome.status == 202:
        assert outcome.body == b"", "202 Accepted carries no body"
        return []
    ctype = (outcome.header(b"content-type") or b"").split(b";")[0].strip()
    assert outcome.body, f"{outcome.status} without a body"
    if ctype == b"text/event-stream":
        assert outcome.status == 200
        messages = sse_messages(outcome.body)
        for message in messages:
            check_message(message)
        responses = [m for m in messages if is_response(m)]
        assert len(responses) == 1, f"an SSE answer carries exactly one response: {messages}"
        assert is_response(messages[-1]), "the response is the stream's last message"
    else:
        assert ctype == b"application/json", f"content-type {ctype!r}"
        decoded = orjson.loads(outcome.body)
        messages = decoded if isinstance(decoded, list) else [decoded]
        if isinstance(decoded, list):
            assert decoded, "an empty batch answer"
        for message in messages:
            check_message(message)
            assert is_response(message), f"a JSON answer holds responses only: {message}"
    if outcome.status != 200:
        assert all("error" in m for m in messages if is_response(m)), "a non-200 answer carries an error"
    try:
        payload = loads_as_served(body)
    except orjson.JSONDecodeError:
        payload = None
        for message in messages:
            assert message.get("id") is None, "an unparseable body has no id to echo"
    if isinstance(payload, dict) and outcome.status not in HTTP_REFUSALS:
        response = next((m for m in messages if is_response(m)), None)
        assert response is not None, "a single POSTed message answered with a body holds its response"
        if well_formed_request(payload):
            assert same(response["id"], payload["id"]), (
                f"the id {payload['id']!r} of a well-formed request was not echoed: {response}"
            )
        elif valid_id(payload.get("id")):
            assert response["id"] in (None, payload["id"]), response
        else:
            assert response["id"] is None, f"an invalid or missing id is answered with null: {response}"
        if "error" in response:
            assert not RUNS, f"a JSON-RPC error, yet routes ran: {dict(RUNS)}"
    return messages


def check_routes(allowed: Mapping[str, int]) -> None:
    """Only the called tools' routes ran, each at most as often as it was called."""
    for route, runs in RUNS.items():
        assert runs <= allowed.get(route, 0), f"route {route!r} ran {runs}x; allowed: {dict(allowed)}"


def called_tools(payload: Any) -> Counter[str]:
    items = payload if isinstance(payload, list) else [payload]
    calls: Counter[str] = Counter()
    for item in items:
        if isinstance(item, dict) and item.get("method") == "tools/call":
            params = item.get("params")
            if isinstance(params, dict) and isinstance(params.get("name"), str):
                calls[params["name"]] += 1
    return calls


# -- building requests -----------------------------------------------------------------------------


class Raw:
    """A JSON fragment written verbatim (deep nesting, numbers json.dumps cannot spell, duplicates)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:60]!r}{'…' if len(self.text) > 60 else ''})"


MISSING = object()


def encode(value: Any) -> bytes:
    fragments: list[str] = []

    def swap(item: Any) -> Any:
        if isinstance(item, Raw):
            fragments.append(item.text)
            return f"\x00raw{len(fragments) - 1}\x00"
        if isinstance(item, dict):
            return {k: swap(v) for k, v in item.items() if v is not MISSING}
        if isinstance(item, list):
            return [swap(v) for v in item]
        return item

    text = json.dumps(swap(value), ensure_ascii=False, allow_nan=False)
    for index, fragment in enumerate(fragments):
        text = text.replace(json.dumps(f"\x00raw{index}\x00"), fragment, 1)
    return text.encode("utf-8")


def deep(depth: int, opener: str = "[", closer: str = "]", leaf: str = "1") -> Raw:
    return Raw(opener * depth + leaf + closer * depth)


def base_headers() -> Headers:
    return [(b"host", b"127.0.0.1:8000"), (b"accept", ACCEPT.encode()), (b"content-type", b"application/json")]


def era_headers(era: str, method: Any = None, name: Any = None, version: str = MODERN) -> Headers:
    headers = base_headers()
    if era == "modern":
        headers.append((b"mcp-protocol-version", version.encode()))
        if isinstance(method, str):
            headers.append((b"mcp-method", method.encode("utf-8")))
        if isinstance(name, str):
            headers.append((b"mcp-name", routing_value(name)))
    return headers


def routing_value(text: str) -> bytes:
    """How a client spells an Mcp-Name: plain when it is safe, the base64 sentinel otherwise."""
    if text.isascii() and text.isprintable() and text == text.strip():
        return text.encode()
    return b"=?base64?" + base64.b64encode(text.encode("utf-8")) + b"?="


def envelope(era: str, params: Any) -> Any:
    if era != "modern":
        return params
    if params is MISSING or params is None:
        return {"_meta": meta()}
    if isinstance(params, dict):
        return {**params, "_meta": {**meta(), **(params.get("_meta") or {})}}
    return params


def rpc(era: str, method: str, params: Any = MISSING, id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": envelope(era, params)}


# -- strategies ------------------------------------------------------------------------------------

NASTY_PIECES = (
    "..",
    ".",
    "%2e%2e",
    "%2E%2E",
    "%2e",
    "/",
    "//",
    "%2F",
    "%2f",
    "%252F",
    "?",
    "?x=1",
    "#",
    "#frag",
    "\\",
    "..\\..",
    "../secret",
    "..%2Fsecret",
    "%2e%2e%2fsecret",
    "\x00",
    "%00",
    "\r\n",
    "\r",
    "\n",
    "\t",
    " ",
    ";",
    "=",
    "&",
    "%",
    "é",
    "€",
    "ß",
    "\U0001d11e",
    "\u202e",
    "\ufeff",
    "\u0085",
    "\u2028",
    "\x7f",
    "\xff",
    "~",
    "*",
    "secret",
    "hidden",
    "mcp",
    "=?base64?",
    "?=",
)
nasty_text = st.one_of(
    st.sampled_from(NASTY_PIECES),
    st.lists(st.one_of(st.sampled_from(NASTY_PIECES), st.text(max_size=6)), min_size=1, max_size=6).map("".join),
    st.text(max_size=30),
)
RAW_NUMBERS = (
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "-" + "1" * 400,
    "1E-400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "-0",
    "0.0",
    "1.0",
    "1e2",
    "0.1e1",
    "NaN",
    "Infinity",
    "01",
)
DEPTHS = st.one_of(
    st.integers(0, 1_100), st.sampled_from([250, 251, 252, 253, 254, 255, 256, 1_022, 1_023, 1_024, 10_000])
)
raw_numbers = st.sampled_from(RAW_NUMBERS).map(Raw)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(nasty_text, children, max_size=4),
    ),
    max_leaves=10,
)
# Rare on purpose: most of them make the whole body unparseable (a -32700 tells little).
odd_values = st.one_of(raw_numbers, DEPTHS.map(deep), DEPTHS.map(lambda n: deep(n, '{"a":', "}")))
some_values = st.one_of(json_values, odd_values)  # (hypothesis favours the first branch)
valid_ids = st.one_of(st.integers(), nasty_text, st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**64 - 1, ""]))
bad_ids = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.just({}),
    st.just({"id": 1}),
    st.lists(st.integers(), max_size=2),
    raw_numbers,
    st.just(MISSING),
)
tool_names = st.one_of(st.sampled_from((*TOOLS, "hidden", "root", "mcp")), nasty_text)
scalar_args = st.one_of(
    nasty_text,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
ARG_NAMES = (
    "thing_id",
    "q",
    "name",
    "size",
    "value",
    "a",
    "b",
    "p",
    "tags",
    "x-token",
    "x_token",
    "session",
    "title",
    "note",
    "data",
    "depth",
    "count",
    "body",
    "authorization",
    "cookie",
    "host",
    "content-length",
)
arguments = st.dictionaries(
    st.one_of(st.sampled_from(ARG_NAMES), nasty_text),
    st.one_of(scalar_args, st.lists(scalar_args, max_size=3), some_values),
    max_size=5,
)
progress_tokens = st.one_of(
    st.integers(), st.text(max_size=10), st.booleans(), st.floats(allow_nan=False, allow_infinity=False)
)


def usually(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], percent: int = 85) -> Any:
    """``good`` most of the time, ``bad`` otherwise: one wrong part per message is the useful case."""
    return draw(good) if draw(st.integers(0, 99)) < percent else draw(bad)


@st.composite
def tool_call_params(draw: st.DrawFn) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": usually(draw, tool_names, json_scalars),
        "arguments": usually(draw, arguments, st.one_of(some_values, st.just(MISSING))),
    }
    if draw(st.booleans()):
        params["_meta"] = {"progressToken": draw(progress_tokens)}
    return params


@st.composite
def messages(draw: st.DrawFn, era: str) -> Any:
    """A JSON-RPC-ish message: mostly well-formed, with one part or another wrong."""
    method = usually(draw, st.sampled_from(METHODS), st.one_of(nasty_text, json_scalars))
    if method == "tools/call":
        params: Any = usually(draw, tool_call_params(), st.one_of(some_values, st.just(MISSING)))
    elif method == "initialize":
        params = usually(
            draw,
            st.fixed_dictionaries(
                {
                    "protocolVersion": st.one_of(st.sampled_from(HANDSHAKE_VERSIONS), json_scalars),
                    "capabilities": st.one_of(st.just({}), some_values),
                    "clientInfo": st.one_of(st.just({"name": "fuzz", "version": "1"}), some_values),
                }
            ),
            some_values,
        )
    else:
        params = usually(
            draw, st.one_of(st.just(MISSING), st.just({})), st.dictionaries(nasty_text, some_values, max_size=3), 60
        )
    if era == "modern" and usually(draw, st.just(True), st.just(False)):
        params = envelope(era, params)
    message: dict[str, Any] = {
        "jsonrpc": usually(draw, st.just("2.0"), st.one_of(json_scalars, st.just(MISSING))),
        "id": usually(draw, valid_ids, bad_ids),
        "method": method,
        "params": params,
    }
    if not usually(draw, st.just(True), st.just(False), 90):
        message[draw(st.sampled_from(["result", "error"]))] = draw(some_values)
    if not usually(draw, st.just(True), st.just(False), 90):
        message["method"] = MISSING
    return message


def routing_headers_for(era: str, payload: Any) -> Headers:
    if not isinstance(payload, dict):
        return era_headers(era, "tools/list")
    params = payload.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return era_headers(era, payload.get("method"), name)


header_bytes = st.one_of(
    st.binary(max_size=24),
    nasty_text.map(lambda text: text.encode("utf-8")),
    st.sampled_from([b"", b" ", b"\r\n", b"\x00", b"a\r\nX-Injected: 1", b"\xff\xfe", b"2026-07-28\r\n", b"\t"]),
)


def corrupt(value: bytes, how: int, extra: bytes) -> bytes:
    if how == 0:
        return value + extra
    if how == 1:
        return extra + value
    if how == 2:
        return value[: len(value) // 2] + extra + value[len(value) // 2 :]
    return extra


# -- properties ------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
@fuzz(300)
@given(
    body=st.binary(max_size=300), junk=st.sampled_from([b"", b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xef\xbb\xbf"])
)
@example(body=b"", junk=b"")
@example(body=b'{"jsonrpc":"2.0","id":1,"method":"ping"', junk=b"")
@example(body=b'{"jsonrpc":"2.0","id":1,"method":"\xff"}', junk=b"")
@example(body=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}', junk=b"\xef\xbb\xbf")
def test_arbitrary_bytes(era: str, body: bytes, junk: bytes) -> None:
    """Random bytes, invalid UTF-8 (lone continuation, overlong, surrogate halves) and a BOM."""
    data = junk + body
    outcome = send_request(data, era_headers(era, "tools/list"))
    check_reply(outcome, data)
    check_routes({})


PATHOLOGICAL_BODIES = [
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b"[" * 10_000,
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":'
    + b"[" * 10_000
    + b"]" * 10_000
    + b"}}}",
    b'{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":' + b"1" + b"0" * 400 + b',"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":1e400}}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":'
    + b"9" * 400
    + b"}}}",
    b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"id":"two","method":"ping","method":"tools/list"}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","name":"secret","arguments":{}}}',
    b'{"jsonrpc":"2.0","jsonrpc":"1.0","id":1,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_path","arguments":{"value":"a","value":"/"}}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_path","arguments":{"value":"\\u0000"}}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_path","arguments":{"value":"\\ud800"}}}',
    b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":[1]}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[{"name":"get_thing"}]}',
    b'[{"jsonrpc":"2.0","id":1,"method":"ping"},[{"jsonrpc":"2.0","id":2,"method":"ping"}]]',
    b"[" + b'{"jsonrpc":"2.0","method":"notifications/initialized"},' * 500 + b"1]",
    b'"' + b"x" * (BODY_LIMIT - 8) + b'"',
    b"  \t\r\n null \n",
    b"\x00",
]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("body", PATHOLOGICAL_BODIES, ids=lambda b: f"{len(b)}B:{b[:40]!r}")
def test_pathological_json(era: str, body: bytes) -> None:
    """Deep nesting (10 000 levels), huge numbers (1e400, 10**400), NaN, duplicate keys, concatenated
    documents, lone surrogates, arrays where objects belong."""
    outcome = send_request(body, era_headers(era, "ping"))
    check_reply(outcome, body)
    try:
        payload = loads_as_served(body)
    except orjson.JSONDecodeError:
        payload = None
    check_routes(called_tools(payload))


@pytest.mark.parametrize("era", ERAS)
@fuzz(500)
@given(data=st.data())
def test_jsonrpc_envelopes(era: str, data: st.DataObject) -> None:
    """Wrong id types (bool, float, object, array, null, huge), wrong ``jsonrpc``, methods that are not
    strings, params that are arrays or scalars, client responses, extra members."""
    payload = data.draw(messages(era))
    body = encode(payload)
    outcome = send_request(body, routing_headers_for(era, loads_as_served(body) if valid_json(body) else None))
    check_reply(outcome, body)
    check_routes(called_tools(loads_as_served(body)) if valid_json(body) else {})


def valid_json(body: bytes) -> bool:
    try:
        loads_as_served(body)
    except orjson.JSONDecodeError:
        return False
    return True


# An integer literal of 309 digits or more (beyond a double's range, where orjson refuses to read it)
_BEYOND_A_DOUBLE = re.compile(rb"(?<![\d.eE+-])(-?)\d{309,}(?![\d.eE])")


def loads_as_served(body: bytes) -> Any:
    """orjson's reading of a body, or, of one it refuses, its reading with each integer beyond a
    double's range as a float beyond 64 bits: the server refuses such an integer as it refuses
    any beyond 64 bits (-32602 with the request's id), not as a parse error, and reads the rest of
    the body as orjson does (raises ``orjson.JSONDecodeError`` when it is no JSON for orjson)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return orjson.loads(_BEYOND_A_DOUBLE.sub(rb"\g<1>1e300", body))


@fuzz(200)
@given(
    items=st.lists(st.one_of(messages("handshake"), some_values), max_size=6),
    version=st.one_of(st.none(), st.sampled_from(HANDSHAKE_VERSIONS)),
)
def test_batches(items: list[Any], version: str | None) -> None:
    """Handshake-era batches (allowed in 2024-11-05/2025-03-26 only): every reply is a valid response
    whose id belongs to a request of the batch, and only the batch's tools ran."""
    body = encode(items)
    headers = base_headers() + ([(b"mcp-protocol-version", version.encode())] if version else [])
    outcome = send_request(body, headers)
    replies = check_reply(outcome, body)
    if not valid_json(body):
        return
    payload = loads_as_served(body)
    check_routes(called_tools(payload))
    sent_ids = [item.get("id") for item in payload if isinstance(item, dict)]
    for reply in replies:
        if reply.get("id") is not None:
            assert reply["id"] in sent_ids, f"reply to an id that was not sent: {reply}"


ROUTING = (b"mcp-protocol-version", b"mcp-method", b"mcp-name")
CHECKED = (b"host", b"origin", b"accept", b"content-type", b"content-length", b"authorization", *ROUTING)


@pytest.mark.parametrize("era", ERAS)
@fuzz(500)
@given(
    tool=st.sampled_from(TOOLS),
    target=st.sampled_from(CHECKED),
    how=st.integers(0, 4),
    extra=header_bytes,
    duplicate=st.booleans(),
    shuffle=st.randoms(use_true_random=False),
)
@example(tool="get_thing", target=b"mcp-name", how=0, extra=b"\r\nX: y", duplicate=False, shuffle=None)
@example(tool="get_thing", target=b"mcp-method", how=0, extra=b"\x00", duplicate=False, shuffle=None)
@example(tool="get_thing", target=b"mcp-protocol-version", how=0, extra=b"\r\n", duplicate=False, shuffle=None)
@example(tool="get_thing", target=b"content-length", how=3, extra=b"\xb2", duplicate=False, shuffle=None)
@example(tool="get_thing", target=b"content-length", how=3, extra=b"-1", duplicate=False, shuffle=None)
@example(tool="get_thing", target=b"host", how=3, extra=b"[", duplicate=False, shuffle=None)
@example(tool="get_thing", target=b"origin", how=3, extra=b"http://[", duplicate=False, shuffle=None)
def test_header_values(
    era: str, tool: str, target: bytes, how: int, extra: bytes, duplicate: bool, shuffle: Any
) -> None:
    """CR, LF, NUL, non-Latin-1 bytes and junk in every header the endpoint reads (Host, Origin,
    Accept, Content-Type, Content-Length, Authorization, MCP-Protocol-Version, Mcp-Method, Mcp-Name),
    headers repeated; a valid tool call otherwise."""
    payload = rpc(era, "tools/call", {"name": tool, "arguments": {"thing_id": 1}})
    body = encode(payload)
    headers = era_headers(era, "tools/call", tool)
    headers.append((b"content-length", str(len(body)).encode()))
    if target == b"origin":
        headers.append((b"origin", b"http://127.0.0.1:8000"))
    if target == b"authorization":
        headers.append((b"authorization", b"Bearer x"))
    if target in ROUTING and not any(k == target for k, _ in headers):
        headers.append((target, b""))
    index = next(i for i, (k, _) in enumerate(headers) if k == target)
    corrupted = (target, corrupt(headers[index][1], how, extra))
    if duplicate:
        headers.insert(index + 1, corrupted)
    else:
        headers[index] = corrupted
    if shuffle is not None:
        shuffle.shuffle(headers)
    outcome = send_request(body, headers)
    check_reply(outcome, body)
    check_routes({tool: 1})


@pytest.mark.parametrize("era", ERAS)
@fuzz(500)
@given(params=tool_call_params(), id=st.one_of(st.integers(), st.text(max_size=8)))
@example(params={"name": "get_thing", "arguments": {"thing_id": 1}, "_meta": {"progressToken": True}}, id=1)
@example(params={"name": "stream", "arguments": {"count": 2}, "_meta": {"progressToken": True}}, id=1)
@example(params={"name": "stream", "arguments": {"count": 2}, "_meta": {"progressToken": 1.5}}, id=1)
@example(params={"name": "cookie_echo", "arguments": {"session": "a; admin=1"}}, id=1)
@example(params={"name": "cookie_echo", "arguments": {"session": "\u20ac"}}, id=1)
@example(params={"name": "header_echo", "arguments": {"x-token": "\u20ac"}}, id=1)
@example(params={"name": "header_echo", "arguments": {"x-token": "a\r\nX-Injected: 1"}}, id=1)
@example(params={"name": "form_echo", "arguments": {"title": "a&b=c\r\n", "note": "\u20ac"}}, id=1)
@example(params={"name": "echo_body", "arguments": {"data": deep(252)}}, id=1)
@example(params={"name": "nest", "arguments": {"depth": 300}}, id=1)
@example(params={"name": "big_text", "arguments": {"size": 300_000}}, id=1)
def test_tool_calls(era: str, params: dict[str, Any], id: int | str) -> None:
    """Tool calls with adversarial names and arguments (values bound for path, query, header, cookie
    and body parameters; wrong types; huge numbers; deep nesting) and progress tokens of every type."""
    payload = rpc(era, "tools/call", params, id)
    body = encode(payload)
    parsed = loads_as_served(body) if valid_json(body) else None
    outcome = send_request(body, routing_headers_for(era, parsed))
    replies = check_reply(outcome, body)
    check_routes(called_tools(parsed))
    if isinstance(parsed, dict):
        token = ((parsed.get("params") or {}).get("_meta") or {}).get("progressToken")
        for message in replies:
            if message.get("method") == "notifications/progress":
                assert same(message["params"]["progressToken"], token), (
                    f"progress for another token: {message} (request token {token!r})"
                )
    arguments = parsed["params"].get("arguments") if isinstance(parsed, dict) else None
    if isinstance(arguments, dict):
        check_parameters_arrived(arguments)


def check_parameters_arrived(arguments: Mapping[str, Any]) -> None:
    """String arguments bound for a query, header, cookie or form field reach the route as given
    (after what HTTP parsing itself does to them), or the call is refused before the route runs."""
    if "header_echo" in RUNS and isinstance(arguments.get("x-token"), str):
        assert SEEN["header_echo"] == arguments["x-token"], f"header argument arrived as {SEEN['header_echo']!r}"
    if "cookie_echo" in RUNS and isinstance(arguments.get("session"), str):
        sent = arguments["session"]
        # Starlette's own parse of the Cookie header strips blanks and unquotes, over HTTP as well.
        expected = cookie_parser(f"session={sent}").get("session")
        assert SEEN["cookie_echo"] == expected, f"cookie argument {sent!r} arrived as {SEEN['cookie_echo']!r}"
    if "search" in RUNS and isinstance(arguments.get("q"), str):
        assert SEEN["search"][0] == arguments["q"], f"query argument arrived as {SEEN['search'][0]!r}"
    if "form_echo" in RUNS and isinstance(arguments.get("title"), str):
        assert SEEN.get("form_echo", (None,))[0] in (None, arguments["title"]), SEEN


PARAM_HEADERS = {"region": (b"mcp-param-region", "string"), "limit": (b"mcp-param-limit", "integer")}
PARAM_HEADERS["flag"] = (b"mcp-param-flag", "boolean")


def header_text(value: Any) -> str | None:
    """How a client renders an argument into its ``Mcp-Param-*`` header."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return None


def decoded_header(raw: bytes) -> str | None:
    """SEP-2243 decoding: ``=?base64?…?=`` is base64 of UTF-8, anything else is the value itself."""
    text = raw.decode("latin-1").strip(" \t")
    if text.startswith("=?base64?") and text.endswith("?="):
        try:
            return base64.b64decode(text[9:-2], validate=True).decode("utf-8")
        except ValueError:
            return None
    return text


def agrees(kind: str, value: Any, raw: bytes) -> bool:
    """Whether one ``Mcp-Param-*`` header states the same value as the argument."""
    decoded = decoded_header(raw)
    if decoded is None:
        return False
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(decoded) == float(value)
        except ValueError:
            return False
    return decoded == header_text(value)


@st.composite
def param_header_values(draw: st.DrawFn, value: Any) -> list[bytes]:
    """What a client (or an attacker) puts in an ``Mcp-Param-*`` header for ``value``: nothing, the
    right rendering (plain or base64), a wrong one, CR/LF/NUL, broken base64, or several headers."""
    text = header_text(value)
    right = [routing_value(text)] if text is not None else []
    choices = st.one_of(
        st.just(right),
        st.just([b"=?base64?" + base64.b64encode(text.encode()) + b"?="] if text is not None else []),
        st.just([]),
        header_bytes.map(lambda b: [b]),
        st.just([*right, *right]),
        header_bytes.map(lambda b: [*right, b]),
        header_bytes.map(lambda b: [b, *right]),
        st.sampled_from([[b"=?base64?###?="], [b"=?base64?YQ?="], [b"=?base64?/w==?="], [b" 1 "], [b"1.0"]]),
    )
    return list(draw(choices))


@pytest.mark.parametrize("era", ERAS)
@fuzz(300)
@given(data=st.data())
def test_param_headers(era: str, data: st.DataObject) -> None:
    """``Mcp-Param-*`` headers (2026-07-28, from ``x-mcp-header``) against their arguments: in
    2026-07-28 the route runs only when every such header states its argument's value (absent when
    the argument is absent); a mismatch is -32020 with no route run. The handshake era ignores them."""
    arguments: dict[str, Any] = {
        "region": data.draw(st.one_of(st.sampled_from(["eu", "us-1"]), nasty_text, st.integers())),
        "limit": data.draw(st.one_of(st.none(), st.integers(), st.just(5), st.just("5"), st.floats(-1e6, 1e6))),
        "flag": data.draw(st.one_of(st.none(), st.booleans(), st.just("true"))),
    }
    arguments = {k: v for k, v in arguments.items() if v is not None or data.draw(st.booleans())}
    headers = era_headers(era, "tools/call", "region")
    sent: dict[str, list[bytes]] = {}
    for argument, (header, _) in PARAM_HEADERS.items():
        values = data.draw(param_header_values(arguments.get(argument)))
        sent[argument] = values
        spelled = data.draw(st.sampled_from([header, header.upper(), header.title()]))
        headers += [(spelled, value) for value in values]
    body = encode(rpc(era, "tools/call", {"name": "region", "arguments": arguments}))
    outcome = send_request(body, headers)
    replies = check_reply(outcome, body)
    check_routes({"region": 1})
    if era != "modern" or "region" not in RUNS:
        return
    for argument, (header, kind) in PARAM_HEADERS.items():
        value = arguments.get(argument)
        values = sent[argument]
        if value is None:
            assert not values, f"{header!r} sent without argument {argument!r}, yet the route ran: {replies}"
        else:
            assert values, f"argument {argument!r} sent without {header!r}, yet the route ran: {replies}"
            for raw in values:
                assert agrees(kind, value, raw), (
                    f"{header!r}: {raw!r} does not state argument {argument!r}={value!r}, yet the route ran"
                )


def as_path_text(value: Any) -> str | None:
    """The text a path parameter must arrive as (None when only its route matters)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return None


@pytest.mark.parametrize("era", ERAS)
@fuzz(500)
@given(
    tool=st.sampled_from(["echo_path", "pair", "file", "get_thing", "delete_thing"]),
    # (an integer beyond 64 bits is refused before any route runs: test_endpoint covers that)
    a=st.one_of(nasty_text, st.integers(-(2**63), 2**64 - 1), st.booleans()),
    b=st.one_of(nasty_text, st.integers(-(2**63), 2**64 - 1)),
)
@example(tool="echo_path", a="..", b="")
@example(tool="echo_path", a="%2e%2e", b="")
@example(tool="echo_path", a="../secret", b="")
@example(tool="echo_path", a="..%2Fsecret", b="")
@example(tool="echo_path", a="a?b#c", b="")
@example(tool="echo_path", a="..\\secret", b="")
@example(tool="echo_path", a="\u2025", b="")
@example(tool="pair", a="..", b="..")
@example(tool="pair", a="x", b=".")
@example(tool="file", a="../../secret", b="")
@example(tool="file", a="\n/", b="")
@example(tool="file", a="%2e%2e%2fsecret", b="")
@example(tool="get_thing", a="1?q=x", b="")
@example(tool="get_thing", a="1#x", b="")
@example(tool="delete_thing", a="1/../../secret", b="")
def test_path_parameters_stay_on_their_route(era: str, tool: str, a: Any, b: Any) -> None:
    """Path values built to escape the route (``..``, ``%2e%2e``, ``/``, ``?``, ``#``, ``\\``, unicode):
    only the tool's own route runs, and a string value arrives exactly as given (or the call is an
    error result); a value with ``/`` is refused, except by a ``{p:path}`` route (``file``), which
    gets it whole (its ``.`` and ``..`` segments are refused)."""
    names = {
        "echo_path": {"value": a},
        "pair": {"a": a, "b": b},
        "file": {"p": a},
        "get_thing": {"thing_id": a},
        "delete_thing": {"thing_id": a},
    }
    payload = rpc(era, "tools/call", {"name": tool, "arguments": names[tool]})
    body = encode(payload)
    outcome = send_request(body, era_headers(era, "tools/call", tool))
    replies = check_reply(outcome, body)
    check_routes({tool: 1})
    result = replies[-1].get("result")
    assert isinstance(result, dict), f"a call with well-formed params gets a result: {replies}"
    if tool == "echo_path" and tool in RUNS:
        assert SEEN.get("echo_path") == as_path_text(a) or as_path_text(a) is None, SEEN
    if tool == "pair" and tool in RUNS and isinstance(a, str) and isinstance(b, str):
        assert SEEN.get("pair") == (a, b), SEEN
    if tool == "file" and tool in RUNS and isinstance(a, str):  # (a line break is refused)
        assert SEEN.get("file") == a, SEEN
    texts = [as_path_text(v) for v in names[tool].values()]
    if tool != "file" and any(t is not None and "/" in t for t in texts):
        assert not RUNS, "a path value with '/' must be refused"
        assert result.get("isError") is True
    if not result.get("isError") and tool in ("echo_path", "pair", "file"):
        assert RUNS[tool] == 1, "a successful result comes from the tool's own route"


@pytest.mark.parametrize("era", ERAS)
@fuzz(80)
@given(depth=DEPTHS, where=st.sampled_from(["echo_body", "nest"]))
@example(depth=252, where="echo_body")
@example(depth=300, where="nest")
@example(depth=1_020, where="nest")
def test_deep_results(era: str, depth: int, where: str) -> None:
    """A route whose JSON answer is nested deeply (echoed from the arguments, or built by the route)."""
    arguments: dict[str, Any] = {"data": deep(depth)} if where == "echo_body" else {"depth": depth}
    body = encode(rpc(era, "tools/call", {"name": where, "arguments": arguments}))
    outcome = send_request(body, era_headers(era, "tools/call", where))
    check_reply(outcome, body)
    check_routes({where: 1})


@pytest.mark.parametrize("depth", [100, 252, 300, 1_020])
@pytest.mark.parametrize("version", [None, "2024-11-05"])
def test_deep_results_in_a_batch(depth: int, version: str | None) -> None:
    """The same in a 2025-03-26 / 2024-11-05 batch, whose replies are one JSON array."""
    batch = [
        rpc("handshake", "tools/call", {"name": "nest", "arguments": {"depth": depth}}, 1),
        rpc("handshake", "tools/call", {"name": "echo_body", "arguments": {"data": deep(min(depth, 252))}}, 2),
        rpc("handshake", "tools/list", id=3),
    ]
    body = encode(batch)
    headers = base_headers() + ([(b"mcp-protocol-version", version.encode())] if version else [])
    outcome = send_request(body, headers)
    replies = check_reply(outcome, body)
    check_routes({"nest": 1, "echo_body": 1})
    assert sorted(r["id"] for r in replies) == [1, 2, 3], replies


@pytest.mark.parametrize("era", ERAS)
@fuzz(80)
@given(
    size=st.one_of(
        st.integers(0, BODY_LIMIT * 3), st.sampled_from([BODY_LIMIT - 1, BODY_LIMIT, BODY_LIMIT + 1, BODY_LIMIT * 64])
    ),
    declared=st.sampled_from(["true", "none", "small", "zero", "big", "huge", "junk"]),
    chunks=st.integers(1, 9),
)
def test_body_sizes(era: str, size: int, declared: str, chunks: int) -> None:
    """Bodies around and far beyond ``max_body_bytes``, in 1–9 chunks, with a true, absent, lying or
    junk Content-Length: over the limit is 413, at or under it is read and answered."""
    message = encode(rpc(era, "tools/list"))
    body = message + b" " * max(0, size - len(message))
    headers = era_headers(era, "tools/list")
    lengths = {
        "true": str(len(body)).encode(),
        "small": b"3",
        "zero": b"0",
        "big": str(BODY_LIMIT + 1).encode(),
        "huge": b"9" * 40,
        "junk": b"12abc",
    }
    if declared in lengths:
        headers.append((b"content-length", lengths[declared]))
    outcome = send_request(body, headers, chunks=chunks)
    check_reply(outcome, body)
    if len(body) > BODY_LIMIT or declared in ("big", "huge"):
        assert outcome.status == 413, outcome
    else:
        assert outcome.status == 200, outcome
        assert "result" in orjson.loads(outcome.body), outcome.body


def test_default_body_limit_is_4_mib() -> None:
    app = fuzz_app()
    message = encode(rpc("handshake", "tools/list"))
    limit = 4 * 1024 * 1024
    at_limit = message + b" " * (limit - len(message))
    assert send_request(at_limit, base_headers(), app=app, chunks=7).status == 200
    over = at_limit + b" "
    outcome = send_request(over, base_headers(), app=app, chunks=7)
    assert outcome.status == 413
    check_reply(outcome, over)


@pytest.mark.parametrize("era", ERAS)
@fuzz(40)
@given(
    method=st.one_of(
        st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "post"]),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
    ),
    path=st.sampled_from(["/mcp", "/mcp/"]),
)
def test_other_http_methods(era: str, method: str, path: str) -> None:
    """Anything but POST on the endpoint is 405 with ``Allow: POST``, and runs nothing."""
    if method == "POST":
        return
    body = encode(rpc(era, "tools/call", {"name": "get_thing", "arguments": {"thing_id": 1}}))
    outcome = send_request(body, era_headers(era, "tools/call", "get_thing"), method=method, path=path)
    assert outcome.status == 405
    check_reply(outcome, body)
    check_routes({})


# -- a route's own event stream, however it is cut into chunks ------------------------------------

# An event stream as its lines: a field, a comment or a blank line (which ends an event), some with
# non-ASCII values; each with any of the three line breaks; and where the body is cut around it.
SSE_LINES = st.lists(
    st.tuples(
        st.sampled_from(["", "data: x", "data:", "data", "data: é€😀", "event: e", "id: 7", ": note", "retry: 5"]),
        st.sampled_from(["\n", "\r", "\r\n"]),
        st.sets(st.sampled_from(["in the line", "in the break", "after"])),
    ),
    max_size=20,
)


@fuzz(300)
@given(lines=SSE_LINES, bom=st.booleans())
@example(lines=[("data: x", "\r\n", {"in the break", "after"}), ("", "\n", set()), ("data: y", "\n", set())], bom=False)
def test_an_event_stream_gives_the_same_events_however_it_is_cut(
    lines: list[tuple[str, str, set[str]]], bom: bool
) -> None:
    """The data of each event a route streams (progress messages) and the result's text do not
    depend on where the body is cut into chunks: inside a line (or a UTF-8 character), between the
    CR and LF of a line break, after a line (so a chunk may be a lone CR or LF), or into empty chunks."""
    body = "\ufeff".encode() if bom else b""
    cuts = []
    for line, end, where in lines:
        text, brk = line.encode(), end.encode()
        if "in the line" in where:
            cuts.append(len(body) + len(text) // 2)
        if "in the break" in where:
            cuts.append(len(body) + len(text) + 1)
        body += text + brk
        if "after" in where:
            cuts += [len(body), len(body)]  # and an empty chunk
    bounds = [0, *sorted(cuts), len(body)]
    chunks = [body[start:end] for start, end in itertools.pairwise(bounds)]
    note(repr(chunks))
    whole = ResponseCollector(path="/e", structured=False, max_text=1000, max_binary=1000)
    whole.head(200, [(b"content-type", b"text/event-stream")])
    expected = whole.feed(body, False)
    cut = ResponseCollector(path="/e", structured=False, max_text=1000, max_binary=1000)
    cut.head(200, [(b"content-type", b"text/event-stream")])
    seen: list[str] = []
    for chunk in chunks:
        seen += cut.feed(chunk, True)
    seen += cut.feed(b"", False)
    assert seen == expected
    assert cut.result() == whole.result()
