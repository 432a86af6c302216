"""A route's HTTP response ──▶ MCP ``CallToolResult`` content, chunk by chunk.

``ResponseCollector`` is fed the response head and then every body chunk as the route sends it.
For text-like bodies each chunk yields the text that can be shown at once (a streamed token, or the
``data`` of each complete event of an ``text/event-stream`` route), as far as the result keeps it;
the caller turns those into progress notifications. ``result()`` builds the final result from everything collected:

* JSON ──▶ the body as text, plus ``structuredContent`` when the tool has an output schema (a
  tool with one that gets no JSON object, or one cut short, gets an ``isError`` result instead);
* ``text/*`` and other textual types ──▶ text (event streams: the events' data joined by newlines);
* no content type ──▶ text if the body starts as valid UTF-8, else binary (``application/octet-stream``);
* ``image/*`` / ``audio/*`` ──▶ image / audio content, base64;
* any other binary ──▶ an embedded resource blob;
* an empty body ──▶ the status line (a redirect's with its ``Location``, which is shown anyway);
  a HEAD request's success (:class:`HeadResponseCollector`) ──▶ the status line and the headers
  that matter to a caller, whatever the route sent as a body (a response to HEAD has none);
* 4xx/5xx ──▶ ``isError: true`` with the status and the route's error detail, so the model can
  correct itself.

Text beyond ``max_text`` characters is cut with an explicit marker (and is not shown as it streams
either: a chunk crossing the limit yields what fits, later ones nothing); binary beyond
``max_binary`` bytes raises :class:`ResultTooLarge` (the caller stops the route and reports it).

A body in a ``Content-Encoding`` is decoded first, chunk by chunk (``gzip`` and ``deflate``, see
:mod:`mcp_middleware._coding`), the limits applying to what it decodes to; decoding stops past them
(``max_binary`` bytes, or 4 bytes a character of ``max_text`` for text, which is then cut with a
marker saying so), so a decompression bomb costs no more than an uncompressed body. A coding the
middleware cannot decode (``br``, ``zstd``, several in a row), or a body that is not valid in its
coding, is an ``isError`` result saying so, never the coded bytes read as text.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import zlib
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import orjson
from starlette.requests import cookie_parser

from ._coding import DECODED, Inflater, coding_of
from ._event_parser import _EventParser
from ._media import _MEDIA, _TEXTUAL_KINDS, _media
from .config import TRACE_CONTEXT
from .jsonrpc import Built, loads_exactly
from .query_keys import MARK, secret_values

__all__ = [
    "CachingCollector",
    "HeadResponseCollector",
    "ResponseCollector",
    "ResultTooLarge",
    "credential_values",
    "error_result",
    "reason_phrase",
    "text_result",
]


_HINTS = {
    401: " (authentication failed: the route rejected the credentials sent with the MCP request, or there were none)",
    403: " (permission denied)",
}


def credential_values(forwarded: tuple[tuple[bytes, bytes], ...]) -> tuple[str, ...]:
    """The secret parts of the credentials forwarded to a route, longest first: ``Authorization``
    (and a ``Basic`` one's decoded ``user:password`` and password), ``Cookie`` values (as sent, and
    unquoted as the route reads them), API-key headers, and API keys from the MCP request's query
    string (as sent and decoded). Everything forwarded but trace context is a credential."""
    found: set[str] = set()
    for name, raw in forwarded:
        value = raw.decode("latin-1")
        if name == b"authorization":
            scheme, _, credentials = value.partition(" ")
            found.update({value, credentials})
            if scheme.lower() == "basic":
                found.update(_basic(credentials))
        elif name == b"cookie":
            found.update(part.partition("=")[2] for part in value.split(";"))
            found.update(cookie_parser(value).values())  # what Starlette hands the route: unquoted
        elif name[:1] == MARK:  # a query API key's ``name=value`` pair (query_keys)
            found.update(secret_values(raw))
        elif name not in TRACE_CONTEXT:  # an API-key header (catalog.credential_headers)
            found.add(value)
    secrets = {value.strip() for value in found if len(value.strip()) >= 6}
    # and as a JSON string writes them: orjson (an error detail that is an object, written again
    # here) escapes a \ or ", and json.dumps (a route's own JSON) also writes non-ASCII as \uXXXX
    secrets |= {orjson.dumps(value).decode()[1:-1] for value in secrets}
    secrets |= {json.dumps(value)[1:-1] for value in secrets}
    return tuple(sorted(secrets, key=len, reverse=True))


def _basic(credentials: str) -> tuple[str, ...]:
    """A ``Basic`` authorization's ``user:password`` and password, as a route decodes them (UTF-8,
    RFC 7617 §2.1, else Latin-1); nothing when it is not base64."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ()
    try:
        pair = decoded.decode()
    except UnicodeDecodeError:
        pair = decoded.decode("latin-1")
    return pair, pair.partition(":")[2]


