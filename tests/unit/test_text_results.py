"""A route's text as a tool's (or prompt's) result: one leading byte order mark is no part of it
(RFC 8259 §8.1 lets a JSON parser ignore it), in one piece or streamed."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.results import ResponseCollector
from tests.support import call_legacy, call_tool

pytestmark = pytest.mark.anyio

BOM = b"\xef\xbb\xbf"


def fed(
    mime: bytes, *chunks: bytes, structured: bool = False, coding: bytes = b""
) -> tuple[list[str], ResponseCollector]:
    collector = ResponseCollector(path="/x", structured=structured, max_text=1000, max_binary=1000)
    headers = [(b"content-type", mime)] if mime else []
    if coding:
        headers.append((b"content-encoding", coding))
    collector.head(200, headers)
    pieces: list[str] = []
    for index, chunk in enumerate(chunks):
        pieces += collector.feed(chunk, index < len(chunks) - 1)
    return pieces, collector


def test_a_json_body_after_a_byte_order_mark_is_the_structured_result() -> None:
    """It was an isError 'not a JSON object', the BOM kept in its text."""
    _, collector = fed(b"application/json", BOM + b'{"a": 1}', structured=True)
    assert collector.result() == {"content": [{"type": "text", "text": '{"a": 1}'}], "structuredContent": {"a": 1}}


@pytest.mark.parametrize(
    ("mime", "chunks", "text"),
    [
        (b"text/plain", [BOM + b"hi"], "hi"),
        (b"text/plain", [BOM + BOM + b"hi"], "\ufeffhi"),  # exactly one
        (b"text/plain; charset=utf-8", [BOM + b"caf\xc3\xa9"], "café"),
        (b"", [BOM + b"untyped"], "untyped"),  # a body without a type, text as UTF-8
        (b"text/plain; charset=iso-8859-1", [BOM + b"x"], "ï»¿x"),  # those bytes are no mark in Latin-1
        (b"text/plain; charset=utf-16", ["\ufeffhi".encode("utf-16-be")], "hi"),  # (the codec's own, as before)
        (b"application/json-seq", [BOM + b'\x1e{"a": 1}\n'], '{"a": 1}\n'),  # UTF-8, its RS bytes dropped
        (b"application/json-seq; charset=latin-1", [BOM[:2], BOM[2:] + b"\x1e1\n"], "1\n"),  # (always UTF-8)
    ],
)
def test_one_leading_byte_order_mark_is_no_part_of_a_text(mime: bytes, chunks: list[bytes], text: str) -> None:
    pieces, collector = fed(mime, *chunks)
    assert pieces == [text]
    assert collector.result() == {"content": [{"type": "text", "text": text}]}


@pytest.mark.parametrize(
    ("chunks", "pieces", "text"),
    [
        ([BOM[:1], BOM[1:] + b"h", b"i"], ["h", "i"], "hi"),  # the mark split across chunks
        ([BOM, b"hi"], ["hi"], "hi"),  # the mark a chunk of its own
        ([b"", BOM + b"hi", b""], ["hi"], "hi"),  # after an empty chunk: still the start
        ([b"a", BOM + b"b", b""], ["a", "\ufeffb"], "a\ufeffb"),  # inside the text: a character of it
    ],
)
def test_a_streamed_text_loses_its_leading_byte_order_mark_only(
    chunks: list[bytes], pieces: list[str], text: str
) -> None:
    shown, collector = fed(b"text/plain", *chunks)
    assert shown == pieces  # progress shows what the result keeps
    assert collector.result() == {"content": [{"type": "text", "text": text}]}


def test_a_streamed_json_body_after_a_byte_order_mark_is_the_structured_result() -> None:
    _, collector = fed(b"application/json", BOM + b'{"a":', b" 2}", structured=True)
    assert collector.result() == {"content": [{"type": "text", "text": '{"a": 2}'}], "structuredContent": {"a": 2}}


def test_a_compressed_text_loses_its_byte_order_mark_once_decoded() -> None:
    _, collector = fed(b"text/plain", gzip.compress(BOM + b"zipped"), coding=b"gzip")
    assert collector.result() == {"content": [{"type": "text", "text": "zipped"}]}


def test_an_event_stream_keeps_one_mark_read_as_its_own() -> None:
    """An event stream's parser drops its mark (as before, streamed or in one piece)."""
    for chunks in ([BOM + b"data: x\n\n"], [BOM, b"data: x\n\n", b""]):
        pieces, collector = fed(b"text/event-stream", *chunks)
        assert pieces == ["x"]
        assert collector.result() == {"content": [{"type": "text", "text": "x"}]}


@pytest.mark.parametrize("charset", [b"latin-1", b"utf-16", b"nonesuch"])
def test_an_event_stream_is_utf_8_whatever_its_charset_says(charset: bytes) -> None:
    """The WHATWG's event stream is always UTF-8 ("Parsing an event stream"): a charset parameter
    changes nothing, in one piece or streamed."""
    for chunks in ([b"data: caf\xc3\xa9\n\n"], [b"data: caf\xc3", b"\xa9\n\n", b""]):
        pieces, collector = fed(b"text/event-stream; charset=" + charset, *chunks)
        assert "".join(pieces) == "café"
        assert collector.result() == {"content": [{"type": "text", "text": "café"}]}


