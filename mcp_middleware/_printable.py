"""A client's text as a log record may hold it: one line, whatever the client sent.

The package logs what a client named (a ``resources/read`` URI, in the record of its route's
failure); a line break in it would forge a record of its own in a log read line by line, and a
terminal's escape sequence would act on the terminal that shows it. It imports nothing from the
package.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` with each character that is not printable (line breaks, other control characters,
    separators but the space) written as Python writes it in a string literal: ``\\n``, ``\\x1b``,
    ``\\u2028``. Printable text (almost every text) is returned as it is."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
