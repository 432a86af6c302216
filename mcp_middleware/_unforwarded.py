"""A call refused for want of a required header argument that the MCP request carries itself:
the error text says so, and how to forward the header (``forward_headers``), logged once per header.

Part of the error path of :func:`mcp_middleware.toolcall.run_tool` alone (an
:class:`~mcp_middleware._values.ArgumentError`): a call that builds its request never gets here.
An app- or router-wide dependency reading a header (``APIRouter(dependencies=[Depends(verify)])``
with ``x_admin_token: Annotated[str, Header()]``) makes it an argument of those tools; a client
that sends ``X-Admin-Token`` as a credential is not heard, since only the forwarded headers
reach the route. The catalog warns about such headers when it is built
(:mod:`mcp_middleware._shared_headers`); this says it where the call fails. The header's value is
never shown, nor a header ``forward_headers`` would refuse. Imports nothing from the package but the
plan's constants, ``warn_once`` and ``forward_headers``' rule
(:func:`~mcp_middleware._option_lists.header_refusal`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mcp_middleware._once import warn_once
from mcp_middleware._option_lists import header_refusal
from mcp_middleware._plan import _HEADER

if TYPE_CHECKING:
    from mcp_middleware._requests import ToolSpec

__all__ = ["unforwarded_note"]

# The records keep toolcall's name, as the guard's do (logging configurations use it).
logger = logging.getLogger("mcp_middleware.toolcall")


def unforwarded_note(spec: ToolSpec, arguments: Mapping[str, Any], headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The sentence to add to the refusal of a call with ``arguments``, given the MCP request's
    ``headers``: its required header arguments left out (or null) that the request carries, and
    how to forward them; "" when there are none (a header ``forward_headers`` refuses, such as
    ``Accept``, is never named). Logs each such header once (``warn_once``)."""
    carried = {name.lower() for name, _ in headers}
    wires = [
        arg.wire
        for arg in spec.plan.args
        if arg.where == _HEADER
        and arg.header in carried
        and arg.name in spec.required
        and arguments.get(arg.name) is None
        and header_refusal(arg.wire) is None  # Accept: the MCP request's own, which cannot be forwarded
    ]
    if not wires:
        return ""
    for wire in wires:
        warn_once(
            logger,
            "A call lacked the required header argument %r while the MCP request carries that header, which "
            "is not forwarded to the routes; name it in MCPMiddleware(forward_headers=%r) to forward it (and take "
            "it out of the tools' input schemas)",
            wire,
            [wire],
        )
    names = [wire.lower() for wire in wires]
    plural = len(names) > 1
    return (
        f" (the MCP request carries the header{'s' if plural else ''} {', '.join(map(repr, names))}, which this "
        f"server does not forward to its routes: its MCPMiddleware(forward_headers={names!r}) would forward "
        f"{'them' if plural else 'it'})"
    )
