"""Apps with middlewares of their own around ``MCPMiddleware``, served by ``test_python_client``
for the official client: ``outer`` has the FastAPI docs' ``@app.middleware("http")``
process-time header outside it (whose ``send`` yields in the middle of every write); ``inner``
has a ``BaseHTTPMiddleware`` inside it as well (which re-sends every response as a stream's
messages, and, relaying the route's sends from its own task, would hide what ``outer`` shows)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sse_starlette import EventSourceResponse
from starlette.middleware.base import BaseHTTPMiddleware

from mcp_middleware import MCPMiddleware

TOKENS = [f"tok{i} " for i in range(5)]


class Item(BaseModel):
    id: int
    name: str


async def passthrough(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    return await call_next(request)


async def add_process_time_header(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    start_time = time.perf_counter()
    response = await call_next(request)
    response.headers["X-Process-Time"] = str(time.perf_counter() - start_time)
    return response


def _app(with_inner: bool) -> FastAPI:
    app = FastAPI(title="Middleware stack")

    @app.get("/items/{iid}", operation_id="get_item")
    async def get_item(iid: int) -> Item:
        return Item(id=iid, name="x")

    @app.get("/chat", operation_id="chat")
    async def chat() -> StreamingResponse:
        async def tokens() -> AsyncIterator[str]:
            for token in TOKENS:
                yield token

        return StreamingResponse(tokens(), media_type="text/plain")

    @app.get("/events", operation_id="events")
    async def events() -> EventSourceResponse:
        async def stream() -> AsyncIterator[dict[str, str]]:
            for token in TOKENS:
                yield {"data": token}

        return EventSourceResponse(stream())

    if with_inner:
        app.add_middleware(BaseHTTPMiddleware, dispatch=passthrough)  # added before MCPMiddleware: inside it
    app.add_middleware(MCPMiddleware)
    app.middleware("http")(add_process_time_header)  # added after it: outside
    return app


outer = _app(with_inner=False)
inner = _app(with_inner=True)
