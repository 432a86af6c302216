"""A response's ``Content-Type`` ──▶ (media type, kind, charset), for :mod:`mcp_middleware._body`.

The kind says how :class:`~mcp_middleware.results.ResponseCollector` collects and shows the body:
``mcp`` (a route's own ``MCPResponse``), ``events``, ``json``, ``text``, ``untyped`` (no media type:
the first bytes decide), ``image``, ``audio`` or ``binary``. An unknown charset, or a codec that is
not a text encoding, is read as UTF-8; UTF-16 and UTF-32 without a byte order mark are read as
big-endian (see ``_marked_or_big_endian``). An RFC 7464 JSON text sequence (``application/json-seq``)
is UTF-8 text read without its record separators (see ``_without_separators``), and an event
stream UTF-8 whatever its charset says (the WHATWG's "Parsing an event stream"). A byte that is
not UTF-8 in a body read as UTF-8 is read as windows-1252 (``NOT_UTF8``), not replaced. Apps send a
handful of distinct header values: ``ResponseCollector.head`` remembers each one's answer in
``_MEDIA``.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from .content import MCP_CONTENT_TYPE

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = [
    "NOT_UTF8",
    "TEXTUAL_TYPES",
    "UTF8_CHARSETS",
    "_MEDIA",
    "_TEXTUAL_KINDS",
    "_classify",
    "_media",
    "is_textual",
]

# The one table of media types other than ``text/*`` (and a ``+xml`` or ``+yaml`` suffix, RFC 7303,
# RFC 9512) whose bodies are text (``is_textual``): a route's response of one is shown as text, not
# a base64 blob, and a raw request body of one is a text argument, not base64
# (``_request_media._is_text_media``). JSON types are JSON (``_classify``) before this is asked.
# Not ``application/http`` or ``application/mbox``: a message's body is any bytes (RFC 9112 section
# 10.1, RFC 4155), which would not survive as text.
TEXTUAL_TYPES = frozenset(
    {
        *("application/xml", "application/xml-dtd", "application/rtf", "application/csv"),
        *("application/yaml", "application/x-yaml", "application/toml", "application/sql"),
        *("application/graphql", "application/sparql-query"),
        *("application/javascript", "application/ecmascript", "application/x-javascript"),
        *("application/typescript", "application/x-sh", "application/x-csh", "application/x-perl"),
        *("application/x-ruby", "application/x-python", "application/x-httpd-php", "application/x-php"),
        *("application/x-tex", "application/x-latex", "application/x-subrip"),
        *("application/n-triples", "application/n-quads", "application/trig"),
        *("application/x-pem-file", "application/pem-certificate-chain"),
        *("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-www-form-urlencoded"),
        "application/json-seq",  # RFC 7464: read without its record separators (``_without_separators``)
    }
)
_TEXTUAL = frozenset(kind.encode() for kind in TEXTUAL_TYPES)
_TEXT_SUFFIXES = (b"+xml", b"+yaml")


def is_textual(mime: bytes) -> bool:
    """Whether a media type's bodies are text (lower case, without parameters; JSON aside)."""
    return mime.startswith(b"text/") or mime in _TEXTUAL or mime.endswith(_TEXT_SUFFIXES)


_MCP_CONTENT = MCP_CONTENT_TYPE.encode()

_TEXTUAL_KINDS = frozenset({"text", "json", "events", "mcp"})
# content-type header value -> (media type, kind, charset, whether the kind is textual, what a text's
# start loses: a UTF-8 body's byte order mark, "" for another), remembered
_MEDIA: dict[bytes, tuple[str, str, str, bool, str]] = {}


# codecs Python counts as text encodings that no body is written in: decoding ordinary text with
# them raises (idna, punycode, undefined) or reads escapes (the escape codecs)
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})


