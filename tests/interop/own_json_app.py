"""A route declared ``-> Item`` (so its tool has an output schema requiring ``id`` and ``name``)
that sometimes answers a ``JSONResponse`` of its own, as routes do for "accepted, still
processing" answers; and routes whose body is no object (``list[Item]``, ``Item | None``), whose
tools' structured content is the body wrapped in ``result`` (the list one also answers an object of
its own); served by ``test_python_client`` for the official client."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware

app = FastAPI(title="Own JSON")


class Item(BaseModel):
    id: int
    name: str


@app.get("/items/{iid}", operation_id="get_item")
async def get_item(iid: int) -> Item:
    if iid == 0:
        return JSONResponse({"status": "pending", "retry_after": 5}, status_code=202)  # type: ignore[return-value]
    return Item(id=iid, name="x")


@app.get("/items", operation_id="list_items", response_model=list[Item])
async def list_items(limit: int = 2) -> Any:
    if limit == 0:
        return JSONResponse({"status": "pending"}, status_code=202)
    return [Item(id=i, name=f"item-{i}") for i in range(1, limit + 1)]


@app.get("/find", operation_id="find_item")
async def find_item(name: str) -> Item | None:
    return Item(id=1, name=name) if name else None


app.add_middleware(MCPMiddleware)
