"""``max_batch_messages``: a 2025-03-26 (or 2024-11-05) JSON-RPC batch holds at most that many
messages; a longer one is refused whole (HTTP 400, -32600, id null) before any item runs.

Review (repro_batch_amplification.py): one unauthenticated POST of 20,000 ``tools/list`` requests
(1 MiB, under ``max_body_bytes``) had the server build a 112 MiB reply in memory."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest
from fastapi import FastAPI, Response

from mcp_middleware import MCPMiddleware
from tests.apps import build_app
from tests.support import BASE_HEADERS, MODERN, cancelled, modern_headers, modern_request, post, request
from tests.unit.test_context import NAME, elicit, greeting

pytestmark = pytest.mark.anyio

LIMIT = 3
BLOB = 400  # bytes of the binary route's response: its reply, base64 in an envelope, is some 700 bytes
BUDGET = 1000  # max_body_bytes in the budget tests: two such replies pass it, one does not


def _app(ran: list[int], **options: Any) -> FastAPI:
    """The test app with a route that says when it runs."""
    app = build_app(**{"max_batch_messages": LIMIT, **options})

    @app.get("/hit/{n}", operation_id="hit")
    async def hit(n: int) -> int:
        ran.append(n)
        return n

    @app.get("/blob/{n}", operation_id="blob")
    async def blob(n: int) -> Response:
        ran.append(n)
        return Response(bytes(BLOB), media_type="application/octet-stream")

    return app


def _batch(size: int) -> list[dict[str, Any]]:
    """``size`` messages: a tool call, a notification, then tools/list requests."""
    items = [
        request("tools/call", {"name": "hit", "arguments": {"n": 1}}, id=0),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]
    items += [request("tools/list", id=i) for i in range(1, size - 1)]
    return items[:size]


@pytest.mark.parametrize("version", [None, "2024-11-05", "2025-03-26"])
async def test_a_batch_at_the_limit_is_answered(version: str | None) -> None:
    ran: list[int] = []
    headers = BASE_HEADERS if version is None else {**BASE_HEADERS, "mcp-protocol-version": version}
    reply = await post(_app(ran), _batch(LIMIT), headers)
    assert reply.status == 200
    assert [message["id"] for message in reply.json()] == [0, 1]
    assert "error" not in reply.json()[0]
    assert ran == [1]


@pytest.mark.parametrize("version", [None, "2024-11-05", "2025-03-26"])
async def test_a_batch_over_the_limit_is_refused_whole_with_nothing_run(version: str | None) -> None:
    ran: list[int] = []
    headers = BASE_HEADERS if version is None else {**BASE_HEADERS, "mcp-protocol-version": version}
    reply = await post(_app(ran), _batch(LIMIT + 1), headers)
    assert reply.status == 400
    assert reply.content_type == "application/json"
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600,
            "message": f"Invalid request: a batch of {LIMIT + 1} messages (at most {LIMIT}: max_batch_messages)",
        },
    }
    assert ran == []


async def test_items_are_counted_not_read_first() -> None:
    """Items that are no messages count as much as any: the batch is refused for its length, not
    answered item by item."""
    reply = await post(_app([]), [1, "x", None, {}], BASE_HEADERS)
    assert reply.status == 400
    assert reply.json()["error"]["message"].startswith("Invalid request: a batch of 4 messages")


@pytest.mark.parametrize("answers_only", [True, False], ids=["answers-and-notifications", "mixed"])
async def test_a_batch_over_the_limit_takes_no_answer_and_cancels_nothing(answers_only: bool) -> None:
    """Not the 202 of accepted notifications, nor the items acted on: the whole POST is refused (400),
    an answer to a pending elicitation in it not taken, a cancellation in it not applied (review r2)."""

    async def answer(app: Any, asked: dict[str, Any]) -> None:
        accept = {"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": {"name": "Eve"}}}
        pad = [{"jsonrpc": "2.0", "method": "notifications/initialized"}] * 99
        if not answers_only:
            pad[-1] = request("ping", id=77)
        reply = await post(app, [accept, cancelled(5), *pad])  # 101 items, the default limit 100
        assert reply.status == 400
        assert reply.json()["id"] is None
        assert reply.json()["error"]["code"] == -32600
        await anyio.wait_all_tasks_blocked()
        # neither taken (the route still waits) nor cancelled: the next answer is taken, the route ends well
        assert (await post(app, {"jsonrpc": "2.0", "id": asked["id"], "result": NAME})).status == 202

    assert greeting(await elicit(answer)) == {"greeting": "Hello, Ann!", "action": "accept"}


async def test_the_same_batch_at_the_limit_is_acted_on() -> None:
    """The control: 100 items, the answer is taken (Eve)."""

    async def answer(app: Any, asked: dict[str, Any]) -> None:
        accept = {"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": {"name": "Eve"}}}
        pad = [{"jsonrpc": "2.0", "method": "notifications/initialized"}] * 99
        assert (await post(app, [accept, *pad])).status == 202

    assert greeting(await elicit(answer)) == {"greeting": "Hello, Eve!", "action": "accept"}


def _blobs(size: int) -> list[dict[str, Any]]:
    """``size`` calls of the binary route (ids and ``n`` 0 … size-1), a notification after the first."""
    calls = [request("tools/call", {"name": "blob", "arguments": {"n": i}}, id=i) for i in range(size)]
    return [calls[0], {"jsonrpc": "2.0", "method": "notifications/initialized"}, *calls[1:]]


def _over_budget(request_id: int, budget: int = BUDGET) -> dict[str, Any]:
    reason = f"the batch's reply reached its size limit ({budget} bytes: max_body_bytes); this request was not run"
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32600, "message": f"Invalid request: {reason}"}}


@pytest.mark.parametrize("mode", ["auto", "sse"])
async def test_requests_after_the_replies_pass_the_budget_are_answered_with_an_error_and_not_run(mode: str) -> None:
    """The replies a batch holds until its own goes out are bounded: once they pass max_body_bytes,
    each further request is answered -32600 with its id, its route not run; a notification, an
    answer, and what ran before are unaffected. In an SSE reply (the responses are its last events,
    held as in JSON) alike."""
    ran: list[int] = []
    app = _app(ran, max_batch_messages=10, max_body_bytes=BUDGET, response_mode=mode)
    reply = await post(app, _blobs(4), BASE_HEADERS)
    assert reply.status == 200
    assert reply.content_type.startswith("application/json" if mode == "auto" else "text/event-stream")
    messages = reply.messages()
    assert [message["id"] for message in messages] == [0, 1, 2, 3]
    assert all(message["result"]["content"][0]["type"] == "resource" for message in messages[:2])
    assert messages[2:] == [_over_budget(2), _over_budget(3)]
    assert ran == [0, 1]


async def test_a_notification_and_an_answer_after_the_budget_is_passed_are_still_acted_on() -> None:
    """Only requests are refused once the held replies pass the budget: a notification after that
    is accepted (no reply, the batch goes on) and an answer to a pending question is taken (Eve,
    not the later Ann), while the request after them is not run (review r7, S4)."""
    ran: list[int] = []
    app = _app(ran, max_batch_messages=10, max_body_bytes=BUDGET)

    async def answer(app: Any, asked: dict[str, Any]) -> None:
        accept = {"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept", "content": {"name": "Eve"}}}
        calls = [request("tools/call", {"name": "blob", "arguments": {"n": i}}, id=i) for i in (10, 11, 12)]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        reply = await post(app, [*calls[:2], initialized, accept, calls[2]], BASE_HEADERS)
        assert reply.status == 200
        messages = reply.messages()
        assert [message["id"] for message in messages] == [10, 11, 12]
        assert all("result" in message for message in messages[:2])
        assert messages[2] == _over_budget(12)
        assert ran == [10, 11]
        # had the batch's answer not been taken, this one would be (Ann), not left waiting
        assert (await post(app, {"jsonrpc": "2.0", "id": asked["id"], "result": NAME})).status == 202

    assert greeting(await elicit(answer, app=app)) == {"greeting": "Hello, Eve!", "action": "accept"}


async def test_error_replies_count_toward_the_budget() -> None:
    """An item's error is held as its result would be: a blob's reply (some 700 bytes) and an
    unknown tool's -32602 (its long name in the message) pass the budget together, so the next
    request is not run (review r7, S6)."""
    ran: list[int] = []
    app = _app(ran, max_batch_messages=10, max_body_bytes=BUDGET)
    unknown = request("tools/call", {"name": "no_such_tool_" + "x" * 300, "arguments": {}}, id=1)
    batch = [_blobs(1)[0], unknown, request("tools/call", {"name": "blob", "arguments": {"n": 2}}, id=2)]
    messages = (await post(app, batch, BASE_HEADERS)).messages()
    assert [message["id"] for message in messages] == [0, 1, 2]
    assert "result" in messages[0]
    assert messages[1]["error"]["code"] == -32602
    assert len(orjson.dumps(messages[0])) < BUDGET  # the blob's reply alone does not pass it
    assert messages[2] == _over_budget(2)
    assert ran == [0]


@pytest.mark.parametrize(("slack", "runs"), [(0, [0, 1, 2]), (-1, [0, 1])], ids=["at-the-budget", "one-byte-over"])
async def test_replies_exactly_at_the_budget_do_not_pass_it(slack: int, runs: list[int]) -> None:
    """The budget is passed when the held replies exceed max_body_bytes (``>``): two replies making
    exactly that many bytes still let the next request run; with a budget one byte smaller, not."""
    single = await post(_app([], max_batch_messages=10, max_body_bytes=4 * BUDGET), _blobs(1), BASE_HEADERS)
    size = len(single.body) - 2  # one reply, without the batch's brackets; the same for ids and n 0 … 9
    ran: list[int] = []
    app = _app(ran, max_batch_messages=10, max_body_bytes=2 * size + slack)
    messages = (await post(app, _blobs(4), BASE_HEADERS)).messages()
    assert [message["id"] for message in messages] == [0, 1, 2, 3]
    assert all("result" in message for message in messages[: len(runs)])
    assert messages[len(runs) :] == [_over_budget(i, 2 * size + slack) for i in range(len(runs), 4)]
    assert ran == runs


async def test_a_batch_whose_replies_stay_under_the_budget_is_answered_whole() -> None:
    ran: list[int] = []
    app = _app(ran, max_batch_messages=10, max_body_bytes=4 * BUDGET)
    messages = (await post(app, _blobs(4), BASE_HEADERS)).messages()
    assert [message["id"] for message in messages] == [0, 1, 2, 3]
    assert all("result" in message for message in messages)
    assert ran == [0, 1, 2, 3]


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
async def test_later_revisions_still_refuse_any_batch_as_no_batch(version: str) -> None:
    """A batch over the limit in a revision without batches is refused as before: for being a batch."""
    reply = await post(_app([]), _batch(LIMIT + 1), {**BASE_HEADERS, "mcp-protocol-version": version})
    assert reply.status == 400
    message = f"Invalid request: JSON-RPC batches (not allowed in protocol {version})"
    assert reply.json()["error"] == {"code": -32600, "message": message}


async def test_2026_07_28_still_refuses_any_batch_as_no_batch() -> None:
    batch = [modern_request("tools/list", id=i) for i in range(LIMIT + 1)]
    reply = await post(_app([]), batch, modern_headers("tools/list", version=MODERN))
    assert reply.status == 400
    assert reply.json()["error"] == {"code": -32600, "message": "Invalid request: batches are not part of 2026-07-28"}


async def test_the_default_limit_answers_100_and_refuses_101() -> None:
    app = build_app()
    assert (await post(app, [request("ping", id=i) for i in range(100)])).status == 200
    refused = await post(app, [request("ping", id=i) for i in range(101)])
    assert refused.status == 400
    assert refused.json()["error"]["code"] == -32600
    assert MCPMiddleware(FastAPI()).settings.max_batch_messages == 100
