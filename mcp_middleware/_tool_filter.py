"""Which of a document's operations become tools: :class:`ToolFilter`, the ``MCPMiddleware``
options that select among them (re-exported by :mod:`mcp_middleware.catalog`, which applies it).

A value of ``include_operations``/``exclude_operations`` names a route by one of its names, in
:data:`MEANS` order: the routes whose operation id it is (as fastapi-mcp's filters match), else
those whose default tool name it is, else those given it as their tool name (``tool_names``,
``x-mcp-name``); :func:`matched_names` works out, among the routes that would be tools (those
the tag, path and method filters keep, :meth:`ToolFilter.keeps`, and a call reaches), which
names each route is matched by. So a route given another's operation id or default name takes no
filter value from it (every route can still be named, and a filter written before a rename means
what it did), and :meth:`ToolFilter.overlaps` says so when a value names routes both ways.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["MEANS", "ToolFilter", "matched_names"]

# the names an operation filter value may name a route by, the strongest first
MEANS: Final = ("operation id", "default tool name", "given tool name")


def matched_names(routes: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """Each route's names (its operation id, default tool name and given tool name, in
    :data:`MEANS` order, "" for none) that the operation filters match it by: a name another route
    has by a stronger means is that route's only."""
    strongest = _strongest(routes)
    return [tuple(key for means, key in enumerate(names) if key and strongest[key] == means) for names in routes]


def _strongest(routes: Sequence[Sequence[str]]) -> dict[str, int]:
    """Each name of ``routes``, by the strongest means (index in :data:`MEANS`) any route has it by."""
    found: dict[str, int] = {}
    for names in routes:
        for means, key in enumerate(names):
            if key and means < found.get(key, len(MEANS)):
                found[key] = means
    return found


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """Which operations become tools. Glob patterns (:func:`fnmatch.fnmatchcase`) match the path
    template, and ``*`` also crosses ``/``. Operations match by operation id or tool name (the
    default one or the one given by ``tool_names`` or ``x-mcp-name``), the first of these that
    any route has the value as (:func:`matched_names`)."""

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

    def keeps(self, *, method: str, path: str, tags: Sequence[str]) -> bool:
        """Whether the method, tag and path filters keep the operation: the routes among which an
        operation filter value is weighed (:func:`matched_names`)."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if (self.include_tags is not None and self.include_tags.isdisjoint(tags)) or not (
            self.exclude_tags.isdisjoint(tags)
        ):
            return False
        if self.include_paths is not None and not any(fnmatch.fnmatchcase(path, p) for p in self.include_paths):
            return False
        return not any(fnmatch.fnmatchcase(path, p) for p in self.exclude_paths)

    def names_kept(self, operation_id: str, names: Sequence[str] = ()) -> bool:
        """Whether the operation filters keep the operation. ``names``: the tool's names (its
        default name, and the one given to it) that no other route has by a stronger means
        (:func:`matched_names`), matched by the operation sets like the id: any of them includes,
        any of them excludes (an exclude written before a rename still excludes)."""
        ids = (operation_id, *names)
        if self.include_operations is not None and self.include_operations.isdisjoint(ids):
            return False
        return self.exclude_operations.isdisjoint(ids)

    def names_route(self, operation_id: str, names: Sequence[str], path: str) -> bool:
        """Whether an include filter names the operation itself, not only matches it:
        ``include_operations`` by one of the names it matches the route by (as
        :meth:`names_kept`), or ``include_paths`` by its path written out (a glob that matches
        it does not name it). What keeps a route that is no tool by default (an OAuth2 token
        endpoint, :func:`~mcp_middleware._token_routes.token_routes`)."""
        if self.include_operations is not None and not self.include_operations.isdisjoint((operation_id, *names)):
            return True
        return self.include_paths is not None and path in self.include_paths

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

    def overlaps(self, routes: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
        """The operation filter values that name routes by different means (``routes``: each
        route that would be a tool, as its label and its names in :data:`MEANS` order), each as
        ``option 'value' matches <routes> (its <means>), not <route> (its <means>), ...``: the
        routes it matches, by the strongest means, and those it does not, which have it as a weaker name."""
        found: list[str] = []
        strongest = _strongest([names for _, names in routes])
        operations = (("include_operations", self.include_operations), ("exclude_operations", self.exclude_operations))
        for option, values in operations:
            for value in sorted(values or ()):
                if (top := strongest.get(value)) is None:
                    continue  # no route has it as a name (an empty value names none: "" is no name)
                held = [(label, names, list(names).index(value)) for label, names in routes if value in names]
                if any(means != top for _, _, means in held):
                    found.append(_overlap(option, value, top, held))
        return found

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


def _overlap(option: str, value: str, top: int, held: Sequence[tuple[str, Sequence[str], int]]) -> str:
    """The text of :meth:`ToolFilter.overlaps` for one value, ``held`` by routes (label, names,
    means): those that have it by the ``top`` means are matched, the others not."""
    matched = ", ".join(label for label, _, means in held if means == top)
    passed = [(label, names[0], means) for label, names, means in held if means != top]
    others = ", ".join(f"{label} (its {MEANS[means]})" for label, _, means in passed)
    ways = "; ".join(
        f"name {label} by its operation id {operation_id!r} or its path"
        if operation_id
        else f"name {label} by its path"
        for label, operation_id, _ in passed
    )
    return (
        f"{option} {value!r} matches {matched} (its {MEANS[top]}), not {others}: an operation filter value "
        "matches the routes whose operation id it is, else those whose default tool name it is, else those given "
        f"it as their tool name; {ways}"
    )
