"""Drive the ASGI app in-process: a recording ``send``, a scripted ``receive``, no sockets, no sleeps."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from starlette.types import ASGIApp, Message

MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
BASE_HEADERS = {"accept": ACCEPT, "content-type": "application/json", "host": "127.0.0.1:8000"}
CAPS: dict[str, Any] = {"elicitation": {}, "sampling": {}}


def meta(version: str = MODERN, **extra: Any) -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": CAPS,
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
        **extra,
    }


def request(method: str, params: dict[str, Any] | None = None, id: int | str = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        body["params"] = params
    return body


def modern_request(method: str, params: dict[str, Any] | None = None, id: int | str = 1, **m: Any) -> dict[str, Any]:
    return request(method, {**(params or {}), "_meta": meta(**m)}, id)


def modern_headers(method: str, name: str | None = None, version: str = MODERN) -> dict[str, str]:
    headers = {**BASE_HEADERS, "mcp-protocol-version": version, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    return headers


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    more_flags: list[bool] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return orjson.loads(self.body)

    def events(self) -> list[dict[str, Any]]:
        """Every JSON-RPC message of an SSE body, in order."""
        out: list[dict[str, Any]] = []
        for block in self.body.decode().split("\n\n"):
            data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
            if data and "".join(data):
                out.append(orjson.loads("\n".join(data)))
        return out

    def messages(self) -> list[dict[str, Any]]:
        if self.content_type.startswith("text/event-stream"):
            return self.events()
        value = self.json()
        return value if isinstance(value, list) else [value]

    def result(self) -> dict[str, Any]:
        final = self.messages()[-1]
        assert "result" in final, final
        result: dict[str, Any] = final["result"]
        return result

    def error(self) -> dict[str, Any]:
        final = self.messages()[-1]
        assert "error" in final, final
        return final


def asgi_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An HTTP scope as a server would hand it over (raw, lower-case header names)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


class Exchange:
    """One request to an ASGI app, observable while it runs."""

    def __init__(
        self,
        app: ASGIApp,
        body: bytes | Any,
        headers: Mapping[str, str] | None = None,
        *,
        method: str = "POST",
        path: str = "/mcp",
        body_chunks: int = 1,
        query_string: bytes = b"",
    ) -> None:
        self.app = app
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        step = max(1, -(-len(raw) // body_chunks)) if raw else 1
        self._body = [raw[i : i + step] for i in range(0, len(raw), step)] or [b""]
        hdrs = dict(BASE_HEADERS if headers is None else headers)
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in hdrs.items()]
        self.scope = asgi_scope(method, path, raw_headers)
        self.scope["query_string"] = query_string  # the URL's, as a server hands it over (raw)
        self.reply = Reply(0, {}, [])
        self.started = anyio.Event()
        self.chunk_seen = anyio.Event()
        self.done = anyio.Event()
        self.disconnect = anyio.Event()
        self.body_gate: anyio.Event | None = None  # set by a test to hold each send until released

    async def receive(self) -> Message:
        if self._body:
            chunk = self._body.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self._body)}
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            assert self.reply.status == 0, "response started twice"
            self.reply.status = message["status"]
            self.reply.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            self.started.set()
            return
        assert message["type"] == "http.response.body"
        assert self.reply.status, "body before start"
        assert not self.done.is_set(), "body after the end of the response"
        if self.body_gate is not None:
            await self.body_gate.wait()
        self.reply.chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
        self.reply.more_flags.append(more)
        self.chunk_seen.set()
        self.chunk_seen = anyio.Event()
        if not more:
            self.done.set()

    async def run(self) -> Reply:
        await self.app(self.scope, self.receive, self.send)
        return self.reply


async def plain_post(app: ASGIApp, body: Any, headers: Mapping[str, str]) -> bytes:
    """One POST through ``app`` with the least machinery of our own (no events, no task group),
    for tests that count what a call leaves behind; the reply's body. After the body, the client
    just stays (a watcher reading ``receive`` waits until it is cancelled)."""
    chunks: list[bytes] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": orjson.dumps(body), "more_body": False}
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(Exchange(app, body, headers).scope, receive, send)
    return b"".join(chunks)


async def left_for_the_collector(
    app: ASGIApp, body: Any, headers: Mapping[str, str], calls: int = 1
) -> tuple[bytes, int]:
    """Post ``body`` ``calls`` times (after one call that builds the catalog and caches) with the
    cycle collector off: the last reply, and how many objects made during the calls they left for
    the collector (0 when reference counting freed everything, as it should). Objects that existed
    before do not count: an earlier test's leftovers (FastAPI's models of another app, dropped when
    a task of that test ends while these calls run the loop) are not these calls' garbage. They are
    held until the count is done, not only their id()s: a freed one's address could be reused by
    an object the calls made, which would then not count."""
    await plain_post(app, body, headers)
    gc.collect()
    gc.disable()
    older = gc.get_objects()
    before = {id(thing) for thing in older}
    try:
        with anyio.fail_after(10):
            for _ in range(calls):
                reply = await plain_post(app, body, headers)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return reply, sum(id(thing) not in before for thing in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        del older
        gc.enable()


async def post(app: ASGIApp, body: bytes | Any, headers: Mapping[str, str] | None = None, **kw: Any) -> Reply:
    return await Exchange(app, body, headers, **kw).run()


async def call_legacy(app: ASGIApp, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Reply:
    return await post(app, request(method, params), **kw)


async def call_modern(
    app: ASGIApp, method: str, params: dict[str, Any] | None = None, name: str | None = None
) -> Reply:
    return await post(app, modern_request(method, params), modern_headers(method, name))


async def call_tool(app: ASGIApp, era: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The result of ``tools/call name`` in ``era`` ("legacy": the handshake era, else 2026-07-28)."""
    params = {"name": name, "arguments": arguments}
    if era == "legacy":
        return (await call_legacy(app, "tools/call", params)).result()
    return (await call_modern(app, "tools/call", params, name=name)).result()


