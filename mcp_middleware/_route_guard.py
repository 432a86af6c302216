"""The guard a tool's calls pass when a call's path could miss the tool's route: the routes the
router tries before the tool's own, level by level, that could take the path a call renders; the
mounts on its way (whose pattern stops at a line feed); the typed convertors (a value they refuse);
a segment of two parameters (values the router reads back otherwise).

Part of :mod:`mcp_middleware._route_order`, whose :meth:`~mcp_middleware._route_order.RouteOrder.guard`
builds a :class:`RouteGuard` for a tool when the catalog is built; the request builder runs its
:meth:`RouteGuard.check` on each call's path and arguments, refusing one that would not reach the
tool's route as an :class:`~mcp_middleware._values.ArgumentError`.

A tool whose route (or a mount on its way) has a typed convertor (``int``, ``float``, ``uuid``, an
app's own: any but ``str`` and ``path``, which take every value the request builder sends) gets a
:class:`RouteGuard` with ``values``, which first tests each such value against its convertor's pattern
(:class:`_Values`; each argument's own text, not read back from the path): a value it refuses never
reaches the route (the router goes on to the routes after it: a 404, or another route's answer), so
it is an ArgumentError naming the argument and what the path accepts. With every value taken, the
route's own pattern matches, and only the routes tried before it and the mounts on its way are left
to check (and, where a segment holds two parameters, the values the pattern reads: below).

A tool whose path has a segment with two parameters or more (``/orders/{region}{number:int}``,
``/{left}-{right}``, in its route's path or a mount's) gets a :class:`RouteGuard` with a
``split`` (decided when the catalog is built), and so does one where a parameter whose value may
span segments (``path``) has another after it: the router splits such a segment (or segments)
with the pattern, greedily, so values each of which is taken can still reach the route as others
(``EU`` and ``12345`` make ``EU12345``, read as ``EU1234`` and ``5``; ``/f/{p:path}/{q:path}``
given ``a`` and ``b/c`` makes ``/f/a/b/c``, read as ``a/b`` and ``c``). A path with one parameter
a segment, and none spanning before another, pays nothing. After the other checks, it matches
the rendered, decoded path as the router does (each mount's pattern, as the levels do, then the
route's: :class:`_Split`) and refuses the call, naming the arguments and the path, when the values
read back are not the arguments' texts.

A mount's ``path`` parameter always has another after it: the mount's rest. With nothing after it
that the tool sends (``Mount("/p/{p:path}")`` and a route ``/q/r``), reading it does not depend on
the values: :func:`stranded` tells when no call reaches the route with its values (the catalog
leaves it out, with a warning); otherwise every value is read as sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from starlette.convertors import FloatConvertor, IntegerConvertor, PathConvertor, StringConvertor
from starlette.routing import PARAM_REGEX  # (the segments of a template: split_reading)

from mcp_middleware._paths import _TEMPLATE, _path_text
from mcp_middleware._values import ArgumentError

__all__ = ["RouteGuard", "split_reading", "stranded", "typed_values"]

_ANY: Final = frozenset({StringConvertor.regex, PathConvertor.regex})  # what the builder sends, they take
_DIGITS: Final = frozenset({IntegerConvertor.regex, FloatConvertor.regex})  # no sign: a number's minimum is 0
# a convertor's pattern ─▶ what a value must be, and what the path accepts (by the pattern: it is what
# the router tests, and it changed between Starlette versions); another convertor is named by its pattern
_ACCEPTS: Final = {
    IntegerConvertor.regex: ("be a non-negative integer", "digits"),
    FloatConvertor.regex: ("be a non-negative number", "digits, with an optional decimal part"),
    "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}": (  # Starlette 1.x
        "be a UUID",
        "hex digits grouped 8-4-4-4-12, hyphens optional",
    ),
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}": (  # older Starlette
        "be a UUID",
        "lowercase hex digits grouped 8-4-4-4-12",
    ),
}


def _answered(path: str) -> str:
    return f"the path {path} would be answered by another route of the app, not by this one"


def _unreached(path: str) -> str:
    return f"the path {path} would not reach the route of this one"


@dataclass(frozen=True, slots=True)
class _Level:
    """What a request meets at one level of routes (the app's, then a mount's...)."""

    earlier: tuple[re.Pattern[str], ...]  # routes tried before, that could take the path
    # the mount holding the tool's route (its prefix and the rest); None at the last level
    mount: re.Pattern[str] | None = None


class RouteGuard:
    """What could keep a tool's request from its own route: the routes tried before it, level by
    level (``levels``); the values its typed convertors refuse (``values``, None when none is
    typed); the values the router reads back otherwise (``split``, None when no segment holds two
    parameters). Checked in that order."""

    __slots__ = ("levels", "split", "values")

    def __init__(self, levels: tuple[_Level, ...], values: _Values | None = None, split: _Split | None = None) -> None:
        self.levels = levels
        self.values = values
        self.split = split

    def named(self, names: Mapping[str, str], integers: frozenset[str]) -> RouteGuard:
        """This guard for a tool whose arguments ``names`` gives (a path parameter ─▶ its argument,
        where they differ): its refusals name them; ``integers``: the path arguments whose numbers
        are integers only (``_Plan.integers``: a float 5.0 is written ``5``)."""
        if self.values is None and self.split is None:
            return self
        values = None if self.values is None else self.values.named(names, integers)
        split = None if self.split is None else self.split.named(names, integers)
        return RouteGuard(self.levels, values, split)

    def non_negative(self) -> frozenset[str]:
        """The path parameters whose convertor takes digits only (``int``, ``float``)."""
        if self.values is None:
            return frozenset()
        return frozenset(name for name, regex, _ in self.values.typed if regex.pattern in _DIGITS)

    def own_regexes(self) -> dict[str, str]:
        """The path parameters of an app's own convertor (not Starlette's), each with its regex."""
        if self.values is None:
            return {}
        return {name: regex.pattern for name, regex, _ in self.values.typed if regex.pattern not in _ACCEPTS}

    def check(self, path: str, arguments: Mapping[str, Any]) -> None:
        """Raises :class:`ArgumentError` when ``path`` (encoded, as sent), made of ``arguments``,
        would not reach the route, or would reach it with other values."""
        if self.values is not None and (refused := self.values.refused(arguments)) is not None:
            raise ArgumentError(refused)
        if not self.levels and self.split is None:
            return
        problem, rest, read = self._reach(unquote(path) if "%" in path else path, path)
        if problem is None and self.split is not None:  # last, the values read back as the router splits
            problem = self.split.problem(rest, read, arguments, path)
        if problem is not None:
            raise ArgumentError(problem)

    def problem(self, route_path: str, shown: str) -> str | None:
        """What keeps a request for ``route_path`` (decoded, as the router sees it) from the tool's
        route, naming the path as ``shown`` (as sent); None when nothing does."""
        return self._reach(route_path, shown)[0]

    def _reach(self, route_path: str, shown: str) -> tuple[str | None, str, dict[str, str]]:
        """:meth:`problem`, with the path the mounts on the way leave to the route and the values
        their patterns read, by parameter."""
        read: dict[str, str] = {}
        for level in self.levels:
            if any(regex.match(route_path) for regex in level.earlier):
                return _answered(shown), route_path, read
            if level.mount is None:
                break
            match = level.mount.match(route_path)
            if match is None or match.end("path") != len(route_path):
                # a line feed, which the rest's ``.*`` stops at: inside the path, the mount does not take
                # it (the router goes on, to a 404 or a route after the mount); a final one, before which
                # ``$`` matches, and the mount gives its routes the whole path (Starlette's root_path
                # arithmetic fails): either way the tool's route sees none
                return _unreached(shown), route_path, read
            groups = match.groupdict()
            route_path = "/" + groups.pop("path")
            read.update(groups)
        return None, route_path, read


@dataclass(frozen=True, slots=True)
class _Values:
    """What the typed convertors of a tool's path (its route's and its mounts') take.

    ``typed``: for each typed parameter, in the path's order, its argument, its convertor's
    pattern, and the refusal after the name; ``integers``: the arguments whose numbers are
    integers only (a float 5.0 is written ``5``)."""

    typed: tuple[tuple[str, re.Pattern[str], str], ...]
    integers: frozenset[str] = frozenset()

    def refused(self, arguments: Mapping[str, Any]) -> str | None:
        """Why one of ``arguments`` misses its convertor; None when none does. Each value is its own
        text, as the path writes it before encoding (what the router sees once the server decodes
        the path), tested whole (``fullmatch``: the router's ``$`` would take ``7`` and a final line
        feed). Not read back from the path: ``/files/{name}-{version:int}`` given ``report`` and
        ``-3`` is ``/files/report--3``, which the route's pattern splits as ``report-`` and ``3``.
        The path is rendered already: each argument is there, and not None."""
        for name, pattern, problem in self.typed:
            if pattern.fullmatch(_path_text(name, arguments[name], name in self.integers)) is None:
                return f"argument {name!r} {problem}"
        return None

    def named(self, names: Mapping[str, str], integers: frozenset[str]) -> _Values:
        """With the arguments ``names`` gives (a parameter ─▶ its argument, where they differ)."""
        return _Values(tuple((names.get(name, name), regex, text) for name, regex, text in self.typed), integers)


def typed_values(template: str, convertors: Iterable[Mapping[str, Any]]) -> _Values | None:
    """What the typed convertors take of the path ``template`` (as written, ``/items/{id:int}``,
    each mount's prefix, then the route's), given each piece's ``convertors`` by parameter, in the
    path's order (``compile_path`` makes them so); None when none is typed."""
    typed = []
    for pieces in convertors:
        for name, convertor in pieces.items():
            regex = getattr(convertor, "regex", ".*")
            if regex in _ANY:
                continue
            what, accepts = _ACCEPTS.get(regex, (f"match the pattern {regex}", "that"))
            typed.append((name, re.compile(regex), f"must {what} (the path {template} accepts only {accepts})"))
    return _Values(tuple(typed)) if typed else None


