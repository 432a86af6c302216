"""What ``MCPResponse`` and the ``content`` helpers refuse when they are built.

Invalid content was accepted, and the call failed later with the generic "could not be encoded as
an MCP result" (or reached the client as it was: an image whose data is not base64).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware, MCPResponse, content
from tests.support import call_tool

STRUCTURED = (
    "a mapping or a dataclass instance (the result's structuredContent, a JSON object; for a pydantic model, "
    "its model_dump(mode='json'))"
)


@dataclass
class Point:
    x: int
    y: int


@dataclass(slots=True)
class Slotted:
    label: str


class Model(BaseModel):  # (orjson writes no pydantic model: it never worked, and stays refused)
    x: int


NOT_BASE64 = "data must be the raw bytes or their base64 text, not"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2

# the names as a caller that mypy does not check uses them (some of these values pass it)
untyped: Any = content
Response: Any = MCPResponse

REFUSED: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (
        lambda: Response("x", structured=[1, 2]),
        TypeError,
        f"MCPResponse: structured must be {STRUCTURED}, not [1, 2]",
    ),
    (
        lambda: Response("x", structured="hello"),
        TypeError,
        f"MCPResponse: structured must be {STRUCTURED}, not 'hello'",
    ),
    (
        lambda: Response("x", structured=Point),
        TypeError,
        f"MCPResponse: structured must be {STRUCTURED}, not {Point!r}",
    ),
    (
        lambda: Response("x", structured=Model(x=1)),
        TypeError,
        f"MCPResponse: structured must be {STRUCTURED}, not Model(x=1)",
    ),
    (
        lambda: Response(5),
        TypeError,
        "MCPResponse: content must be a string, a content block or a list of them, not 5",
    ),
    (
        lambda: Response(b"x"),
        TypeError,
        "MCPResponse: content must be a string, a content block or a list of them, not b'x'",
    ),
    (
        lambda: Response([{"type": "txt", "text": "x"}]),
        ValueError,
        "MCPResponse: content[0] has type 'txt', not text, image, audio, resource or resource_link",
    ),
    (
        lambda: Response([content.text("a"), {"text": "x"}]),
        ValueError,
        "MCPResponse: content[1] has type None, not text, image, audio, resource or resource_link",
    ),
    (
        lambda: Response(["a", "b"]),
        TypeError,
        "MCPResponse: content[0] must be a content block (a mapping with a 'type'), not 'a'",
    ),
    (
        lambda: Response({"type": "text"}),
        ValueError,
        "MCPResponse: content[0] (a text block) has no 'text'",
    ),
    (
        lambda: Response({"type": "text", "text": 5}),
        TypeError,
        "MCPResponse: content[0]['text'] must be a string, not 5",
    ),
    (
        lambda: Response({"type": "image", "data": "aGk="}),
        ValueError,
        "MCPResponse: content[0] (an image block) has no 'mimeType'",
    ),
    (
        lambda: Response({"type": "resource", "resource": "x"}),
        TypeError,
        "MCPResponse: content[0]['resource'] must be a mapping, not 'x'",
    ),
    (
        lambda: Response({"type": "resource", "resource": {"uri": "a://b"}}),
        ValueError,
        "MCPResponse: content[0]['resource'] has neither 'text' nor 'blob' (a string)",
    ),
    (
        lambda: Response({"type": "resource", "resource": {"text": "t"}}),
        ValueError,
        "MCPResponse: content[0]['resource'] has no 'uri'",
    ),
    (
        lambda: Response({"type": "resource", "resource": {"uri": 1, "text": "t"}}),
        TypeError,
        "MCPResponse: content[0]['resource']['uri'] must be a string, not 1",
    ),
    (
        lambda: Response({"type": "resource_link", "uri": "a://b"}),
        ValueError,
        "MCPResponse: content[0] (a resource_link block) has no 'name'",
    ),
    (
        lambda: Response("x", structured={"v": {1, 2}}),
        TypeError,
        "MCPResponse: the content is not JSON: Type is not JSON serializable: set",
    ),
    (lambda: untyped.text(5), TypeError, "content.text: value must be a string, not 5"),
    (
        lambda: content.image("not base64!!", "image/png"),
        ValueError,
        "content.image: data must be the raw bytes or their base64 text, not 'not base64!!'",
    ),
    (
        lambda: content.image("-__-", "image/png"),  # (url-safe base64: not the standard alphabet)
        ValueError,
        "content.image: data must be the raw bytes or their base64 text, not '-__-'",
    ),
    (lambda: content.image("_w", "image/png"), ValueError, f"content.image: {NOT_BASE64} '_w'"),
    (lambda: content.image("YQ=", "image/png"), ValueError, f"content.image: {NOT_BASE64} 'YQ='"),
    (lambda: content.image("Y", "image/png"), ValueError, f"content.image: {NOT_BASE64} 'Y'"),
    (lambda: content.image("YWI==", "image/png"), ValueError, f"content.image: {NOT_BASE64} 'YWI=='"),
    (lambda: content.image("YQ==YQ==", "image/png"), ValueError, f"content.image: {NOT_BASE64} 'YQ==YQ=='"),
    (lambda: content.image("YWJj\u00e9", "image/png"), ValueError, f"content.image: {NOT_BASE64} 'YWJjé'"),
    (lambda: content.image("YW\vI=", "image/png"), ValueError, f"content.image: {NOT_BASE64} 'YW\\x0bI='"),
    (lambda: untyped.image(5, "image/png"), TypeError, "content.image: data must be bytes or base64 text, not 5"),
    (lambda: untyped.image(b"x", None), TypeError, "content.image: mime_type must be a string, not None"),
    (lambda: content.audio("UklGRg=", "audio/wav"), ValueError, f"content.audio: {NOT_BASE64} 'UklGRg='"),
    (lambda: untyped.audio(b"x", 5), TypeError, "content.audio: mime_type must be a string, not 5"),
    (
        lambda: content.embedded_resource("a://b", blob="%%"),
        ValueError,
        "content.embedded_resource: blob must be the raw bytes or their base64 text, not '%%'",
    ),
    (
        lambda: untyped.embedded_resource("a://b", text=5),
        TypeError,
        "content.embedded_resource: text must be a string, not 5",
    ),
    (
        lambda: untyped.embedded_resource(5, text="t"),
        TypeError,
        "content.embedded_resource: uri must be a string, not 5",
    ),
    (
        lambda: untyped.embedded_resource("a://b", text="t", mime_type=1),
        TypeError,
        "content.embedded_resource: mime_type must be a string, not 1",
    ),
    (lambda: untyped.resource_link("a://b", None), TypeError, "content.resource_link: name must be a string, not None"),
    (lambda: untyped.resource_link(5, "n"), TypeError, "content.resource_link: uri must be a string, not 5"),
]


@pytest.mark.parametrize(("build", "error", "message"), REFUSED)
def test_invalid_content_is_refused_when_it_is_built(
    build: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        build()
    assert str(raised.value) == message


def test_valid_content_is_built_as_before() -> None:
    blocks = [
        content.text("hi", annotations={"priority": 1}),
        content.image(b"\x00\xff", "image/png"),
        content.image("aGk=", "image/png"),
        untyped.audio(bytearray(b"RIFF"), "audio/wav"),  # bytes-like, as before
        content.embedded_resource("a://t", text="t", mime_type="text/plain"),
        content.embedded_resource("a://b", blob="AP8="),
        content.resource_link("a://l", "l", title="L"),
        {"type": "text", "text": "", "_meta": {"k": 1}},
    ]
    response = MCPResponse(blocks, structured=MappingProxyType({"a": 1}), is_error=True)
    assert orjson.loads(response.body) == {"content": blocks, "structuredContent": {"a": 1}, "isError": True}
    assert blocks[1]["data"] == base64.b64encode(b"\x00\xff").decode()
    assert orjson.loads(MCPResponse([]).body) == {"content": []}
    assert orjson.loads(MCPResponse("x", structured={}).body) == {
        "content": [content.text("x")],
        "structuredContent": {},
    }
    assert orjson.loads(MCPResponse(content.text("x")).body) == {"content": [{"type": "text", "text": "x"}]}


def test_structured_may_be_a_dataclass_instance() -> None:
    """orjson writes a dataclass instance as a JSON object (it worked before the check of 8bccdc7)."""
    assert orjson.loads(MCPResponse("x", structured=Point(1, 2)).body)["structuredContent"] == {"x": 1, "y": 2}
    assert orjson.loads(MCPResponse("x", structured=Slotted("a")).body)["structuredContent"] == {"label": "a"}


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_dataclass_instance_is_the_tool_result_s_structured_content(era: str) -> None:
    app = FastAPI()

    @app.get("/point", operation_id="point")
    async def point() -> MCPResponse:
        return MCPResponse("(1, 2)", structured=Point(1, 2))

    app.add_middleware(MCPMiddleware)
    result = await call_tool(app, era, "point", {})
    assert result["content"] == [{"type": "text", "text": "(1, 2)"}]
    assert result["structuredContent"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (base64.encodebytes(PNG).decode(), base64.b64encode(PNG).decode()),  # lines of 76, each ending in \n
        ("YWI", "YWI="),  # (unpadded)
        ("YQ", "YQ=="),
        (" YW\tI=\r\n", "YWI="),
        ("UklGRg=\n=", "UklGRg=="),  # (whitespace anywhere: removed first, as atob does)
        ("\fYWJj\n", "YWJj"),
        ("", ""),
    ],
)
def test_base64_text_atob_reads_is_taken_and_sent_canonical(given: str, sent: str) -> None:
    """What the TypeScript SDK's base64 check (``atob``) reads: ASCII whitespace anywhere, the
    padding left out. The schema's ``data`` and ``blob`` are ``format: byte`` (RFC 4648 base64),
    so they are sent padded, without whitespace."""
    assert content.image(given, "image/png")["data"] == sent
    assert content.audio(given, "audio/wav")["data"] == sent
    assert content.embedded_resource("a://b", blob=given)["resource"]["blob"] == sent


@pytest.mark.parametrize("given", ["hello world", "Quarterly report", "YWJ", "YR"])
def test_unpadded_text_whose_unused_bits_are_set_is_no_base64(given: str) -> None:
    """Left-out padding is taken only where the text is canonical (RFC 4648 section 3.5: the last
    character's unused bits are zero), as every encoder writes it, so a plain string given by
    mistake ("hello world" is ten letters of the alphabet) is refused rather than read as bytes."""
    with pytest.raises(ValueError, match="must be the raw bytes or their base64 text"):
        content.image(given, "image/png")
    with pytest.raises(ValueError, match="must be the raw bytes or their base64 text"):
        content.embedded_resource("a://b", blob=given)


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_line_wrapped_base64_reaches_the_client_canonical(era: str) -> None:
    app = FastAPI()

    @app.get("/chart", operation_id="chart")
    async def chart() -> MCPResponse:
        return MCPResponse(content.image(base64.encodebytes(PNG).decode(), "image/png"))

    app.add_middleware(MCPMiddleware)
    result = await call_tool(app, era, "chart", {})
    assert result["content"] == [{"type": "image", "data": base64.b64encode(PNG).decode(), "mimeType": "image/png"}]
