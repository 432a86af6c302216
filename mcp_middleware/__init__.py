"""mcp-middleware: one line turns a FastAPI or Starlette app into a streaming MCP server."""

from . import _wire_types

_wire_types.load()  # first, before any module of the package imports a wire type

from . import content, declare  # noqa: E402
from .content import MCPResponse  # noqa: E402
from .context import ClientRequestError, Elicit, ListRoots, MCPContext, NotInMCPCall, Sample, mcp_context  # noqa: E402
from .middleware import MCPMiddleware  # noqa: E402

__all__ = [
    "ClientRequestError",
    "Elicit",
    "ListRoots",
    "MCPContext",
    "MCPMiddleware",
    "MCPResponse",
    "NotInMCPCall",
    "Sample",
    "content",
    "declare",
    "mcp_context",
]
__version__ = "0.1.0"
