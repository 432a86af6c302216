"""The header parameters every tool has: app- or router-wide dependencies, warned about.

Part of :mod:`mcp_middleware.catalog`. FastAPI's "global dependencies"
(``FastAPI(dependencies=[Depends(verify_token)])`` with ``x_token: Annotated[str, Header()]``) put
their header parameter into every operation, so every tool would ask the model for it (a secret
it does not have). A header parameter of every tool (of two or more: one tool's parameter says
nothing about the app) that is not forwarded from the MCP request is named in one warning, which
suggests the ``forward_headers`` option (forwarded headers are no arguments). Imports nothing from
the package but the plan's constants and ``warn_once``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_middleware._once import warn_once
from mcp_middleware._plan import _HEADER

if TYPE_CHECKING:
    from mcp_middleware._requests import ToolSpec

__all__ = ["warn_shared_headers"]

logger = logging.getLogger("mcp_middleware.catalog")


def warn_shared_headers(tools: Sequence[ToolSpec], forwarded: frozenset[bytes]) -> None:
    """Warn once (across builds: ``warn_once``) about the header parameters of every tool that are not ``forwarded``."""
    if len(tools) < 2:
        return
    shared: set[bytes] | None = None
    for spec in tools:
        names = {arg.header for arg in spec.plan.args if arg.where == _HEADER}
        shared = names if shared is None else shared & names
        if not shared:
            return
    headers = sorted(name.decode("ascii") for name in (shared or set()) - forwarded)
    if headers:
        warn_once(
            logger,
            "Every tool has the header parameter(s) %s (an app- or router-wide dependency, FastAPI's "
            "dependencies=[...]?), which the model is asked to fill in; if the MCP client sends it as a "
            "credential, name it in MCPMiddleware(forward_headers=[...]): forwarded headers are taken from "
            "the MCP request and are no tool arguments",
            ", ".join(map(repr, headers)),
        )
