"""FastMCP's ``from_fastapi``: the routes as tools of a FastMCP server, called through httpx.

The MCP endpoint is FastMCP's own Streamable HTTP app (stateless, JSON answers, as the fairest
match for a per-request load), mounted beside the routes in the same process.
"""

from __future__ import annotations

from fastmcp import FastMCP  # type: ignore[import-not-found]

from benchmarks.app import build_app

app = build_app(mcp=False)
server = FastMCP.from_fastapi(app=app, name="Benchmark")
mcp_app = server.http_app(path="/mcp", stateless_http=True, json_response=True)
app.router.lifespan_context = mcp_app.lifespan  # runs FastMCP's session manager
app.mount("/", mcp_app)  # after the routes: /mcp is FastMCP's, every route is the app's
