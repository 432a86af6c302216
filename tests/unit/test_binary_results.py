"""A route's binary response as a tool's result: an image block only for an image a model's API
reads (PNG, JPEG, GIF, WebP by their bytes, within 5 MiB of base64), any other binary an embedded
blob resource with its declared type."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import FileResponse, StreamingResponse

from mcp_middleware import MCPMiddleware, MCPResponse, content
from mcp_middleware.results import MAX_IMAGE_BASE64, ResponseCollector
from tests.apps import PNG
from tests.support import BASE_HEADERS, call_tool, post, request

pytestmark = pytest.mark.anyio

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
TIFF = b"II*\x00" + bytes(20)


def collected(mime: bytes, *chunks: bytes, max_binary: int = 1000) -> tuple[list[str], dict[str, Any]]:
    """The progress pieces and the result of a response of ``mime`` sent in ``chunks``."""
    collector = ResponseCollector(path="/x", structured=False, max_text=1000, max_binary=max_binary)
    collector.head(200, ((b"content-type", mime),))
    pieces: list[str] = []
    for index, chunk in enumerate(chunks):
        pieces += collector.feed(chunk, index < len(chunks) - 1)
    return pieces, collector.result()


def image(data: bytes, mime: str) -> dict[str, Any]:
    return {"type": "image", "data": base64.b64encode(data).decode(), "mimeType": mime}


def blob(data: bytes, mime: str, uri: str = "http://app/x") -> dict[str, Any]:
    return {"type": "resource", "resource": {"uri": uri, "mimeType": mime, "blob": base64.b64encode(data).decode()}}


@pytest.mark.parametrize(
    ("declared", "data", "shown"),
    [
        (b"image/png", PNG, "image/png"),
        (b"image/jpeg", JPEG, "image/jpeg"),
        (b"image/gif", GIF, "image/gif"),
        (b"image/webp", WEBP, "image/webp"),
        (b"image/jpeg", PNG, "image/png"),  # the bytes say what it is, not the label
        (b"image/x-anything", GIF, "image/gif"),
    ],
)
def test_an_image_a_model_reads_is_an_image_block_of_the_type_its_bytes_show(
    declared: bytes, data: bytes, shown: str
) -> None:
    assert collected(declared, data)[1] == {"content": [image(data, shown)]}


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        (b"image/tiff", TIFF),
        (b"image/bmp", b"BM" + bytes(20)),
        (b"image/avif", b"\x00\x00\x00\x1cftypavif" + bytes(16)),
        (b"image/x-icon", b"\x00\x00\x01\x00" + bytes(20)),
        (b"image/heic", bytes(24)),
        (b"image/png", b"<html>not found</html>"),  # mislabelled
        (b"image/png", b"\x89PNG"),  # cut before its signature ends
        (b"image/png", b"RIFF\x00\x00\x00\x00WAVEfmt "),  # a RIFF that is no WebP
        (b"image/svg", b"<svg/>"),
        (b"image/png", b""),
    ],
)
def test_any_other_image_is_an_embedded_blob_of_its_declared_type(declared: bytes, data: bytes) -> None:
    """Claude's API refuses an image block of any other type (and Claude Code keeps the refused
    block, so every later turn fails): the bytes go out as other binary does, nothing lost."""
    assert collected(declared, data)[1] == {"content": [blob(data, declared.decode())]}


def test_an_image_of_more_base64_than_a_model_reads_is_an_embedded_blob() -> None:
    """Claude's API reads at most 5 MiB of base64 an image: one byte more is a blob."""
    assert MAX_IMAGE_BASE64 == 5 * 1024 * 1024
    fits = PNG + bytes(MAX_IMAGE_BASE64 // 4 * 3 - len(PNG))  # exactly the limit in base64
    assert len(base64.b64encode(fits)) == MAX_IMAGE_BASE64
    big = fits + b"\x00"
    assert collected(b"image/png", fits, max_binary=len(big))[1] == {"content": [image(fits, "image/png")]}
    assert collected(b"image/png", big, max_binary=len(big))[1] == {"content": [blob(big, "image/png")]}


def test_a_streamed_image_is_read_whole_and_shows_no_progress() -> None:
    """The signature split across chunks: the result is the whole body's, and a binary body
    streams nothing as progress, whichever block it becomes."""
    pieces, result = collected(b"image/png", PNG[:3], PNG[3:10], PNG[10:])
    assert (pieces, result) == ([], {"content": [image(PNG, "image/png")]})
    pieces, result = collected(b"image/tiff", TIFF[:2], TIFF[2:])
    assert (pieces, result) == ([], {"content": [blob(TIFF, "image/tiff")]})


def test_audio_is_an_audio_block_whatever_its_bytes() -> None:
    assert collected(b"audio/wav", b"RIFF")[1] == {
        "content": [{"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"}]
    }


def image_app(tmp_path: Path) -> FastAPI:
    app = FastAPI()
    mislabelled = tmp_path / "really_png.jpg"
    mislabelled.write_bytes(PNG)

    @app.get("/mislabelled", operation_id="mislabelled")
    async def mislabelled_file() -> FileResponse:
        return FileResponse(mislabelled)

    @app.get("/tiff", operation_id="tiff")
    async def tiff() -> Response:
        return Response(TIFF, media_type="image/tiff")

    @app.get("/streamed", operation_id="streamed")
    async def streamed() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield PNG[:5]
            yield PNG[5:]

        return StreamingResponse(chunks(), media_type="image/png")

    @app.get("/own", operation_id="own")
    async def own() -> MCPResponse:
        return MCPResponse(content.image(TIFF, "image/tiff"))  # the app's own choice: left alone

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_route_image_goes_out_as_a_model_reads_it(era: str, tmp_path: Path) -> None:
    app = image_app(tmp_path)
    assert (await call_tool(app, era, "mislabelled", {}))["content"] == [image(PNG, "image/png")]
    [tiff] = (await call_tool(app, era, "tiff", {}))["content"]
    assert tiff["type"] == "resource"
    assert tiff["resource"]["mimeType"] == "image/tiff"
    assert base64.b64decode(tiff["resource"]["blob"]) == TIFF
    assert (await call_tool(app, era, "own", {}))["content"] == [image(TIFF, "image/tiff")]


async def test_a_streamed_image_with_a_progress_token_is_one_image_block(tmp_path: Path) -> None:
    params = {"name": "streamed", "arguments": {}, "_meta": {"progressToken": str(uuid.uuid4())}}
    reply = await post(image_app(tmp_path), request("tools/call", params), BASE_HEADERS)
    messages = reply.messages()
    shown = [m for m in messages[:-1] if m.get("method") == "notifications/progress" and "message" in m["params"]]
    assert shown == []  # a binary body streams nothing as progress
    assert messages[-1]["result"] == {"content": [image(PNG, "image/png")]}
