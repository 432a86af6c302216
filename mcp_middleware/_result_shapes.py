"""The shapes and fixed texts of a tool's result, for :mod:`mcp_middleware.results`: a text or
error ``CallToolResult``, a status's reason phrase and the hints added to some, the note that ends a
text cut at the result limit, and a HEAD request's status line and headers."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Final

from ._printable import printable
from ._response_headers import _cut, credential
from .jsonrpc import Built

__all__ = [
    "CUT",
    "HINTS",
    "NOT_MODIFIED",
    "REDACTED",
    "cut_note",
    "declared_size",
    "error_result",
    "head_text",
    "is_redirect",
    "located",
    "reason_phrase",
    "saw_it_done",
    "sentence",
    "status_line",
    "text_result",
]


HINTS = {
    401: " (authentication failed: the route rejected the credentials sent with the MCP request, or there were none)",
    403: " (permission denied)",
}

# no redirect: the route did its work (a conditional request) and answered "unchanged"
NOT_MODIFIED: Final = 304

# how a text cut at the result limit goes on (``cut_note``); ``_redaction.redacted`` looks for it
CUT = "\n[truncated: "
REDACTED = "[redacted]"  # what a credential is shown as (``_redaction``); no cut splits it (``_cut``'s ``whole``)


# Claude Code keeps a tool's result in the conversation up to about 50,000 characters, writing a
# larger one to a file the model sees a preview of, unless the tool declares its result's size in
# ``_meta["anthropic/maxResultSizeChars"]`` (its own ceiling: 500,000; other clients ignore the
# key). Every tool declares ``max_result_chars`` with room for what follows a text cut there (the
# cut note, a 201's Location, the response headers, which are fitted in what is left of it:
# ``results``).
ROOM_PAST_THE_LIMIT: Final = 1_000
MOST_RESULT_SIZE: Final = 500_000


def declared_size(max_text: int) -> int:
    """The size of a result every tool declares, for a result limit of ``max_text`` characters."""
    return min(max_text + ROOM_PAST_THE_LIMIT, MOST_RESULT_SIZE)


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


def is_redirect(status: int) -> bool:
    """A 3xx other than 304 Not Modified: a redirect, which is not followed, so no result of the
    route (a 304 is the route's answer to a conditional request, "unchanged")."""
    return 299 < status < 400 and status != NOT_MODIFIED


def saw_it_done(status: int, method: str) -> bool:
    """A ``303 See Other`` answering a request other than a GET or HEAD (post-then-redirect, RFC
    9110 §15.4.4): the action was done, and the ``Location`` points to its result, so it is the
    tool's success (a redirect of any other kind, or a 303 answering a GET, is not followed, and no
    result)."""
    return status == 303 and method != "GET" and method != "HEAD"


def status_line(status: int) -> str:
    """The status line ("404 Not Found"), or the bare code for a status HTTP does not name."""
    return f"{status} {reason_phrase(status)}".strip()


def located(status: int, location: str) -> str:
    """The status line with the response's ``Location`` ("" for none), as a result shows it: a
    redirect's ("302 Found: Location /login"), a 201's or 202's ("201 Created: Location /things/7"),
    ``bounded``."""
    line = status_line(status)
    return f"{line}: Location {bounded(location)}" if location else line


def bounded(location: str) -> str:
    """A ``Location`` (redacted already) cut as a shown header's value is, past 500 characters with
    a marker, never inside a ``[redacted]`` (cut before it): a presigned URL's 1,500 would pass the
    size every tool declares. One URI, no list: a ``, `` in it is no place to cut."""
    return _cut(": " + location, items=False, whole=REDACTED)[2:]


def sentence(phrase: str) -> str:
    return f"{phrase[:1].upper()}{phrase[1:]}."


def cut_note(dropped: int, overflow: int) -> str:
    """What ends a text cut at the result limit: how many characters were left out, or, for a body
    decoded past ``overflow`` bytes (the rest not decoded), that limit."""
    if overflow:
        return f"{CUT}the route's response decodes to more than {overflow} bytes: the rest was not included]"
    return f"{CUT}{dropped} more characters were not included]"


def head_text(status: int, headers: Sequence[Sequence[bytes]], hidden: frozenset[bytes] = frozenset()) -> str:
    """A HEAD request's success: its status line and the headers that matter to a caller
    (``_SHOWN``, and any ``x-*``), in the order sent (never a ``Set-Cookie``, nor a header named as
    a ``credential`` or ``hidden``: one the app declares a credential), each ``printable``: a line
    break in a value cannot forge a header line of its own."""
    lines = [status_line(status)]
    for key, value in headers:
        name = bytes(key).lower()
        if (name in _SHOWN or name.startswith(b"x-")) and not credential(name) and name not in hidden:
            lines.append(f"{printable(name.decode('latin-1'))}: {printable(bytes(value).decode('latin-1'))}")
    return "\n".join(lines)