@dataclass(frozen=True, slots=True)
class _Split:
    """How the router reads the values of a path with two parameters or more in a segment.

    ``route``: the route's pattern (the mounts' on the way are the guard's levels); ``template``:
    the path as written; ``names``: a parameter ─▶ its argument, where they differ; ``integers``:
    the arguments whose numbers are integers only."""

    route: re.Pattern[str]
    template: str
    names: Mapping[str, str] = field(default_factory=dict)
    integers: frozenset[str] = frozenset()

    def problem(
        self, route_path: str, mounted: Mapping[str, str], arguments: Mapping[str, Any], shown: str
    ) -> str | None:
        """Why the router would not give the route ``arguments`` as they are: ``route_path`` is
        what the mounts on the way leave to the route of the rendered, decoded path, ``mounted`` the
        values their patterns read; the path is named as ``shown`` (as sent). None when it would."""
        match = self.route.match(route_path)
        read = mounted if match is None else {**mounted, **match.groupdict()}
        names = self.names
        misread = {}
        for parameter, text in read.items():
            name = names.get(parameter, parameter)
            if text != _path_text(name, arguments[name], name in self.integers):
                misread[name] = text
        if match is None:  # (a request that would not reach the route: the router goes on)
            if not misread:
                return _unreached(shown)
            # a mount read a value otherwise (a ``path`` one, greedily) and handed its routes the rest
            handed = f"hand the route {route_path}, which it does not take"
            return f"{self._apart(misread)}: the mounts on its way would read {_as(misread)} and {handed}"
        if not misread:
            return None
        # (two at least: a segment's text is the same, so a value read longer leaves another shorter)
        return f"{self._apart(misread)}: the route would read {_as(misread)}"

    def _apart(self, misread: Mapping[str, str]) -> str:
        if len(misread) == 1:
            return f"argument {next(iter(misread))!r} cannot be told apart in the path {self.template}"
        *first, last = (repr(name) for name in misread)
        return f"arguments {', '.join(first)} and {last} cannot be told apart in the path {self.template}"

    def named(self, names: Mapping[str, str], integers: frozenset[str]) -> _Split:
        return _Split(self.route, self.template, names, integers)


