"""The text a response's body keeps for a tool's result: its pieces, within ``max_text``
characters, and why the text is not whole.

Part of :mod:`mcp_middleware._body`: :class:`_BodyText` is the base of
:class:`~mcp_middleware._body.Body` (one object per response still), which decodes and feeds each
chunk; here a streamed chunk is decoded (:meth:`_BodyText._decode`), what fits of a text is kept
(:meth:`_BodyText._store`) and the kept pieces joined every ``_JOIN_EVERY`` (:meth:`_BodyText._join`),
an event stream's data stored event by event (:meth:`_BodyText._event_data`), and the whole text
read with its cut note (:meth:`_BodyText.text`, :meth:`_BodyText.cut_short`).
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING

from ._media import NOT_UTF8
from ._pieces import join_since
from ._result_shapes import cut_note

# what opens a tool result's text of an event stream that held no event (``_BodyText._as_sent``)
NOT_EVENTS = "The route's text/event-stream body held no Server-Sent Events; as sent:\n\n"

if TYPE_CHECKING:
    from ._event_parser import _EventParser

__all__ = ["_BodyText"]


class _BodyText:
    """The text side of a :class:`~mcp_middleware._body.Body` (see the module docstring)."""

    # Defaults live on the class (see Body); ``Body.__init__`` sets the parts and the limit, and
    # what every call reads (the decoder, charset, mark, size and dropped count: see Body).
    _parts: list[str]
    _max_text: int
    _decoder: codecs.IncrementalDecoder | None
    _charset: str
    # what the text's start loses: one byte order mark (RFC 8259 §8.1 lets a JSON parser ignore
    # it; a text has none of it either), "" once the text has started (``Body.feed``)
    _mark: str
    _size: int
    _dropped: int
    _joined = 0  # how many of the first parts are pieces joined already (``_join``)
    _refusal = ""
    _preface = ""  # what a tool result's text opens with (``NOT_EVENTS``: see ``_as_sent``)
    _overflow = 0
    # (a Content-Encoding's) why the body could not be decoded, and the limit (bytes) a text decoded
    # past, the rest not decoded

    def _decode(self, chunk: bytes, more: bool) -> str:
        """A chunk of a streamed body as text."""
        if self._decoder is None:
            if self._charset == "utf-8":
                try:
                    return chunk.decode()  # a token that ends on a character boundary
                except UnicodeDecodeError:  # split (or invalid): the incremental decoder from here on
                    pass
            self._decoder = codecs.getincrementaldecoder(self._charset)(errors=NOT_UTF8)
        return self._decoder.decode(chunk, final=not more)

    def _join(self) -> None:
        """Join the pieces stored since the last join into one string (:func:`join_since`)."""
        self._joined = join_since(self._parts, self._joined)

    def _event_data(self, events: _EventParser, text: str, more: bool) -> list[str]:
        """Store the data of each event ``text`` completes, joined by newlines; return what the
        result keeps of each (an event none of which is kept is not shown)."""
        pieces = events.feed(text)
        if not more:
            pieces += events.flush()
            sent = events.as_sent()  # (given once: a failure after the last chunk finds None)
            if sent is not None:  # no event stream, labelled one: its text is the result
                self._as_sent(*sent)
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

    def _as_sent(self, text: str, dropped: int) -> None:
        """The text of a ``text/event-stream`` body that held no event but lines of no event stream
        (plain text labelled one), as sent, within the limit: the result's text, after a line saying
        so (outside the limit; a tool's result only: see :meth:`contents`). Without it the result
        said the stream sent no output, and a model read that the route returned nothing."""
        self._preface = NOT_EVENTS
        self._store(text)
        self._dropped += dropped

    def _store(self, text: str) -> str:
        """Keep what fits of ``text`` in the result limit; return what was kept (a start of it)."""
        size = self._size + len(text)
        if size <= self._max_text:  # all of it (the usual body)
            self._parts.append(text)
            self._size = size
            return text
        room = self._max_text - self._size
        kept = text[:room] if room > 0 else ""
        if kept:
            self._parts.append(kept)
            self._size += room
        self._dropped += len(text) - len(kept)
        return kept

    def text(self) -> str:
        """A tool result's text: the text kept, its cut note, after the line saying a body labelled
        ``text/event-stream`` held no event (``_preface``, "" for any other body)."""
        body = "".join(self._parts)  # (a text in one piece is that piece: str.join copies no single str)
        if self._dropped:
            body += cut_note(self._dropped, self._overflow)
        return self._preface + body  # ("" + body is body, not a copy)

    def contents(self) -> str:
        """The text as the route sent it (with its cut note), for a resource's contents or a
        prompt's message: :meth:`text` without a tool result's preface."""
        return self.text()[len(self._preface) :]  # (``s[0:]`` is ``s``)

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
