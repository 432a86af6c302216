"""What the log says when a route's question to the client fails and the route does not catch it.

Ops review: a client could forge log lines through its answer to ``elicitation/create`` (a line
break in an error reply's message went unescaped into the ``ClientRequestError`` the middleware
builds, logged with its traceback), and every such client misbehaviour (a refusal, a question
left open until ``ask_timeout``) was an ERROR with a ~50-line traceback per call. A refusal is
now a WARNING without traceback and without the client's text, once per tool, method, code
and reason (``_guard._tell_refused``), and so is a question left unanswered (``_tell_unanswered``); the text
the route and the client's result get is escaped; a route's own failure stays an ERROR with its
traceback, once.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio
import pytest
from fastapi import Depends, FastAPI

from mcp_middleware import ClientRequestError, Elicit, ListRoots, MCPContext, MCPMiddleware, _guard, mcp_context
from mcp_middleware._once import Remembered
from mcp_middleware.interaction import SHUTTING_DOWN
from tests.support import BASE_HEADERS, Exchange, request
from tests.unit.test_client_leaves import Leaving

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _nothing_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing logged yet (the records are once per tool, method, code and reason)."""
    monkeypatch.setattr(_guard, "_TOLD", Remembered(256))


GUARD = 10
FORGED = "2026-11-26 23:00:00,000 99999 CRITICAL mcp_middleware.security: ADMIN LOGIN OK user=root"
SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
TOOLCALL = "mcp_middleware.toolcall"


