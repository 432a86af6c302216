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

A URI, URI template or prompt name declared by two routes is the first one's; the later
declaration is left out, with a warning. A declared route is not also a tool unless ``tool=True``.
Declarations combine with other ``openapi_extra`` keys:
``openapi_extra={**declare.prompt("p"), "x-other": 1}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["prompt", "resource", "resource_template"]


def _clean(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def resource(
    uri: str,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    tool: bool = False,
) -> dict[str, Any]:
    spec = _clean(uri=uri, name=name, title=title, description=description, mimeType=mime_type)
    return {"x-mcp-resource": spec, **({"x-mcp-tool": True} if tool else {})}


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
    spec = _clean(
        uriTemplate=uri_template,
        name=name,
        title=title,
        description=description,
        mimeType=mime_type,
        completions={k: list(v) for k, v in completions.items()} if completions else None,
    )
    return {"x-mcp-resource-template": spec, **({"x-mcp-tool": True} if tool else {})}


def prompt(
    name: str | None = None,
    *,
    title: str | None = None,
    description: str | None = None,
    arguments: Sequence[Mapping[str, Any]] | None = None,
    completions: Mapping[str, Sequence[str]] | None = None,
    tool: bool = False,
) -> dict[str, Any]:
    spec = _clean(
        name=name,
        title=title,
        description=description,
        arguments=[dict(a) for a in arguments] if arguments is not None else None,
        completions={k: list(v) for k, v in completions.items()} if completions else None,
    )
    return {"x-mcp-prompt": spec, **({"x-mcp-tool": True} if tool else {})}
