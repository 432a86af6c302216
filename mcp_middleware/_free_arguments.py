"""The free-form arguments of an operation made from a route: ``query`` and ``body``, and what a
YAML docstring declares that the document cannot describe.

Part of :mod:`mcp_middleware._route_document`, which gives a route without a declared query
parameter the free ``query`` object (:data:`FREE_QUERY`) and a body method without a declared
``requestBody`` the free JSON ``body`` (:data:`FREE_BODY`). Once the document is complete,
:func:`free_declared` settles, for each endpoint whose docstring declares an operation, what of it
cannot be read, so that what the route takes can still be sent:

- a ``$ref`` the document cannot resolve (the components of the app's own ``SchemaGenerator``):
  as a whole ``requestBody``, the body is a free-form ``body`` argument (any JSON value) naming
  it; as a whole parameter, the parameter is left out (its ``in`` is unknown) and the free
  ``query`` object is there, naming it (a query parameter's value goes in it); inside a schema,
  a schema of any value naming it (``_route_docstrings._free_unresolved``);
- a body method's ``requestBody`` that is not a mapping with ``content``: the free ``body``.

Each is logged as a warning naming the endpoint and saying which of these happened.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any, Final

from mcp_middleware._once import warn_once
from mcp_middleware._route_docstrings import _free_unresolved, _resolves

__all__ = ["BODY_METHODS", "FREE_BODY", "FREE_QUERY", "free_declared"]

logger = logging.getLogger("mcp_middleware.catalog")

BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
FREE_QUERY: Final[Mapping[str, Any]] = {
    "name": "query",
    "in": "query",
    "description": (
        "Query string parameters, by name: each value a string, number or boolean, or a list of them (the name "
        "repeated)."
    ),
    "schema": {"type": "object"},
}
FREE_BODY: Final[Mapping[str, Any]] = {
    "description": "The request's JSON body.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}

_SCHEMA: Final = "a schema is taken as any value"
_BODY: Final = "the request body is a free-form `body` argument"
_PARAMETER: Final = "a parameter is left out"
_IN_QUERY: Final = " (a query parameter's value goes in the free-form `query` argument)"


def free_declared(
    document: Mapping[str, Any], name: str, method: str, declared: Mapping[str, Any], operation: dict[str, Any]
) -> None:
    """Settles (in ``operation``, the one made of ``declared``, the docstring's YAML) what the
    complete ``document`` cannot read; warns about it, naming ``name``."""
    whole: list[str] = []  # references that are a whole body or parameter
    schemas: list[str] = []  # references in a schema
    said: list[str] = []
    body = declared.get("requestBody")
    ref = _unresolved(document, body)
    if ref is not None:
        whole.append(ref)
        operation["requestBody"] = _body_of(ref)
        said.append(_BODY)
    elif "requestBody" in declared:
        _free_unresolved(document, body, schemas)
        if method in BODY_METHODS and not (isinstance(body, Mapping) and isinstance(body.get("content"), Mapping)):
            operation["requestBody"] = free = copy.deepcopy(dict(FREE_BODY))
            if isinstance(body, Mapping) and body.get("required") is True:
                free["required"] = True
            warn_once(logger, "the docstring of %s: its requestBody has no content: %s", name, _BODY)
    refs = _free_parameters(document, declared.get("parameters"), operation, schemas)
    if refs:
        whole.extend(refs)
        said.append(_PARAMETER + (_IN_QUERY if _free_query(operation, refs) else ""))
    _free_unresolved(document, declared.get("responses"), schemas)
    if schemas:
        said.insert(0, _SCHEMA)
    if whole or schemas:
        warn_once(
            logger,
            "the docstring of %s refers to %s, which the middleware cannot see (the components of a "
            "SchemaGenerator are no part of its document): %s. Inline the definitions in the docstring, or "
            "give an x-mcp-input-schema",
            name,
            ", ".join(dict.fromkeys(whole + schemas)),
            "; ".join(said),
        )


def _unresolved(document: Mapping[str, Any], value: Any) -> str | None:
    """The ``$ref`` of ``value`` when it is a reference that points nowhere in ``document``."""
    ref = value.get("$ref") if isinstance(value, Mapping) else None
    return ref if isinstance(ref, str) and not _resolves(document, ref) else None


def _body_of(ref: str) -> dict[str, Any]:
    """The free-form body in place of an unresolved ``requestBody`` ``ref``: any JSON value."""
    note = f"Free-form: its definition, {ref}, is not published."
    return {"content": {"application/json": {"schema": {"description": note}}}}


def _free_parameters(
    document: Mapping[str, Any], declared: Any, operation: dict[str, Any], schemas: list[str]
) -> list[str]:
    """The references of the declared parameters that are unresolved references, taken out of
    ``operation``; the unresolved references in the others' schemas freed (added to ``schemas``)."""
    if not isinstance(declared, list):
        return []
    refs: list[str] = []
    gone: list[Any] = []
    for parameter in declared:
        ref = _unresolved(document, parameter)
        if ref is not None:
            refs.append(ref)
            gone.append(parameter)
        else:
            _free_unresolved(document, parameter, schemas)
    if gone:
        operation["parameters"] = [p for p in operation["parameters"] if not any(p is g for g in gone)]
    return refs


def _free_query(operation: dict[str, Any], refs: list[str]) -> bool:
    """Gives ``operation`` the free ``query`` object, naming ``refs``; False when the route
    declares a parameter of that name itself (then nothing can carry them)."""
    parameters: list[Any] = operation["parameters"]
    free = next((p for p in parameters if p.get("name") == "query" and p.get("in") == "query"), None)
    if free is None:
        free = copy.deepcopy(dict(FREE_QUERY))
        parameters.append(free)
    elif free.get("description") != FREE_QUERY["description"]:
        return False
    whose = "whose definition is" if len(refs) == 1 else "whose definitions are"
    free["description"] = f"{FREE_QUERY['description']} Among them {', '.join(refs)}, {whose} not published."
    return True