def _media(raw: bytes) -> tuple[str, str, str]:
    mime, _, params = raw.partition(b";")
    mime = mime.strip().lower()
    charset = "utf-8"
    if mime == b"text/event-stream":  # always UTF-8 (the WHATWG's "Parsing an event stream")
        return mime.decode("latin-1"), "events", charset
    for param in params.split(b";"):
        key, _, value = param.strip().partition(b"=")
        if key.lower() == b"charset" and value:
            charset = value.strip(b'"').decode("latin-1")
    if charset != "utf-8":
        try:
            codec = codecs.lookup(charset)
        except (LookupError, ValueError):  # (ValueError: a NUL in the name)
            codec = None  # an unknown charset is read as UTF-8
        # and so is a codec that is not a text encoding (base64, zlib, rot13: str.encode refuses them
        # too), or one that is no charset of a body (idna, punycode: they raise on ordinary text)
        usable = codec is not None and codec._is_text_encoding and codec.name not in _NOT_CHARSETS
        charset = codec.name if codec is not None and usable else "utf-8"
        charset = _UNLESS_MARKED.get(charset, charset)
    if mime == b"application/json-seq":  # always UTF-8 (RFC 7464 §2.2), read without its RS bytes
        charset = _SEQ.name
    return mime.decode("latin-1"), _classify(mime), charset


def _classify(mime: bytes) -> str:
    if mime == _MCP_CONTENT:
        return "mcp"
    if mime == b"text/event-stream":
        return "events"
    if mime == b"application/json" or mime.endswith(b"+json"):
        return "json"
    if not mime:
        return "untyped"  # text or binary: the first bytes decide (_body.Body._sniff)
    if is_textual(mime):
        return "text"
    if mime.startswith(b"image/"):
        return "image"
    if mime.startswith(b"audio/"):
        return "audio"
    return "binary"


# -- a byte that is not UTF-8 in a body read as UTF-8 ----------------------------------------------


@functools.cache
def _windows_1252() -> str:
    """The WHATWG's windows-1252 (what a browser reads a page without a charset as): Python's cp1252,
    and the five bytes it leaves unassigned as their C1 controls, so each byte is its own character.
    Made on the first byte that is not UTF-8, which is when Python's ``encodings.cp1252`` loads."""
    return "".join(
        bytes([byte]).decode("cp1252") if byte not in b"\x81\x8d\x8f\x90\x9d" else chr(byte) for byte in range(256)
    )


