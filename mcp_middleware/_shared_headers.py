"""The required header parameters two tools or more have: app- or router-wide dependencies, warned about.

Part of :mod:`mcp_middleware.catalog`. FastAPI's "global dependencies"
(``FastAPI(dependencies=[Depends(verify_token)])`` with ``x_token: Annotated[str, Header()]``) put
their header parameter into every operation, a router's (``APIRouter(dependencies=[...])``) into
each of its operations, so each of those tools would ask the model for it (a secret it does not
have), though the client's own header of that name wins over the argument when the MCP request
carries it (:func:`~mcp_middleware._option_lists.request_wins`). A required header
parameter of two tools or more (one tool's parameter says nothing about the app; an optional one,
``Accept-Language``, is no credential) that is not forwarded from the MCP request, and that
``forward_headers`` could name, is named in one warning, with a few of its tools, which suggests
the ``forward_headers`` option (forwarded headers are no arguments). Imports nothing from the
package but the plan's constants, ``warn_once`` and ``forward_headers``' rule
(:func:`~mcp_middleware._option_lists.header_refusal`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from mcp_middleware._once import warn_once
from mcp_middleware._option_lists import header_refusal
from mcp_middleware._plan import _HEADER

if TYPE_CHECKING:
    from mcp_middleware._requests import ToolSpec

__all__ = ["warn_shared_headers"]

logger = logging.getLogger("mcp_middleware.catalog")

_NAMED: Final = 3  # tools named for each header, the others counted


def warn_shared_headers(tools: Sequence[ToolSpec], forwarded: frozenset[bytes]) -> None:
    """Warn once (across builds: ``warn_once``) about the required header parameters of two tools
    or more that are not ``forwarded`` and that ``forward_headers`` could name (an optional one,
    ``Accept-Language``, ``X-Request-Id``, is no credential the route needs; ``Accept`` could not
    be forwarded: :func:`~mcp_middleware._option_lists.header_refusal`)."""
    holders: dict[bytes, list[str]] = {}
    for spec in tools:
        required = (arg.header for arg in spec.plan.args if arg.where == _HEADER and arg.name in spec.required)
        for header in dict.fromkeys(required):
            holders.setdefault(header, []).append(spec.name)
    shared = sorted(
        (header.decode("ascii"), names)
        for header, names in holders.items()
        if len(names) > 1 and header not in forwarded and header_refusal(header.decode("ascii")) is None
    )
    if shared:
        warn_once(
            logger,
            "Header parameter(s) of two tools or more, not forwarded from the MCP request: %s. An app- or "
            "router-wide dependency (FastAPI's dependencies=[...]) reading a header makes it an argument the "
            "model is asked to fill in (the MCP request's own header of that name wins over it when the request "
            "carries one); if the client sends it as a credential, name it in MCPMiddleware(forward_headers=%r): "
            "forwarded headers are taken from the MCP request, are no tool arguments, and tell callers apart",
            "; ".join(f"{header!r} ({_tools(names)})" for header, names in shared),
            [header for header, _ in shared],
        )


def _tools(names: Sequence[str]) -> str:
    """``tools 'a', 'b', 'c' and 4 more``."""
    named = ", ".join(map(repr, names[:_NAMED]))
    return f"tools {named} and {len(names) - _NAMED} more" if len(names) > _NAMED else f"tools {named}"
