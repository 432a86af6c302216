"""Loads the SDK's wire types (``mcp_types``) with pydantic's ``defer_build``, once, before the rest
of the package imports them.

``mcp_types`` defines some 500 pydantic models (the version-free ones and both schema eras) and
seven module-level ``TypeAdapter``s over unions of them (``client_request_adapter`` and its
siblings, ``jsonrpc_message_adapter``). As pydantic does by default, it builds every model's
validator and serializer, and every adapter's, at import: ~3.7 MiB of a server's memory and ~70 ms
of the types' import, for models and adapters a server mostly never uses (a tool server validates a
handful of requests and results through ``mcp_types.methods``, which makes its own adapters on
demand, and none of the seven). Deferred, each gets its validator on first use, exactly as it would
have been built at import; only the ones a server really uses are built.

pydantic has no public switch for a whole package, so two defaults are changed for the duration of
this one import and put back after, whatever happens: the model config default
(``pydantic._internal._config.config_defaults``), and ``TypeAdapter._defer_build``, which does not
read that default for a type without a config of its own (a union). Neither has any effect on
models or adapters made before or after, and the package imports normally when pydantic's
internals are not as expected: either way nothing but memory changes.
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


def _adapter_class() -> Any:
    """``pydantic.TypeAdapter``, when its defer switch is the property this relies on."""
    try:
        from pydantic import TypeAdapter
    except ImportError:
        return None
    return TypeAdapter if isinstance(TypeAdapter.__dict__.get("_defer_build"), property) else None


def _always(adapter: Any) -> bool:
    return True


def load() -> bool:
    """Import ``mcp_types.methods`` (and with it every wire type); True when deferred here."""
    defaults = None if "mcp_types.methods" in sys.modules else _defaults()
    type_adapter = None if defaults is None else _adapter_class()
    if defaults is not None:
        defaults["defer_build"] = True
    if type_adapter is not None:
        switch = type_adapter.__dict__["_defer_build"]
        type_adapter._defer_build = property(_always)
    try:
        import mcp_types.methods  # noqa: F401
    finally:
        if defaults is not None:
            defaults["defer_build"] = False
        if type_adapter is not None:
            type_adapter._defer_build = switch
    return defaults is not None
