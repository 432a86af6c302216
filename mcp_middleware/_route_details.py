"""What an app's routes say that its OpenAPI document leaves out, read for
:mod:`mcp_middleware.catalog` when it is built, by document path and method.

* A ``:path`` converter (:func:`_converter_paths`): the document writes ``/files/{name:path}`` as
  ``/files/{name}``.
* The response-model options that change the route's JSON (:func:`_response_options`), the
  response models holding a serializer without a return type, ``json_encoders`` or
  ``ser_json_inf_nan="strings"`` beside a float (:func:`_serializes_loosely`), and, in an app
  made with ``separate_input_output_schemas=False``, the response models whose JSON may not fit
  the 2xx body schema the document gives them (:func:`_json_may_not_fit`, by
  :func:`~mcp_middleware._schema_fit.fits`): their tools get no ``outputSchema``, or one that
  requires no property that may be null.

The routes are read as the router holds them (:func:`~mcp_middleware._route_order.app_routes`:
an included router's in its place, newer FastAPI). Log records keep the logger name ``mcp_middleware.catalog``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter

from mcp_middleware._loose_serializers import loose_models
from mcp_middleware._once import warn_once
from mcp_middleware._route_order import app_routes

logger = logging.getLogger("mcp_middleware.catalog")


def _converter_paths(app: Any, prefix: str = "") -> dict[tuple[str, str], str]:
    """The templates of routes with a ``:path`` parameter, by document path and method, each
    under ``prefix`` (the path, as written, of the mount ``app`` is in): the OpenAPI document drops
    Starlette's converters (``/files/{name:path}`` is ``/files/{name}``). Under a prefix with
    one (``/p/{p:path}``), every route is such a route."""
    found: dict[tuple[str, str], str] = {}
    every = ":path}" in prefix
    for route in app_routes(app):
        path, path_format = getattr(route, "path", None), getattr(route, "path_format", None)
        if isinstance(path, str) and isinstance(path_format, str) and (every or ":path}" in path):
            for method in getattr(route, "methods", None) or ():
                found[(path_format, method)] = prefix + path
    return found


def _response_options(app: Any, prefix: str = "") -> dict[str, frozenset[tuple[str, str]]]:
    """The operations (by document path and method) whose route's JSON is not the response model's
    as the OpenAPI document describes it: ``reshaped`` (``response_model_include``,
    ``response_model_exclude``, ``response_model_by_alias=False``: other properties, other names;
    ``response_model_exclude_unset``, ``response_model_exclude_defaults``: a property the schema
    requires, or the defaulted tag that tells a union's members apart, may be left out; in an app
    made with ``separate_input_output_schemas=False``, whose document describes a response model
    as an input, a model whose JSON may not fit that, :func:`_json_may_not_fit`; a model holding a
    serializer without a return type, or ``json_encoders``, :func:`_serializes_loosely`, warned
    about under ``prefix``, the app's in the document) and ``nones_dropped``
    (``response_model_exclude_none``: a property whose value is None is left out, though required)."""
    reshaped: set[tuple[str, str]] = set()
    nones_dropped: set[tuple[str, str]] = set()
    document = _one_schema_document(app)
    for route in app_routes(app):
        path = getattr(route, "path_format", None)
        if not isinstance(path, str):
            continue
        keys = {(path, method) for method in getattr(route, "methods", None) or ()}
        if (
            getattr(route, "response_model_include", None) is not None
            or getattr(route, "response_model_exclude", None) is not None
            or getattr(route, "response_model_by_alias", True) is False
            or getattr(route, "response_model_exclude_unset", False) is True
            or getattr(route, "response_model_exclude_defaults", False) is True
            or (document is not None and _json_may_not_fit(route, path, document))
            or _serializes_loosely(route, prefix + path)
        ):
            reshaped |= keys
        if getattr(route, "response_model_exclude_none", False) is True:
            nones_dropped |= keys
    return {"reshaped": frozenset(reshaped), "nones_dropped": frozenset(nones_dropped)}


def _serializes_loosely(route: Any, path: str) -> bool:
    """Whether the route's response model holds a serializer without a return type (a decorator's,
    or an ``Annotated`` ``PlainSerializer``'s or ``WrapSerializer``'s), ``ser_json_inf_nan="strings"``
    beside a float, or ``json_encoders`` for a type it holds
    (:func:`~mcp_middleware._loose_serializers.loose_models`): its JSON may not be what the
    document says. Warned about, once, naming the route and the models."""
    model = getattr(route, "response_model", None)
    loose = loose_models(model) if model is not None else []
    if loose:
        warn_once(
            logger,
            "Route %s %s: its response model's JSON may not be what the OpenAPI document says (a serializer "
            "without a return type, @field_serializer or @model_serializer without a return annotation, "
            "PlainSerializer or WrapSerializer without return_type=, json_encoders, or ser_json_inf_nan='strings' "
            "beside a float, in %s), so its tool has no outputSchema (the result is text only); to keep it, give "
            "the serializer its return type (-> str, return_type=str) and use one in place of json_encoders or "
            "ser_json_inf_nan='strings'",
            "/".join(sorted(getattr(route, "methods", None) or ())),
            path,
            ", ".join(repr(name) for name in loose),
        )
    return bool(loose)


def _one_schema_document(app: Any) -> Mapping[str, Any] | None:
    """The OpenAPI document of an app made with ``separate_input_output_schemas=False`` (None for
    another app, or when it has none: its routes are then not described, and there is nothing to check)."""
    if getattr(app, "separate_input_output_schemas", True) is not False:
        return None
    try:
        document = app.openapi()  # (FastAPI keeps it: the catalog has already asked)
    except Exception:  # logged where the catalog asks for it
        return None
    return document if isinstance(document, Mapping) else None


def _json_may_not_fit(route: Any, path: str, document: Mapping[str, Any]) -> bool:
    """Whether the JSON of a route's response model (its pydantic serialization-mode JSON schema)
    may fail a 2xx JSON body schema its operations document (the validation-mode one, for an app
    without separate input and output schemas): ``Json[X]`` is documented a string, a
    ``serialization_alias`` names a field the document does not; a ``Decimal`` (a number or a
    string, written as a string) or a computed field fits (:func:`~mcp_middleware._schema_fit.fits`).
    True when the model has no serialization-mode schema."""
    model = getattr(route, "response_model", None)
    if model is None:
        return False
    documented = _documented_bodies(document, path, getattr(route, "methods", None) or ())
    if not documented:
        return False
    try:
        written = TypeAdapter(model).json_schema(mode="serialization")
    except Exception:  # a type pydantic cannot describe: its JSON is unknown
        logger.debug("no JSON schema for the response model %r", model, exc_info=True)
        return True
    components = document.get("components")
    schemas = components.get("schemas") if isinstance(components, Mapping) else None
    mine, theirs = (written.get("$defs"), "#/$defs/"), (schemas, "#/components/schemas/")
    from mcp_middleware._schema_fit import fits  # only for an app without separate input and output schemas

    return not all(fits(written, mine, body, theirs) for body in documented)


def _documented_bodies(document: Mapping[str, Any], path: str, methods: Iterable[str]) -> list[Any]:
    """The JSON body schemas the 2xx responses of a path's operations of these methods document."""
    paths = document.get("paths")
    item = paths.get(path) if isinstance(paths, Mapping) else None
    found: list[Any] = []
    for method in methods:
        operation = item.get(method.lower()) if isinstance(item, Mapping) else None
        responses = operation.get("responses") if isinstance(operation, Mapping) else None
        for code, response in responses.items() if isinstance(responses, Mapping) else ():
            content = response.get("content") if isinstance(response, Mapping) else None
            if not str(code).startswith("2") or not isinstance(content, Mapping):
                continue
            for media_type, media in content.items():
                if "json" in str(media_type) and isinstance(media, Mapping) and "schema" in media:
                    found.append(media["schema"])
    return found
