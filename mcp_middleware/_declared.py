"""What a declaration of a resource, a resource template or a prompt must hold.

One set of rules for both ways of writing one: ``declare``'s helpers check what they build and
raise at once (a ``TypeError`` for a value of the wrong type, a ``ValueError`` for a wrong value:
an empty name, an argument without one, one listed twice), naming the field; ``features`` checks
the ``x-mcp-*`` mappings it reads (also written by hand, as a plain Starlette route's YAML
docstring does) and leaves out, with a warning, one that breaks them: such an entry made the
whole ``prompts/list`` or ``resources/list`` an "invalid result". Keys the rules do not name
(``icons``, ``annotations``, ``_meta``...) pass as they are, and so does a null ``title``,
``description`` or ``mimeType`` (the wire form leaves it out). It imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PROMPT", "RESOURCE", "TEMPLATE", "check", "problem", "shown"]

RESOURCE = "x-mcp-resource"
TEMPLATE = "x-mcp-resource-template"
PROMPT = "x-mcp-prompt"

# each kind's fields: (the field, whether it is required), the strings first
_NAMES: dict[str, tuple[tuple[str, bool], ...]] = {
    RESOURCE: (("uri", True), ("name", False)),
    TEMPLATE: (("uriTemplate", True), ("name", False)),
    PROMPT: (("name", False),),
}
_TEXTS = ("title", "description")  # strings that may be empty


def shown(value: Any) -> str:
    """``value`` as Python writes it, its start only when long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check(kind: str, spec: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> None:
    """Raise a ``TypeError`` or ``ValueError`` naming the first field of ``spec`` (the ``x-mcp-*``
    mapping of ``kind``) that breaks the rules; ``labels`` renames fields in the message (the
    helpers' parameter names: ``mime_type`` for ``mimeType``)."""
    label = labels or {}
    for field, required in _NAMES[kind]:
        if required or field in spec:
            _name(label.get(field, field), spec.get(field))
    for field in (*_TEXTS, *(("mimeType",) if kind != PROMPT else ())):
        if spec.get(field) is not None:  # (null: left out of the wire form, as if absent)
            _text(label.get(field, field), spec[field])
    if kind == PROMPT and "arguments" in spec:
        _arguments(spec["arguments"])
    if kind != RESOURCE and "completions" in spec:
        _completions(spec["completions"])


def problem(kind: str, spec: Any) -> str | None:
    """What :func:`check` would raise about ``spec``, or None when it holds."""
    if not isinstance(spec, Mapping):
        return f"the declaration must be a mapping, not {shown(spec)}"
    try:
        check(kind, spec)
    except (TypeError, ValueError) as error:
        return str(error)
    return None


def _text(field: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, not {shown(value)}")


def _name(field: str, value: Any) -> None:
    """A name, a URI or a URI template: a string with more than spaces."""
    _text(field, value)
    if not value.strip():
        raise ValueError(f"{field} must not be empty, not {shown(value)}")


def _arguments(arguments: Any) -> None:
    if not isinstance(arguments, list):
        raise TypeError(f"arguments must be a list of mappings, each with a 'name', not {shown(arguments)}")
    seen: set[str] = set()
    for index, argument in enumerate(arguments):
        at = f"arguments[{index}]"
        if not isinstance(argument, Mapping):
            raise TypeError(f"{at} must be a mapping with a 'name', not {shown(argument)}")
        if "name" not in argument:
            raise ValueError(f"{at} has no 'name': {shown(argument)}")
        _name(f"{at}['name']", argument["name"])
        for field in _TEXTS:
            if field in argument:
                _text(f"{at}[{field!r}]", argument[field])
        if "required" in argument and not isinstance(argument["required"], bool):
            raise TypeError(f"{at}['required'] must be True or False, not {shown(argument['required'])}")
        if argument["name"] in seen:
            raise ValueError(f"{at}: argument {argument['name']!r} is listed twice")
        seen.add(argument["name"])


def _completions(completions: Any) -> None:
    if not isinstance(completions, Mapping):
        raise TypeError(
            f"completions must be a mapping of argument names to lists of strings, not {shown(completions)}"
        )
    for name, values in completions.items():
        _name("a completions key", name)
        at = f"completions[{name!r}]"
        if not isinstance(values, list):
            raise TypeError(f"{at} must be a list of strings, not {shown(values)}")
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise TypeError(f"{at}[{index}] must be a string, not {shown(value)}")
