"""The ``data`` of each event of a route's own ``text/event-stream`` body, as the chunks come.

Part of :mod:`mcp_middleware._body`: a streamed event's data goes out as a progress message, and
the result joins all of them by newlines. It imports from the package only the join of a streamed
text's pieces (:mod:`mcp_middleware._pieces`).
"""

from __future__ import annotations

from ._pieces import _JOIN_EVERY, join_since

__all__ = ["_EventParser"]

# the fields of an event other than its data (WHATWG §9.2.6): a line of one is part of an event stream
_FIELDS = frozenset({"event", "id", "retry"})


class _EventParser:
    """Incremental parser for a route's own ``text/event-stream`` body (WHATWG §9.2.6).

    Linear in the body: each chunk is scanned once, and a line that is not complete yet is kept as
    parts, not re-joined per chunk. A line break split across chunks (``\r`` | ``\n``) is one break,
    and a leading byte order mark is dropped. At most ``limit`` characters of a pending line and of
    an event's data are kept (the result holds no more than that anyway), and no data line past
    them: an event that never ends holds no more; ``dropped`` counts the data characters let go
    (with the newlines that would have joined them).


    Until it dispatches an event it also keeps the text as sent (at most ``limit`` characters of
    it), and whether a line was neither blank, nor a comment, nor a field of an event (``event``,
    ``id``, ``retry``): a body of such lines that never dispatches an event is not an event stream
    (plain text labelled one), and :meth:`as_sent` gives its text.
    """

    __slots__ = (
        "_cr",
        "_data",
        "_data_size",
        "_fresh",
        "_line",
        "_line_size",
        "_sent",
        "_sent_joined",
        "_sent_size",
        "dropped",
        "limit",
        "not_events",
    )

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0
        self._line: list[str] = []  # the incomplete line, in parts
        self._line_size = 0  # characters of it seen (kept or not)
        self._data: list[str] = []  # the current event's data lines
        self._data_size = 0
        self._cr = False  # the last text ended with "\r": a "\n" opening the next one belongs to it
        self._fresh = True  # nothing seen yet (a byte order mark may open the stream)
        self._sent: list[str] | None = []  # the text as sent, until an event is dispatched (None)
        self._sent_size = 0  # characters of it seen (kept or not)
        self._sent_joined = 0  # how many of its first parts are pieces joined already (``join_since``)
        self.not_events = False  # a line that is no part of an event stream was seen

    def feed(self, text: str) -> list[str]:
        """Return the ``data`` of every event completed by ``text``."""
        if self._fresh and text:
            self._fresh = False
            text = text.removeprefix("\ufeff")
        sent = self._sent
        if sent is not None and text:
            room = self.limit - self._sent_size
            self._sent_size += len(text)
            if room > 0:
                if len(sent) - self._sent_joined >= _JOIN_EVERY:
                    self._sent_joined = join_since(sent, self._sent_joined)
                sent.append(text if len(text) <= room else text[:room])
        return self._parse(text)

    def _parse(self, text: str) -> list[str]:
        if self._cr and text.startswith("\n"):
            text = text[1:]
            self._cr = False  # that CR's break is whole: a next LF is a break of its own
        if not text:
            return []  # (an empty chunk between a CR and its LF leaves the CR pending)
        self._cr = text.endswith("\r")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        tail = lines.pop()
        events: list[str] = []
        for line in lines:
            if self._line:
                self._hold(line)
                line, over = "".join(self._line), self._line_size - self.limit
                self._line, self._line_size = [], 0
                if over > 0 and line.startswith("data"):
                    self.dropped += over
            self._take(line, events)
        if tail:
            self._hold(tail)
        if events:
            self._sent = None  # an event stream: its text as sent is not needed
        return events

    def _hold(self, part: str) -> None:
        room = self.limit - self._line_size
        self._line_size += len(part)
        if room > 0:
            self._line.append(part if len(part) <= room else part[:room])

    def _take(self, line: str, events: list[str]) -> None:
        if line == "":
            if self._data:
                events.append("\n".join(self._data))
                self._data, self._data_size = [], 0
        elif line.startswith("data"):
            field, _, value = line.partition(":")
            if field == "data":
                value = value[1:] if value.startswith(" ") else value
                room = self.limit - self._data_size
                if room < 0:  # past the limit: the line and the newline joining it are let go
                    self.dropped += len(value) + 1
                    return
                if len(value) > room:
                    self.dropped += len(value) - room
                    value = value[:room]
                self._data_size += len(value) + 1
                self._data.append(value)
            elif self._sent is not None:
                self.not_events = True  # (a field "database", say: no field of an event)
        elif self._sent is not None and not line.startswith(":") and line.partition(":")[0] not in _FIELDS:
            self.not_events = True

    def flush(self) -> list[str]:
        tail = self._parse("\n\n") if self._line or self._data else []
        return tail

    def as_sent(self) -> tuple[str, int] | None:
        """(Once flushed; given once, None after) a body that dispatched no event but held a line of
        no event stream: its text as sent (at most ``limit`` characters) and how many characters of
        it were let go; None for an event stream (one that dispatched an event, or held only
        comments, blank lines and the fields of events without data: a keep-alive)."""
        sent = self._sent
        if sent is None or not self.not_events:
            return None
        self._sent = None  # given once
        return "".join(sent), max(self._sent_size - self.limit, 0)
