"""Loads the SDK's wire types (``mcp_types``) with pydantic's ``defer_build``, once, before the rest
of the package imports them.

``mcp_types`` defines some 500 pydantic models (the version-free ones and both schema eras) and
seven module-level ``TypeAdapter``s over unions of them (``client_request_adapter`` and its
siblings, ``jsonrpc_message_adapter``). As pydantic does by default, it builds every model's
validator and serializer, and every adapter's, at import: ~3.7 MiB of a server's memory and ~70 ms
of the types' import, for models and adapters a server mostly never uses (a tool server validates a
handful of requests and results through ``mcp_types.methods``, which makes its own adapters on
demand, and none of the seven). Deferred, each gets its validator on first use, exactly as it would
have been built at import; only the ones a server really uses are built.

pydantic has no public switch for a whole package, so two defaults are changed for the duration of
this one import and put back after, whatever happens: the model config default
(``pydantic._internal._config.config_defaults``), and ``TypeAdapter._defer_build``, which does not
read that default for a type without a config of its own (a union). Neither has any effect on
models or adapters made before or after, and the package imports normally when pydantic's
internals are not as expected: either way nothing but memory changes.

A deferred model holds three stand-ins (``MockCoreSchema`` and two ``MockValSer``: its core schema,
validator and serializer), each with the function that builds the model on its first use. pydantic
makes that function a closure over a lambda (~0.45 KiB a stand-in, ~0.5 MiB over the ~500 models);
for the same import, ``set_model_mocks`` is wrapped so that each stand-in's function is a
:class:`_Rebuild` instead (48 bytes: two slots; a ``functools.partial`` took ~0.2 KiB, as it holds
an argument tuple and an empty keyword dict of its own), which does what pydantic's closure does:
the stand-ins, their error message and what a first use builds are pydantic's own.

Each field's ``FieldInfo`` also holds its own ``_qualifiers`` set (``ClassVar``, ``Final``,
``Required``...), which pydantic only tests membership in; for the ~1,600 fields of the wire types
that have none, the empty set (216 bytes each, ~0.33 MiB) is replaced by one shared empty
``frozenset`` after the import (:func:`_share_empties`). In the same pass, the ~500 models without
decorators of their own (all but one) share one empty ``DecoratorInfos`` as their
``__pydantic_decorators__``, instead of one each with seven empty dicts (~0.6 KiB a model): pydantic
fills a model's ``DecoratorInfos`` while it makes the class, then only reads it (to build the model,
and a subclass's own, which it makes anew); ``BaseModel``'s is one such empty instance already.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["load"]


def _defaults() -> dict[str, Any] | None:
    """pydantic's config defaults, when they are the dict (with ``defer_build``) this relies on."""
    try:
        from pydantic._internal import _config
    except ImportError:
        return None
    defaults = getattr(_config, "config_defaults", None)
    return defaults if isinstance(defaults, dict) and defaults.get("defer_build") is False else None


def _adapter_class() -> Any:
    """``pydantic.TypeAdapter``, when its defer switch is the property this relies on."""
    try:
        from pydantic import TypeAdapter
    except ImportError:
        return None
    return TypeAdapter if isinstance(TypeAdapter.__dict__.get("_defer_build"), property) else None


def _always(adapter: Any) -> bool:
    return True


_NO_QUALIFIERS: frozenset[str] = frozenset()

# a deferred model's three stand-ins, by the class attribute each stands in for
_STAND_INS = ("__pydantic_core_schema__", "__pydantic_validator__", "__pydantic_serializer__")


def _construction() -> Any:
    """pydantic's ``_model_construction`` module, when the ``set_model_mocks`` it calls is the one of
    ``_mock_val_ser`` whose stand-ins hold their build function as ``_attempt_rebuild``."""
    try:
        from pydantic._internal import _mock_val_ser, _model_construction
    except ImportError:
        return None
    mocks = getattr(_mock_val_ser, "set_model_mocks", None)
    kinds = (getattr(_mock_val_ser, "MockCoreSchema", None), getattr(_mock_val_ser, "MockValSer", None))
    expected = all(isinstance(kind, type) and "_attempt_rebuild" in getattr(kind, "__slots__", ()) for kind in kinds)
    return _model_construction if expected and getattr(_model_construction, "set_model_mocks", None) is mocks else None


class _Rebuild:
    """A deferred model's first use, for one of its stand-ins (pydantic's own closure, as one object of
    two slots): the model built, then its ``name``; None when it cannot be built yet (the stand-in
    then raises pydantic's error)."""

    __slots__ = ("cls", "name")

    def __init__(self, cls: Any, name: str) -> None:
        self.cls = cls
        self.name = name

    def __call__(self, *, parent_namespace_depth: int = 5) -> Any:
        cls = self.cls
        if cls.model_rebuild(raise_errors=False, _parent_namespace_depth=parent_namespace_depth) is not False:
            return getattr(cls, self.name)
        return None


def _lighter(set_model_mocks: Callable[..., None]) -> Callable[..., None]:
    """``set_model_mocks`` whose stand-ins build the model through a :class:`_Rebuild`."""

    def lighter(cls: Any, *args: Any, **kwargs: Any) -> None:
        set_model_mocks(cls, *args, **kwargs)  # pydantic's own defaults: they differ between its versions
        for name in _STAND_INS:
            cls.__dict__[name]._attempt_rebuild = _Rebuild(cls, name)

    return lighter


def _no_decorators(infos: Any) -> bool:
    """Whether a model's ``DecoratorInfos`` (a dataclass of dicts) holds no decorator at all."""
    if not dataclasses.is_dataclass(infos) or isinstance(infos, type):
        return False
    return all(type(kind) is dict and not kind for kind in (getattr(infos, f.name) for f in dataclasses.fields(infos)))


def _share_empties() -> None:
    """The wire types' fields without qualifiers share one empty frozenset, and their models without
    decorators one empty ``DecoratorInfos`` (see the module docstring)."""
    shared: Any = None  # the first empty DecoratorInfos found
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] != "mcp_types":
            continue
        for value in list(vars(module).values()):
            own = value.__dict__ if isinstance(value, type) else {}
            fields = own.get("__pydantic_fields__")
            for info in fields.values() if isinstance(fields, dict) else ():
                if type(getattr(info, "_qualifiers", None)) is set and not info._qualifiers:
                    info._qualifiers = _NO_QUALIFIERS
            decorators = own.get("__pydantic_decorators__")
            if decorators is not None and decorators is not shared and _no_decorators(decorators):
                if shared is None:
                    shared = decorators
                else:
                    value.__pydantic_decorators__ = shared


def load() -> bool:
    """Import ``mcp_types.methods`` (and with it every wire type); True when deferred here."""
    defaults = None if "mcp_types.methods" in sys.modules else _defaults()
    type_adapter = None if defaults is None else _adapter_class()
    construction = None if defaults is None else _construction()
    if defaults is not None:
        defaults["defer_build"] = True
    if type_adapter is not None:
        switch = type_adapter.__dict__["_defer_build"]
        type_adapter._defer_build = property(_always)
    if construction is not None:
        mocks = construction.set_model_mocks
        construction.set_model_mocks = _lighter(mocks)
    try:
        import mcp_types.methods  # noqa: F401
    finally:
        if defaults is not None:
            defaults["defer_build"] = False
        if type_adapter is not None:
            type_adapter._defer_build = switch
        if construction is not None:
            construction.set_model_mocks = mocks
    if defaults is not None:
        _share_empties()
    return defaults is not None