async def tool_result(
    app: ASGIApp, version: str, name: str, arguments: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The result of ``tools/call name`` under the protocol ``version`` (MODERN: 2026-07-28, with its
    own result fields left out; else a handshake revision's header), ``headers`` added to the request."""
    params = {"name": name, "arguments": arguments or {}}
    if version == MODERN:
        body, sent = modern_request("tools/call", params), modern_headers("tools/call", name)
    else:
        body, sent = request("tools/call", params), {**BASE_HEADERS, "mcp-protocol-version": version}
    reply = await post(app, body, {**sent, **(headers or {})})
    result: dict[str, Any] = reply.result()
    return {key: value for key, value in result.items() if key not in ("_meta", "resultType")}


def result_json(result: dict[str, Any]) -> Any:
    """The JSON of a successful tool result's text."""
    assert result.get("isError") is not True, result
    return orjson.loads(result["content"][0]["text"])


def refusal_text(result: dict[str, Any]) -> str:
    """The text of an ``isError`` tool result."""
    assert result.get("isError") is True, result
    message: str = result["content"][0]["text"]
    return message


def cancelled(request_id: Any, **params: Any) -> dict[str, Any]:
    """A ``notifications/cancelled`` for ``request_id`` (handshake era)."""
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id, **params}}


async def cancel_midway(
    ex: Exchange,
    reached: anyio.Event,
    cancel: dict[str, Any],
    then: Callable[[], Awaitable[None]],
    headers: Mapping[str, str] | None = None,
    guard: float = 10,
) -> None:
    """Run ``ex``; once ``reached`` is set, POST ``cancel`` (a notification: 202), then await
    ``then()`` (also when that POST fails, so a route held by the test is let go), all within
    ``guard`` seconds."""
    with anyio.fail_after(guard):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await reached.wait()
            try:
                assert (await Exchange(ex.app, cancel, headers).run()).status == 202
            finally:
                await then()