class ResultTooLarge(Exception):
    pass


def text_result(text: str, *, is_error: bool = False) -> dict[str, Any]:
    result = Built(content=[{"type": "text", "text": text}])
    if is_error:
        result["isError"] = True
    return result


def error_result(text: str) -> dict[str, Any]:
    return text_result(text, is_error=True)


def reason_phrase(status: int) -> str:
    """The status's reason phrase ("Not Found"), or "" for a code HTTP does not name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# how a text cut at the result limit goes on (``text()``); ``_redacted`` looks for it
_CUT = "\n[truncated: "

# a streamed body's pieces are joined into one string every so many (``ResponseCollector._join``)
_JOIN_EVERY = 256


# the response headers a HEAD request's result lists (beside any ``x-*`` one), in the order sent
_SHOWN = frozenset(
    {
        b"content-type",
        b"content-length",
        b"content-encoding",
        b"content-language",
        b"content-disposition",
        b"last-modified",
        b"etag",
        b"location",
        b"cache-control",
        b"expires",
        b"accept-ranges",
        b"retry-after",
        b"link",
    }
)


def _sentence(phrase: str) -> str:
    return f"{phrase[:1].upper()}{phrase[1:]}."


def _any_case(headers: Sequence[Sequence[bytes]]) -> tuple[bytes, bytes]:
    """A response's content type and content coding when its header names are not lower case
    (``ResponseCollector.head`` reads lower-case names, as apps send them, in one pass)."""
    return _header(headers, b"content-type"), b", ".join(
        bytes(value) for key, value in headers if key.lower() == b"content-encoding"
    )


def _header(headers: Sequence[Sequence[bytes]], name: bytes) -> bytes:
    """The first value of header ``name`` (lower case) in a response's own list, names in any
    case; empty when absent. Apps send lower case (Starlette does): that is tried first."""
    for key, value in headers:
        if key == name:
            return bytes(value)
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return b""


class ResponseCollector:
    """Collects one sub-response; see the module docstring."""

    # Defaults live on the class: a call sets only what differs (most JSON calls set a handful).
    status = 0
    _mime = ""
    _kind = "text"
    _decoder: codecs.IncrementalDecoder | None = None
    _textual = True
    _charset = "utf-8"
    _events: _EventParser | None = None
    _size = 0
    _dropped = 0
    _joined = 0  # how many of the first parts are pieces joined already (``_join``)
    _location = ""  # a redirect's Location
    cache_control: str | None = None  # kept by a CachingCollector only (None: not read)
    # a Content-Encoding: its name, its decoder (None once the rest is not collected), why the
    # body could not be decoded, and the limit (bytes) a text decoded past, the rest not decoded
    _coding = ""
    _inflater: Inflater | None = None
    _refusal = ""
    _overflow = 0

    def __init__(
        self,
        *,
        path: str,
        structured: bool,
        max_text: int,
        max_binary: int,
        scheme: str = "http",
        forwarded: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self._path = path
        self._scheme = scheme
        self._forwarded = forwarded  # credentials forwarded to the route: never echoed in error or redirect texts
        self._structured = structured
        self._max_text = max_text
        self._max_binary = max_binary
        self._parts: list[str] = []
        self._chunks: list[bytes] = []

    def fresh(self, *, structured: bool) -> ResponseCollector:
        """A collector with this one's settings, for another response of the same call (the one an
        app's handler would have sent, had its response not started)."""
        return type(self)(
            path=self._path,
            structured=structured,
            max_text=self._max_text,
            max_binary=self._max_binary,
            scheme=self._scheme,
            forwarded=self._forwarded,
        )

    @property
    def streamable(self) -> bool:
        """True when chunks are text that can be shown as they arrive."""
        return self._kind in ("text", "events")

    def head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        """The response's status and headers (names in any case; content-type and content-encoding
        are read, and a redirect's location)."""
        self.status = status
        if 299 < status < 400:  # shown in the result (redacted with the rest of its text)
            self._location = _header(headers, b"location").decode("latin-1")
        raw = coding = b""
        cased = False  # a name not in lower case: read them all again in any case
        for key, value in headers:  # one pass for both (apps send lower-case names: Starlette does)
            if key == b"content-type":
                if not raw:
                    raw = value
            elif key == b"content-encoding":
                coding = coding + b"," + value if coding else value
            elif not key.islower():
                cased = True
        if cased or not raw:
            raw, coding = _any_case(headers)
        raw = bytes(raw)
        known = _MEDIA.get(raw)
        if known is None:
            known = _media(raw)
            if len(_MEDIA) < 256:  # apps send a handful of distinct content types
                _MEDIA[raw] = known
        self._mime, self._kind, self._charset = known
        self._textual = self._kind in _TEXTUAL_KINDS
        if self._kind == "events":
            self._events = _EventParser(self._max_text)
        if coding:
            self._decode_from(coding_of(bytes(coding)))

    def _decode_from(self, coding: str) -> None:
        """The body is in ``coding`` ("" for none): decode it, or refuse it."""
        if not coding:
            return
        self._coding = coding
        if coding in DECODED:
            self._inflater = Inflater(coding)
        else:
            self._refuse("cannot decode")

    def _refuse(self, why: str) -> None:
        """The body cannot be decoded: the result says so, and nothing of it is collected."""
        self._refusal = f"the route's response used Content-Encoding {self._coding}, which the middleware {why}"
        self._inflater = self._events = None
        self._kind, self._textual = "undecodable", False
        self._parts, self._chunks, self._size, self._dropped = [], [], 0, 0

    def feed(self, chunk: bytes, more: bool) -> list[str]:
        """Store ``chunk``; return the pieces of text it completes, as far as the result keeps
        them (for progress messages)."""
        if self._coding:
            return self._inflated(chunk, more)
        if not self._textual:
            if self._kind == "untyped":
                return self._sniff(chunk, more)
            self._size += len(chunk)
            if self._size > self._max_binary:
                raise ResultTooLarge(f"the response exceeded the {self._max_binary}-byte limit")
            self._chunks.append(chunk)
            return []
        if self._decoder is None and not more:  # the usual one-piece body: no incremental decoder
            text = chunk.decode(self._charset, errors="replace")
        else:  # a streamed body
            if len(self._parts) - self._joined >= _JOIN_EVERY:
                self._join()
            text = self._decode(chunk, more)
        if self._events is not None:
            return self._event_data(self._events, text, more)
        text = self._store(text)
        return [text] if text else []  # what the result keeps: nothing beyond the limit is shown

    def _inflated(self, chunk: bytes, more: bool) -> list[str]:
        """``feed`` for a body in a content coding: what it decodes to is fed on, as far as the
        limits go (``max_binary`` bytes for binary; for text 4 bytes a character of ``max_text``,
        the most one takes; a body without a type may be either)."""
        inflater = self._inflater
        if inflater is None:  # refused, or past the limit
            return []
        text, binary = 4 * self._max_text, self._max_binary
        limit = max(text, binary) if self._kind == "untyped" else text if self._textual else binary
        room = limit - inflater.total
        try:
            data = inflater.inflate(chunk, room, not more)
        except zlib.error as exc:
            self._refuse(f"could not decode ({exc})")
            return []
        over = len(data) > room  # the rest is neither decoded nor counted
        if over:
            more, self._inflater = False, None
            if self._textual:
                data = data[:room]
            # (binary, and a body without a type found to be binary, raise ResultTooLarge below)
        coding, self._coding = self._coding, ""  # the plain feed, for the decoded bytes
        try:
            pieces = self.feed(data, more)
        finally:
            self._coding = coding
        if over:  # text cut at the limit: what more there was is not known (see _cut_note)
            self._overflow, self._dropped = limit, self._dropped or 1
        return pieces

    def _sniff(self, chunk: bytes, more: bool) -> list[str]:
        """No media type: text when the body starts as UTF-8, else ``application/octet-stream``."""
        if more and not chunk:
            return []
        try:
            codecs.getincrementaldecoder("utf-8")().decode(chunk, final=not more)
        except UnicodeDecodeError:
            self._kind, self._mime = "binary", "application/octet-stream"
        else:
            self._kind, self._textual = "text", True
        return self.feed(chunk, more)

    def _decode(self, chunk: bytes, more: bool) -> str:
        """A chunk of a streamed body as text."""
        if self._decoder is None:
            if self._charset == "utf-8":
                try:
                    return chunk.decode()  # a token that ends on a character boundary
                except UnicodeDecodeError:  # split (or invalid): the incremental decoder from here on
                    pass
            self._decoder = codecs.getincrementaldecoder(self._charset)(errors="replace")
        return self._decoder.decode(chunk, final=not more)

    def _join(self) -> None:
        """Join the pieces stored since the last join into one string. A streamed token kept as a
        string of its own costs ~50-80 bytes of object for a character or two; joined every
        ``_JOIN_EVERY`` pieces, the text held is close to its own size, and each character is
        copied once more (at the join) before the result's own join."""
        parts, start = self._parts, self._joined
        parts[start:] = ["".join(parts[start:])]
        self._joined = start + 1

    def _event_data(self, events: _EventParser, text: str, more: bool) -> list[str]:
        """Store the data of each event ``text`` completes, joined by newlines; return what the
        result keeps of each (an event none of which is kept is not shown)."""
        pieces = events.feed(text)
        if not more:
            pieces += events.flush()
        if events.dropped:  # data beyond the limit, let go inside the parser
            self._dropped += events.dropped
            events.dropped = 0
        shown: list[str] = []
        for piece in pieces:
            newline = "\n" if self._parts else ""
            kept = self._store(newline + piece)
            if len(kept) > len(newline) or len(kept) == len(newline) + len(piece):  # (all of an empty one)
                shown.append(kept[len(newline) :])
        return shown

    def _store(self, text: str) -> str:
        """Keep what fits of ``text`` in the result limit; return what was kept (a start of it)."""
        room = self._max_text - self._size
        if room >= len(text):
            self._parts.append(text)
            self._size += len(text)
            return text
        kept = text[:room] if room > 0 else ""
        if kept:
            self._parts.append(kept)
            self._size += room
        self._dropped += len(text) - len(kept)
        return kept

    def text(self) -> str:
        parts = self._parts
        body = parts[0] if len(parts) == 1 else "".join(parts)
        if self._dropped:
            body += self._cut_note()
        return body

    def _cut_note(self) -> str:
        if self._overflow:
            return f"{_CUT}the route's response decodes to more than {self._overflow} bytes: the rest was not included]"
        return f"{_CUT}{self._dropped} more characters were not included]"

    def result(self) -> dict[str, Any]:
        if self._kind == "mcp":
            return self._mcp_content()
        if self.status >= 400:
            return self._error()
        if self._structured:
            if self._kind == "json" and not self._dropped and self.status < 300:  # (a redirect's is no result)
                text = self.text()
                value = loads_exactly(text)
                if isinstance(value, dict):
                    return Built({"content": [{"type": "text", "text": text}], "structuredContent": value})
            return self._unstructured()
        if not self._textual:
            if self._refusal:
                return error_result(_sentence(self._refusal))
            return Built(content=[self._binary_block()])
        text = self.text()
        if self.status != 200 or not text:
            if not text or self._location:
                line = f"{self.status} {reason_phrase(self.status)}".strip()
                if self._location:
                    line += f": Location {self._location}"
                text = f"{line}\n\n{text}" if text else line
            if 299 < self.status < 400:  # a redirect's URL, in its Location or body, may carry a forwarded key
                text = self._redacted(text)
        return Built({"content": [{"type": "text", "text": text}]})

    def _unstructured(self) -> dict[str, Any]:
        """A tool with an output schema must return a conforming ``structuredContent`` (the
        official clients refuse a success without it): anything else is a tool error."""
        if self._refusal:
            return error_result(_sentence(self._refusal))
        if (cut := self.cut_short()) is not None:
            why = "The tool has an output schema, so its result must be a JSON object in full"
            return error_result(f"{why}, but {cut}.")
        answered = f"the route answered {self.status} {reason_phrase(self.status)}".rstrip()
        if self._location:
            answered += f" (Location {self._location})"
        text = self.text() if self._textual else ""  # redacted with the rest of the error text
        if 299 < self.status < 400:
            why = f"{answered}: a redirect is not a result" + (f": {text}" if text else "")
        elif self._textual and not text:
            why = f"{answered} with an empty body"
        elif self._kind == "json":
            why = f"{answered} with a body that is not a JSON object: {text}"
        elif self._textual:
            why = f"{answered} with {self._mime or 'text'} instead of JSON: {text}"
        else:
            why = f"{answered} with {self._mime} ({self._size} bytes) instead of JSON"
        return error_result(self._redacted(f"The tool has an output schema, but {why}"))

    def _mcp_content(self) -> dict[str, Any]:
        """A route's own ``MCPResponse``: its blocks are the result (the wire types check them)."""
        try:
            value = orjson.loads(self.text()) if not self._dropped else None
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict) or not isinstance(value.get("content"), list):
            return error_result("The route's MCP content was not valid (or exceeded the size limit).")
        result: dict[str, Any] = {"content": value["content"]}
        if "structuredContent" in value:
            result["structuredContent"] = value["structuredContent"]
        if value.get("isError") is True or self.status >= 400:
            result["isError"] = True
        elif self._structured and "structuredContent" not in result:
            return error_result("The tool has an output schema, but the route's MCP content has no structuredContent.")
        return result

    def cut_short(self) -> str | None:
        """Why the text is not whole ("the route's response has N characters and the result limit
        is M"), or why there is none (a content coding the middleware cannot decode), or None when
        nothing was cut at the result limit."""
        if not self._dropped:
            return self._refusal or None
        if self._overflow:
            return (
                f"the route's response decodes to more than {self._overflow} bytes "
                f"and the result limit is {self._max_text} characters"
            )
        total = self._size + self._dropped
        return f"the route's response has {total} characters and the result limit is {self._max_text}"

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def textual(self) -> bool:
        """True when the body was collected as text (``text()``), not as bytes (``body_bytes()``)."""
        return self._textual

    @property
    def mime(self) -> str:
        return self._mime

    def body_bytes(self) -> bytes:
        """Binary bodies only: everything collected."""
        return b"".join(self._chunks)

    def _binary_block(self) -> dict[str, Any]:
        data = base64.b64encode(b"".join(self._chunks)).decode("ascii")
        if self._kind in ("image", "audio"):
            return {"type": self._kind, "data": data, "mimeType": self._mime}
        uri = f"{self._scheme}://app{self._path}"
        return {"type": "resource", "resource": {"uri": uri, "mimeType": self._mime, "blob": data}}

    def _error(self) -> dict[str, Any]:
        if self._textual:
            detail = self.text()
        else:
            detail = _sentence(self._refusal) if self._refusal else f"<{self._size} bytes of {self._mime}>"
        if self._kind == "json":
            value = loads_exactly(detail)  # an integer beyond 64 bits keeps its digits
            if isinstance(value, dict) and "detail" in value:
                detail = (
                    orjson.dumps(value["detail"]).decode() if not isinstance(value["detail"], str) else value["detail"]
                )
        head = f"HTTP {self.status} {reason_phrase(self.status)}".strip() + _HINTS.get(self.status, "")
        return error_result(self._redacted(f"{head}: {detail}" if detail else head))

    def _redacted(self, text: str) -> str:
        """``text`` without the credentials forwarded to the route, nor the start of one that the
        result limit cut off."""
        for secret in credential_values(self._forwarded):
            text = text.replace(secret, "[redacted]")
            if _CUT in text and len(secret) >= 8:  # (a shorter one could be a word: a cookie's "english")
                # of "Bearer <token>" the scheme word is no secret: only prefixes that reach past it
                for size in range(len(secret) - 1, max(3, secret.find(" ") + 1), -1):
                    text = text.replace(secret[:size] + _CUT, "[redacted]" + _CUT)
        return text


