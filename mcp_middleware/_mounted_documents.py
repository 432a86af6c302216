"""The operations of a mounted app with ``openapi()`` (FastAPI), under the mount's prefix.

Part of :mod:`mcp_middleware._route_document`: the mounted app's own document is taken (its
components merged into the document's, a name already taken by another value renamed), each
operation with FastAPI's generated id made for the full path, the mount's path parameters added,
and the document's ``security`` made the operation's.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.routing import compile_path

from mcp_middleware._naming import _generated_prefix
from mcp_middleware._route_endpoints import _ORDER, _path_parameter

if TYPE_CHECKING:
    from mcp_middleware._route_document import RouteDocument

__all__ = ["_Mounts"]

logger = logging.getLogger("mcp_middleware.catalog")

_OPERATIONS: Final = frozenset({*_ORDER, "OPTIONS", "TRACE"})  # what a path item of a mounted document holds
_NON_WORD: Final = re.compile(r"\W")


class _Mounts:
    """Takes mounted apps' documents for :class:`~mcp_middleware._route_document._Walk`."""

    result: RouteDocument
    paths: dict[str, dict[str, Any]]
    components: dict[str, dict[str, Any]]

    def mounted(self, app: Any, prefix: str) -> None:
        """The operations of a mounted app's own document, under the mount's prefix."""
        try:
            inner = app.openapi()
        except Exception:
            logger.warning("%r.openapi() failed; its routes under %s are no MCP tools", app, prefix, exc_info=True)
            self.result.found.append(f"Mount {prefix} ({type(app).__name__}, openapi() failed)")
            return
        if not isinstance(inner, Mapping) or not isinstance(inner.get("paths"), Mapping):
            self.result.found.append(f"Mount {prefix} ({type(app).__name__}, no OpenAPI paths)")
            return
        _, prefix_format, convertors = compile_path(prefix) if prefix else (None, "", {})
        inner = _renamed(copy.deepcopy(dict(inner)), self.take_components(inner.get("components")))
        security = inner.get("security")
        for path, item in inner["paths"].items():
            if not isinstance(path, str) or not isinstance(item, Mapping):
                continue
            full = prefix_format + path
            target = self.paths.setdefault(full, {})
            for key, operation in item.items():
                if key in target:
                    continue
                if isinstance(operation, dict) and key.upper() in _OPERATIONS:
                    operation = _prefixed(operation, path, full, key, convertors, security)
                target[key] = operation
        self.result.mounted.append((prefix_format, prefix, app))

    def take_components(self, components: Any) -> dict[str, str]:
        """Adds a mounted document's components to the document's; a name already taken by
        another value gets a number. Returns the references (and security scheme names, as
        ``securitySchemes:name``) so renamed."""
        renamed: dict[str, str] = {}
        added: list[tuple[dict[str, Any], str]] = []
        if not isinstance(components, Mapping):
            return renamed
        for section, entries in components.items():
            if not isinstance(entries, Mapping):
                continue
            target = self.components.setdefault(str(section), {})
            for name, value in entries.items():
                new, number = str(name), 2
                while new in target and target[new] != value:
                    new, number = f"{name}_{number}", number + 1
                if new != name:
                    renamed[f"#/components/{section}/{name}"] = f"#/components/{section}/{new}"
                    if section == "securitySchemes":
                        renamed[f"securitySchemes:{name}"] = new
                if new not in target:
                    target[new] = copy.deepcopy(value)
                    added.append((target, new))
        for target, name in added:  # their references to one another
            target[name] = _renamed(target[name], renamed)
        return renamed


def _prefixed(
    operation: dict[str, Any],
    path: str,
    full: str,
    method: str,
    convertors: Mapping[str, Any],
    security: Any,
) -> dict[str, Any]:
    """A mounted app's operation under the mount: FastAPI's generated id made for the full path
    (as FastAPI would have made it, so the catalog still shortens it to the function's name),
    the mount's path parameters added, the document's ``security`` made the operation's."""
    operation_id = operation.get("operationId")
    if isinstance(operation_id, str) and (function := _generated_prefix(operation_id, path)) is not None:
        operation["operationId"] = f"{function}{_NON_WORD.sub('_', full)}_{method}"
    if convertors:
        params = operation.get("parameters")
        params = params if isinstance(params, list) else []
        named = {(p.get("name"), p.get("in")) for p in params if isinstance(p, Mapping)}
        added = [_path_parameter(n, c) for n, c in convertors.items() if (n, "path") not in named]
        operation["parameters"] = added + params
    if security is not None and "security" not in operation:
        operation["security"] = copy.deepcopy(security)
    return operation


def _renamed(value: Any, renamed: Mapping[str, str]) -> Any:
    """``value`` with its ``$ref``s and security requirements renamed (in place where it can)."""
    if not renamed:
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                value[key] = renamed.get(item, item)
            elif key == "security" and isinstance(item, list):
                value[key] = [
                    {renamed.get(f"securitySchemes:{k}", k): v for k, v in need.items()}
                    if isinstance(need, Mapping)
                    else need
                    for need in item
                ]
            else:
                value[key] = _renamed(item, renamed)
    elif isinstance(value, list):
        value[:] = [_renamed(item, renamed) for item in value]
    return value
