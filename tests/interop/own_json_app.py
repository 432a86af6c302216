"""A route declared ``-> Item`` (so its tool has an output schema requiring ``id`` and ``name``)
that sometimes answers a ``JSONResponse`` of its own, as routes do for "accepted, still
processing" answers; served by ``test_python_client`` for the official client."""

from __future__ import annotations

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


app.add_middleware(MCPMiddleware)
