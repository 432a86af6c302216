"""A 2026-07-28 listen stream open when uvicorn is told to stop (SIGTERM, as ``--reload``, process
managers and ``docker stop`` send it) ends with the empty ``subscriptions/listen`` result carrying
its subscription id (subscriptions.mdx, Cancellation), and uvicorn exits: it waited for the stream
to end, and nothing ended it.

Each test has a server of its own (it stops it). The waits are bounded by a generous deadline, so
a hang fails the test; nothing here times how fast the server is.
"""

from __future__ import annotations

import json
import signal
import subprocess
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from .servers import start_server

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

APP = "examples.conformance_app:app"
MODERN = "2026-07-28"
DEADLINE_SECONDS = 30.0
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"


async def exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether uvicorn exits within the deadline (its status is the signal's: it re-raises it once
    it has shut down)."""

    def wait() -> bool:
        try:
            proc.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            return False
        return True

    return await anyio.to_thread.run_sync(wait)


def listen_request(id: str) -> tuple[dict[str, Any], dict[str, str]]:
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    body = {
        "jsonrpc": "2.0",
        "id": id,
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": meta},
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": MODERN,
        "mcp-method": "subscriptions/listen",
    }
    return body, headers


async def test_sigterm_ends_an_open_stream_with_the_empty_result() -> None:
    body, headers = listen_request("shutdown-1")
    with start_server(APP) as (url, proc):
        messages: list[dict[str, Any]] = []
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(DEADLINE_SECONDS)) as http,
            http.stream("POST", url, json=body, headers=headers) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            with anyio.fail_after(DEADLINE_SECONDS):
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # event names, keep-alives, blank separators
                    messages.append(json.loads(line[len("data:") :]))
                    if len(messages) == 1:  # the acknowledgement: the stream is open
                        proc.send_signal(signal.SIGTERM)
        # The stream ended (the server closed it) before the client let go of the connection.
        assert await exited(proc)
    ack, *rest = messages
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert len(rest) == 1, rest
    (result,) = rest
    assert result["id"] == "shutdown-1"
    assert result["result"]["resultType"] == "complete"
    assert result["result"]["_meta"][SUBSCRIPTION_ID] == "shutdown-1"


async def test_the_official_client_sees_a_graceful_end() -> None:
    """The SDK ends a subscription's iteration on the result (``SubscriptionLost`` if the stream
    just dropped)."""
    with start_server(APP) as (url, proc):
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(DEADLINE_SECONDS)) as http:
            client = Client(streamable_http_client(url, http_client=http), mode=MODERN)
            async with client, client.listen(tools_list_changed=True) as subscription:
                proc.send_signal(signal.SIGTERM)
                with anyio.fail_after(DEADLINE_SECONDS):
                    events = [event async for event in subscription]
        assert await exited(proc)
    assert events == []
