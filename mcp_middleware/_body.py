"""A route's response, as a tool's result collects it: the status and headers, then every body
chunk as the route sends it ──▶ the text it keeps (a list of pieces) or the bytes, within the
result's limits. :class:`Body` is the collecting side of :class:`~mcp_middleware.results.ResponseCollector`
(which makes the result of what it collected).

A text-like body's chunks are decoded in its charset (one ``bytes.decode`` for the usual body in
one piece; incrementally for a streamed one, whose pieces are joined every ``_JOIN_EVERY``); an
``text/event-stream`` body's events are parsed and their data kept (:mod:`mcp_middleware._event_parser`);
a body without a media type is text when it starts as valid UTF-8, else binary. Each chunk yields
the text that can be shown at once, as far as the result keeps it.

Text beyond ``max_text`` characters is cut with an explicit marker (and is not shown as it streams
either: a chunk crossing the limit yields what fits, later ones nothing); binary beyond
``max_binary`` bytes raises :class:`ResultTooLarge` (the caller stops the route and reports it).

A body in a ``Content-Encoding`` is decoded first, chunk by chunk (``gzip`` and ``deflate``, see
:mod:`mcp_middleware._coding`), the limits applying to what it decodes to; decoding stops past them
(``max_binary`` bytes, or 4 bytes a character of ``max_text`` for text, which is then cut with a
marker saying so), so a decompression bomb costs no more than an uncompressed body. A coding the
middleware cannot decode (``br``, ``zstd``, several in a row), or a body that is not valid in its
coding, is refused (``_refusal``: the result says so), never the coded bytes read as text.

The text it keeps (its pieces within the limit, joined; the cut note) is its base,
:class:`~mcp_middleware._body_text._BodyText`, and the reading of the route's header list is
:mod:`mcp_middleware._response_headers` (both moved unchanged: a body is still one object, and each
call the same work).
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, Self

from ._body_text import _BodyText
from ._coding import DECODED, Inflater, coding_of
from ._media import _MEDIA, _TEXTUAL_KINDS, NOT_UTF8, UTF8_CHARSETS, _media
from ._output_shape import NO_SHAPE, OutputShape
from ._pieces import _JOIN_EVERY
from ._printable import printable
from ._response_headers import _NAME, _SLOTS, Placed, _all_values, _slots

if TYPE_CHECKING:
    from ._event_parser import _EventParser

__all__ = ["ALONE", "NOT_CALLED", "Body", "Called", "Caller", "Hiding", "ResultTooLarge"]


class ResultTooLarge(Exception):
    pass


class Called(Protocol):
    """The request the route answered, as a blob's URI says it and a 303's result reads its method
    (``dispatch.SubRequest`` is one)."""

    @property
    def method(self) -> str: ...

    @property
    def query_string(self) -> bytes: ...


class _NotCalled(NamedTuple):
    method: str = "GET"
    query_string: bytes = b""


NOT_CALLED = _NotCalled()  # no request known (a collector made on its own): a GET, no query string


class Caller(Protocol):
    """The call a route answers, as a blob's URI reads its MCP request's scope (its scheme;
    ``toolcall.Invocation`` is one)."""

    @property
    def parent(self) -> Mapping[str, Any]: ...


class Hiding(Protocol):
    """What no result of a route shows: the credential header names its server's app declares
    (its API keys, its ``forward_headers``; ``toolcall.CallLimits`` is one, each server's own)."""

    @property
    def hidden_headers(self) -> frozenset[bytes]: ...


class _Alone(NamedTuple):
    parent: Mapping[str, Any] = {}
    hidden_headers: frozenset[bytes] = frozenset()


# a collector made on its own (no call): no scope to read, no app's credential names to leave out
ALONE = _Alone()


# the kinds whose streamed text goes out as progress (``Body.streamable``)
_STREAMABLE = frozenset({"text", "events", "json"})


class Body(_BodyText):
    """Collects one sub-response's body; see the module docstring."""

    # Defaults live on the class: a call sets only what differs (most JSON calls set a handful);
    # but what every call reads (the status, kind and coding, and _BodyText's decoder, charset, mark,
    # size and dropped count) is set by __init__: on CPython 3.11 a name that is also a class
    # attribute is read through the generic lookup (~280 machine instructions against ~80).
    status: int
    # the route's own header list (read it, don't keep it beyond the call): a HEAD success's
    # result shows them, and a call reads a streamed body's declared length in them
    headers: Sequence[Sequence[bytes]] = ()
    _mime = ""
    _kind: str
    _textual: bool
    _events: _EventParser | None
    _location = ""  # a Location (shown for a redirect, a 201 and a 202; see ``_rest``)
    _retry_after = ""  # a Retry-After (shown for an error)
    _disposition = b""  # a Content-Disposition (its file name said before a blob; see ``_rest``)
    # the headers a tool's result shows after its blocks, a "name: value" line each ("" for none;
    # ``_response_headers.shown``, see ``_rest``)
    _listed = ""
    # a 401's or 403's WWW-Authenticate ("" without one; None for any other status): the route
    # refused the credentials, and the result says so (``results.Refusal``)
    challenge: str | None = None
    cache_control: str | None = None  # kept by a CachingCollector only (None: not read)
    # a Content-Encoding: its name and its decoder (None once the rest is not collected); why the
    # body could not be decoded, and the limit a text decoded past, are _BodyText's
    _coding: str
    _inflater: Inflater | None = None
    _chunks: list[bytes] | None = None  # a binary body's, made with its first chunk (a text's has none)

    # By position or by name: ``run_tool`` passes them by position, in this order, since a class
    # called with keywords builds a dict of them per call (~3,000 machine instructions for seven on
    # CPython 3.11, against a positional call's frame filled in place).
    def __init__(
        self,
        path: str,
        structured: bool,
        max_text: int,
        max_binary: int,
        called: tuple[Called, Caller, Hiding] = (NOT_CALLED, ALONE, ALONE),
        forwarded: tuple[tuple[bytes, bytes], ...] = (),
        output: OutputShape = NO_SHAPE,
    ) -> None:
        self._path = path
        # the route's request (its query string), the call (its MCP request's ASGI scope: its scheme)
        # and its server's limits (the credential header names no result shows), read only for an
        # embedded blob's URI and a result's headers (one argument: what the usual call passes
        # costs no more)
        self._called = called
        self._forwarded = forwarded  # credentials forwarded to the route: never echoed in error or redirect texts
        self._structured = structured
        self._output = output  # what the output schema's top level says of a result (with ``structured``)
        self._max_text = max_text
        self._max_binary = max_binary
        self._parts: list[str] = []
        self.status = 0
        self._kind, self._textual, self._events, self._coding = "text", True, None, ""
        self._decoder, self._charset, self._size, self._dropped = None, "utf-8", 0, 0  # (_BodyText's)
        self._mark = "\ufeff"  # (_BodyText's)

    def fresh(self, *, structured: bool) -> Self:
        """A collector with this one's settings, for another response of the same call (the one an
        app's handler would have sent, had its response not started)."""
        return type(self)(
            path=self._path,
            structured=structured,
            max_text=self._max_text,
            max_binary=self._max_binary,
            called=self._called,
            forwarded=self._forwarded,
            output=self._output,
        )

    @property
    def streamable(self) -> bool:
        """True when chunks are text that can be shown as they arrive: text, events, and JSON (a
        JSON body shows as progress only when it streams: a ``JSONResponse`` sends one chunk)."""
        return self._kind in _STREAMABLE

    def head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        """The response's status and headers (names in any case; content-type is read, a refusal's
        challenge, and the less usual headers only when there are any: ``_rest``)."""
        self.status = status
        self.headers = headers
        # (one comparison on a success's path, as before)
        if status > 299 and (status == 401 or status == 403):  # a refusal of the credentials: a Refusal
            self.challenge = _all_values(headers, b"www-authenticate")
        try:  # where its content type and the rest are, by its names (one C-level pass to key them)
            typed, rest = _SLOTS[tuple(map(_NAME, headers))]
        except (KeyError, TypeError):  # new names (or names that are no key)
            typed, rest = _slots(headers)
        for at in typed:  # the first that is not empty (usually the one there is)
            raw = headers[at][1]
            if type(raw) is not bytes:  # (as in SubExchange.child_send: bytes() of bytes is a generic call)
                raw = bytes(raw)
            if raw:
                break
        else:  # none, or all empty (set here: the usual response's loop breaks)
            raw = b""
        known = _MEDIA.get(raw)
        if known is None:
            mime, kind, charset = _media(raw)
            # a UTF-8 text's (a JSON text sequence's too) one leading byte order mark is none of it
            # (an event stream's parser drops its own; in another charset a U+FEFF is a character,
            # RFC 2781 §3.3)
            mark = "\ufeff" if charset in UTF8_CHARSETS and kind != "events" else ""
            known = mime, kind, charset, kind in _TEXTUAL_KINDS, mark
            if len(_MEDIA) < 256:  # apps send a handful of distinct content types
                _MEDIA[raw] = known
        self._mime, self._kind, self._charset, self._textual, self._mark = known
        if rest:  # (``()`` for the usual response: nothing more to read)
            self._rest(headers, rest)

    def _rest(self, headers: Sequence[Sequence[bytes]], rest: Placed) -> None:
        """The response's less usual headers, where ``_slots`` found them: a ``Location`` (a
        redirect's, a 201's new resource, a 202's job to poll; on any other status it means
        nothing to the caller, RFC 9110 §10.2.2) and a ``Retry-After`` (an error's), kept as the
        result shows them (``printable``: a line break or control character in a value cannot
        start a line of the result; redacted with the rest of its text), a ``Content-Disposition``
        (kept as sent), a ``Content-Encoding``, decoded (or the body refused), and the headers a
        tool's result shows after its blocks (``_listed``)."""
        codings, located, retry, disposed, listed = rest
        status = self.status
        if disposed:  # (read as the file's name only when the body is a blob: ``results``)
            self._disposition = bytes(headers[disposed[0]][1])
        if located and (status == 201 or status == 202 or 299 < status < 400):
            self._location = printable(bytes(headers[located[0]][1]).decode("latin-1"))
        if retry:
            self._retry_after = printable(bytes(headers[retry[0]][1]).decode("latin-1"))
        if codings:
            self._decode_from(coding_of(b",".join(bytes(headers[at][1]) for at in codings)))
        if listed:
            self._listed = _lines(headers, listed, status, self._called[2].hidden_headers)

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
        self._parts, self._chunks, self._size, self._dropped = [], None, 0, 0

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
            if self._chunks is None:
                self._chunks = [chunk]
            else:
                self._chunks.append(chunk)
            return []
        if self._decoder is None and not more:  # the usual one-piece body: no incremental decoder
            text = chunk.decode(self._charset, NOT_UTF8).removeprefix(self._mark)
        else:  # a streamed body
            if len(self._parts) - self._joined >= _JOIN_EVERY:
                self._join()
            text = self._decode(chunk, more)
            if self._mark and text:  # the text's start (an empty piece is none: a character split)
                text, self._mark = text.removeprefix(self._mark), ""
        if self._kind == "events":
            events = self._events
            if events is None:  # (made with the first chunk: the usual body pays nothing for it)
                from ._event_parser import _EventParser  # loaded by the first event-stream body

                events = self._events = _EventParser(self._max_text)
            return self._event_data(events, text, more)
        text = self._store(text)
        return [text] if text else []  # what the result keeps: nothing beyond the limit is shown

    def cut_short_here(self) -> None:
        """The body ends here, before its last chunk (the route raised, or ran out of time): an
        event stream's parse is finished as that chunk would finish it (the pending event's data
        kept, a body of plain text labelled one given as sent), so the failure's text has it."""
        if self._events is not None:
            self._event_data(self._events, "", False)

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
        if over:  # text cut at the limit: what more there was is not known (see cut_note)
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

    def streamed(self) -> bool:
        """Whether the response was a stream: its head declared no ``Content-Length`` (a
        ``StreamingResponse``, an ``EventSourceResponse``, a path operation that yields; a whole
        ``Response`` always declares one) and its status has content (not a 204). Read only for a
        body with no text (``results``)."""
        return self.status != 204 and not any(bytes(name).lower() == b"content-length" for name, _ in self.headers)

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
        return b"".join(self._chunks or ())


def _lines(headers: Sequence[Sequence[bytes]], listed: tuple[int, ...], status: int, hidden: frozenset[bytes]) -> str:
    """The headers at ``listed`` as a result shows them, a ``name: value`` line each (the name in
    lower case; both ``printable``: a line break cannot start a line of its own), in the order
    sent; an error's Retry-After is left out (its text says it already), and so is a header of a
    name the app declares a credential (``hidden``, its server's own: ``Hiding``)."""
    lines = []
    for at in listed:
        lower = bytes(headers[at][0]).lower()
        name = lower.decode("latin-1")
        if (status < 400 or name != "retry-after") and lower not in hidden:
            lines.append(f"{printable(name)}: {printable(bytes(headers[at][1]).decode('latin-1'))}")
    return "\n".join(lines)
