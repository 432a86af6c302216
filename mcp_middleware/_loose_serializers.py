"""The response models whose JSON their documented schema may not describe, read for
:mod:`mcp_middleware._route_details` when the catalog is built.

FastAPI documents a response model as pydantic's serialization-mode JSON schema says, which
follows a serializer's return type. A serializer without one (``@field_serializer`` or
``@model_serializer``, plain or wrap, whose function has no return annotation and no
``return_type=``) leaves the field's own type (or the model's fields) in the schema, and the
``json_encoders`` option is not in it at all: an ``id: int`` written ``"evt_1"`` is documented an
integer. Such a route's tool gets no ``outputSchema`` (a client would refuse every result), as a
route with ``response_model_exclude`` does. The models looked at are every one the response
model's core schema holds (its fields, ``list``/``dict``/``Optional``/union members, at any
depth), pydantic dataclasses and ``TypedDict``s too.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import PydanticUndefined

__all__ = ["loose_models"]

_OWNERS = frozenset({"model", "dataclass", "typed-dict"})  # the core schemas of a class with decorators or a config


def loose_models(model: Any) -> list[type]:
    """The classes ``model`` (a route's ``response_model``) holds, itself included, whose JSON its
    documented schema may not describe, by name; none when there is no core schema to read (such a
    model's JSON is another check's, ``_route_details._json_may_not_fit``)."""
    try:
        schema = TypeAdapter(model).core_schema
    except Exception:
        return []
    return sorted((cls for cls in _classes(schema) if _loose(cls)), key=lambda cls: cls.__qualname__)


def _classes(schema: Any) -> Iterator[type]:
    """The classes of the model, dataclass and ``TypedDict`` schemas in a core schema, each once."""
    todo, seen, classes = [schema], set(), set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            cls = node.get("cls")
            if node.get("type") in _OWNERS and isinstance(cls, type) and cls not in classes:
                classes.add(cls)
                yield cls
            todo.extend(value for value in node.values() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            todo.extend(value for value in node if isinstance(value, (dict, list)))


def _loose(cls: type) -> bool:
    """Whether ``cls`` has a field or model serializer without a return type, or ``json_encoders``."""
    decorators = getattr(cls, "__pydantic_decorators__", None)
    if decorators is not None:
        found = (*decorators.field_serializers.values(), *decorators.model_serializers.values())
        if not all(_says_its_type(decorator) for decorator in found):
            return True
    config = getattr(cls, "model_config", None) or getattr(cls, "__pydantic_config__", None)
    return isinstance(config, dict) and bool(config.get("json_encoders"))


def _says_its_type(decorator: Any) -> bool:
    """Whether a serializer says what it returns (``return_type=``, or its function's annotation),
    as pydantic reads it for the schema (``-> Any`` says "any JSON", which the schema then says)."""
    if getattr(decorator.info, "return_type", PydanticUndefined) is not PydanticUndefined:
        return True
    try:
        signature = inspect.signature(decorator.func)
    except (TypeError, ValueError):  # no signature to read: pydantic cannot read one either
        return False
    return signature.return_annotation is not inspect.Signature.empty
