"""The app ``test_nginx`` serves behind the README's sticky nginx variant and, for contrast, its
round-robin block: one route, ``confirm``, that asks the client a question (``ctx.elicit``) and
returns the answer, and ``MCPMiddleware`` with a short ``ask_timeout``, so that a handshake-era
answer that reached the other worker fails its call within seconds (the route's ``TimeoutError``:
an error result), not after the default 600 s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI

from mcp_middleware import MCPContext, MCPMiddleware, mcp_context

ASK_TIMEOUT_SECONDS = 3
QUESTION = "Go ahead?"
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}

app = FastAPI(title="nginx questions")


@app.post("/confirm", operation_id="confirm")
async def confirm(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
    answer = await ctx.elicit(QUESTION, SCHEMA)
    return {"action": answer.get("action"), "content": answer.get("content")}


app.add_middleware(MCPMiddleware, ask_timeout=ASK_TIMEOUT_SECONDS)
