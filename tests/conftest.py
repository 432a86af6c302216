from __future__ import annotations

import pytest

# Imported before any test module imports mcp_types, so the suite runs on the wire types as a user's
# app gets them: loaded by the package, with deferred building (mcp_middleware/_wire_types.py).
import mcp_middleware  # noqa: F401


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    """Each test starts as a new process would: no build-time warning said yet (mcp_middleware._once)."""
    from mcp_middleware import _once

    _once._SAID.clear()
