"""A route's questions, keys and log data, refused at the call that makes the mistake, in both
eras (review leftovers of the route-context checks):

- a question the checks refuse uses up nothing: its key can be asked again, corrected (it used to
  count as asked: "already asked" although nothing was sent); nor does one the handshake channel
  refuses before sending it, for a method the client's revision lacks or a capability it did not
  declare;
- an empty key is refused (``ValueError``): a key names its question;
- ``sample`` extra fields that are its own parameters (``maxTokens``, ``messages``) raise
  ``TypeError`` instead of being overridden without a word;
- log data orjson cannot write raises ``TypeError`` naming ``log``'s ``data``, whether or not the
  client asked for logs at that level (it used to pass unless logs were sent, then raise orjson's
  bare "Type is not JSON serializable").
"""

from __future__ import annotations

import decimal
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
import orjson
import pytest
from fastapi import Depends, FastAPI

from mcp_middleware import ClientRequestError, Elicit, MCPContext, MCPMiddleware, Sample, mcp_context
from tests.support import BASE_HEADERS, Exchange, meta, modern_headers, post, request

pytestmark = pytest.mark.anyio

GUARD = 10
TEXT = {"type": "text", "text": "hi"}
FORM: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}}
MESSAGES = [{"role": "user", "content": TEXT}]
ANSWER = {"action": "accept", "content": {"name": "Ann"}}
Case = Callable[[MCPContext], Awaitable[Any]]


async def _retried_elicit(ctx: MCPContext) -> Any:
    with pytest.raises(ValueError, match="does not fit protocol revision"):
        await ctx.elicit("Name?", {"type": "array"}, key="k")
    return await ctx.elicit("Name?", FORM, key="k")


async def _retried_ask(ctx: MCPContext) -> Any:
    with pytest.raises(ValueError, match="does not fit protocol revision"):
        await ctx.ask({"k": Elicit("Name?", FORM), "bad": Sample([{"role": "robot", "content": TEXT}], 5)})
    return (await ctx.ask({"k": Elicit("Name?", FORM)}))["k"]


async def _retried_default_key(ctx: MCPContext) -> Any:
    """Without a key: the refused question does not take "elicitation", the retry gets it."""
    with pytest.raises(ValueError, match="does not fit protocol revision"):
        await ctx.elicit("Name?", {"type": "array"})
    return await ctx.elicit("Name?", FORM)


RETRIES: dict[str, tuple[Case, str]] = {
    "elicit": (_retried_elicit, "k"),
    "ask": (_retried_ask, "k"),
    "default_key": (_retried_default_key, "elicitation"),
}

MISTAKES: dict[str, Case] = {
    "elicit_empty_key": lambda c: c.elicit("Name?", FORM, key=""),
    "sample_empty_key": lambda c: c.sample(MESSAGES, 10, key=""),
    "roots_empty_key": lambda c: c.list_roots(key=""),
    "ask_empty_key": lambda c: c.ask({"": Elicit("Name?", FORM)}),
    "sample_max_tokens_twice": lambda c: c.sample(MESSAGES, 10, maxTokens=20),
    "sample_messages_in_extra": lambda c: c.ask({"s": Sample(MESSAGES, 10, {"messages": []})}),
    "log_object": lambda c: c.log("info", {"x": object()}),
    "log_decimal": lambda c: c.log("error", [decimal.Decimal("1.5")]),
    "log_key": lambda c: c.log("info", {(1, 2): 3}),
    "log_below_level": lambda c: c.log("debug", {1, 2}),
}

