"""What an endpoint's docstring declares: its prose, and the operation its YAML part holds.

Part of :mod:`mcp_middleware._route_document`. The endpoint's docstring is the ``description``. A
YAML part as Starlette's ``SchemaGenerator`` reads it (after the last ``---``, or the whole
docstring) is parsed with ``BaseSchemaGenerator.parse_docstring`` and, when it is an operation
mapping, merged over the prose before it: ``summary``, ``description``, ``parameters``,
``requestBody``, ``responses``, ``tags``, any ``x-mcp-*`` key... When it is not (a NumPy section's
``-------``, a Markdown rule), the whole docstring is the description, silently. That needs PyYAML,
which is no dependency of ours: without it, a part whose first line is an operation key
(``responses:``...) is taken for unread YAML, so only the prose before it is used (logged once per
build at INFO), and any other docstring is prose, whole. So is a part that does not parse, except
that one starting with such a key is warned about. A ``$ref`` in it that the document cannot
resolve (the components of the app's own ``SchemaGenerator``, which the middleware cannot see) is
becomes a schema of any value naming it (:func:`_free_unresolved`; a whole ``requestBody`` or
parameter of one is ``_free_arguments``' to settle, which warns about them all).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from mcp_middleware._once import warn_once

__all__ = ["_Docstrings", "_free_unresolved", "_resolves"]

logger = logging.getLogger("mcp_middleware.catalog")

# keys that make a parsed docstring an operation (else it is prose that YAML happens to read:
# "Note: ..." is a mapping)
_OPERATION_KEYS: Final = frozenset(
    {"summary", "description", "operationId", "tags", "parameters", "requestBody", "responses", "deprecated"}
    | {"security", "externalDocs", "callbacks", "servers"}
)
# the first line of a YAML operation (comments and blank lines before it aside): what tells the YAML
# part of a docstring from prose without parsing it
_OPERATION_LINE: Final = re.compile(
    rf"(?:\s*#[^\n]*)*\s*(?:{'|'.join(sorted(_OPERATION_KEYS))}|x-[\w-]+)[ \t]*:(?:\s|$)"
)
_ABSENT: Final = object()


class _Docstrings:
    """Reads endpoints' docstrings for :class:`~mcp_middleware._route_document._Walk`, keeping the
    endpoints whose YAML went unread and each endpoint's YAML operation, for the log."""

    unread: list[str]
    declared: list[tuple[str, dict[str, Any]]]

    def docstring(self, handler: Any, template: str) -> tuple[str, dict[str, Any]]:
        """The prose of ``handler``'s docstring, and the operation its YAML part declares.

        The YAML part is what Starlette's ``parse_docstring`` reads: what follows the last
        ``---`` (wherever it is: ``-------`` under a NumPy section holds one), or the whole
        docstring. It is one only when it is an operation mapping; otherwise (a NumPy or Markdown
        docstring's prose) the whole docstring is the description and nothing is logged. A part
        that does not parse, or that PyYAML is not there to read, counts as YAML when its first
        line is an operation key (``responses:``...)."""
        raw = getattr(handler, "__doc__", None)
        if not isinstance(raw, str) or not raw.strip():
            return "", {}
        text = inspect.cleandoc(raw)
        part = text.split("---")[-1]
        before = text[: len(text) - len(part) - 3].strip() if len(part) < len(text) else ""
        name = getattr(handler, "__qualname__", None) or template
        import starlette.schemas  # PyYAML, if installed, is imported there

        if getattr(starlette.schemas, "yaml", None) is None:
            if not _looks_like_operation(part):
                return text, {}
            self.unread.append(str(name))
            return before, {}
        try:
            parsed = starlette.schemas.BaseSchemaGenerator().parse_docstring(handler)
        except Exception as exc:  # yaml.YAMLError: not imported here (PyYAML is optional)
            if not _looks_like_operation(part):
                return text, {}
            warn_once(logger, "the YAML part of %s's docstring does not parse, so it is ignored: %s", name, exc)
            return before, {}
        if isinstance(parsed, dict) and any(key in _OPERATION_KEYS or str(key).startswith("x-") for key in parsed):
            self.declared.append((str(name), parsed))
            return before, parsed
        return text, {}


def _free_unresolved(document: Mapping[str, Any], value: Any, missing: list[str]) -> None:
    """Makes each ``$ref`` in ``value`` (in place) that points nowhere in ``document`` a schema of
    any value that names it, and adds it to ``missing``. A YAML docstring may refer to the
    components of the app's own ``SchemaGenerator``, which this document has not: unresolved,
    the reference would be an argument taking anything, with nothing to tell the model why."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and not _resolves(document, ref):
            missing.append(ref)
            del value["$ref"]
            note = f"Free-form: its schema, {ref}, is not published."
            value["description"] = f"{value['description']}\n\n{note}" if _is_text(value.get("description")) else note
            return
        for item in value.values():
            _free_unresolved(document, item, missing)
    elif isinstance(value, list):
        for item in value:
            _free_unresolved(document, item, missing)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _resolves(document: Mapping[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False  # another document's: nothing here can read it
    target: Any = document
    for token in ref[2:].split("/"):
        if not isinstance(target, Mapping):
            return False
        target = target.get(token.replace("~1", "/").replace("~0", "~"), _ABSENT)
    return target is not _ABSENT


def _looks_like_operation(text: str) -> bool:
    """Whether ``text`` starts (comments aside) with a key of an OpenAPI operation."""
    return _OPERATION_LINE.match(text) is not None
