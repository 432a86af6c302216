"""Which streamed bodies reach the client as progress (a JSON array sent in pieces, RFC 7464 JSON
text sequences), and what a call stopped mid-stream (its time limit, or its route raising) keeps
of the text it had streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from sse_starlette import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from mcp_middleware import MCPMiddleware, declare, toolcall
from mcp_middleware._media import _media
from tests.support import BASE_HEADERS, Exchange, post, request
from tests.unit.test_streaming import call_body, progress_messages

pytestmark = pytest.mark.anyio

GUARD = 10  # seconds: a deadlock guard only; nothing waits on time
ERAS = ["handshake", "modern"]
ARRAY = ["[", '{"i":0}', ',{"i":1}', "]"]
SEQ = ['\x1e{"i":0}\n', '\x1e{"i":1}\n']


def _app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/array", operation_id="array")
    async def array() -> StreamingResponse:
        async def pieces() -> AsyncIterator[str]:
            for piece in ARRAY:
                yield piece

        return StreamingResponse(pieces(), media_type="application/json")

    @app.get("/whole", operation_id="whole")
    async def whole() -> JSONResponse:
        return JSONResponse([{"i": 0}])

    @app.get("/seq", operation_id="seq")
    async def seq() -> StreamingResponse:
        async def pieces() -> AsyncIterator[str]:
            for piece in SEQ:
                yield piece

        return StreamingResponse(pieces(), media_type="application/json-seq")

    @app.get("/seq_whole", operation_id="seq_whole")
    async def seq_whole() -> StreamingResponse:
        return StreamingResponse(iter(["".join(SEQ)]), media_type="application/json-seq")

    @app.get("/stalls", operation_id="stalls")
    async def stalls(x_token: str = Header("")) -> StreamingResponse:
        async def pieces() -> AsyncIterator[str]:
            yield f"partial {x_token}\n"
            yield "more\n"
            await anyio.sleep_forever()

        return StreamingResponse(pieces(), media_type="text/plain")

    @app.get("/breaks", operation_id="breaks")
    async def breaks(x_token: str = Header("")) -> StreamingResponse:
        async def pieces() -> AsyncIterator[str]:
            yield f"partial {x_token}\n"
            raise RuntimeError("upstream went away")

        return StreamingResponse(pieces(), media_type="text/plain")

    @app.get("/breaks_binary", operation_id="breaks_binary")
    async def breaks_binary() -> StreamingResponse:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"\x00\xff"
            raise RuntimeError("upstream went away")

        return StreamingResponse(pieces(), media_type="application/octet-stream")

    app.add_middleware(MCPMiddleware, **options)
    return app


async def _call(tool: str, era: str, token: str | None = "tok-1", **options: Any) -> tuple[list[str], dict[str, Any]]:
    body, headers = call_body(tool, era, token)
    headers = {**(headers or BASE_HEADERS), "x-token": "sekrit-token-42"}
    with anyio.fail_after(GUARD):
        reply = await Exchange(_app(forward_headers=["X-Token"], **options), body, headers).run()
    events = reply.events() if reply.content_type == "text/event-stream" else []
    return progress_messages(events), reply.result()


# -- a JSON body streamed in pieces ---------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_a_json_body_streamed_in_pieces_reaches_the_client_as_progress(era: str) -> None:
    messages, result = await _call("array", era)
    assert messages == ARRAY
    assert result["content"] == [{"type": "text", "text": "".join(ARRAY)}]


@pytest.mark.parametrize("era", ERAS)
async def test_a_json_body_in_one_piece_is_no_progress(era: str) -> None:
    messages, result = await _call("whole", era)
    assert messages == []
    assert result["content"] == [{"type": "text", "text": '[{"i":0}]'}]


# -- RFC 7464 JSON text sequences ----------------------------------------------------------------


def test_a_json_text_sequence_is_text() -> None:
    assert _media(b"application/json-seq")[1] == "text"


@pytest.mark.parametrize("era", ERAS)
async def test_a_json_text_sequence_streams_without_its_record_separators(era: str) -> None:
    messages, result = await _call("seq", era)
    assert messages == ['{"i":0}\n', '{"i":1}\n']
    assert result["content"] == [{"type": "text", "text": '{"i":0}\n{"i":1}\n'}]


async def test_a_json_text_sequence_in_one_piece_is_text_without_its_record_separators() -> None:
    _, result = await _call("seq_whole", "handshake", token=None)
    assert result["content"] == [{"type": "text", "text": '{"i":0}\n{"i":1}\n'}]


# -- a call stopped mid-stream keeps what it streamed ---------------------------------------------


@pytest.fixture(params=["asyncio-native", "portable"])
def guard_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", request.param == "portable")
    value: str = request.param
    return value


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("token", ["tok-1", None])
async def test_a_timeout_mid_stream_keeps_the_text_streamed_before_it(
    guard_path: str, era: str, token: str | None
) -> None:
    _, result = await _call("stalls", era, token, call_timeout=0.05)
    assert result["isError"] is True
    assert result["content"] == [
        {
            "type": "text",
            "text": "Tool 'stalls' timed out after 0.05 s and was cancelled.\n\n"
            "Output before the failure:\npartial [redacted]\nmore\n",
        }
    ]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("token", ["tok-1", None])
async def test_a_route_raising_mid_stream_keeps_the_text_streamed_before_it(
    guard_path: str, era: str, token: str | None
) -> None:
    _, result = await _call("breaks", era, token)
    assert result["isError"] is True
    assert result["content"] == [
        {
            "type": "text",
            "text": "Tool 'breaks' failed: the route raised RuntimeError.\n\n"
            "Output before the failure:\npartial [redacted]\n",
        }
    ]


async def test_the_text_kept_before_a_failure_is_cut_at_the_result_limit(guard_path: str) -> None:
    _, result = await _call("breaks", "handshake", max_result_chars=4)
    assert result["content"][0]["text"] == (
        "Tool 'breaks' failed: the route raised RuntimeError.\n\n"
        "Output before the failure:\npart\n[truncated: 20 more characters were not included]"
    )


async def test_a_binary_stream_that_fails_keeps_no_output(guard_path: str) -> None:
    _, result = await _call("breaks_binary", "handshake")
    assert result["content"] == [
        {"type": "text", "text": "Tool 'breaks_binary' failed: the route raised RuntimeError."}
    ]


class _Item(BaseModel):
    id: int


def _empty_app() -> FastAPI:
    """Routes whose response has no text: streamed (a ``StreamingResponse`` that yields nothing or
    only empty pieces, an ``EventSourceResponse`` that sends only comments or pings) or whole (an
    empty ``Response``, a 204)."""
    app = FastAPI()

    async def nothing() -> AsyncIterator[str]:
        for _ in ():
            yield ""

    async def blanks() -> AsyncIterator[str]:
        yield ""
        yield ""

    async def comments() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(comment="ping")
        yield ServerSentEvent(comment="still here")

    @app.get("/silent", operation_id="silent")
    async def silent() -> StreamingResponse:
        return StreamingResponse(nothing(), media_type="text/plain")

    @app.get("/blank", operation_id="blank")
    async def blank() -> StreamingResponse:
        return StreamingResponse(blanks(), media_type="text/plain")

    @app.get("/pings", operation_id="pings")
    async def pings() -> EventSourceResponse:
        return EventSourceResponse(comments())

    @app.get("/silent_item", operation_id="silent_item", response_model=_Item)
    async def silent_item() -> StreamingResponse:
        return StreamingResponse(nothing(), media_type="application/json")

    @app.get("/empty", operation_id="empty")
    async def empty() -> Response:
        return Response(b"", media_type="text/plain")

    @app.get("/gone", operation_id="gone", status_code=204, response_model=None)
    async def gone() -> Response:
        return Response(status_code=204)

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("token", ["tok-1", None])
async def test_a_stream_that_sent_no_output_says_so_rather_than_a_bare_status_line(era: str, token: str | None) -> None:
    """Review s11 item 3: a ``StreamingResponse`` or ``EventSourceResponse`` that sent nothing (or
    only SSE comments and pings) gave the result text "200 OK", which a chat tool's model reads as
    the answer. A stream says it sent no output; an empty whole body keeps its status line."""
    app = _empty_app()
    texts = {}
    for tool in ("silent", "blank", "pings", "silent_item", "empty", "gone"):
        body, headers = call_body(tool, era, token)
        reply = await Exchange(app, body, {**BASE_HEADERS, **headers}).run()
        result = reply.messages()[-1]["result"]
        texts[tool] = (result["content"][0]["text"], result.get("isError", False))
    assert texts == {
        "silent": ("200 OK (the stream sent no output)", False),
        "blank": ("200 OK (the stream sent no output)", False),
        "pings": ("200 OK (the stream sent no output)", False),
        "silent_item": (
            "The tool has an output schema, but the route answered 200 OK with a stream that sent no output",
            True,
        ),
        "empty": ("200 OK", False),
        "gone": ("204 No Content", False),
    }


@pytest.mark.parametrize("end", ["", "\n", "\r"])
@pytest.mark.parametrize("era", ERAS)
async def test_an_unterminated_last_event_of_a_stream_is_still_dispatched(era: str, end: str) -> None:
    """Review s11 item 4: WHATWG's event stream does not dispatch an event that the stream ends in
    without its blank line. A route's stream that ends so (an LLM proxy closing after its last
    ``data:`` line) would lose its last token: the middleware dispatches that event, as its
    progress message and in the result (README, "Streaming")."""
    app = FastAPI()

    @app.get("/cut", operation_id="cut")
    async def cut() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "data: Hello\n\n"
            yield f"data: world{end}"

        return StreamingResponse(parts(), media_type="text/event-stream")

    app.add_middleware(MCPMiddleware)
    body, headers = call_body("cut", era)
    reply = await Exchange(app, body, {**BASE_HEADERS, **headers}).run()
    assert progress_messages(reply.events()) == ["Hello", "world"]
    assert reply.events()[-1]["result"]["content"] == [{"type": "text", "text": "Hello\nworld"}]


NOT_EVENTS = "The route's text/event-stream body held no Server-Sent Events; as sent:\n\n"


def _mislabelled_app(max_result_chars: int = 10_000, **options: Any) -> FastAPI:
    """Routes labelled ``text/event-stream`` whose body holds no event: plain text (streamed, and
    whole; cut short by a raise or a stall), only comments and blank lines, and plain text after an
    event; one is a resource too."""
    app = FastAPI()

    def streamed(parts: list[bytes], end: str = "") -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for part in parts:
                yield part
            if end == "raise":
                raise RuntimeError("boom")
            if end == "stall":
                await anyio.sleep_forever()

        return StreamingResponse(chunks(), media_type="text/event-stream")

    @app.get("/raises", operation_id="raises")
    async def raises() -> StreamingResponse:
        return streamed([b"partial ", b"text\n"], "raise")

    @app.get("/stalls", operation_id="stalls")
    async def stalls() -> StreamingResponse:
        return streamed([b"partial ", b"text\n"], "stall")

    @app.get("/down", operation_id="down")
    async def down() -> StreamingResponse:  # a line opening "data" that is no data field
        return streamed([b"database is down\n", b"retry later"])

    @app.get("/bom", operation_id="bom")
    async def bom() -> StreamingResponse:  # the byte order mark is dropped, as a text's
        return streamed([b"\xef\xbb\xbfhello ", b"world"])

    @app.get("/feed", openapi_extra=declare.resource("feed://plain"))
    async def feed() -> StreamingResponse:
        return streamed([b"hello ", b"world"])

    @app.get("/greeting", openapi_extra=declare.prompt("greeting"))
    async def greeting() -> StreamingResponse:
        return streamed([b"hello ", b"world"])

    @app.get("/plain", operation_id="plain")
    async def plain() -> StreamingResponse:
        return streamed([b"hello ", b"world"])

    @app.get("/plain_item", operation_id="plain_item", response_model=_Item)
    async def plain_item() -> StreamingResponse:
        return streamed([b"hello ", b"world"])

    @app.get("/whole", operation_id="whole")
    async def whole() -> Response:
        return Response(b"hello\r\nworld", media_type="text/event-stream")

    @app.get("/fields", operation_id="fields")
    async def fields() -> StreamingResponse:  # fields of events that carry no data, and comments
        return streamed([b": ping\n\n", b"event: tick\nid: 1\nretry: 10\n\n", b"\n"])

    @app.get("/long", operation_id="long")
    async def long() -> StreamingResponse:
        return streamed([b"x" * 30, b"y" * 30])

    @app.get("/after", operation_id="after")
    async def after() -> StreamingResponse:
        return streamed([b"data: hi\n\n", b"hello world\n"])

    app.add_middleware(MCPMiddleware, max_result_chars=max_result_chars, **options)
    return app


async def _result_of(app: FastAPI, tool: str, era: str, token: str | None = None) -> tuple[str, bool]:
    body, headers = call_body(tool, era, token)
    reply = await Exchange(app, body, {**BASE_HEADERS, **headers}).run()
    result = reply.messages()[-1]["result"]
    return result["content"][0]["text"], result.get("isError", False)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("token", ["tok-1", None])
async def test_an_event_stream_holding_no_event_but_text_shows_the_text_as_sent(era: str, token: str | None) -> None:
    """Review (stream D3): a ``StreamingResponse`` labelled ``text/event-stream`` that sent plain
    text (``hello world``, what a direct GET returns) gave "200 OK (the stream sent no output)": the
    WHATWG parse finds no event, but the route did send output, and a model read it as nothing.
    Its text is now the result, after a line saying it was no Server-Sent Events; a tool with an
    output schema says so in its error, with the text."""
    app = _mislabelled_app()
    with anyio.fail_after(GUARD):
        assert await _result_of(app, "plain", era, token) == (NOT_EVENTS + "hello world", False)
        assert await _result_of(app, "whole", era, token) == (NOT_EVENTS + "hello\r\nworld", False)
        text, is_error = await _result_of(app, "plain_item", era, token)
    assert is_error is True
    assert text == (
        "The tool has an output schema, but the route answered 200 OK with text/event-stream instead of JSON: "
        + NOT_EVENTS
        + "hello world"
    )


@pytest.mark.parametrize("era", ERAS)
async def test_an_event_stream_holding_no_event_shows_a_data_prefixed_line_and_drops_a_byte_order_mark(
    era: str,
) -> None:
    """A line that opens with ``data`` but is no ``data`` field (``database is down``) is plain
    text, and a text's byte order mark is not part of it."""
    app = _mislabelled_app()
    with anyio.fail_after(GUARD):
        assert await _result_of(app, "down", era) == (NOT_EVENTS + "database is down\nretry later", False)
        assert await _result_of(app, "bom", era) == (NOT_EVENTS + "hello world", False)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(("tool", "why"), [("raises", "failed: the route raised RuntimeError"), ("stalls", "")])
