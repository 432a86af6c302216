"""FastAPI apps the tests drive. Streaming routes are gated by events the tests control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Response
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse as FastAPIEventSource
from pydantic import BaseModel
from sse_starlette import EventSourceResponse as StarletteEventSource
from starlette.types import Receive, Scope, Send

from mcp_middleware import (
    Elicit,
    ListRoots,
    MCPContext,
    MCPMiddleware,
    MCPResponse,
    Sample,
    content,
    declare,
    mcp_context,
)

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005050200"
    "5fc8f1d20000000049454e44ae426082"
)


class SilentResponse(Response):
    """Breaks the ASGI contract: returns without sending anything."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


class HalfResponse(Response):
    """Starts a response, sends part of it, then fails."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("broke mid-body")


class Thing(BaseModel):
    id: int
    name: str
    q: str | None = None


class NewThing(BaseModel):
    name: str
    size: int = 1


@dataclass
class Gates:
    """Lets a test hold a streaming route between chunks and see whether it was cancelled."""

    release: list[anyio.Event] = field(default_factory=lambda: [anyio.Event() for _ in range(8)])
    produced: list[anyio.Event] = field(default_factory=lambda: [anyio.Event() for _ in range(8)])
    cancelled: anyio.Event = field(default_factory=anyio.Event)
    finished: anyio.Event = field(default_factory=anyio.Event)
    seen_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def released(cls) -> Gates:
        """Gates that let every chunk through at once."""
        gates = cls()
        for gate in gates.release:
            gate.set()
        return gates

    async def tokens(self, count: int = 3) -> AsyncIterator[str]:
        try:
            for i in range(count):
                self.produced[i].set()
                yield f"t{i} "
                await self.release[i].wait()
            self.finished.set()
        except BaseException:
            self.cancelled.set()
            raise


async def needs_user(authorization: Annotated[str | None, Header()] = None) -> str:
    if authorization is None:
        raise HTTPException(401, "Not authenticated")
    return authorization


def mcp_of(app: Any) -> MCPMiddleware:
    """The middleware instance inside a built app (to look at its in-flight calls)."""
    layer = app.middleware_stack
    while not isinstance(layer, MCPMiddleware):
        layer = layer.app
    return layer


def build_app(gates: Gates | None = None, **options: Any) -> FastAPI:
    gates = gates or Gates()
    app = FastAPI(title="Test API", version="9.9", description="Things for tests")
    app.state.gates = gates

    @app.get("/things/{thing_id}", operation_id="get_thing", tags=["things"])
    async def get_thing(thing_id: int, q: str | None = None) -> Thing:
        if thing_id == 404:
            raise HTTPException(404, "no such thing")
        return Thing(id=thing_id, name=f"thing-{thing_id}", q=q)

    @app.post("/things", operation_id="create_thing", tags=["things"], status_code=201)
    async def create_thing(thing: NewThing) -> Thing:
        return Thing(id=7, name=thing.name)

    @app.delete("/things/{thing_id}", operation_id="delete_thing", tags=["admin"])
    async def delete_thing(thing_id: int) -> dict[str, bool]:
        return {"deleted": True}

    @app.get("/echo-path/{value}", operation_id="echo_path")
    async def echo_path(value: str) -> dict[str, str]:
        return {"value": value}

    @app.get("/secret", operation_id="secret")
    async def secret(authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
        if authorization != "Bearer good":
            raise HTTPException(401, "Not authenticated")
        return {"secret": "42"}

    @app.get("/headers", operation_id="seen_headers")
    async def seen(x_trace: Annotated[str | None, Header()] = None, authorization: str | None = Header(None)) -> Any:
        return {"x_trace": x_trace, "authorization": authorization}

    @app.get("/boom", operation_id="boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/text", operation_id="plain_text")
    async def text() -> Response:
        return Response("hello text", media_type="text/plain")

    @app.get("/png", operation_id="png")
    async def png() -> Response:
        return Response(PNG, media_type="image/png")

    @app.get("/pdf", operation_id="pdf")
    async def pdf() -> Response:
        return Response(b"%PDF-1.4 fake", media_type="application/pdf")

    @app.get("/list", operation_id="list_numbers")
    async def numbers(n: Annotated[list[int] | None, Query()] = None) -> list[int]:
        return n or []

    @app.get("/stream", operation_id="stream_plain")
    async def stream_plain() -> StreamingResponse:
        return StreamingResponse(gates.tokens(), media_type="text/plain")

    @app.get("/sse-fastapi", operation_id="stream_fastapi_sse", response_class=FastAPIEventSource)
    async def stream_fastapi_sse() -> AsyncIterator[str]:
        async for token in gates.tokens():
            yield token

    @app.get("/sse-starlette", operation_id="stream_starlette_sse")
    async def stream_starlette_sse() -> StarletteEventSource:
        async def events() -> AsyncIterator[dict[str, str]]:
            async for token in gates.tokens():
                yield {"data": token}

        return StarletteEventSource(events())

    @app.get("/jsonl", operation_id="stream_jsonl")
    async def stream_jsonl() -> AsyncIterator[Thing]:
        async for token in gates.tokens():
            yield Thing(id=1, name=token)

    @app.get("/binary-stream", operation_id="binary_stream")
    async def binary_stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            async for token in gates.tokens():
                yield token.encode() + b"\x00\xff"

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.get("/slow", operation_id="slow")
    async def slow() -> dict[str, str]:
        try:
            gates.produced[0].set()
            await gates.release[0].wait()
        except BaseException:
            gates.cancelled.set()
            raise
        return {"slow": "done"}

    @app.get("/silent", operation_id="silent")
    async def silent() -> Response:
        return SilentResponse()

    @app.get("/half", operation_id="half")
    async def half() -> Response:
        return HalfResponse()

    @app.post("/ctx/progress", operation_id="ctx_progress")
    async def ctx_progress(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        for step in (1, 2, 3):
            await ctx.report_progress(step, 3, f"step {step}")
            await ctx.log("info", f"log {step}")
        await ctx.log("debug", "a debug line")
        return {"active": ctx.active, "tool": ctx.tool, "version": ctx.protocol_version}

    @app.post("/ctx/elicit", operation_id="ctx_elicit")
    async def ctx_elicit(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        # "n": where tests put a big integer (answers are checked against the schema)
        properties = {"name": {"type": "string"}, "n": {"type": "integer"}}
        schema = {"type": "object", "properties": properties, "required": ["name"]}
        answer = await ctx.elicit("What is your name?", schema, key="user_name")
        return {"greeting": f"Hello, {answer.get('content', {}).get('name')}!", "action": answer["action"]}

    @app.post("/ctx/multi", operation_id="ctx_multi")
    async def ctx_multi(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        answers = await ctx.ask(
            {
                "user_name": Elicit("Name?", {"type": "object", "properties": {"name": {"type": "string"}}}),
                "greeting": Sample([{"role": "user", "content": {"type": "text", "text": "Hi"}}], 50),
                "client_roots": ListRoots(),
            },
            state="multi-1",
        )
        return {"keys": sorted(answers), "state": ctx.request_state}

    @app.post("/ctx/rounds", operation_id="ctx_rounds")
    async def ctx_rounds(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        name_schema = {"type": "object", "properties": {"name": {"type": "string"}}}
        if ctx.request_state is None:
            await ctx.elicit("Step 1?", name_schema, key="step1", state="r1")
        if ctx.request_state == "r1":
            await ctx.elicit("Step 2?", name_schema, key="step2", state="r2")
        return {"done": ctx.request_state}

    @app.post("/ctx/touch", operation_id="ctx_touch")
    async def ctx_touch(uri: str, ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, str]:
        await ctx.resource_updated(uri)
        return {"touched": uri}

    @app.post("/ctx/change", operation_id="ctx_change")
    async def ctx_change(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, bool]:
        await ctx.tools_changed()
        return {"changed": True}

    @app.get("/rich", operation_id="rich")
    async def rich() -> MCPResponse:
        return MCPResponse(
            [
                content.text("Multiple content types test:"),
                content.image(PNG, "image/png"),
                content.embedded_resource("test://mixed", text='{"a":1}', mime_type="application/json"),
                content.resource_link("test://static-text", "static"),
            ],
            structured={"a": 1},
        )

    @app.get("/rich-error", operation_id="rich_error")
    async def rich_error() -> MCPResponse:
        return MCPResponse("nope", is_error=True)

    @app.get("/docs/readme", openapi_extra=declare.resource("test://readme", mime_type="text/markdown"))
    async def readme() -> Response:
        return Response("# Readme", media_type="text/markdown")

    @app.get("/docs/logo", openapi_extra=declare.resource("test://logo", name="logo", description="The logo"))
    async def logo() -> Response:
        return Response(PNG, media_type="image/png")

    @app.get(
        "/items-resource/{item_id}",
        openapi_extra=declare.resource_template(
            "test://items/{item_id}",
            name="item",
            mime_type="application/json",
            completions={"item_id": ["1", "12", "2"]},
        ),
    )
    async def item_resource(item_id: str) -> dict[str, Any]:
        if item_id == "missing":
            raise HTTPException(404, "no such item")
        return {"id": item_id, "data": f"Data for ID: {item_id}"}

    @app.get(
        "/prompts/greet",
        openapi_extra=declare.prompt("greet", description="Greets", completions={"style": ["formal", "friendly"]}),
    )
    async def greet_prompt(name: str, style: str = "friendly") -> str:
        return f"Greet {name} in a {style} way."

    @app.get("/prompts/pair", openapi_extra=declare.prompt("pair"))
    async def pair_prompt() -> dict[str, Any]:
        return {
            "description": "two messages",
            "messages": [
                {"role": "user", "content": {"type": "image", "data": "aGk=", "mimeType": "image/png"}},
                "Please analyze the image above.",
            ],
        }

    @app.get("/prompts/ask", openapi_extra=declare.prompt("ask_context"))
    async def ask_prompt(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> str:
        schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
        answer = await ctx.elicit("What context should the prompt use?", schema, key="user_context")
        return f"Prompt with context: {answer['content']['context']}"

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> dict[str, str]:
        return {"hidden": "yes"}

    @app.get("/me", operation_id="me")
    async def me(user: Annotated[str, Depends(needs_user)]) -> dict[str, str]:
        return {"user": user}

    app.add_middleware(MCPMiddleware, **options)
    return app