def _as(misread: Mapping[str, str]) -> str:
    return ", ".join(f"{name}={text!r}" for name, text in misread.items())


def split_reading(template: str, route: re.Pattern[str], spanning: bool) -> _Split | None:
    """How the route of pattern ``route`` reads back a path of ``template`` (as written: each
    mount's prefix, then the route's path) when a segment of it holds two parameters or more, or
    when ``spanning`` (a parameter whose value may span segments, ``path``, has another after it:
    ``/f/{p:path}/{q:path}`` given ``a`` and ``b/c`` is read as ``a/b`` and ``c``); None otherwise
    (each value is then a segment's whole text, or the last one's segments)."""
    if not spanning and all(len(PARAM_REGEX.findall(segment)) < 2 for segment in template.split("/")):
        return None
    return _Split(route, template)


def stranded(chain: Iterable[tuple[str, Mapping[str, Any], bool]]) -> str | None:
    """Why no call reaches a route with the values it was given, whatever they are; None when
    some could. ``chain``: each mount on the way to the route, then the route, as ``(its path as
    written, its parameters' convertors in the path's order, whether it is a mount)``.

    A mount's prefix that ends in a ``path`` parameter, and literal text ``L`` (often none) after
    it, is compiled with the mount's rest after that, ``L/{path:path}``: the parameter's ``.*``
    takes the path up to the last ``L/`` in it. Where the text after the parameter (``L`` and the
    paths of what is mounted there, as written) holds another ``L/`` in its literal text, every
    path the tool renders has one after the value: the parameter is read with part of the route's
    path, and the mount's routes are handed the rest (``Mount("/p/{p:path}")`` and ``/q/r``:
    ``/p/a/q/r`` is ``p="a/q"`` and ``/r``, a 404 or another route's answer)."""
    pieces = list(chain)
    for index, (written, convertors, mount) in enumerate(pieces):
        if not mount or not convertors or not isinstance(list(convertors.values())[-1], PathConvertor):
            continue
        name = list(convertors)[-1]
        literal = written.rpartition("}")[2]  # the prefix's text after its last parameter
        after = literal + "".join(piece[0] for piece in pieces[index + 1 :])
        texts = _TEMPLATE.split(after)[::2]  # (its literal text, between the parameters)
        needle = literal + "/"
        if texts[0].find(needle, 1) != -1 or any(needle in text for text in texts[1:]):
            prefix = "".join(piece[0] for piece in pieces[: index + 1])
            return (
                f"the mount {prefix} reads {name!r} up to the last {needle!r} of the path, and there is always "
                f"one in {after} after it, so {name!r} would be read with part of it"
            )
    return None
