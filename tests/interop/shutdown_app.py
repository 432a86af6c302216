"""An app whose route asks the user a question and says how asking ended, served by
``test_question_shutdown`` (a handshake-era question pending when uvicorn is told to stop)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI

from mcp_middleware import ClientRequestError, MCPContext, MCPMiddleware, mcp_context

SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}

app = FastAPI(title="Shutdown")


@app.post("/confirm", operation_id="confirm")
async def confirm(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
    """Ask the user to confirm; what they answered, or why no answer came."""
    try:
        return {"answer": await ctx.elicit("Go ahead?", SCHEMA)}
    except ClientRequestError as exc:
        return {"refused": exc.error, "method": exc.method}


app.add_middleware(MCPMiddleware)  # ask_timeout: the default 600 s