class Item(BaseModel):
    a: int


def bom_app() -> FastAPI:
    app = FastAPI()

    @app.get("/item", operation_id="item", response_model=Item)
    async def item() -> Response:
        return Response(BOM + b'{"a": 1}', media_type="application/json")

    @app.get("/free", operation_id="free")
    async def free() -> Response:
        return Response(BOM + b"plain", media_type="text/plain")

    @app.get("/streamed", operation_id="streamed", response_model=Item)
    async def streamed() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield BOM[:2]
            yield BOM[2:] + b'{"a": 3}'

        return StreamingResponse(chunks(), media_type="application/json")

    @app.get("/p", openapi_extra=declare.prompt("bom_prompt"))
    async def prompt() -> Response:
        return Response(BOM + b'["hello"]', media_type="application/json")

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_route_answering_json_after_a_byte_order_mark(era: str) -> None:
    app = bom_app()
    item: dict[str, Any] = await call_tool(app, era, "item", {})
    assert item["content"] == [{"type": "text", "text": '{"a": 1}'}]
    assert item["structuredContent"] == {"a": 1}
    assert (await call_tool(app, era, "free", {}))["content"] == [{"type": "text", "text": "plain"}]
    streamed = await call_tool(app, era, "streamed", {})
    assert streamed["structuredContent"] == {"a": 3}


async def test_a_prompt_route_answering_json_after_a_byte_order_mark_is_its_messages() -> None:
    """The prompt's JSON list was kept as raw text, its mark included."""
    got = (await call_legacy(bom_app(), "prompts/get", {"name": "bom_prompt"})).result()
    assert got["messages"] == [{"role": "user", "content": {"type": "text", "text": "hello"}}]


# -- textual application/* types: one table for responses and raw request bodies -----------------

TEXTUAL_APPLICATION_TYPES = [
    "application/toml",
    "application/sql",
    "application/yaml",
    "application/x-yaml",
    "application/vnd.oai.openapi+yaml",  # RFC 9512's +yaml suffix
    "application/graphql",
    "application/javascript",
    "application/ecmascript",
    "application/x-javascript",
    "application/x-sh",
    "application/x-csh",
    "application/x-httpd-php",
    "application/x-php",
    "application/x-ndjson",
    "application/x-www-form-urlencoded",
    "application/csv",
    "application/rtf",
    "application/x-tex",
    "application/x-latex",
    "application/xml-dtd",
    "application/x-subrip",
    "application/sparql-query",
    "application/n-triples",
    "application/n-quads",
    "application/trig",
    "application/x-pem-file",
    "application/pem-certificate-chain",
    "application/typescript",
    "application/x-perl",
    "application/x-ruby",
    "application/x-python",
]


@pytest.mark.parametrize("mime", TEXTUAL_APPLICATION_TYPES)
def test_a_textual_application_type_is_text_not_a_base64_blob(mime: str) -> None:
    _, collector = fed(mime.encode() + b"; charset=utf-8", b'a = "b"\n')
    assert collector.result() == {"content": [{"type": "text", "text": 'a = "b"\n'}]}


@pytest.mark.parametrize("mime", ["application/octet-stream", "application/pdf", "application/x-protobuf"])
def test_a_binary_application_type_stays_a_blob(mime: str) -> None:
    _, collector = fed(mime.encode(), b"\x00\x01")
    assert collector.result()["content"][0]["type"] == "resource"


@pytest.mark.parametrize("mime", ["application/http", "application/mbox"])
def test_a_message_type_carries_any_bytes_and_stays_an_exact_blob(mime: str) -> None:
    """An HTTP message (RFC 9112 section 10.1) or a mailbox (RFC 4155) holds bodies in any bytes,
    which text would change: it is a blob of those bytes, and a raw request body of it base64."""
    from mcp_middleware.catalog import build_catalog

    message = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG\xff\x00"
    _, collector = fed(mime.encode() + b"; charset=utf-8", message)
    resource = collector.result()["content"][0]["resource"]
    assert base64.b64decode(resource["blob"]) == message
    operation = {"operationId": "put", "requestBody": {"content": {mime: {"schema": {"type": "string"}}}}}
    [tool] = build_catalog({"paths": {"/m": {"put": operation}}}).tools
    assert tool.tool["inputSchema"]["properties"]["body"]["contentEncoding"] == "base64"
    assert tool.build_request({"body": base64.b64encode(message).decode()}).body == message


@pytest.mark.parametrize("mime", ["application/toml", "application/x-sh", "application/problem+yaml"])
def test_a_raw_request_body_of_a_textual_application_type_is_a_text_argument(mime: str) -> None:
    from mcp_middleware.catalog import build_catalog

    operation = {"operationId": "put", "requestBody": {"content": {mime: {"schema": {"type": "string"}}}}}
    [tool] = build_catalog({"paths": {"/config": {"put": operation}}}).tools
    assert "contentEncoding" not in tool.tool["inputSchema"]["properties"]["body"]
    assert tool.build_request({"body": 'a = "é"\n'}).body == 'a = "é"\n'.encode()
