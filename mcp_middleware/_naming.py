"""The operations of an OpenAPI document, in catalog order, and their tool names.

Part of :mod:`mcp_middleware.catalog`, which assigns names before filtering.

Tool names
    1. FastAPI's generated operation id (``{function}{path with non-word chars as _}_{method}``,
       e.g. ``read_item_items__item_id__get``) is shortened to the function name (``read_item``).
       Any other operation id is kept verbatim if it is made of ``[A-Za-z0-9_-]`` only; otherwise
       runs of other characters become ``_``, repeated ``_`` collapse and ``_`` is stripped from
       both ends. An operation without (or with an empty sanitised) id is named
       ``{method}_{path}`` the same way (``get_items_item_id``).
    2. A shortened name that any other operation also wants gets ``_{method}`` appended
       (``item_get``/``item_delete``); if that still collides (same function and method on two
       paths) the whole sanitised operation id is used (``list_v1_items_get``).
    3. Names longer than ``max_name_length`` are cut (and trailing ``_`` dropped).
    4. Remaining duplicates: the first keeps the name, later ones get ``_2``, ``_3``… (cut
       further to stay within the limit), skipping names any tool uses. Operations whose name is
       their explicit operation id verbatim come first, then the others, each in document order,
       so a valid explicit id keeps its name against an id that only sanitises to it
       (``items.list``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .config import HTTP_METHODS

__all__ = [
    "_Op",
    "_assign_names",
    "_cut",
    "_generated_prefix",
    "_humanize",
    "_numbered",
    "_operations",
    "_squeezed",
    "_text",
]

_METHODS: Final = tuple(method.lower() for method in HTTP_METHODS)  # as a path item names them
_NON_WORD: Final = re.compile(r"\W")
_INVALID: Final = re.compile(r"[^A-Za-z0-9_-]+")
_UNDERSCORES: Final = re.compile(r"_{2,}")
_VALID_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_WORDS: Final = re.compile(r"[_\-\s]+")


@dataclass(frozen=True, slots=True)
class _Op:
    path: str
    method: str  # upper case
    operation: Mapping[str, Any]
    path_item: Mapping[str, Any]
    operation_id: str
    function: str | None  # set when operation_id is FastAPI's generated one
    tags: tuple[str, ...]


def _operations(document: Mapping[str, Any], excluded: frozenset[str]) -> list[_Op]:
    paths = document.get("paths")
    ops: list[_Op] = []
    if not isinstance(paths, Mapping):
        return ops
    for path, item in paths.items():
        if not isinstance(path, str) or path in excluded or not isinstance(item, Mapping):
            continue
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping):
                continue
            op_id = operation.get("operationId")
            op_id = op_id if isinstance(op_id, str) else ""
            tags = operation.get("tags")
            tags = tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
            ops.append(_Op(path, method.upper(), operation, item, op_id, _generated_prefix(op_id, path), tags))
    return ops


def _generated_prefix(operation_id: str, path: str) -> str | None:
    """The function name in a FastAPI-generated operation id (any method suffix), else ``None``."""
    stem = _NON_WORD.sub("_", path) + "_"
    for method in _METHODS:
        tail = stem + method
        if len(operation_id) > len(tail) and operation_id.endswith(tail):
            return operation_id[: -len(tail)]
    return None


def _clean(text: str, *, keep_valid: bool = True) -> str:
    if keep_valid and _VALID_NAME.fullmatch(text):
        return text
    return _squeezed(text, _INVALID)


def _squeezed(text: str, invalid: re.Pattern[str]) -> str:
    """``text`` with each run of ``invalid`` as one ``_``, repeated ``_`` collapsed and ``_``
    stripped from both ends (tool names here, argument names in the tool builder)."""
    return _UNDERSCORES.sub("_", invalid.sub("_", text)).strip("_")


def _cut(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` characters, without a trailing ``_`` the cut left."""
    return name if len(name) <= limit else (name[:limit].rstrip("_") or name[:limit])


def _assign_names(ops: Sequence[_Op], limit: int) -> list[str]:
    names = [
        _clean(op.function if op.function is not None else op.operation_id)
        or _clean(f"{op.method.lower()}_{op.path}", keep_valid=False)
        for op in ops
    ]
    for step in (1, 2):  # 1: add the method, 2: use the whole generated operation id
        counts = Counter(names)
        for index, op in enumerate(ops):
            if op.function is not None and counts[names[index]] > 1:
                widened = f"{names[index]}_{op.method.lower()}" if step == 1 else op.operation_id
                names[index] = _clean(widened, keep_valid=False)
    names = [_cut(name, limit) for name in names]
    reserved = set(names)
    taken: set[str] = set()
    verbatim = [op.function is None and name == op.operation_id for op, name in zip(ops, names, strict=True)]
    for index in sorted(range(len(ops)), key=lambda i: not verbatim[i]):  # stable: document order in each group
        names[index] = name = _first_free(names[index], limit, taken, reserved)
        taken.add(name)
    return names


def _first_free(name: str, limit: int, taken: Container[str], reserved: Container[str] = frozenset()) -> str:
    """``name``, or when it is ``taken``, the first of ``name_2``, ``name_3``, ... (cut to ``limit``)
    that is in neither ``taken`` nor ``reserved``."""
    if name not in taken:
        return name
    number = 2
    while (candidate := _numbered(name, number, limit)) in taken or candidate in reserved:
        number += 1
    return candidate


def _numbered(name: str, number: int, limit: int) -> str:
    suffix = f"_{number}"
    return name[: limit - len(suffix)].rstrip("_") + suffix


def _humanize(name: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in _WORDS.split(name) if word) or name


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
