"""A file's kind by its first bytes (its magic number), for the common kinds: a media type and a
filename extension, or None.

One table for both directions: a file part declared only as bytes gets the type its bytes show
(:mod:`mcp_middleware._query_and_body`), and a route's image goes out as an image block only when
its bytes are of a type a model's API reads and look whole (``whole``: :mod:`mcp_middleware.results`).
"""

from __future__ import annotations

__all__ = ["sniffed", "whole"]

# (offset, signature, media type, extension); a signature at offset 8 is a RIFF container's form
_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", b"image/png", b".png"),
    (0, b"\xff\xd8\xff", b"image/jpeg", b".jpg"),
    (0, b"GIF87a", b"image/gif", b".gif"),
    (0, b"GIF89a", b"image/gif", b".gif"),
    (8, b"WEBP", b"image/webp", b".webp"),
    (0, b"%PDF-", b"application/pdf", b".pdf"),
    (0, b"PK\x03\x04", b"application/zip", b".zip"),
    (0, b"\x1f\x8b", b"application/gzip", b".gz"),
    (8, b"WAVE", b"audio/wav", b".wav"),
    (0, b"ID3", b"audio/mpeg", b".mp3"),
    (0, b"OggS", b"audio/ogg", b".ogg"),
)


def sniffed(data: bytes) -> tuple[bytes, bytes] | None:
    """The media type and extension ``data``'s first bytes show, or None for none of the table's."""
    for offset, signature, media, extension in _SIGNATURES:
        if data.startswith(signature, offset) and (offset == 0 or data.startswith(b"RIFF")):
            return media, extension
    return None


# A PNG's first chunk is its IHDR (13 bytes of data), its last the IEND (no data, a fixed CRC)
_PNG_IHDR = b"\x00\x00\x00\x0dIHDR"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def whole(media: bytes, data: bytes) -> bool:
    """Whether an image of ``media`` (a type ``sniffed`` gave for ``data``) ends as a whole one of
    its format does: cheap checks of its structure's two ends, no decoding, for an image cut short
    (a truncated download, a partial read) that a model's API would refuse to decode. PNG: the
    IHDR chunk first and the IEND chunk last; JPEG: the EOI marker (FF D9) last; GIF: a block's
    terminator (00) and the trailer (3B) last; WebP: as long as its RIFF header says. Any other
    type: True (nothing is checked). Data after an image's end (a JPEG motion photo's video) is
    not whole either: the checks are of the last bytes."""
    if media == b"image/png":
        return data.startswith(_PNG_IHDR, 8) and data.endswith(_PNG_IEND)
    if media == b"image/jpeg":
        return len(data) >= 4 and data.endswith(b"\xff\xd9")
    if media == b"image/gif":
        return len(data) >= 15 and data.endswith(b"\x00;")  # 6 + 7 bytes of header and screen first
    if media == b"image/webp":
        return len(data) >= 12 and int.from_bytes(data[4:8], "little") + 8 == len(data)
    return True
