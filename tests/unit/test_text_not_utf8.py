"""A text body read as UTF-8 (no charset, or ``charset=utf-8``: Starlette adds it to every
``text/*`` response, a ``FileResponse`` of a Latin-1 CSV included) whose bytes are not all UTF-8:
each byte that is not is read as windows-1252, as a browser reads a page of no charset (the
WHATWG's windows-1252, its five unassigned bytes their C1 controls), not replaced with U+FFFD.
A Latin-1 or windows-1252 file reads as it is, no byte is lost, and valid UTF-8 reads as before;
a body streamed in chunks reads the same as in one piece. Another declared charset's invalid
bytes are still U+FFFD: that charset says what they are not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse

from mcp_middleware import MCPMiddleware
from mcp_middleware.results import ResponseCollector
from tests.support import BASE_HEADERS, call_tool, post, request

pytestmark = pytest.mark.anyio

CSV = "name;price\ncafé;3 €\nnaïve “quoted”;10\n"
LATIN = CSV.encode("cp1252")  # é, ï: Latin-1; €, “ ”: windows-1252


def read(mime: bytes, *chunks: bytes) -> tuple[list[str], str]:
    collector = ResponseCollector(path="/x", structured=False, max_text=1000, max_binary=1000)
    collector.head(200, ((b"content-type", mime),))
    pieces: list[str] = []
    for index, chunk in enumerate(chunks):
        pieces += collector.feed(chunk, index < len(chunks) - 1)
    return pieces, collector.text()


@pytest.mark.parametrize(
    "mime", [b"text/csv", b"text/plain; charset=utf-8", b"application/xml", b"text/plain; charset=UTF8"]
)
def test_a_windows_1252_text_read_as_utf8_reads_as_it_is(mime: bytes) -> None:
    """(was: "caf\ufffd;3 \ufffd", every such byte lost)"""
    assert read(mime, LATIN) == ([CSV], CSV)


def test_streamed_it_reads_the_same_whatever_the_chunks() -> None:
    for size in (1, 2, 3, 7):
        chunks = [LATIN[i : i + size] for i in range(0, len(LATIN), size)] + [b""]
        pieces, text = read(b"text/csv", *chunks)
        assert (text, "".join(pieces)) == (CSV, CSV), size


def test_valid_utf8_around_it_reads_as_utf8_and_a_split_character_stays_whole() -> None:
    body = "€ ".encode() + b"caf\xe9 " + "😀".encode()
    assert read(b"text/plain", body)[1] == "€ café 😀"
    assert read(b"text/plain", body[:2], body[2:9], body[9:], b"")[1] == "€ café 😀"
    # a character's start cut off at the end of the body is each of its bytes, none lost
    assert read(b"text/plain", b"ok \xe2\x82")[1] == "ok â‚"
    assert read(b"text/plain", b"ok \xe2", b"\x82", b"")[1] == "ok â‚"


def test_every_byte_is_one_character_and_no_two_the_same() -> None:
    """Lossless: the 128 bytes that are never UTF-8 alone read as 128 different characters, the
    five windows-1252 leaves unassigned as their C1 controls (U+0081, U+008D, U+008F, U+0090,
    U+009D), as the WHATWG's windows-1252 decoder has them."""
    high = bytes(range(0x80, 0x100))
    body = b" ".join(bytes([byte]) for byte in high)  # (each alone: no two make a UTF-8 character)
    text = read(b"text/plain", body)[1]
    read_as = text.split(" ")
    assert len(read_as) == 128
    assert len(set(read_as)) == 128
    assert "\ufffd" not in read_as
    some = (0x80, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0x9F, 0xE9)
    assert [read_as[byte - 0x80] for byte in some] == ["€", "\x81", "\x8d", "\x8f", "\x90", "\x9d", "Ÿ", "é"]


def test_a_json_or_event_stream_body_reads_the_same() -> None:
    assert read(b"application/json", b'{"city":"M\xfcnchen"}')[1] == '{"city":"München"}'
    assert read(b"text/event-stream", b"data: caf\xe9\n\n")[1] == "café"


@pytest.mark.parametrize(
    ("mime", "body", "text"),
    [
        (b"text/plain; charset=shift_jis", b"ok \x81", "ok \ufffd"),
        (b"text/plain; charset=us-ascii", b"caf\xe9", "caf\ufffd"),
        (b"text/plain; charset=utf-16", b"\x00o\x00k\xd8", "ok\ufffd"),
    ],
)
def test_another_charset_s_invalid_bytes_are_still_replaced(mime: bytes, body: bytes, text: str) -> None:
    assert read(mime, body)[1] == text
    assert read(mime, body[:1], body[1:], b"")[1] == text


def latin_app() -> FastAPI:
    app = FastAPI()

    @app.get("/export", operation_id="export")
    async def export() -> Response:  # Starlette adds "; charset=utf-8"
        return Response(LATIN, media_type="text/csv")

    @app.get("/raw", operation_id="raw")
    async def raw() -> Response:  # no charset
        return Response(LATIN, headers={"content-type": "text/csv"})

    @app.get("/streamed", operation_id="streamed")
    async def streamed() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield from (LATIN[i : i + 5] for i in range(0, len(LATIN), 5))

        return StreamingResponse(chunks(), media_type="text/csv")

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ["legacy", "modern"])
@pytest.mark.parametrize("tool", ["export", "raw", "streamed"])
async def test_a_route_s_windows_1252_csv_is_its_text(era: str, tool: str) -> None:
    assert (await call_tool(latin_app(), era, tool, {}))["content"] == [{"type": "text", "text": CSV}]


async def test_its_progress_is_the_same_text() -> None:
    params = {"name": "streamed", "arguments": {}, "_meta": {"progressToken": str(uuid.uuid4())}}
    messages = (await post(latin_app(), request("tools/call", params), BASE_HEADERS)).messages()
    shown = [m["params"]["message"] for m in messages[:-1] if "message" in m.get("params", {})]
    assert "".join(shown) == CSV
    assert messages[-1]["result"]["content"] == [{"type": "text", "text": CSV}]
