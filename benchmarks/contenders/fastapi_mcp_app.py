"""fastapi-mcp (``FastApiMCP``): the routes as tools of the SDK's low-level server, called through
httpx, at ``/mcp`` (its Streamable HTTP transport, JSON answers, with sessions)."""

from __future__ import annotations

from fastapi_mcp import FastApiMCP  # type: ignore[import-not-found]

from benchmarks.app import build_app

app = build_app(mcp=False)
FastApiMCP(app).mount_http()
