"""What a declaration of a resource, a resource template or a prompt must hold.

One set of rules for both ways of writing one, read by :func:`read`. ``declare``'s helpers raise
at once on any break of them (:func:`check`: a ``TypeError`` for a value of the wrong type, a
``ValueError`` for a wrong value), naming the field. ``features`` reads the ``x-mcp-*`` mappings
(also written by hand, as a plain Starlette route's YAML docstring does) and tells two kinds of
problem apart: one that leaves the declaration unusable (no URI or URI template, a name that is no
string or empty, prompt arguments that are no list, one without a name or listed twice) leaves it
out, with a warning, while a bad optional hint (a title, description or mimeType that is no
string, an argument's title, description or ``required`` of the wrong type, completions that are
no mapping, a key that is no name, values that are no list, a value that is no string: YAML reads
``[2023, "latest"]`` as a number and a string) is left out of it, with a warning, and the rest is
served. Keys the rules do not name (``icons``, ``annotations``, ``_meta``...) pass as they are; a
null (YAML's ``title:`` with no value) is as if absent for every field but a name, at the top and
in an argument. It imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PROMPT", "RESOURCE", "TEMPLATE", "Reading", "check", "read", "shown"]

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

Problem = TypeError | ValueError


@dataclass(frozen=True, slots=True)
class Reading:
    """A declaration read by the rules: ``spec`` is it without its nulls and the hints that break
    the rules (None when it is unusable), ``problems`` what broke them, in the order met (the last
    is why ``spec`` is None, when it is)."""

    spec: dict[str, Any] | None
    problems: tuple[Problem, ...]


def shown(value: Any) -> str:
    """``value`` as Python writes it, its start only when long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read(kind: str, spec: Any, labels: Mapping[str, str] | None = None) -> Reading:
    """``spec`` (the ``x-mcp-*`` mapping of ``kind``) by the rules; ``labels`` renames fields in
    the messages (the helpers' parameter names: ``mime_type`` for ``mimeType``)."""
    if not isinstance(spec, Mapping):
        return Reading(None, (TypeError(f"the declaration must be a mapping, not {shown(spec)}"),))
    hints: list[Problem] = []
    try:
        kept = _read(kind, spec, labels or {}, hints)
    except (TypeError, ValueError) as error:
        return Reading(None, (*hints, error))
    return Reading(kept, tuple(hints))


def check(kind: str, spec: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``spec`` without its nulls; raise the first problem :func:`read` finds in it, a hint's too."""
    reading = read(kind, spec, labels)
    if reading.problems:
        raise reading.problems[0]
    assert reading.spec is not None  # (no problem: usable)
    return reading.spec


def _read(kind: str, spec: Mapping[str, Any], label: Mapping[str, str], hints: list[Problem]) -> dict[str, Any]:
    """``spec`` without its nulls and bad hints (each recorded in ``hints``); raises what leaves
    it unusable."""
    kept = dict(spec)
    for field, required in _NAMES[kind]:
        if required or field in spec:
            _name(label.get(field, field), spec.get(field))
    for field in (*_TEXTS, *(("mimeType",) if kind != PROMPT else ())):
        _hint(kept, field, label.get(field, field), str, hints)
    if kind == PROMPT and (arguments := kept.pop("arguments", None)) is not None:
        kept["arguments"] = _arguments(arguments, hints)
    completions = kept.pop("completions", None) if kind != RESOURCE else None
    if completions is not None and (table := _completions(completions, hints)) is not None:
        kept["completions"] = table
    return kept


def _hint(kept: dict[str, Any], field: str, at: str, kind: type, hints: list[Problem]) -> None:
    """Leave ``field`` out of ``kept`` when it is null, or not of ``kind`` (a problem recorded)."""
    value = kept.get(field)
    if value is not None and isinstance(value, kind):
        return
    if value is not None:
        wanted = "True or False" if kind is bool else "a string"
        hints.append(TypeError(f"{at} must be {wanted}, not {shown(value)}"))
    kept.pop(field, None)


def _name_problem(field: str, value: Any) -> Problem | None:
    """What is wrong with a name, a URI or a URI template (a string with more than spaces)."""
    if not isinstance(value, str):
        return TypeError(f"{field} must be a string, not {shown(value)}")
    if not value.strip():
        return ValueError(f"{field} must not be empty, not {shown(value)}")
    return None


def _name(field: str, value: Any) -> None:
    if (problem := _name_problem(field, value)) is not None:
        raise problem


def _arguments(arguments: Any, hints: list[Problem]) -> list[dict[str, Any]]:
    """The prompt's declared arguments, each without its nulls and bad hints; raises when one
    is no mapping, has no name or is listed twice (the prompt's own arguments are unknown)."""
    if not isinstance(arguments, list):
        raise TypeError(f"arguments must be a list of mappings, each with a 'name', not {shown(arguments)}")
    seen: set[str] = set()
    kept: list[dict[str, Any]] = []
    for index, argument in enumerate(arguments):
        at = f"arguments[{index}]"
        if not isinstance(argument, Mapping):
            raise TypeError(f"{at} must be a mapping with a 'name', not {shown(argument)}")
        if "name" not in argument:
            raise ValueError(f"{at} has no 'name': {shown(argument)}")
        _name(f"{at}['name']", argument["name"])
        kept.append(dict(argument))
        for field in _TEXTS:
            _hint(kept[-1], field, f"{at}[{field!r}]", str, hints)
        _hint(kept[-1], "required", f"{at}['required']", bool, hints)
        if argument["name"] in seen:
            raise ValueError(f"{at}: argument {argument['name']!r} is listed twice")
        seen.add(argument["name"])
    return kept


def _completions(completions: Any, hints: list[Problem]) -> dict[str, list[str]] | None:
    """The completions' keys that are names, each with its values that are strings; the rest
    recorded in ``hints`` (None when they are no mapping)."""
    if not isinstance(completions, Mapping):
        why = f"completions must be a mapping of argument names to lists of strings, not {shown(completions)}"
        hints.append(TypeError(why))
        return None
    kept: dict[str, list[str]] = {}
    for name, values in completions.items():
        if (problem := _name_problem("a completions key", name)) is not None:
            hints.append(problem)
            continue
        at = f"completions[{name!r}]"
        if not isinstance(values, list):
            hints.append(TypeError(f"{at} must be a list of strings, not {shown(values)}"))
            continue
        kept[name] = [value for value in values if isinstance(value, str)]
        hints.extend(
            TypeError(f"{at}[{index}] must be a string, not {shown(value)}")
            for index, value in enumerate(values)
            if not isinstance(value, str)
        )
    return kept
