from __future__ import annotations

import pytest

# Imported before any test module imports mcp_types, so the suite runs on the wire types as a user's
# app gets them: loaded by the package, with deferred building (mcp_middleware/_wire_types.py).
import mcp_middleware  # noqa: F401


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
