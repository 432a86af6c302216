"""A route's binary response as a tool's result: an image block only for an image a model's API
reads (PNG, JPEG, GIF, WebP by their bytes, within 5 MiB of base64), any other binary an embedded
blob resource with its declared type."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import FileResponse, StreamingResponse

from mcp_middleware import MCPMiddleware, MCPResponse, content
from mcp_middleware._body import ALONE
from mcp_middleware._disposition import filename
from mcp_middleware._signatures import whole
from mcp_middleware.dispatch import SubRequest
from mcp_middleware.results import MAX_IMAGE_BASE64, ResponseCollector
from tests.apps import PNG
from tests.support import BASE_HEADERS, call_tool, post, request

pytestmark = pytest.mark.anyio

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = (  # 1x1: header, screen, colour table, graphic control, image, trailer
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
TIFF = b"II*\x00" + bytes(20)
PDF = b"%PDF-1.4\n%%EOF\n"


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


def unread(data: bytes, declared: str, why: str, shown: str = "application/octet-stream") -> dict[str, Any]:
    """An image no model reads: a text block that says why, then the bytes as a blob whose type is
    no ``image/*``."""
    said = f"Not shown as an image: the route's {declared} response ({len(data)} bytes) is {why}."
    return {"content": [{"type": "text", "text": said}, blob(data, shown)]}


NOT_READ = "not a PNG, JPEG, GIF or WebP"


@pytest.mark.parametrize(
    ("declared", "data", "shown"),
    [
        (b"image/tiff", TIFF, "application/octet-stream"),
        (b"image/bmp", b"BM" + bytes(20), "application/octet-stream"),
        (b"image/avif", b"\x00\x00\x00\x1cftypavif" + bytes(16), "application/octet-stream"),
        (b"image/x-icon", b"\x00\x00\x01\x00" + bytes(20), "application/octet-stream"),
        (b"image/heic", bytes(24), "application/octet-stream"),
        (b"image/png", b"<html>not found</html>", "application/octet-stream"),  # mislabelled
        (b"image/png", b"\x89PNG", "application/octet-stream"),  # cut before its signature ends
        (b"image/png", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),  # a RIFF that is no WebP: what it is
        (b"image/png", PDF, "application/pdf"),  # the type its bytes show, when that is no image
        (b"image/svg", b"<svg/>", "application/octet-stream"),
        (b"image/png", b"", "application/octet-stream"),
    ],
)
def test_any_other_image_is_a_blob_of_no_image_type_after_a_text_that_says_so(
    declared: bytes, data: bytes, shown: str
) -> None:
    """Claude's API refuses an image block of any other type (and Claude Code keeps the refused
    block, so every later turn fails): the bytes go out as other binary does, nothing lost. The
    blob is not labelled ``image/*`` (clients turn an ``image/*`` blob into an image block, which
    the API refuses alike): the type its bytes show when that is no image, else
    ``application/octet-stream``; the text before it says the route's own type and why."""
    assert collected(declared, data)[1] == unread(data, declared.decode(), NOT_READ, shown)


# A camera's JPEG: APP0, an Exif APP1 holding a thumbnail (a JPEG of its own, FF D9 included), a
# scan (SOS, its entropy-coded data with an FF stuffed as FF 00), then its own EOI
THUMBNAIL = JPEG
PHOTO = (
    b"\xff\xd8"
    + JPEG[2:20]
    + b"\xff\xe1"
    + (2 + 6 + len(THUMBNAIL)).to_bytes(2, "big")
    + b"Exif\x00\x00"
    + THUMBNAIL
    + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    + b"\x12\xff\x00\x34" * 10
    + b"\xff\xd9"
)
# Data after an image's end, which phones write (a Samsung trailer, a motion photo's video) and
# decoders ignore: the image is whole
TRAILER = b"\x00\x00\x00\x18ftypmp42" + b"\xff\xd9\x00" * 3 + b"SEFT"


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (PHOTO, "image/jpeg"),
        (PHOTO + TRAILER, "image/jpeg"),
        (JPEG + TRAILER, "image/jpeg"),
        (PNG + TRAILER, "image/png"),
        (PNG + b"\x00", "image/png"),
        (WEBP + TRAILER, "image/webp"),
        (WEBP[:4] + b"\x1b" + WEBP[5:] + b"\x00\x00", "image/webp"),  # an odd size, its pad byte after it
        (b"\xff\xd8\xff\xff" + JPEG[3:], "image/jpeg"),  # a fill byte (FF) before a marker
    ],
)
def test_an_intact_image_with_data_after_its_end_is_an_image_block(data: bytes, shown: str) -> None:
    """Review s11fs2 item 2: a phone's photo (a Samsung trailer, a motion photo's video after the
    JPEG), a PNG with bytes after IEND or a WebP with bytes after its RIFF size were refused as cut
    short: only a file cut short is. JPEG: its segments up to the scan, then an EOI after it;
    PNG: IHDR first, an IEND chunk; WebP: at least as long as its RIFF size (and pad byte)."""
    assert collected(shown.encode(), data, max_binary=10_000)[1] == {"content": [image(data, shown)]}


def chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk (its CRC is not checked: zeros)."""
    return len(data).to_bytes(4, "big") + kind + data + bytes(4)


THUMBED = PNG[:33] + chunk(b"thMb", PNG) + PNG[33:]  # a whole PNG in an ancillary chunk before IDAT
MANY = PNG[:33] + chunk(b"tEXt", b"k\x00v") * 5_000 + PNG[33:]  # past the chunks walked: IEND found


@pytest.mark.parametrize("data", [THUMBED, THUMBED + TRAILER, MANY])
def test_a_png_is_whole_at_its_first_iend_chunk(data: bytes) -> None:
    assert collected(b"image/png", data, max_binary=100_000)[1] == {"content": [image(data, "image/png")]}


def test_a_png_of_more_chunks_than_are_walked_is_whole_when_an_iend_is_past_them() -> None:
    assert whole(b"image/png", MANY)
    assert not whole(b"image/png", MANY[:-12])


# a PNG, JPEG, GIF and WebP cut short: their magic numbers are whole, their ends are not
CUT = [
    ("PNG", THUMBED[:-12]),  # an IEND only in the PNG inside a chunk
    ("PNG", THUMBED[:-1]),
    ("PNG", PNG[:33] + chunk(b"IDAT", bytes(50))[:40]),  # a chunk's length past the data's end
    ("PNG", PNG[:-1]),  # its IEND chunk cut
    ("PNG", PNG[:40]),
    ("PNG", PNG[:8] + PNG[33:]),  # no IHDR first
    ("JPEG", JPEG[:-2]),  # no EOI (FF D9) at its end
    ("JPEG", JPEG[:-1]),
    ("JPEG", JPEG[:12]),
    ("JPEG", PHOTO[:-2]),  # an EOI only in its Exif thumbnail (skipped with its APP1 segment)
    ("JPEG", PHOTO[:-40]),
    ("JPEG", PHOTO[:30]),  # cut within a segment before the scan
    ("JPEG", b"\xff\xd8\xff\xe1\x00\x10" + JPEG[2:]),  # a segment's length past the data's end
    ("GIF", GIF[:-1]),  # no trailer (3B)
    ("GIF", GIF[:8]),
    ("GIF", GIF[:6] + b";"),  # a trailer, but not after a block's end
    ("GIF", GIF + b"SEFT"),  # data after its trailer: its blocks are not walked, the trailer must be last
    ("WebP", WEBP[:-1]),  # shorter than its RIFF size says
    ("WebP", WEBP[:12]),
    ("WebP", WEBP[:4] + b"\x1b" + WEBP[5:] + b"\x00"),  # an odd size and no pad byte after it
]


@pytest.mark.parametrize(("kind", "data"), CUT)
def test_an_image_cut_short_is_a_blob_after_a_text_that_says_so(kind: str, data: bytes) -> None:
    """A truncated image's first bytes are still its magic number, but the API cannot decode it
    and refuses the block (the conversation then fails on every later turn): its structure is
    checked cheaply, without decoding it (PNG: IHDR first, an IEND chunk; JPEG: its segments, then
    an EOI after its scan; GIF: a block's end and the trailer last; WebP: at least as long as its
    RIFF header says)."""
    declared = f"image/{kind.lower()}"
    why = f"an incomplete {kind} (cut short or damaged)"
    assert collected(declared.encode(), data)[1] == unread(data, declared, why)


def test_a_whole_image_in_chunks_is_an_image_block_and_one_cut_short_is_not() -> None:
    assert collected(b"image/jpeg", JPEG[:5], JPEG[5:])[1] == {"content": [image(JPEG, "image/jpeg")]}
    cut = JPEG[:-2]
    why = "an incomplete JPEG (cut short or damaged)"
    assert collected(b"image/jpeg", cut[:5], cut[5:])[1] == unread(cut, "image/jpeg", why)


def test_an_image_of_more_base64_than_a_model_reads_is_a_blob_after_a_text_that_says_so() -> None:
    """Claude's API reads at most 5 MiB of base64 an image: one byte more is a blob."""
    assert MAX_IMAGE_BASE64 == 5 * 1024 * 1024
    end = PNG[-12:]  # (IEND: the image is whole)
    fits = PNG[:-12] + bytes(MAX_IMAGE_BASE64 // 4 * 3 - len(PNG)) + end  # exactly the limit in base64
    assert len(base64.b64encode(fits)) == MAX_IMAGE_BASE64
    big = fits[:-12] + b"\x00" + end
    assert collected(b"image/png", fits, max_binary=len(big))[1] == {"content": [image(fits, "image/png")]}
    why = "more than the 5 MiB of base64 a model's API reads in an image"
    assert collected(b"image/png", big, max_binary=len(big))[1] == unread(big, "image/png", why)


def test_a_streamed_image_is_read_whole_and_shows_no_progress() -> None:
    """The signature split across chunks: the result is the whole body's, and a binary body
    streams nothing as progress, whichever block it becomes."""
    pieces, result = collected(b"image/png", PNG[:3], PNG[3:10], PNG[10:])
    assert (pieces, result) == ([], {"content": [image(PNG, "image/png")]})
    pieces, result = collected(b"image/tiff", TIFF[:2], TIFF[2:])
    assert (pieces, result) == ([], unread(TIFF, "image/tiff", NOT_READ))


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

    @app.get("/cut", operation_id="cut")
    async def cut() -> Response:
        return Response(PNG[:-20], media_type="image/png")

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
    # a FileResponse's validators follow the image (a later call can send them back)
    [block, listed] = (await call_tool(app, era, "mislabelled", {}))["content"]
    assert block == image(PNG, "image/png")
    assert listed["text"].startswith("Response headers:\nlast-modified: ")
    assert '\netag: "' in listed["text"]
    said = unread(TIFF, "image/tiff", NOT_READ)["content"][0]
    tiff = blob(TIFF, "application/octet-stream", "http://app/tiff")
    assert (await call_tool(app, era, "tiff", {}))["content"] == [said, tiff]
    cut = (await call_tool(app, era, "cut", {}))["content"]
    assert cut[0]["text"].endswith("is an incomplete PNG (cut short or damaged).")
    assert cut[1]["resource"]["mimeType"] == "application/octet-stream"
    assert (await call_tool(app, era, "own", {}))["content"] == [image(TIFF, "image/tiff")]


async def test_a_streamed_image_with_a_progress_token_is_one_image_block(tmp_path: Path) -> None:
    params = {"name": "streamed", "arguments": {}, "_meta": {"progressToken": str(uuid.uuid4())}}
    reply = await post(image_app(tmp_path), request("tools/call", params), BASE_HEADERS)
    messages = reply.messages()
    shown = [m for m in messages[:-1] if m.get("method") == "notifications/progress" and "message" in m["params"]]
    assert shown == []  # a binary body streams nothing as progress
    assert messages[-1]["result"] == {"content": [image(PNG, "image/png")]}


# -- the embedded resource's URI and the file's name ---------------------------------------------


def blob_of(
    headers: list[tuple[bytes, bytes]], data: bytes = PDF, *, query: bytes = b"", forwarded: Any = (), status: int = 200
) -> dict[str, Any]:
    collector = ResponseCollector(
        path="/files/7",
        called=(SubRequest("GET", "/files/7", query), ALONE._replace(parent={"scheme": "http"}), ALONE),
        structured=False,
        max_text=1000,
        max_binary=1000,
        forwarded=forwarded,
    )
    collector.head(status, headers)
    collector.feed(data, False)
    return collector.result()


PDF_TYPE = (b"content-type", b"application/pdf")


def test_the_uri_of_an_embedded_blob_keeps_the_query_string() -> None:
    """Every ``?page=`` of one route had the same URI: the query string is part of it, as sent."""
    assert blob_of([PDF_TYPE], query=b"page=2&q=a%20b") == {
        "content": [blob(PDF, "application/pdf", "http://app/files/7?page=2&q=a%20b")]
    }
    assert blob_of([PDF_TYPE]) == {"content": [blob(PDF, "application/pdf", "http://app/files/7")]}


def test_the_uri_has_the_scheme_the_mcp_request_came_in_with() -> None:
    """(http when its scope says none, as ASGI has it); a collector for another response of the
    same call (``fresh``) keeps both."""
    collector = ResponseCollector(
        path="/f",
        called=(SubRequest("GET", "/f", b"a=1"), ALONE._replace(parent={"scheme": "https"}), ALONE),
        structured=False,
        max_text=10,
        max_binary=10,
    )
    again = collector.fresh(structured=False)
    again.head(200, [PDF_TYPE])
    again.feed(b"%PDF", False)
    assert again.result()["content"][0]["resource"]["uri"] == "https://app/f?a=1"
    plain = ResponseCollector(
        path="/f", called=(SubRequest("GET", "/f"), ALONE, ALONE), structured=False, max_text=10, max_binary=10
    )
    plain.head(200, [PDF_TYPE])
    plain.feed(b"%PDF", False)
    assert plain.result()["content"][0]["resource"]["uri"] == "http://app/f"


def test_a_credential_forwarded_in_the_query_is_not_in_the_uri() -> None:
    forwarded = ((b"x-api-key", b"s3cr3t-key-value"),)
    result = blob_of([PDF_TYPE], query=b"api_key=s3cr3t-key-value&n=1", forwarded=forwarded)
    assert result["content"][0]["resource"]["uri"] == "http://app/files/7?api_key=[redacted]&n=1"


def named(disposition: bytes, data: bytes = PDF, mime: bytes = b"application/pdf") -> dict[str, Any]:
    return blob_of([(b"content-type", mime), (b"Content-Disposition", disposition)], data)


def file_text(result: dict[str, Any]) -> str:
    first = result["content"][0]
    assert first["type"] == "text", result
    assert result["content"][1]["type"] == "resource"
    text: str = first["text"]
    return text


def test_a_downloaded_file_says_its_name_type_and_size_before_its_blob() -> None:
    """A ``FileResponse(..., filename="report.pdf")``: the name was nowhere in the result, so a
    model whose client saves the blob never learned it. A text block before the blob says it
    (``content[0]`` text, as clients read first)."""
    result = named(b'attachment; filename="report.pdf"')
    assert result == {
        "content": [
            {"type": "text", "text": 'File "report.pdf" (application/pdf, 15 bytes)'},
            blob(PDF, "application/pdf", "http://app/files/7"),
        ]
    }


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        (b"attachment; filename=report.pdf", "report.pdf"),  # a token
        (b'inline;filename = "a \\"quoted\\" name.pdf"', 'a \\"quoted\\" name.pdf'),  # its quotes unescaped
        # filename* (RFC 8187) wins over filename, whichever comes first (RFC 6266 §4.3)
        (b"attachment; filename=\"fallback.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", "résumé.pdf"),
        (b"attachment; filename*=utf-8''%E2%82%AC.pdf; filename=\"EUR.pdf\"", "€.pdf"),
        (b"attachment; FILENAME*=iso-8859-1'en'caf%E9.pdf", "café.pdf"),
        # a filename* that cannot be read leaves the plain filename
        (b"attachment; filename*=UTF-8''%FF%FE.pdf; filename=\"plain.pdf\"", "plain.pdf"),
        (b"attachment; filename*=koi8-r''x.pdf; filename=\"plain.pdf\"", "plain.pdf"),
        (b'attachment; filename*=no-quotes.pdf; filename="plain.pdf"', "plain.pdf"),
        ('attachment; filename="naïve.pdf"'.encode(), "naïve.pdf"),  # raw UTF-8 in the header
        (b'attachment; filename="caf\xe9.pdf"', "café.pdf"),  # raw Latin-1
        (b'attachment; filename="../../etc/passwd"', "passwd"),  # never a path (RFC 6266 §4.3)
        (b'attachment; filename="C:\\\\temp\\\\x.pdf"', "x.pdf"),
        (b'attachment; filename="a\\r\\nb.pdf"', "arnb.pdf"),  # (quoted-pair: the letters)
        (b'attachment; filename="a\rb\x1b.pdf"', "a\\rb\\x1b.pdf"),  # control characters escaped
        (b'attachment; note="x; filename=fake.pdf"; filename=real.pdf', "real.pdf"),  # inside quotes: no parameter
        # a filename* that gives no file name leaves the plain filename too
        (b"attachment; filename*=UTF-8''; filename=\"plain.pdf\"", "plain.pdf"),
        (b"attachment; filename*=UTF-8''dir%2F; filename=plain.pdf", "plain.pdf"),
        (b"attachment; filename=plain.pdf; filename*=UTF-8''..", "plain.pdf"),
        (b"attachment; filename*=UTF-8''a%2F.; filename=plain.pdf", "plain.pdf"),
        # a filename* of characters RFC 8187 forbids cannot be read: raw bytes, a % not of two hex digits
        (b"attachment; filename*=UTF-8''caf\xc3\xa9.pdf; filename=\"plain.pdf\"", "plain.pdf"),
        (b"attachment; filename*=UTF-8''%ZZ.pdf; filename=\"plain.pdf\"", "plain.pdf"),
        (b"attachment; filename*=UTF-8''a%E.pdf; filename=\"plain.pdf\"", "plain.pdf"),
        (b"attachment; filename*=UTF-8''a%; filename=\"plain.pdf\"", "plain.pdf"),
        (b"attachment; filename*=UTF-8''a b.pdf; filename=\"plain.pdf\"", "plain.pdf"),
        (b"attachment; filename*=UTF-8''a=b.pdf; filename=\"plain.pdf\"", "plain.pdf"),
        # every attr-char, and '/' as Starlette's and Django's quote() leave it (the last segment kept)
        (b"attachment; filename*=UTF-8''!#$&+-.^_`|~aZ09.pdf", "!#$&+-.^_`|~aZ09.pdf"),
        (b"attachment; filename*=UTF-8''dir/r%C3%A9sum%c3%a9.pdf; filename=plain.pdf", "résumé.pdf"),
        # and '()*!, which JavaScript's encodeURIComponent leaves as they are (review s10g)
        (b"attachment; filename*=UTF-8''report%20(1).pdf; filename=plain.pdf", "report (1).pdf"),
        (b"attachment; filename*=UTF-8''it's%20here.pdf; filename=plain.pdf", "it's here.pdf"),
        (b"attachment; filename*=UTF-8''r%C3%A9sum%C3%A9*final!.pdf; filename=plain.pdf", "résumé*final!.pdf"),
    ],
)
def test_the_file_name_is_read_as_rfc_6266_says(disposition: bytes, name: str) -> None:
    assert file_text(named(disposition)) == f'File "{name}" (application/pdf, 15 bytes)'


@pytest.mark.parametrize(
    "disposition",
    [
        b"attachment",
        b"inline",
        b'attachment; filename=""',
        b'attachment; filename="/"',
        b"attachment; filename*=UTF-8''",
        b'attachment; filename="unterminated',
        b'attachment; filename=".."',  # no file name, as in a path
        b"attachment; filename=.",
        b'attachment; filename="a/.."',
        b"attachment; filename*=UTF-8''..; filename=\"..\"",
        b"attachment; filename",
        b"",
    ],
)
def test_without_a_file_name_the_blob_is_alone(disposition: bytes) -> None:
    assert named(disposition) == {"content": [blob(PDF, "application/pdf", "http://app/files/7")]}


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        (b"attachment; filename=a" + b" " * 100_000 + b"b.pdf", "a" + " " * 100_000 + "b.pdf"),
        (b"attachment; filename=a.pdf" + b" " * 100_000, "a.pdf"),
        (b"attachment; filename=a.pdf" + b" " * 100_000 + b'"', None),  # a quote: no parameter
        (b"attachment; filename=a" + b" \t" * 50_000 + b"; filename*=UTF-8''b.pdf", "b.pdf"),
    ],
)
def test_a_long_run_of_whitespace_in_a_token_value_is_read_in_one_pass(disposition: bytes, name: str | None) -> None:
    """An unquoted value is read greedily and then stripped: a lazy match backtracked over each
    space (12,000 of them blocked the event loop for seconds), and 100,000 would take minutes."""
    assert filename(disposition) == name


@pytest.mark.parametrize("space", [" ", "\t", " \t"])
@pytest.mark.parametrize(
    ("after", "name"),
    [
        ('"', None),  # an unterminated quote: no parameter
        ('"a b.pdf"', "a b.pdf"),
        ('"a.pdf" ; x=1', "a.pdf"),
        ("a.pdf", "a.pdf"),
    ],
)
def test_a_long_run_of_whitespace_straight_after_the_equals_sign_is_read_in_one_pass(
    space: str, after: str, name: str | None
) -> None:
    """The whitespace after ``=`` is read once: before a quoted value, or as the start of an
    unquoted one (stripped after). Read by both (``=\\s*`` then ``[^;"]*``), 100,000 spaces before a
    ``"`` that ends no quoted value were tried at each split, quadratic: minutes."""
    run = space * (100_000 // len(space))
    assert filename(f"attachment; filename={run}{after}".encode()) == name


def test_a_long_file_name_is_cut_at_255_characters() -> None:
    """The text block is bounded as the rest of the result is: a name of more characters than a
    file system's (NAME_MAX, 255) is cut there, an ellipsis saying so."""
    whole = "a" * 251 + ".pdf"
    assert file_text(named(f'attachment; filename="{whole}"'.encode())) == f'File "{whole}" (application/pdf, 15 bytes)'
    long = named(b'attachment; filename="' + b"a" * 50_000 + b'.pdf"')
    assert file_text(long) == f'File "{"a" * 255}\u2026" (application/pdf, 15 bytes)'


def test_a_file_name_is_said_for_a_blob_only() -> None:
    """Text is the body's own text, and an image block the image: only a blob gets the name (an
    image a model cannot read included, which is one)."""
    text = named(b'attachment; filename="data.csv"', b"a,b\n", b"text/csv")
    assert text == {"content": [{"type": "text", "text": "a,b\n"}]}
    png = named(b'attachment; filename="chart.png"', PNG, b"image/png")
    assert png == {"content": [image(PNG, "image/png")]}
    tiff = named(b'attachment; filename="scan.tiff"', TIFF, b"image/tiff")
    assert file_text(tiff) == f'File "scan.tiff" (image/tiff, 24 bytes), not shown as an image: it is {NOT_READ}.'
    assert tiff["content"][1]["resource"]["mimeType"] == "application/octet-stream"


def test_a_file_name_taken_from_the_header_is_redacted() -> None:
    forwarded = ((b"authorization", b"Bearer tok-abcdefgh12345"),)
    headers = [PDF_TYPE, (b"content-disposition", b'attachment; filename="tok-abcdefgh12345.pdf"')]
    assert file_text(blob_of(headers, forwarded=forwarded)) == 'File "[redacted].pdf" (application/pdf, 15 bytes)'


@pytest.mark.parametrize("key", ["sk_live/4f9a8b7c6d5e4f3a2b1c0d9e8f7a", "sk_live\\4f9a8b7c6d5e4f3a2b1c0d9e8f7a"])
@pytest.mark.parametrize("parameter", ["filename", "filename*"])
def test_a_credential_with_a_slash_in_a_file_name_is_redacted_before_its_last_segment_is_taken(
    key: str, parameter: str
) -> None:
    """Review s10g: the name's last segment was taken first, so a forwarded key with a ``/`` or
    ``\\`` in it showed its tail (``4f9a....pdf``); the name is redacted whole first."""
    forwarded = ((b"x-api-key", key.encode()),)
    value = (
        f'"report-{key.replace(chr(92), chr(92) * 2)}.pdf"'
        if parameter == "filename"
        else f"UTF-8''report-{quote(key, safe='/')}.pdf"
    )
    disposition = f"attachment; {parameter}={value}".encode()
    text = file_text(blob_of([PDF_TYPE, (b"content-disposition", disposition)], forwarded=forwarded))
    assert text == 'File "report-[redacted].pdf" (application/pdf, 15 bytes)'


KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"  # 40 characters


@pytest.mark.parametrize("pad", [200, 207, 208, 215, 230, 233, 234, 237, 238, 240, 246, 247, 250, 300])
def test_a_credential_in_a_long_file_name_is_redacted_before_the_name_is_cut(pad: int) -> None:
    """The name is redacted whole, then cut at 255 characters, never inside ``[redacted]`` (the
    cut goes before it): cut first, a credential across the cut showed its start. A name that
    redaction makes 255 characters or fewer is not cut at all."""
    forwarded = ((b"x-api-key", KEY.encode()),)
    head = "report-" + "x" * pad + "-"
    disposition = f'attachment; filename="{head}{KEY}.pdf"'.encode()
    text = file_text(blob_of([PDF_TYPE, (b"content-disposition", disposition)], forwarded=forwarded))
    whole = f"{head}[redacted].pdf"
    if len(whole) <= 255:
        shown = whole
    elif len(head) + len("[redacted]") <= 255:  # the cut after [redacted]
        shown = whole[:255] + "\u2026"
    else:  # the cut at or inside [redacted]: before it
        shown = head[:255] + "\u2026"
    assert text == f'File "{shown}" (application/pdf, 15 bytes)'
    assert KEY[:4] not in text


def test_a_201_file_says_its_name_first_and_its_location_last() -> None:
    headers = [PDF_TYPE, (b"content-disposition", b"attachment; filename=r.pdf"), (b"location", b"/files/8")]
    result = blob_of(headers, status=201)
    assert [block["type"] for block in result["content"]] == ["text", "resource", "text"]
    assert result["content"][2] == {"type": "text", "text": "201 Created: Location /files/8"}


def files_app(tmp_path: Path) -> FastAPI:
    app = FastAPI()
    report = tmp_path / "a.pdf"
    report.write_bytes(PDF)

    @app.get("/report", operation_id="report")
    async def download(n: int = 1) -> FileResponse:
        return FileResponse(report, filename="report.pdf")

    @app.get("/page", operation_id="page")
    async def page(n: int = 1) -> Response:
        return Response(PDF, media_type="application/pdf")

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_route_file_download_has_its_name_and_its_own_uri(era: str, tmp_path: Path) -> None:
    app = files_app(tmp_path)
    report = (await call_tool(app, era, "report", {"n": 3}))["content"]
    assert report[0] == {"type": "text", "text": 'File "report.pdf" (application/pdf, 15 bytes)'}
    assert report[1]["resource"]["uri"] == "http://app/report?n=3"
    uris = [(await call_tool(app, era, "page", {"n": n}))["content"][0]["resource"]["uri"] for n in (1, 2)]
    assert uris == ["http://app/page?n=1", "http://app/page?n=2"]
