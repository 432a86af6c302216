"""What a tool name given by the user must be: the rules of the names the catalog makes
(:mod:`mcp_middleware._naming`): ``[A-Za-z0-9_-]``, not empty, within a length limit.

One check for the three ways of giving one, all within :data:`LONGEST_NAME`, the spec's:
``declare.tool`` (at import), a hand-written ``x-mcp-name`` (when the routes are read:
:mod:`mcp_middleware._given_names`) and the ``tool_names`` option (when the middleware is built).
A leaf: it imports nothing from the package.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["LONGEST_NAME", "name_problem"]

# the MCP spec's longest tool name (2025-11-25: "between 1 and 128 characters"): the limit of a
# given name (declare.tool at import, x-mcp-name when read, the tool_names option when built),
# which the middleware's max_tool_name_length cannot bound at import; a given name longer than
# that option is kept, warned about (so tool_names, which could be held to it, is not either)
LONGEST_NAME: Final = 128
_VALID_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")


def name_problem(name: Any) -> str | None:
    """What is wrong with ``name`` as a given tool name (at most :data:`LONGEST_NAME` characters),
    or None: ``must be a string, not 5``, ``'a b' may hold only A-Z, a-z, 0-9, '_' and '-'``..."""
    if not isinstance(name, str):
        return f"must be a string, not {_shown(name)}"
    if not name:
        return "must not be empty"
    if not _VALID_NAME.fullmatch(name):
        return f"{_shown(name)} may hold only A-Z, a-z, 0-9, '_' and '-'"
    if len(name) > LONGEST_NAME:
        return f"{_shown(name)} is longer than {LONGEST_NAME} characters"
    return None


def _shown(value: Any) -> str:
    """``value`` as Python writes it, its start only when long (as ``_declared.shown``)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
