"""A handshake-era question (a route's ``ctx.elicit``) pending when uvicorn is told to stop
(SIGTERM, as ``--reload``, process managers, ``docker stop`` and Kubernetes send it) fails at once:
uvicorn stops accepting connections, so the client's answer POST could never arrive, and the server
used to wait ``ask_timeout`` (600 s) for it, holding the call's stream open and itself with it.
Now the route gets a ``ClientRequestError`` (-32000, the server is shutting down) and returns, the
official client gets the tool's result and the end of the stream, and uvicorn exits.

Each test has a server of its own (it stops it). Every wait is on an event or the process, bounded by
a deadline far below ``ask_timeout``, so a hang fails the test; nothing here times how fast it goes.
"""

from __future__ import annotations

import json
import signal
import subprocess

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp.client import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, ErrorData, TextContent
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from .servers import start_server

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

DEADLINE_SECONDS = 10.0  # ask_timeout is 600 s: a server that waits for the answer misses this by far
SHUTTING_DOWN = "Connection closed: the server is shutting down"
SHUTDOWN = {"code": -32000, "message": SHUTTING_DOWN}


async def exited(proc: subprocess.Popen[bytes]) -> bool:
    def wait() -> bool:
        try:
            proc.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            return False
        return True

    return await anyio.to_thread.run_sync(wait)


class Asked:
    """The client's elicitation callback: it signals that the question is out and never answers (a
    user still thinking when the server is told to stop)."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.questions: list[ElicitRequestParams] = []

    async def elicit(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        self.questions.append(params)
        self.event.set()
        await anyio.sleep_forever()  # cancelled by the server's notifications/cancelled, or the client's exit
        raise AssertionError("unreachable")


async def call_during_shutdown(app: str, tool: str, arguments: dict[str, object]) -> tuple[CallToolResult, bool]:
    """Call ``tool`` of ``app`` with the official client (handshake era); once its question reached
    the client, SIGTERM the server. The call's result (the client then closed without an error: the
    stream ended cleanly), and whether the server exited."""
    asked = Asked()
    results: list[CallToolResult] = []
    with start_server(app) as (url, proc):
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(DEADLINE_SECONDS * 3)) as http:
            client = Client(
                streamable_http_client(url, http_client=http), mode="legacy", elicitation_callback=asked.elicit
            )
            try:
                async with client:
                    assert client.protocol_version == LATEST_HANDSHAKE_VERSION
                    # Listed first: the SDK lists the tools after a call it has no output schema for,
                    # and a server that is shutting down accepts no connection for that
                    assert tool in {t.name for t in (await client.list_tools()).tools}

                    async def call() -> None:
                        results.append(await client.call_tool(tool, arguments))

                    with anyio.move_on_after(DEADLINE_SECONDS):
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(call)
                            await asked.event.wait()  # the question is pending
                            proc.send_signal(signal.SIGTERM)
            except* httpx2.ConnectError:
                if results:
                    raise
                # (no result: the client, giving up on the call, could not send its cancel to a server
                # that accepts no connection any more; the assertion below says what went wrong)
        gone = await exited(proc)
    assert results, f"no result within {DEADLINE_SECONDS:g} s: the route waited for its answer (ask_timeout)"
    assert len(asked.questions) == 1, asked.questions
    return results[0], gone


def text_of(result: CallToolResult) -> str:
    (content,) = result.content
    assert isinstance(content, TextContent), content
    return content.text


async def test_a_pending_question_fails_and_the_server_exits() -> None:
    result, gone = await call_during_shutdown("tests.interop.shutdown_app:app", "confirm", {})
    assert gone, "uvicorn did not exit: it waited for the call's stream, which waited for the answer"
    assert not result.is_error, result
    assert json.loads(text_of(result)) == {"refused": SHUTDOWN, "method": "elicitation/create"}


async def test_the_demos_order_ends_with_its_failure() -> None:
    """The ops review's reproduction: the demo's ``place_order`` does not catch the error, so the
    call's result is the route's failure, naming why."""
    result, gone = await call_during_shutdown("examples.demo:app", "place_order", {"item_id": 1})
    assert gone
    assert result.is_error, result
    assert SHUTTING_DOWN in text_of(result), text_of(result)
