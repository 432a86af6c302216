"""Loads the SDK's wire types (``mcp_types``) with pydantic's ``defer_build``, once, before the rest
of the package imports them.

``mcp_types`` defines some 500 pydantic models (the version-free ones and both schema eras) and,
as pydantic does by default, builds every model's validator and serializer at import: 1.8 MiB of
a server's memory and ~70 ms of the types' ~235 ms import, for models a server mostly never uses
(a tool server validates a handful of requests and results). Built with ``defer_build``, a model
gets its validator on first use, exactly as it would have been built at import; only the ones a
server really uses are built.

pydantic has no public switch for a whole package's models, so the default is raised for the
duration of this one import (``pydantic._internal._config.config_defaults``) and put back after,
whatever happens. It has no effect on models already imported, and the package imports
normally when pydantic's internals are not as expected: either way nothing but memory changes.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["load"]


def _defaults() -> dict[str, Any] | None:
    """pydantic's config defaults, when they are the dict (with ``defer_build``) this relies on."""
    try:
        from pydantic._internal import _config
    except ImportError:
        return None
    defaults = getattr(_config, "config_defaults", None)
    return defaults if isinstance(defaults, dict) and defaults.get("defer_build") is False else None


def load() -> bool:
    """Import ``mcp_types.methods`` (and with it every wire type); True when deferred here."""
    defaults = None if "mcp_types.methods" in sys.modules else _defaults()
    if defaults is not None:
        defaults["defer_build"] = True
    try:
        import mcp_types.methods  # noqa: F401
    finally:
        if defaults is not None:
            defaults["defer_build"] = False
    return defaults is not None
