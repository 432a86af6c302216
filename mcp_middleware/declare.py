"""Declare routes as MCP resources, resource templates or prompts, through ``openapi_extra``.

    from mcp_middleware import declare

    @app.get("/readme", openapi_extra=declare.resource("docs://readme", mime_type="text/markdown"))
    @app.get("/users/{user_id}", openapi_extra=declare.resource_template("users://{user_id}"))
    @app.get("/prompts/review", openapi_extra=declare.prompt("code_review", description="Review code"))

* A **resource** is read by calling the route (GET without arguments); its body becomes the
  resource contents: text for textual types, a base64 blob otherwise. A fixed URI gives the route
  no argument: a route that requires one is left out, with a warning.
* A **resource template** (RFC 6570 ``{var}``, or ``{+var}`` for values with slashes, which a
  path parameter takes only with Starlette's ``:path`` converter: ``/files/{name:path}``, and a
  final form-style query expression ``{?q,page}`` for query parameters) maps the variables of a
  matching URI onto the route's parameters of the same names. Every argument the route requires
  must be one of its variables: a template that cannot give one is left out, with a warning.
* A **prompt** calls the route with the prompt's arguments (strings, mapped onto the route's
  parameters); it returns the messages: a string (one user message), a list of messages or
  strings, or ``{"messages": [...], "description": ...}``. Arguments default to the route's
  parameters (declared ``arguments`` that leave out one the route requires leave the prompt out,
  with a warning; one the route does not take is reported); ``completions`` offers values for
  ``completion/complete``.

Each helper checks its values where it is called, at import: a value of the wrong type (a string
where a list of strings is meant), an empty URI, URI template or name, a prompt argument without a
name or listed twice raise a ``TypeError`` or ``ValueError`` naming the helper and the field (one
such value made the whole ``prompts/list`` or ``resources/list`` fail at request time).
Completions for a name that is none of the template's variables or the prompt's arguments (a
misspelling) are left out when the routes are read, with a warning.

A URI, URI template or prompt name declared by two routes is the first one's; the later
declaration is left out, with a warning. A declared route is not also a tool unless ``tool=True``.
Declarations combine with other ``openapi_extra`` keys:
``openapi_extra={**declare.prompt("p"), "x-other": 1}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._declared import PROMPT, RESOURCE, TEMPLATE, check, shown
from ._name_rules import name_problem

__all__ = ["prompt", "resource", "resource_template", "tool"]

# the helpers' parameters named in their errors, where the declaration's field differs
_PARAMETERS = {"uriTemplate": "uri_template", "mimeType": "mime_type"}


def _declared(helper: str, kind: str, tool: Any, **fields: Any) -> dict[str, Any]:
    """The ``openapi_extra`` of ``kind``: its fields that are not None (nor a prompt argument's
    that are), checked by :func:`mcp_middleware._declared.check` (what it raises names
    ``declare.<helper>``)."""
    try:
        if not isinstance(tool, bool):
            raise TypeError(f"tool must be True or False, not {shown(tool)}")
        spec = check(kind, {k: v for k, v in fields.items() if v is not None}, _PARAMETERS)
    except (TypeError, ValueError) as error:
        raise type(error)(f"declare.{helper}: {error}") from None
    return {kind: spec, **({"x-mcp-tool": True} if tool else {})}


def _listed(values: Any) -> Any:
    """``values`` (any iterable but a string or a mapping) as a list; anything else as it is, for
    the check to refuse."""
    if isinstance(values, Iterable) and not isinstance(values, str | bytes | Mapping):
        return list(values)
    return values


def _completions(completions: Mapping[str, Sequence[str]] | None) -> Any:
    if not completions:
        return None
    if not isinstance(completions, Mapping):
        return completions
    return {k: _listed(v) for k, v in completions.items()}


def resource(
    uri: str,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    tool: bool = False,
) -> dict[str, Any]:
    """The ``openapi_extra`` that makes a route the resource ``uri``, read by calling the route
    with no argument. ``name`` defaults to the route's tool name and ``description`` to its
    description; ``mime_type`` is the contents' type (else the response's). ``tool=True`` keeps
    the route a tool too. A value of the wrong type, or an empty ``uri`` or ``name``, raises a
    ``TypeError`` or ``ValueError`` here."""
    fields = {"uri": uri, "name": name, "title": title, "description": description, "mimeType": mime_type}
    return _declared("resource", RESOURCE, tool, **fields)


def resource_template(
    uri_template: str,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    completions: Mapping[str, Sequence[str]] | None = None,
    tool: bool = False,
) -> dict[str, Any]:
    """The ``openapi_extra`` that makes a route the resource template ``uri_template`` (``{var}``,
    ``{+var}``, a final ``{?q,page}``): a matching URI is read by calling the route with its
    variables as the parameters of the same names. ``completions`` maps a variable to the values
    ``completion/complete`` offers for it; the other fields are :func:`resource`'s. A value of the
    wrong type (a string where a list of strings is meant), or an empty ``uri_template`` or
    ``name``, raises a ``TypeError`` or ``ValueError`` here; completions for a name that is none of
    the template's variables are left out when the routes are read, with a warning."""
    fields = {"uriTemplate": uri_template, "name": name, "title": title, "description": description}
    fields |= {"mimeType": mime_type, "completions": _completions(completions)}
    return _declared("resource_template", TEMPLATE, tool, **fields)


