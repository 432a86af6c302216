"""Interop tier fixtures: real servers on real sockets, driven by the official clients.

``start_app("module:app")`` (from ``servers.py``, re-exported here) serves any ASGI app the same
way ``demo_server`` serves the demo; use it as a context manager in a fixture of your own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .servers import start_app

__all__ = ["demo_server", "start_app"]


@pytest.fixture(scope="session")
def demo_server() -> Iterator[str]:
    """The demo app (``examples.demo:app``) under uvicorn on a free port; the value is its MCP URL."""
    with start_app("examples.demo:app") as url:
        yield url
