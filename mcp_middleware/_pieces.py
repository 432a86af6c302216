"""A streamed text kept as a list of pieces, joined every ``_JOIN_EVERY`` (``join_since``): the
text a response's body keeps (:mod:`mcp_middleware._body_text`) and an event stream's text as
sent before its first event (:mod:`mcp_middleware._event_parser`). It imports nothing from the
package."""

from __future__ import annotations

__all__ = ["_JOIN_EVERY", "join_since"]

# a streamed text's pieces are joined into one string every so many
_JOIN_EVERY = 256


def join_since(parts: list[str], start: int) -> int:
    """Join ``parts[start:]`` into one string in place; return the count of joined pieces (the
    next ``start``). A streamed token kept as a string of its own costs ~50-80 bytes of object
    for a character or two; joined every ``_JOIN_EVERY`` pieces, the text held is close to its
    own size, and each character is copied once more (at the join) before the text's own join."""
    parts[start:] = ["".join(parts[start:])]
    return start + 1
