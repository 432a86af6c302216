"""mcp-middleware: one line turns a FastAPI or Starlette app into a streaming MCP server."""

from .middleware import MCPMiddleware

__all__ = ["MCPMiddleware"]
__version__ = "0.1.0"
