"""Which form fields of a FastAPI route take an ``UploadFile``: sent as file parts even where the
route's form is documented as ``application/x-www-form-urlencoded``.

Part of the catalog (:mod:`mcp_middleware.catalog`, through ``_Builder.tool``): decided once per
tool when the catalog is built. FastAPI documents a form as urlencoded unless a parameter is a
``File()``, so a form model's ``UploadFile`` field (and an ``UploadFile = Form()`` parameter) sits in
an urlencoded body; FastAPI parses either encoding alike, but only a multipart file part is an
``UploadFile``. Its schema is the one a ``bytes = Form()`` field has (``contentMediaType:
application/octet-stream``), which takes text and refuses a file part: the route's annotations,
not the document, tell them apart. A route that is no FastAPI route has none (its form is sent as
documented).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from starlette.datastructures import UploadFile

__all__ = ["upload_fields"]


def upload_fields(route: Any) -> frozenset[str]:
    """The wire names of the body fields of ``route`` (the operation's route object, or None) whose
    annotation takes an ``UploadFile`` (alone, in a list, or optional): its own ``Form()`` and
    ``File()`` parameters, its dependencies', and the fields of its form models."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:  # not a FastAPI route
        return frozenset()
    return frozenset(_uploads(dependant))


def _uploads(dependant: Any) -> Iterator[str]:
    for param in getattr(dependant, "body_params", ()):
        info = getattr(param, "field_info", None)
        annotation = getattr(info, "annotation", None)
        if _takes_upload(annotation):
            yield _wire(str(getattr(param, "alias", "")), info)
        for model in _models(annotation):
            for name, field in model.model_fields.items():
                if _takes_upload(field.annotation):
                    yield _wire(field.alias or name, field)
    for sub in getattr(dependant, "dependencies", ()):
        yield from _uploads(sub)


def _wire(alias: str, info: Any) -> str:
    """A field's name in the form (and the document): its validation alias where it has one."""
    validation = getattr(info, "validation_alias", None)
    return validation if isinstance(validation, str) and validation else alias


def _takes_upload(annotation: Any) -> bool:
    """Whether an annotation is ``UploadFile``'s, or has it among its arguments (a list's, a
    union's, ``Annotated``'s, at any depth)."""
    if _is_class(annotation):
        return issubclass(annotation, UploadFile)
    return any(_takes_upload(arg) for arg in get_args(annotation))


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The form models an annotation names: itself, or a union's (an optional form model)."""
    for kind in (annotation, *get_args(annotation)):
        if _is_class(kind) and issubclass(kind, BaseModel):
            yield kind


def _is_class(annotation: Any) -> bool:
    """Whether an annotation is a class (``list[X]`` passes ``isinstance(_, type)``, and is none)."""
    return isinstance(annotation, type) and get_origin(annotation) is None
