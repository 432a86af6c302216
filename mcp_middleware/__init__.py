"""mcp-middleware: one line turns a FastAPI or Starlette app into a streaming MCP server."""

from . import content, declare
from .content import MCPResponse
from .context import ClientRequestError, Elicit, ListRoots, MCPContext, NotInMCPCall, Sample, mcp_context
from .middleware import MCPMiddleware

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
