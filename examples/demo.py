"""A small, realistic FastAPI app served over MCP by one line: ``app.add_middleware(MCPMiddleware)``.

Run it:  uvicorn examples.demo:app   →  MCP at http://127.0.0.1:8000/mcp

* items CRUD with path, query and body parameters and response models;
* ``GET /me``, protected by an ``Authorization: Bearer <token>`` dependency (token: ``demo-token``);
* ``POST /orders``, which asks the user to confirm through MCP elicitation (``Depends(mcp_context)``);
* ``POST /chat``, which streams its answer token by token (``StreamingResponse``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from mcp_middleware import MCPContext, MCPMiddleware, mcp_context

DEMO_TOKEN = "demo-token"
CHAT_DELAY_SECONDS = 0.02

app = FastAPI(
    title="Demo Store",
    version="1.0.0",
    description="An inventory API. Items have a name, a price and tags; /chat answers in a stream.",
)


class ItemIn(BaseModel):
    name: str = Field(description="Display name of the item")
    price: float = Field(gt=0, description="Unit price in euros")
    tags: list[str] = Field(default_factory=list, description="Free-form labels")


class Item(ItemIn):
    id: int


class ItemList(BaseModel):
    items: list[Item]
    total: int


class User(BaseModel):
    name: str
    scopes: list[str]


class OrderIn(BaseModel):
    item_id: int = Field(description="The item to order")
    quantity: int = Field(default=1, ge=1, le=100, description="How many")


class Order(BaseModel):
    id: int
    item_id: int
    quantity: int
    total: float


class ChatRequest(BaseModel):
    prompt: str = Field(description="What to ask")
    tokens: int = Field(default=12, ge=1, le=500, description="How many tokens to stream back")


_items: dict[int, Item] = {
    1: Item(id=1, name="Hammer", price=12.5, tags=["tools"]),
    2: Item(id=2, name="Screwdriver", price=4.2, tags=["tools", "small"]),
}


def current_user(authorization: Annotated[str | None, Header()] = None) -> User:
    if authorization != f"Bearer {DEMO_TOKEN}":
        raise HTTPException(status_code=401, detail="Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return User(name="demo", scopes=["items:read", "items:write"])


@app.get("/items", operation_id="list_items", summary="List items", tags=["items"])
async def list_items(
    tag: Annotated[str | None, Query(description="Only items carrying this tag")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Maximum number of items")] = 20,
) -> ItemList:
    found = [item for item in _items.values() if tag is None or tag in item.tags][:limit]
    return ItemList(items=found, total=len(found))


@app.get("/items/{item_id}", operation_id="get_item", summary="Get one item", tags=["items"])
async def get_item(item_id: int) -> Item:
    if item_id not in _items:
        raise HTTPException(status_code=404, detail=f"Item {item_id} not found")
    return _items[item_id]


@app.post("/items", operation_id="create_item", summary="Create an item", status_code=201, tags=["items"])
async def create_item(item: ItemIn) -> Item:
    new = Item(id=max(_items, default=0) + 1, **item.model_dump())
    _items[new.id] = new
    return new


@app.put("/items/{item_id}", operation_id="replace_item", summary="Replace an item", tags=["items"])
async def replace_item(item_id: int, item: ItemIn) -> Item:
    if item_id not in _items:
        raise HTTPException(status_code=404, detail=f"Item {item_id} not found")
    _items[item_id] = Item(id=item_id, **item.model_dump())
    return _items[item_id]


@app.delete("/items/{item_id}", operation_id="delete_item", summary="Delete an item", tags=["items"])
async def delete_item(item_id: int) -> dict[str, bool]:
    return {"deleted": _items.pop(item_id, None) is not None}


CONFIRM_SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
_orders: list[Order] = []


@app.post("/orders", operation_id="place_order", summary="Order an item (asks the user to confirm)", tags=["orders"])
async def place_order(order: OrderIn, ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Order:
    item = _items.get(order.item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"Item {order.item_id} not found")
    total = round(item.price * order.quantity, 2)
    if ctx.active:  # over MCP, the user confirms; over plain HTTP the caller already decided
        question = f"Order {order.quantity} x {item.name} for {total:.2f} EUR?"
        answer = await ctx.elicit(question, CONFIRM_SCHEMA, key="confirm_order")
        if answer.get("action") != "accept" or not answer.get("content", {}).get("confirm"):
            raise HTTPException(status_code=409, detail="The order was not confirmed")
    placed = Order(id=len(_orders) + 1, item_id=order.item_id, quantity=order.quantity, total=total)
    _orders.append(placed)
    return placed


@app.get("/me", operation_id="whoami", summary="Who am I (needs a bearer token)", tags=["auth"])
async def whoami(user: Annotated[User, Depends(current_user)]) -> User:
    return user


@app.post("/chat", operation_id="chat", summary="Chat: streams the answer token by token", tags=["chat"])
async def chat(request: ChatRequest) -> StreamingResponse:
    async def tokens() -> AsyncIterator[str]:
        for i in range(request.tokens):
            await asyncio.sleep(CHAT_DELAY_SECONDS)
            yield f"tok{i} "

    return StreamingResponse(tokens(), media_type="text/plain")


@app.get("/health", include_in_schema=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}


app.add_middleware(MCPMiddleware)
