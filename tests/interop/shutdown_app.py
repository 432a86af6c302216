"""An app whose route asks the user a question and says how asking ended, served by
``test_question_shutdown`` (a handshake-era question pending when uvicorn is told to stop), and a
route that streams one chunk and then never ends, served by ``test_shutdown_cancel`` (a call still
running when uvicorn's ``--timeout-graceful-shutdown`` runs out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse

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


@app.post("/chat", operation_id="chat")
async def chat() -> StreamingResponse:
    """One token, then nothing until the server cancels the call."""

    async def tokens() -> AsyncIterator[str]:
        yield "tok0 "
        await anyio.sleep_forever()
        yield "never"

    return StreamingResponse(tokens(), media_type="text/plain")


app.add_middleware(MCPMiddleware)  # ask_timeout: the default 600 s