def _app(**options: Any) -> FastAPI:
    """Routes that ask and do not catch what asking raises; one that fails on its own."""
    app = FastAPI()

    @app.post("/confirm", operation_id="confirm")
    async def confirm(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        return await ctx.elicit("Order?", SCHEMA)

    @app.post("/both", operation_id="both")
    async def both(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        async with anyio.create_task_group() as group:  # refused twice: a group of ClientRequestErrors
            group.start_soon(ctx.ask, {"a": Elicit("Order?", SCHEMA)})
            group.start_soon(ctx.ask, {"b": ListRoots()})
        return {}

    @app.post("/broken", operation_id="broken")
    async def broken(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        await ctx.elicit("Order?", SCHEMA)
        raise ValueError("the route's own bug")

    app.add_middleware(MCPMiddleware, **options)
    return app


async def _call(app: FastAPI, tool: str, reply: dict[str, Any] | None) -> dict[str, Any]:
    """Call ``tool`` as a 2025-06-18 client and answer each request it sends with ``reply`` (None:
    never answer); the call's result."""
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    ex = Exchange(app, request("tools/call", {"name": tool, "arguments": {}}, id=5), headers)
    answered: set[Any] = set()
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not ex.done.is_set():
                for event in ex.reply.events():
                    if "method" in event and "id" in event and event["id"] not in answered and reply is not None:
                        answered.add(event["id"])
                        answer = Exchange(app, {"jsonrpc": "2.0", "id": event["id"], **reply}, headers)
                        await answer.run()
                        assert answer.reply.status == 202
                with anyio.move_on_after(GUARD):
                    await ex.chunk_seen.wait()
                ex.chunk_seen = anyio.Event()
    final = ex.reply.messages()[-1]
    assert final["id"] == 5
    result: dict[str, Any] = final["result"]
    return result


def _toolcall_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == TOOLCALL]


def _the_warning(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    """The one record of the call's failure: a WARNING, without traceback, on one line."""
    [record] = _toolcall_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "\n" not in record.getMessage()
    assert "\r" not in record.getMessage()
    return record


async def test_an_error_reply_with_a_line_break_is_a_warning_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    error = {"error": {"code": -1, "message": f"user cancelled\n{FORGED}\r\x1b[2J"}}
    result = await _call(_app(), "confirm", error)
    assert _the_warning(caplog).getMessage() == (
        "Tool 'confirm': the route raised ClientRequestError (elicitation/create -1: its request to the client "
        "failed or was refused; logged once per tool, method, code and reason)"
    )
    # the route (and so the result's text) still gets the information, escaped
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Tool 'confirm' failed: the route raised ClientRequestError: elicitation/create failed: "
        "user cancelled\\n" + FORGED + "\\r\\x1b[2J."
    )


async def test_concurrent_refusals_are_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = await _call(_app(), "both", {"error": {"code": -1, "message": "not\nnow"}})
    assert _the_warning(caplog).getMessage().startswith("Tool 'both': the route raised ClientRequestError (")
    assert result["content"][0]["text"] == (
        "Tool 'both' failed: the route raised ClientRequestErrors: "
        "elicitation/create failed: not\\nnow; roots/list failed: not\\nnow."
    )


async def test_a_question_left_unanswered_until_ask_timeout_is_a_warning_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = _app(ask_timeout=0.05)
    result = await _call(app, "confirm", None)
    assert _the_warning(caplog).getMessage() == (
        "Tool 'confirm': the client did not answer elicitation/create within 0.05 s (ask_timeout), and the "
        "route did not catch the TimeoutError (logged once per tool, unanswered methods and time limit)"
    )
    assert result["content"][0]["text"] == (
        "Tool 'confirm' failed: the route raised TimeoutError: "
        "the client did not answer elicitation/create within 0.05 s (ask_timeout)."
    )
    await _call(app, "confirm", None)  # again: the same failure is not logged twice
    assert len(_toolcall_records(caplog)) == 1


async def test_the_ask_timeout_is_still_a_timeout_error_for_the_route() -> None:
    """A route that catches ``TimeoutError`` around its question keeps working."""
    app = FastAPI()

    @app.post("/patient", operation_id="patient")
    async def patient(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        try:
            await ctx.elicit("Order?", SCHEMA)
        except TimeoutError as exc:
            return {"timeout": str(exc)}
        return {}

    app.add_middleware(MCPMiddleware, ask_timeout=0.05)
    result = await _call(app, "patient", None)
    assert result["structuredContent"] == {
        "timeout": "the client did not answer elicitation/create within 0.05 s (ask_timeout)"
    }


async def test_a_route_failure_after_an_answer_is_still_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await _call(_app(), "broken", {"result": {"action": "accept", "content": {"confirm": True}}})
    [record] = _toolcall_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Tool 'broken': the route raised ValueError"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert caplog.text.count("Traceback (most recent call last)") == 1


async def test_a_question_still_waiting_when_its_client_leaves_is_told_as_unanswered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review mend item 6: a handshake-era question whose answer never came (it reached another
    process, or none was sent) fails in the route once the client gives up and leaves (the call
    stopped: ``_call_context.STOPPED``); the WARNING said its request to the client "failed or was
    refused", which no client did. It says the request got no answer, and why."""
    caplog.set_level(logging.DEBUG)
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    ex = Leaving(_app(), request("tools/call", {"name": "confirm", "arguments": {}}, id=5), headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not any(b"elicitation/create" in chunk for chunk in ex.reply.chunks):
                await ex.chunk_seen.wait()
                ex.chunk_seen = anyio.Event()
            ex.disconnect.set()
    assert ex.heard.is_set()
    assert _the_warning(caplog).getMessage() == (
        "Tool 'confirm': the route raised ClientRequestError (elicitation/create -32000: its request to the client "
        "got no answer before the call was stopped (cancelled, past its time limit, or its client left); logged "
        "once per tool, method, code and reason)"
    )


def test_a_question_still_waiting_at_shutdown_is_told_as_unanswered(caplog: pytest.LogCaptureFixture) -> None:
    """The same for a question the server's shutdown ended (``interaction.SHUTTING_DOWN``); a
    client's own error of that code is still its refusal, told apart (each logged once)."""
    caplog.set_level(logging.DEBUG)
    for error in (SHUTTING_DOWN, {"code": SHUTTING_DOWN["code"], "message": "busy"}, SHUTTING_DOWN):
        _guard._tell_refused("Tool 't'", [ClientRequestError("roots/list", error)])
    assert [record.getMessage() for record in _toolcall_records(caplog)] == [
        "Tool 't': the route raised ClientRequestError (roots/list -32000: its request to the client got no answer "
        "before the server shut down; logged once per tool, method, code and reason)",
        "Tool 't': the route raised ClientRequestError (roots/list -32000: its request to the client failed or was "
        "refused; logged once per tool, method, code and reason)",
    ]