def _as_windows_1252(exc: UnicodeError) -> tuple[str, int]:
    """The error handler ``NOT_UTF8`` names: the bytes of a UTF-8 text that are not UTF-8 ──▶ each
    one its windows-1252 character, where ``errors="replace"`` put one U+FFFD for them. A route's
    text declared or taken as UTF-8 (Starlette adds ``charset=utf-8`` to every ``text/*`` type, a
    ``FileResponse`` of a Latin-1 CSV included) that is Latin-1 or windows-1252 then reads as it
    is, and no byte is lost (no two read alike); valid UTF-8 reads as before, and a body streamed
    in chunks as in one piece (the incremental decoder holds a character's start until it knows).
    Any other charset's invalid bytes are U+FFFD, as before: that charset says what they are not."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    if exc.encoding != "utf-8":
        return "\ufffd", exc.end
    table = _windows_1252()
    return "".join(table[byte] for byte in exc.object[exc.start : exc.end]), exc.end


# the ``errors`` every text body is decoded with (``Body.feed``, ``_BodyText._decode``)
NOT_UTF8 = "mcp_middleware.windows_1252"
codecs.register_error(NOT_UTF8, _as_windows_1252)


# -- UTF-16 and UTF-32 whose byte order the charset does not say ----------------------------------

_Decode = Callable[["ReadableBuffer", str | None, bool], tuple[str, int]]


def _marked_or_big_endian(bits: int) -> codecs.CodecInfo:
    """UTF-16 or UTF-32 (``bits``) as a byte order mark says, else big-endian: RFC 2781 §4.3 for
    UTF-16, the Unicode Standard §3.10 (D98, D101) for both; the mark is not part of the text.
    Python's own ``utf-16``/``utf-32`` read a body without a mark in the machine's byte order
    (little-endian on x86 and ARM), and their incremental decoders raise on one even with
    ``errors="replace"``. ``_media`` names these codecs for such charsets, so a body in one piece
    (``bytes.decode``) and a streamed one (the incremental decoder) are read alike, at no cost to
    any other charset. (The WHATWG Encoding Standard, for browsers, reads a BOM-less ``utf-16`` as
    little-endian; an HTTP charset is the IANA one, which RFC 2781 defines.)"""
    width = bits // 8
    big: _Decode = getattr(codecs, f"utf_{bits}_be_decode")
    little: _Decode = getattr(codecs, f"utf_{bits}_le_decode")
    big_mark, little_mark = getattr(codecs, f"BOM_UTF{bits}_BE"), getattr(codecs, f"BOM_UTF{bits}_LE")

    def order(start: bytes) -> tuple[_Decode, int]:
        """How the text after the first ``width`` bytes is read, and how many bytes the mark takes."""
        if start == big_mark:
            return big, width
        if start == little_mark:
            return little, width
        return big, 0

    def first(data: ReadableBuffer, errors: str, final: bool) -> tuple[_Decode, str, int]:
        """The start of a body: how the rest is read, the text, and the bytes used."""
        view = memoryview(data)  # (bytes.decode hands a codec a memoryview)
        read, skip = order(bytes(view[:width]))
        text, used = read(view[skip:], errors, final)
        return read, text, skip + used

    def decode(data: ReadableBuffer, errors: str = "strict") -> tuple[str, int]:
        _, text, used = first(data, errors, True)
        return text, used

    class Decoder(codecs.BufferedIncrementalDecoder):
        read: _Decode | None = None  # once the first bytes have said the order

        def _buffer_decode(self, input: ReadableBuffer, errors: str, final: bool) -> tuple[str, int]:
            if self.read is not None:
                return self.read(input, errors, final)
            if memoryview(input).nbytes < width and not final:
                return "", 0  # the order is not known yet
            self.read, text, used = first(input, errors, final)
            return text, used

        def reset(self) -> None:
            super().reset()
            self.read = None

    name = f"mcp_middleware.utf_{bits}"  # as codecs.lookup writes it (lower case, "_" for "-")
    # (the big-endian codec's own encode: Python's encodings.utf_16_be / utf_32_be name this function)
    encode = getattr(codecs, f"utf_{bits}_be_encode")
    return codecs.CodecInfo(encode, decode, incrementaldecoder=Decoder, name=name)


_OURS = {bits: _marked_or_big_endian(bits) for bits in (16, 32)}
codecs.register({info.name: info for info in _OURS.values()}.get)  # answers these two names only
# Python's name of a charset ─▶ the name of the codec of ours it is read with
_UNLESS_MARKED = {f"utf-{bits}": info.name for bits, info in _OURS.items()}


# -- RFC 7464 JSON text sequences ------------------------------------------------------------------

_RS = "\x1e"


def _without_separators() -> codecs.CodecInfo:
    """UTF-8 without the record separator (U+001E) that starts each JSON text of an
    ``application/json-seq`` body: each text then ends with the newline RFC 7464 puts after it,
    which reads as NDJSON (a control character helps no model, and progress shows each record as
    it comes). The codec of such a body (``_media``), so that a body in one piece and a streamed
    one are read alike, at no cost to any other body."""
    utf8 = codecs.lookup("utf-8")

    def decode(data: ReadableBuffer, errors: str = "strict") -> tuple[str, int]:
        text, used = utf8.decode(data, errors)
        return text.replace(_RS, ""), used

    class Decoder(codecs.BufferedIncrementalDecoder):
        def _buffer_decode(self, input: ReadableBuffer, errors: str, final: bool) -> tuple[str, int]:
            text, used = codecs.utf_8_decode(input, errors, final)
            return text.replace(_RS, ""), used

    return codecs.CodecInfo(utf8.encode, decode, incrementaldecoder=Decoder, name="mcp_middleware.json_seq")


_SEQ = _without_separators()
codecs.register({_SEQ.name: _SEQ}.get)
# the charsets ``_media`` gives a UTF-8 body: UTF-8 itself and a JSON text sequence's (whose
# leading byte order mark ``_body`` drops as well)
UTF8_CHARSETS = frozenset({"utf-8", _SEQ.name})
