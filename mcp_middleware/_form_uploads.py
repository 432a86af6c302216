"""Which form fields of a FastAPI route take an ``UploadFile`` (sent as file parts even where the
route's form is documented as ``application/x-www-form-urlencoded``), and which take ``bytes`` as
text (sent as text parts even where the form is documented as ``multipart/form-data``).

Part of the catalog (:mod:`mcp_middleware.catalog`, through ``_Builder.tool``): decided once per
tool when the catalog is built. FastAPI documents a form as urlencoded unless a parameter is a
``File()``, so a form model's ``UploadFile`` field (and an ``UploadFile = Form()`` parameter) sits in
an urlencoded body; FastAPI parses either encoding alike, but only a multipart file part is an
``UploadFile``. Its schema is the one a ``bytes = Form()`` field has (``contentMediaType:
application/octet-stream``), which takes text and refuses a file part (FastAPI reads a file part
only for a ``File()``): the route's annotations, not the document, tell them apart. A route that is
no FastAPI route has neither (its form is sent as documented).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, get_args, get_origin

from pydantic import BaseModel
from starlette.datastructures import UploadFile

__all__ = ["FormFields", "form_fields"]


class FormFields(NamedTuple):
    """A route's form fields by their wire names: ``uploads`` take an ``UploadFile``, ``texts``
    take ``bytes`` (alone, in a list, or optional) and are no ``File()``: FastAPI reads their text."""

    uploads: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()


def form_fields(route: Any) -> FormFields:
    """The :class:`FormFields` of ``route`` (the operation's route object, or None): of its own
    ``Form()`` and ``File()`` parameters, its dependencies', and the fields of its form models."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:  # not a FastAPI route
        return FormFields()
    uploads: set[str] = set()
    texts: set[str] = set()
    for wire, annotation, info in _fields(dependant):
        if _takes(annotation, UploadFile):
            uploads.add(wire)
        elif _takes(annotation, bytes) and not _is_file(info):
            texts.add(wire)
    return FormFields(frozenset(uploads), frozenset(texts))


def _fields(dependant: Any) -> Iterator[tuple[str, Any, Any]]:
    """Each body field's wire names, annotation and field info: a parameter's, a form model's fields'."""
    for param in getattr(dependant, "body_params", ()):
        info = getattr(param, "field_info", None)
        annotation = getattr(info, "annotation", None)
        for wire in _wires(str(getattr(param, "alias", "")), info):
            yield wire, annotation, info
        for model in _models(annotation):
            for name, field in model.model_fields.items():
                for wire in _wires(field.alias or name, field):
                    yield wire, field.annotation, field
    for sub in getattr(dependant, "dependencies", ()):
        yield from _fields(sub)


def _wires(alias: str, info: Any) -> list[str]:
    """A field's names in the form (and the document): its validation alias where it has one, each
    string choice of an ``AliasChoices`` (an ``AliasPath`` names no form field), else ``alias``."""
    validation = getattr(info, "validation_alias", None)
    if isinstance(validation, str) and validation:
        return [validation]
    choices = getattr(validation, "choices", None)
    named = [choice for choice in choices if isinstance(choice, str) and choice] if isinstance(choices, list) else []
    return named or [alias]


def _is_file(info: Any) -> bool:
    """Whether a field is declared ``File()`` (FastAPI's ``fastapi.params.File``, a ``Form``
    subclass), which FastAPI reads from a file part; known by its class's name and module, since
    the package imports no fastapi (plain Starlette apps run without it)."""
    return any(kind.__module__ == "fastapi.params" and kind.__name__ == "File" for kind in type(info).__mro__)


def _takes(annotation: Any, kind: type) -> bool:
    """Whether an annotation is ``kind``'s (or a subclass's), or has it among its arguments (a
    list's, a union's, ``Annotated``'s, at any depth)."""
    if _is_class(annotation):
        return issubclass(annotation, kind)
    return any(_takes(arg, kind) for arg in get_args(annotation))


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The form models an annotation names: itself, or a union's (an optional form model)."""
    for kind in (annotation, *get_args(annotation)):
        if _is_class(kind) and issubclass(kind, BaseModel):
            yield kind


def _is_class(annotation: Any) -> bool:
    """Whether an annotation is a class (``list[X]`` passes ``isinstance(_, type)``, and is none)."""
    return isinstance(annotation, type) and get_origin(annotation) is None
