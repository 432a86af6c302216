"""Which of a document's operations become tools: :class:`ToolFilter`, the ``MCPMiddleware``
options that select among them (re-exported by :mod:`mcp_middleware.catalog`, which applies it).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ToolFilter"]


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """Which operations become tools. Glob patterns (:func:`fnmatch.fnmatchcase`) match the path
    template, and ``*`` also crosses ``/``. Operations match by operation id or tool name (the
    default one or the one given by ``tool_names`` or ``x-mcp-name``)."""

    include_tags: frozenset[str] | None = None
    exclude_tags: frozenset[str] = frozenset()
    include_operations: frozenset[str] | None = None
    exclude_operations: frozenset[str] = frozenset()
    include_paths: tuple[str, ...] | None = None
    exclude_paths: tuple[str, ...] = ()
    methods: frozenset[str] | None = None

    def __post_init__(self) -> None:  # accept any collection, store the declared types
        for name in ("include_tags", "exclude_tags", "include_operations", "exclude_operations"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, frozenset(value))
        for name in ("include_paths", "exclude_paths"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.methods is not None:
            object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))

    def allows(
        self, *, method: str, path: str, operation_id: str, tags: Sequence[str], names: Sequence[str] = ()
    ) -> bool:
        """``names``: the tool's names (its default name, and the one given to it), matched by the
        operation sets like the id: any of them includes, any of them excludes (an exclude written
        before a rename still excludes)."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if (self.include_tags is not None and self.include_tags.isdisjoint(tags)) or not (
            self.exclude_tags.isdisjoint(tags)
        ):
            return False
        ids = (operation_id, *names)
        if self.include_operations is not None and self.include_operations.isdisjoint(ids):
            return False
        if not self.exclude_operations.isdisjoint(ids):
            return False
        if self.include_paths is not None and not any(fnmatch.fnmatchcase(path, p) for p in self.include_paths):
            return False
        return not any(fnmatch.fnmatchcase(path, p) for p in self.exclude_paths)

    def empty_includes(self) -> list[str]:
        """The include options given as an empty collection: each selects no operation at all."""
        includes = (
            ("include_tags", self.include_tags),
            ("include_operations", self.include_operations),
            ("include_paths", self.include_paths),
            ("include_methods", self.methods),
        )
        return [option for option, values in includes if values is not None and not values]

    def given(self) -> list[str]:
        """The options given (an include filter not None, an exclude filter not empty), as
        ``option=[values]``, in the order of the middleware's arguments: what the warning that
        they leave no tools names."""
        options = (
            ("include_tags", self.include_tags),
            ("exclude_tags", self.exclude_tags or None),
            ("include_operations", self.include_operations),
            ("exclude_operations", self.exclude_operations or None),
            ("include_paths", self.include_paths),
            ("exclude_paths", self.exclude_paths or None),
            ("include_methods", self.methods),
        )
        return [
            f"{option}={sorted(values) if isinstance(values, frozenset) else list(values)!r}"
            for option, values in options
            if values is not None
        ]

    def unmatched(self, ops: Sequence[tuple[str, str, str, Sequence[str], Sequence[str]]]) -> list[str]:
        """The filter values that match none of ``ops`` ((path, method, operation id, tags, tool
        names) each), as ``option 'value'``: a value that can never match is a mistake (a path
        without its leading "/", an operation named by neither its id nor its tool name, a method
        no route has)."""
        tags = {tag for _, _, _, op_tags, _ in ops for tag in op_tags}
        ids = {key for _, _, op_id, _, names in ops for key in (op_id, *names)}
        methods = {method.upper() for _, method, _, _, _ in ops}
        paths = [path for path, _, _, _, _ in ops]
        found: list[str] = []
        for option, values, known in (
            ("include_tags", self.include_tags, tags),
            ("exclude_tags", self.exclude_tags, tags),
            ("include_operations", self.include_operations, ids),
            ("exclude_operations", self.exclude_operations, ids),
            ("include_methods", self.methods, methods),
        ):
            found += [f"{option} {value!r}" for value in sorted(values or ()) if value not in known]
        for option, patterns in (("include_paths", self.include_paths), ("exclude_paths", self.exclude_paths)):
            found += [
                f"{option} {pattern!r}"
                for pattern in patterns or ()
                if not any(fnmatch.fnmatchcase(path, pattern) for path in paths)
            ]
        return found
