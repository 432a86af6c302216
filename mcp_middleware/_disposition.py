"""The file name a response's ``Content-Disposition`` gives (RFC 6266), for the text that says
what an embedded blob is (:mod:`mcp_middleware.results`).

``filename*`` (RFC 8187: ``UTF-8''r%C3%A9sum%C3%A9.pdf``, or ISO-8859-1, the two charsets every
recipient reads) is preferred over ``filename``, whichever comes first (RFC 6266 §4.3); one that
cannot be read (of a character the RFC forbids too: a raw byte, a ``%ZZ``), or gives no file name,
leaves ``filename``. A quoted ``filename`` is unescaped,
and one whose bytes are UTF-8 (an app that wrote them raw) read as UTF-8, else as Latin-1.
Parameters are read in turn, so a ``filename=`` inside another one's quotes is no parameter, and
the first one that is not ``name=value`` ends the reading. Only the last segment of a name is
kept (RFC 6266 §4.3: never a path), and an empty one, ``.`` or ``..`` is no name; a ``clean``
function given (the result's redaction) is applied to the whole name first (review s10g: a
forwarded credential with a ``/`` in it, split first, showed its tail).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from ._http_token import TOKEN

__all__ = ["filename"]

_TYPE = re.compile(rf"\s*{TOKEN}")  # the disposition type: attachment, inline...
# a value quoted, or unquoted up to the next ';' and stripped after (greedy: a lazy one backtracked
# over each character of a run of whitespace, quadratic). Whitespace after '=' is read by one part
# only, the quoted value's own \s* or the unquoted value: read by both (=\s*, then [^;"]*), a run
# of it before a '"' that ends no value was split every way, quadratic (16,000 spaces: 3.9 s)
_PARAMETER = re.compile(rf'\s*;\s*({TOKEN})\s*=(?:\s*("(?:[^"\\]|\\.)*")\s*|([^;"]*))(?=;|$)')
_QUOTED_PAIR = re.compile(r"\\(.)")
_EXTENDED_CHARSETS = {"utf-8": "utf-8", "iso-8859-1": "latin-1"}
# RFC 8187 value-chars: attr-char or pct-encoded; and '/', which Starlette's and Django's quote()
# leave as it is (only the last segment is kept), and '()*, which JavaScript's encodeURIComponent
# leaves as they are (with '!', an attr-char: review s10g)
_VALUE_CHARS = re.compile(r"(?:[A-Za-z0-9!#$&+\-.^_`|~/'()*]|%[0-9A-Fa-f]{2})*")
_NO_NAMES = frozenset({"", ".", ".."})


def _same(name: str) -> str:
    return name


def filename(value: bytes, clean: Callable[[str], str] = _same) -> str | None:
    """The file name ``value`` (a ``Content-Disposition`` field value) gives, or None; ``clean``
    (a redaction) is applied to the whole name before its last segment is taken."""
    text = value.decode("latin-1")
    start = _TYPE.match(text)
    if start is None:
        return None
    parameters: dict[str, str] = {}
    at = start.end()
    while (parameter := _PARAMETER.match(text, at)) is not None:
        parameters.setdefault(parameter[1].lower(), parameter[2] or parameter[3].strip())
        at = parameter.end()
    extended = parameters.get("filename*")
    if extended is not None and (name := _last_segment(_extended(extended), clean)) is not None:
        return name
    plain = parameters.get("filename")
    return _last_segment(_plain(plain), clean) if plain is not None else None


def _last_segment(name: str | None, clean: Callable[[str], str]) -> str | None:
    """The file name a parameter's value gives: its last segment (of the name ``clean`` gives),
    never a path; none when that is empty, ``.`` or ``..``."""
    if name is None:
        return None
    last = clean(name).replace("\\", "/").rsplit("/", 1)[-1]
    return None if last in _NO_NAMES else last


def _extended(value: str) -> str | None:
    """An RFC 8187 ``ext-value`` (``charset'language'percent-encoded``), or None when it cannot be
    read: a charset other than the two, a character the RFC forbids (a raw byte, a space, a ``%``
    not of two hex digits), or bytes that are not of the charset."""
    charset, _, rest = value.partition("'")
    _, quoted, encoded = rest.partition("'")
    codec = _EXTENDED_CHARSETS.get(charset.lower())
    if not quoted or codec is None or _VALUE_CHARS.fullmatch(encoded) is None:
        return None
    try:
        return unquote_to_bytes(encoded).decode(codec)
    except UnicodeDecodeError:
        return None


def _plain(value: str) -> str:
    """A ``filename`` value: a quoted string unescaped; its bytes UTF-8 when they are."""
    if value.startswith('"'):
        value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
    if not value.isascii():
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            pass
    return value
