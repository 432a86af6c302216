"""The benchmark app: three small routes, served bare and behind ``MCPMiddleware``.

* ``GET /items/{item_id}?q=``  (``get_item``)    → a small pydantic model;
* ``POST /items``               (``create_item``) → echoes a pydantic body with an id (201);
* ``GET /stream?n=&delay_ms=``  (``stream``)      → ``n`` small text tokens; the first is yielded at
  once, the next ones ``delay_ms`` apart (0: no sleep, only a yield to the event loop).

``bare`` has no middleware; ``app`` is the same routes plus ``app.add_middleware(MCPMiddleware)``.
Both come from :func:`build_app`, so they differ by the middleware only. Both are module attributes
built on first access (PEP 562), and ``mcp_middleware`` is imported only to build ``app``: a server
running ``bare`` never loads the middleware or the MCP SDK's types (about 12 MiB), which keeps the
memory comparison of ``benchmarks/load.py`` honest.

    uvicorn benchmarks.app:bare   # direct only
    uvicorn benchmarks.app:app    # direct + MCP at /mcp
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

__all__ = ["Item", "ItemIn", "app", "bare", "build_app"]


class ItemIn(BaseModel):
    name: str = Field(description="Display name")
    price: float = Field(gt=0, description="Unit price")
    tags: list[str] = Field(default_factory=list, description="Free-form labels")


class Item(ItemIn):
    id: int
    q: str | None = None


def build_app(*, mcp: bool) -> FastAPI:
    """A fresh app with the three benchmark routes; ``mcp=True`` adds ``MCPMiddleware``."""
    api = FastAPI(title="Benchmark", version="1.0.0", description="Routes used by benchmarks/.")

    @api.get("/items/{item_id}", operation_id="get_item", summary="Get one item")
    async def get_item(item_id: int, q: Annotated[str | None, Query()] = None) -> Item:
        return Item(id=item_id, name="Hammer", price=12.5, tags=["tools"], q=q)

    @api.post("/items", operation_id="create_item", summary="Create an item", status_code=201)
    async def create_item(item: ItemIn) -> Item:
        return Item(id=42, **item.model_dump())

    @api.get("/stream", operation_id="stream", summary="Stream n small text tokens")
    async def stream(
        n: Annotated[int, Query(ge=1, le=10_000)] = 8,
        delay_ms: Annotated[float, Query(ge=0, le=60_000)] = 0.0,
    ) -> StreamingResponse:
        async def tokens() -> AsyncIterator[str]:
            for i in range(n):
                if i:  # the first token goes out at once
                    await asyncio.sleep(delay_ms / 1000)
                yield f"tok{i} "

        return StreamingResponse(tokens(), media_type="text/plain")

    if mcp:
        from mcp_middleware import MCPMiddleware

        api.add_middleware(MCPMiddleware)
    return api


bare: FastAPI  # the routes alone
app: FastAPI  # the routes + MCPMiddleware


def __getattr__(name: str) -> FastAPI:
    """``bare`` and ``app``: built once, on first access."""
    if name in ("bare", "app"):
        built = globals()[name] = build_app(mcp=name == "app")
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
