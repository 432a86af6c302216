"""The response models whose JSON their documented schema may not describe, read for
:mod:`mcp_middleware._route_details` when the catalog is built.

FastAPI documents a response model as pydantic's serialization-mode JSON schema says, which
follows a serializer's return type. A serializer without one (``@field_serializer`` or
``@model_serializer``, plain or wrap, whose function has no return annotation and no
``return_type=``; an ``Annotated[..., PlainSerializer(f)]`` or ``WrapSerializer(f)`` without
``return_type=``, the way to write one for a reusable type, a lambda having no annotation) leaves
the field's own type (or the model's fields) in the schema, and the ``json_encoders`` option is
not in it at all: an ``id: int`` written ``"evt_1"`` is documented an integer; nor is
``ser_json_inf_nan="strings"``, which writes a float's infinity ``"Infinity"`` where the schema
says a number (its default, ``"null"``, is a limit the README states: a ``null``). Such a route's tool
gets no ``outputSchema`` (a client would refuse every result), as a route with
``response_model_exclude`` does. The models looked at are every one the response model's core
schema holds (its fields, ``list``/``dict``/``Optional``/union members, at any depth), pydantic
dataclasses and ``TypedDict``s too; ``json_encoders`` counts where one of its types is a field's
(or one it holds, in a ``list``, a union, a ``TypedDict``...), as pydantic applies it, and
``ser_json_inf_nan="strings"`` where ``float`` is.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import PydanticUndefined

__all__ = ["loose_models"]

_OWNERS = frozenset({"model", "dataclass", "typed-dict"})  # the core schemas of a class with decorators or a config
_FUNCTIONS = frozenset({"function-plain", "function-wrap"})  # a serializer's, pydantic's own or the user's
_NAMES = {"function-plain": "PlainSerializer", "function-wrap": "WrapSerializer"}  # one no class holds


def loose_models(model: Any) -> list[str]:
    """The names of the classes ``model`` (a route's ``response_model``) holds, itself included,
    whose JSON its documented schema may not describe (an ``Annotated`` serializer no class holds,
    ``response_model=list[Timestamp]``, named ``PlainSerializer`` or ``WrapSerializer``); none when
    there is no core schema to read (such a model's JSON is another check's,
    ``_route_details._json_may_not_fit``)."""
    try:
        schema = TypeAdapter(model).core_schema
    except Exception:
        return []
    names: set[str] = set()
    for owner, node in _nodes(schema):
        kind = node.get("type")
        if isinstance(node.get("cls"), type) and kind in _OWNERS and _loose(node["cls"], kind != "typed-dict"):
            names.add(node["cls"].__qualname__)
        if _user_function_untyped(node.get("serialization")):
            names.add(owner.__qualname__ if owner is not None else _NAMES[node["serialization"]["type"]])
    return sorted(names)


def _nodes(schema: Any) -> Iterator[tuple[type | None, dict[str, Any]]]:
    """The dict nodes of a core schema, each once, with the class of the nearest model, dataclass
    or ``TypedDict`` schema holding it (the node's own, for such a schema; None above them all)."""
    todo: list[tuple[type | None, Any]] = [(None, schema)]
    seen: set[int] = set()
    while todo:
        owner, node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            cls = node.get("cls")
            if node.get("type") in _OWNERS and isinstance(cls, type):
                owner = cls
            yield owner, node
            todo.extend((owner, value) for value in node.values() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            todo.extend((owner, value) for value in node if isinstance(value, (dict, list)))


def _user_function_untyped(serialization: Any) -> bool:
    """Whether a node's ``serialization`` is a function the user gave, with no return type.

    Every ``when_used`` counts: ``"always"`` and ``"json"`` both apply to the JSON, and
    ``"unless-none"`` and ``"json-unless-none"`` leave only None alone (written null, the field's
    own type's JSON). pydantic's own functions (a URL's, an IP address's, a path's, a
    ``SecretStr``'s) have no return schema either, but write what the type's schema says."""
    if not isinstance(serialization, dict) or serialization.get("type") not in _FUNCTIONS:
        return False
    if serialization.get("return_schema") is not None:
        return False
    module = getattr(serialization.get("function"), "__module__", None)
    return not (isinstance(module, str) and module.split(".")[0] in {"pydantic", "pydantic_core"})


def _loose(cls: type, inf_nan: bool = True) -> bool:
    """Whether ``cls`` has a field or model serializer without a return type, ``json_encoders``
    for a type its fields hold (:func:`_may_encode`), or, with ``inf_nan``,
    ``ser_json_inf_nan="strings"`` beside a float they hold (a ``TypedDict``'s or plain
    dataclass's there too, which take its config). A ``TypedDict``'s own ``ser_json_inf_nan``
    (``with_config``) is not asked: pydantic writes its infinity null all the same, held by a
    model or as the response model itself (re-review rr2: its tool lost its outputSchema)."""
    decorators = getattr(cls, "__pydantic_decorators__", None)
    if decorators is not None:
        found = (*decorators.field_serializers.values(), *decorators.model_serializers.values())
        if not all(_says_its_type(decorator) for decorator in found):
            return True
    config = getattr(cls, "model_config", None) or getattr(cls, "__pydantic_config__", None)
    if not isinstance(config, dict):
        return False
    encoders = config.get("json_encoders")
    if encoders and _may_encode(cls, encoders):
        return True
    # a float's inf and nan then written "Infinity", "NaN": strings, where the schema says a number
    return inf_nan and config.get("ser_json_inf_nan") == "strings" and _may_encode(cls, (float,))


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


def _may_encode(cls: type, encoders: Any) -> bool:
    """Whether one of the ``json_encoders``' types is among those ``cls``'s fields hold, or may be
    (an annotation that cannot be read counts): pydantic applies an encoder to a type, or one whose
    MRO holds it, in the fields of the model whose config it is, and of the ``TypedDict``s and
    dataclasses without a config of their own they hold (a model has its own config)."""
    found: list[Any] = []
    try:
        _held_types(cls, found, set())
    except Exception:  # an unresolved annotation: not sure, so it counts
        return True
    return any(key == base for tp in found for base in (tp, *getattr(tp, "__mro__", ())) for key in encoders)


def _held_types(cls: type, found: list[Any], seen: set[int]) -> None:
    """Add to ``found`` the types ``cls``'s field annotations name, at any depth (``list[X]``,
    ``X | None``, ``Annotated[X, ...]``), and those of the classes without a config of their own
    held there; raises where an annotation cannot be read."""
    fields = getattr(cls, "__pydantic_fields__", None)
    if isinstance(fields, dict):
        hints = [field.annotation for field in fields.values()]
    else:
        hints = list(typing.get_type_hints(cls, include_extras=True).values())
    for hint in hints:
        _add_type(hint, found, seen)


def _add_type(hint: Any, found: list[Any], seen: set[int]) -> None:
    if id(hint) in seen:
        return
    seen.add(id(hint))
    if isinstance(hint, (str, typing.ForwardRef, typing.TypeVar)):
        raise TypeError(f"not a type: {hint!r}")
    found.append(hint)
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return
    if origin is not None:
        found.append(origin)
        arguments = typing.get_args(hint)
        for argument in arguments[:1] if origin is typing.Annotated else arguments:
            if argument is not Ellipsis and not isinstance(argument, (list, tuple)):
                _add_type(argument, found, seen)
    elif isinstance(hint, type) and not hasattr(hint, "model_config") and hasattr(hint, "__annotations__"):
        _held_types(hint, found, seen)
