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
_PNG_FIRST = 8 + 25  # the signature and the IHDR chunk: the IEND comes after them


def whole(media: bytes, data: bytes) -> bool:
    """Whether an image of ``media`` (a type ``sniffed`` gave for ``data``) has the end of a whole
    one of its format: cheap checks of its structure, no decoding, for an image cut short (a
    truncated download, a partial read) that a model's API would refuse to decode. PNG: the IHDR
    chunk first, its chunks up to an IEND (:func:`_png_whole`); JPEG: its segments whole up to its
    scan, then an EOI marker (FF D9) after it (:func:`_jpeg_whole`); GIF: a block's terminator (00)
    and the trailer (3B) last (not walked: data after it fails); WebP: at least as long as its
    RIFF header says (and an odd size's pad byte). Any other type: True (nothing is checked). Data
    after a PNG's, JPEG's or WebP's end (a phone's trailer, a motion photo's video) leaves it
    whole: decoders stop at the end, as the API's does."""
    if media == b"image/png":
        return data.startswith(_PNG_IHDR, 8) and _png_whole(data)
    if media == b"image/jpeg":
        return _jpeg_whole(data)
    if media == b"image/gif":
        return len(data) >= 15 and data.endswith(b"\x00;")  # 6 + 7 bytes of header and screen first
    if media == b"image/webp":
        size = int.from_bytes(data[4:8], "little")
        return len(data) >= 12 and size + 8 + (size & 1) <= len(data)
    return True


_CHUNKS = 4096  # a PNG's IDAT chunks are many (8 KiB each, libpng's); past this many, any IEND will do


def _png_whole(data: bytes) -> bool:
    """Whether a PNG's chunks, each its length, type, data and CRC, reach an IEND chunk whole: its
    first, not one inside a chunk (a thumbnail PNG in an ancillary chunk before IDAT)."""
    at = _PNG_FIRST
    for _ in range(_CHUNKS):
        if data.startswith(_PNG_IEND, at):
            return True
        at += 12 + int.from_bytes(data[at : at + 4], "big")
        if at >= len(data):
            return False
    return data.find(_PNG_IEND, at) != -1


_SOS, _EOI = 0xDA, b"\xff\xd9"
_STANDALONE = frozenset((0x01, *range(0xD0, 0xD8)))  # TEM and RST0-7: markers without a length
_SEGMENTS = 256  # a JPEG has a few dozen segments before its scan; past this many, any EOI will do


def _jpeg_whole(data: bytes) -> bool:
    """Whether a JPEG (its SOI first) is whole: its segments, each a marker and a length, whole up
    to its first scan (SOS), then an EOI (FF D9) after the scan, not only inside a segment (an
    Exif thumbnail is a JPEG with its own EOI) nor as the last bytes (a phone's trailer after it).
    An EOI before any scan ends it too. A jump per segment, then ``bytes.find`` from the scan: an
    FF in its coded data is stuffed (FF 00), so the first FF D9 there is the image's end."""
    at, end = 2, len(data)
    for _ in range(_SEGMENTS):
        if at + 2 > end or data[at] != 0xFF:
            return False
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before the marker
            at += 1
        elif marker == 0xD9:
            return True
        elif marker in _STANDALONE:
            at += 2
        elif marker == _SOS:
            return data.find(_EOI, at + 2) != -1
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return data.find(_EOI, at) != -1
