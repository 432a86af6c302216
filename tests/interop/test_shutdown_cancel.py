"""A streaming ``tools/call`` still running when uvicorn's ``--timeout-graceful-shutdown`` runs out
ends with a JSON-RPC error (-32000, the server is shutting down) on its SSE stream: uvicorn cancels
the request's task, and the stream used to end there without a response ("peer closed connection
without sending complete message body").

The server has its own process (the test stops it); every wait is on the stream or the process,
bounded by a deadline, and nothing here times how fast it goes.
"""

from __future__ import annotations

import json
import signal
from typing import Any

import anyio
import httpx2
import pytest

from .servers import start_server
from .test_question_shutdown import DEADLINE_SECONDS, SHUTDOWN, exited

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
CALL = {
    "jsonrpc": "2.0",
    "id": 9,
    "method": "tools/call",
    "params": {"name": "chat", "arguments": {}, "_meta": {"progressToken": "p"}},
}


async def test_a_call_cancelled_at_the_graceful_timeout_ends_with_the_shutdown_error() -> None:
    messages: list[dict[str, Any]] = []
    with start_server("tests.interop.shutdown_app:app", extra_args=("--timeout-graceful-shutdown", "1")) as (
        url,
        proc,
    ):
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(DEADLINE_SECONDS)) as http:
            with anyio.fail_after(DEADLINE_SECONDS):
                async with http.stream("POST", url, json=CALL, headers=HEADERS) as response:
                    assert response.headers["content-type"].startswith("text/event-stream")
                    async for line in response.aiter_lines():  # ends cleanly: the whole body came
                        if not line.startswith("data:"):
                            continue
                        messages.append(json.loads(line[5:]))
                        if len(messages) == 1:  # the first token's progress: the route is running
                            proc.send_signal(signal.SIGTERM)
        gone = await exited(proc)
    assert messages[0]["method"] == "notifications/progress", messages
    assert messages[-1] == {"jsonrpc": "2.0", "id": 9, "error": SHUTDOWN}, messages
    assert gone
