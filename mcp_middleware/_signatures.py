"""A file's kind by its first bytes (its magic number), for the common kinds: a media type and a
filename extension, or None.

One table for both directions: a file part declared only as bytes gets the type its bytes show
(:mod:`mcp_middleware._query_and_body`), and a route's image goes out as an image block only when
its bytes are of a type a model's API reads (:mod:`mcp_middleware.results`).
"""

from __future__ import annotations

__all__ = ["sniffed"]

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