EMPTY_KEY = "an empty key names no question: give each request a non-empty key (or leave it out)"
EXPECTED: dict[str, tuple[str, str]] = {
    "elicit_empty_key": ("ValueError", EMPTY_KEY),
    "sample_empty_key": ("ValueError", EMPTY_KEY),
    "roots_empty_key": ("ValueError", EMPTY_KEY),
    "ask_empty_key": ("ValueError", EMPTY_KEY),
    "sample_max_tokens_twice": (
        "TypeError",
        "Sample got maxTokens both as max_tokens and among its extra fields: give it once, as max_tokens",
    ),
    "sample_messages_in_extra": (
        "TypeError",
        "Sample got messages both as messages and among its extra fields: give it once, as messages",
    ),
    "log_object": ("TypeError", "log: data is not JSON: Type is not JSON serializable: object"),
    "log_decimal": ("TypeError", "log: data is not JSON: Type is not JSON serializable: decimal.Decimal"),
    "log_key": ("TypeError", "log: data is not JSON: Dict key must be str"),
    "log_below_level": ("TypeError", "log: data is not JSON: Type is not JSON serializable: set"),
}


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/t/{case}", operation_id="t")
    async def t(case: str, ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        if case in RETRIES:
            return {"answer": await RETRIES[case][0](ctx)}
        try:
            await MISTAKES[case](ctx)
        except (ValueError, TypeError) as exc:
            return {"raised": type(exc).__name__, "message": str(exc)}
        return {"raised": None}

    app.add_middleware(MCPMiddleware, ask_timeout=GUARD)
    return app


def _text(result: dict[str, Any]) -> Any:
    assert result.get("isError") is not True, result
    return orjson.loads(result["content"][0]["text"])


HANDSHAKE = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
MODERN = "2026-07-28"


async def _modern(case: str, app: FastAPI | None = None, **params: Any) -> dict[str, Any]:
    logs = {"io.modelcontextprotocol/logLevel": "info"}
    body = {"name": "t", "arguments": {"case": case}, "_meta": meta(MODERN, **logs), **params}
    reply = await post(app or _app(), request("tools/call", body), modern_headers("tools/call", "t", MODERN))
    result: dict[str, Any] = reply.json()["result"]
    return result


@pytest.mark.parametrize("case", sorted(RETRIES))
async def test_a_refused_question_uses_up_nothing_in_the_handshake_era(case: str) -> None:
    """The corrected question goes out, alone, under the same key, and its answer resumes the route."""
    ex = Exchange(_app(), request("tools/call", {"name": "t", "arguments": {"case": case}}), HANDSHAKE)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not ex.reply.chunks:
                await ex.chunk_seen.wait()
            asked = ex.reply.events()[0]
            assert asked["method"] == "elicitation/create"
            assert asked["params"]["requestedSchema"] == FORM
            assert (await post(ex.app, {"jsonrpc": "2.0", "id": asked["id"], "result": ANSWER})).status == 202
    events = ex.reply.events()
    assert [e.get("method") for e in events] == ["elicitation/create", None]
    assert _text(events[-1]["result"]) == {"answer": ANSWER}


@pytest.mark.parametrize("case", sorted(RETRIES))
async def test_a_refused_question_uses_up_nothing_in_2026(case: str) -> None:
    """The round asks the corrected question under the key; the retry answering it completes."""
    key, app = RETRIES[case][1], _app()  # one app: its requestState seal
    first = await _modern(case, app)
    assert first["resultType"] == "input_required"
    assert list(first["inputRequests"]) == [key]
    assert first["inputRequests"][key]["params"]["requestedSchema"] == FORM
    retry = await _modern(case, app, requestState=first["requestState"], inputResponses={key: ANSWER})
    assert retry["resultType"] == "complete"
    assert _text(retry) == {"answer": ANSWER}


# -- a question refused before it is sent (the handshake era): its key is not used up either ---------

SAMPLED = {"role": "assistant", "content": TEXT, "model": "m"}


TOOLS = [{"name": "lookup", "inputSchema": {"type": "object"}}]


async def _after_a_refusal(ctx: MCPContext, with_tools: bool) -> Any:
    """The client cannot be asked to elicit (its revision has no elicitation/create, or it did not
    declare the capability), or to sample with tools (its revision has no tool use in sampling):
    the route falls back on plain sampling, under the same key."""
    first = ctx.sample(MESSAGES, 10, key="k", tools=TOOLS) if with_tools else ctx.elicit("Name?", FORM, key="k")
    with pytest.raises(ClientRequestError) as refused:
        await first
    return {"code": refused.value.error["code"], "answer": await ctx.sample(MESSAGES, 10, key="k")}


def _fallback_app(with_tools: bool = False, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/fallback", operation_id="fallback")
    async def fallback(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        return await _after_a_refusal(ctx, with_tools)

    app.add_middleware(MCPMiddleware, ask_timeout=GUARD, **options)
    return app


async def _session_headers(app: FastAPI, capabilities: dict[str, Any]) -> dict[str, str]:
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": capabilities,
        "clientInfo": {"name": "t", "version": "1"},
    }
    reply = await post(app, request("initialize", params))
    assert reply.status == 200
    return {**HANDSHAKE, "mcp-session-id": reply.headers["mcp-session-id"]}


@pytest.mark.parametrize("refusal", ["method", "tools", "capability"])
async def test_a_question_refused_before_sending_uses_up_no_key(refusal: str) -> None:
    """Review: a question refused before anything was sent, for a method the client's revision
    lacks (-32601), tool use its revision's sampling lacks (-32602, before 2025-11-25) or a
    capability it did not declare (-32021, known from a session id), still counted as asked: the
    route's next question under the same key raised "already asked"."""
    if refusal == "method":
        app, headers, code = _fallback_app(), {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"}, -32601
    elif refusal == "tools":
        app, headers, code = _fallback_app(True), {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}, -32602
    else:
        app = _fallback_app(session_ids=True)
        headers, code = await _session_headers(app, {"sampling": {}}), -32021
    ex = Exchange(app, request("tools/call", {"name": "fallback", "arguments": {}}), headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not ex.reply.chunks:
                await ex.chunk_seen.wait()
            asked = ex.reply.events()[0]
            assert asked["method"] == "sampling/createMessage"
            assert (await post(app, {"jsonrpc": "2.0", "id": asked["id"], "result": SAMPLED}, headers)).status == 202
    events = ex.reply.events()
    assert [e.get("method") for e in events] == ["sampling/createMessage", None]
    assert _text(events[-1]["result"]) == {"code": code, "answer": SAMPLED}


def _expected(case: str) -> dict[str, Any]:
    kind, message = EXPECTED[case]
    return {"raised": kind, "message": message}


@pytest.mark.parametrize("case", sorted(EXPECTED))
async def test_a_mistake_raises_at_the_call_in_the_handshake_era(case: str) -> None:
    """Nothing is sent: the reply is plain JSON (no stream: no question, no log)."""
    reply = await post(_app(), request("tools/call", {"name": "t", "arguments": {"case": case}}), HANDSHAKE)
    assert reply.content_type == "application/json", reply.body
    assert _text(reply.json()["result"]) == _expected(case)


@pytest.mark.parametrize("case", sorted(EXPECTED))
async def test_a_mistake_raises_at_the_call_in_2026(case: str) -> None:
    result = await _modern(case)
    assert result["resultType"] == "complete"
    assert _text(result) == _expected(case)


@pytest.mark.parametrize("case", ["log_object", "log_key"])
async def test_bad_log_data_raises_even_when_the_client_asked_for_no_logs(case: str) -> None:
    """2026-07-28 without a log level: nothing would be sent, but the route's mistake shows
    whichever client calls (as a bad progress report does without a progress token)."""
    body = {"name": "t", "arguments": {"case": case}, "_meta": meta(MODERN)}
    reply = await post(_app(), request("tools/call", body), modern_headers("tools/call", "t", MODERN))
    assert _text(reply.json()["result"]) == _expected(case)


async def test_log_data_orjson_writes_still_goes_out() -> None:
    """An integer beyond 64 bits (written by the middleware as its digits) is no mistake."""

    app = FastAPI()

    @app.post("/big", operation_id="big")
    async def big(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        await ctx.log("info", {"n": 2**70, "when": (1, 2)})
        return {}

    app.add_middleware(MCPMiddleware)
    reply = await post(app, request("tools/call", {"name": "big", "arguments": {}}), HANDSHAKE)
    logs = [e["params"] for e in reply.events() if e.get("method") == "notifications/message"]
    assert logs == [{"level": "info", "data": {"n": 2**70, "when": [1, 2]}}]