async def test_an_event_stream_holding_no_event_cut_short_keeps_its_text(
    guard_path: str, era: str, tool: str, why: str
) -> None:
    """Review (rr3 D1): plain text labelled ``text/event-stream`` whose route raised after sending
    it, or ran past ``call_timeout``, lost its text (``failed: the route raised RuntimeError.``
    alone) where ``text/plain`` keeps it: the parser gave its text as sent only at the last chunk.
    The failure now finishes the parser first, as the last chunk would."""
    app = _mislabelled_app(call_timeout=0.05)
    why = why or "timed out after 0.05 s and was cancelled"
    with anyio.fail_after(GUARD):
        assert await _result_of(app, tool, era, "tok-1") == (
            f"Tool {tool!r} {why}.\n\nOutput before the failure:\n{NOT_EVENTS}partial text\n",
            True,
        )


async def test_a_resource_or_prompt_labelled_an_event_stream_holding_no_event_is_its_text_alone() -> None:
    """Review (rr3 D3): the line saying the body held no Server-Sent Events is for a model reading a
    tool's result; a resource's contents (and a prompt's message) are the route's text as sent,
    alone."""
    app, headers = _mislabelled_app(), {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
    with anyio.fail_after(GUARD):
        read = await post(app, request("resources/read", {"uri": "feed://plain"}), headers)
        got = await post(app, request("prompts/get", {"name": "greeting"}), headers)
    assert read.messages()[-1]["result"]["contents"] == [
        {"uri": "feed://plain", "mimeType": "text/event-stream", "text": "hello world"}
    ]
    assert got.messages()[-1]["result"]["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "hello world"}}
    ]


def test_the_text_as_sent_before_an_event_is_joined_as_it_grows() -> None:
    """Review (rr3 D4): before its first event the parser kept each chunk as a string of its own,
    never joined (a million two-character keep-alives held 2.99 MB for 200 KB of text); its pieces
    are now joined every ``_JOIN_EVERY``, as a streamed text's are."""
    from mcp_middleware._event_parser import _EventParser
    from mcp_middleware._pieces import _JOIN_EVERY

    parser = _EventParser(100_000)
    for _ in range(3 * _JOIN_EVERY):
        parser.feed("\n\n")
    assert parser._sent is not None
    assert len(parser._sent) < 2 * _JOIN_EVERY  # (3 * _JOIN_EVERY pieces unjoined)
    assert "".join(parser._sent) == "\n\n" * 3 * _JOIN_EVERY


@pytest.mark.parametrize("era", ERAS)
async def test_an_event_stream_of_comments_and_fields_without_data_still_sent_no_output(era: str) -> None:
    """Comments, blank lines and the fields of events that carry no data are Server-Sent Events
    that hold nothing (a keep-alive): the result still says the stream sent no output."""
    with anyio.fail_after(GUARD):
        assert await _result_of(_mislabelled_app(), "fields", era) == ("200 OK (the stream sent no output)", False)


@pytest.mark.parametrize("era", ERAS)
async def test_an_event_stream_holding_no_event_keeps_its_text_within_the_result_limit(era: str) -> None:
    """The text shown as sent is cut at ``max_result_chars``, with the marker any cut text has."""
    with anyio.fail_after(GUARD):
        text, is_error = await _result_of(_mislabelled_app(max_result_chars=40), "long", era)
    assert is_error is False
    assert text.startswith(NOT_EVENTS + "x" * 30 + "y" * 10)
    assert text[len(NOT_EVENTS) + 40 :] == "\n[truncated: 20 more characters were not included]"


@pytest.mark.parametrize("era", ERAS)
async def test_an_event_stream_with_an_event_keeps_its_events_only(era: str) -> None:
    """Once the stream dispatched an event it is an event stream: what follows that is no field
    is ignored, as WHATWG says, and the result is the events' data."""
    with anyio.fail_after(GUARD):
        assert await _result_of(_mislabelled_app(), "after", era) == ("hi", False)