def prompt(
    name: str | None = None,
    *,
    title: str | None = None,
    description: str | None = None,
    arguments: Sequence[Mapping[str, Any]] | None = None,
    completions: Mapping[str, Sequence[str]] | None = None,
    tool: bool = False,
) -> dict[str, Any]:
    """The ``openapi_extra`` that makes a route the prompt ``name`` (by default the route's tool
    name): ``prompts/get`` calls the route with the prompt's arguments and returns its messages.
    ``arguments`` (each a mapping with a ``name``, and optionally ``title``, ``description``,
    ``required``) replaces the list taken from the route's parameters; ``completions`` maps an
    argument to the values ``completion/complete`` offers for it. A value of the wrong type, an
    empty ``name``, an argument without a name or listed twice raises a ``TypeError`` or
    ``ValueError`` here; completions for a name that is none of the prompt's arguments are left
    out when the routes are read, with a warning."""
    listed = _listed(arguments) if arguments is not None else None
    if isinstance(listed, list):
        listed = [dict(a) if isinstance(a, Mapping) else a for a in listed]
    fields = {"name": name, "title": title, "description": description, "arguments": listed}
    return _declared("prompt", PROMPT, tool, **fields, completions=_completions(completions))


def tool(*, name: str | None = None, description: str | None = None) -> dict[str, Any]:
    """The ``openapi_extra`` that gives a route's tool an MCP-only ``name`` (``x-mcp-name``) and
    ``description`` (``x-mcp-description``, in ``tools/list`` only), leaving its ``operationId``
    (and so ``/openapi.json`` and generated clients) as it is:
    ``@app.get("/items/{item_id}", openapi_extra=declare.tool(name="fetch_item"))``. The name
    follows the rules of derived names (``[A-Za-z0-9_-]``, not empty) and is at most 128 characters,
    the spec's limit (one longer than the middleware's ``max_tool_name_length``, which only
    shortens derived names, is kept, with a warning when the routes are read); a bad value, or
    neither value given, raises a ``TypeError`` or ``ValueError`` here."""
    extra: dict[str, Any] = {}
    if name is not None:
        problem = name_problem(name)
        if problem is not None:
            error = TypeError if not isinstance(name, str) else ValueError
            raise error(f"declare.tool: name {problem}")
        extra["x-mcp-name"] = name
    if description is not None:
        if not isinstance(description, str):
            raise TypeError(f"declare.tool: description must be a string, not {shown(description)}")
        extra["x-mcp-description"] = description
    if not extra:
        raise ValueError("declare.tool: give a name, a description or both")
    return extra