class CachingCollector(ResponseCollector):
    """A collector that also keeps the response's ``Cache-Control`` (its header lines joined, ""
    without one), for the caching hints of a 2026-07-28 ``resources/read``. Tool calls use the plain
    collector, whose ``head`` reads no more than it needs."""

    def head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        super().head(status, headers)
        lines = [bytes(value).decode("latin-1") for key, value in headers if key.lower() == b"cache-control"]
        self.cache_control = ", ".join(lines)


class HeadResponseCollector(ResponseCollector):
    """The collector of a HEAD request's response. A response to HEAD has no content (RFC 9110
    §9.3.2; a server drops what a route sends, such as FastAPI's ``null`` for a None), so a
    success's result is its status line and the headers that matter to a caller (``_SHOWN``, and
    any ``x-*``), in the order sent, never a ``Set-Cookie``, the credentials forwarded to the route
    redacted. An error is any route's (its detail is what the route sent), and a tool with an output
    schema gets its body as any other."""

    _headers: Sequence[Sequence[bytes]] = ()

    def head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        super().head(status, headers)
        self._headers = headers

    def feed(self, chunk: bytes, more: bool) -> list[str]:
        if self.status < 400 and not self._structured:
            return []
        return super().feed(chunk, more)

    def result(self) -> dict[str, Any]:
        if self.status >= 400 or self._structured:
            return super().result()
        lines = [f"{self.status} {reason_phrase(self.status)}".strip()]
        for key, value in self._headers:
            name = bytes(key).lower()
            if name in _SHOWN or name.startswith(b"x-"):
                lines.append(f"{name.decode('latin-1')}: {bytes(value).decode('latin-1')}")
        return text_result(self._redacted("\n".join(lines)))
