"""A resource template's URIs: RFC 6570 ``{var}``, ``{+var}`` and a final ``{?var,...}`` matched in
linear time.

Part of :mod:`mcp_middleware.features`. What matches is what the regular expression this replaced
matched (``{var}`` as ``[^/?#]+``, ``{+var}`` as ``.+``, over the whole URI): a value has one
character at least, a ``{var}`` value no ``/``, ``?`` or ``#``, a ``{+var}`` value no line feed;
where a URI can be split more than one way, the first variable takes the longest value with which
the rest still matches, then the second, and so on (a backtracking matcher's leftmost-greedy
choice: ``{year}-{month}`` reads ``2024-01-05`` as ``2024-01`` and ``05``).

That expression backtracked: with two variables around a literal, a URI made of the literal
repeated and failing at its end took time quadratic in its length (32 KB: 3 s; the 4 MB body limit
allowed hours). Here nothing backtracks. A template is a head and steps, each a variable and the
literal after it. The positions from which steps k, k+1, ... match the rest of the URI are, within
one run of the characters step k's variable may hold, an interval: from the run's start up to the
largest end of step k's value at which step k+1 goes on. :meth:`_Scan.starts` finds those
intervals highest first, each step from the intervals of the next: one search for the step's
literal in the window an interval of the next step allows, then one for where the run starts, and
every search starts below where the last one of that step ended. So each step reads each character
of the URI a bounded number of times: the time is linear in the URI's length (times the number of
steps), whatever the URI.

A final form-style query expression (``{?q,page}``, RFC 6570 level 3, as the TS SDK and VS Code
expand it) takes its variables from the URI's query, the text after its first ``?`` (so the values
of the rest of the template hold no ``?``): ``key=value`` parts joined by ``&``, in any order, each
key one the expression names, at most once; a variable whose key is absent is undefined (None), and
an empty query (a URI ending in ``?``) leaves them all undefined, as no query does. Anything else
(another key, a key twice, an empty part between ``&``, a part without ``=``, a ``#``) is no
expansion of the template: no match. The query is split at most once per name, so its work does not
grow with its length either.

Deliberate difference: a variable that repeats (``{a}/{a}``) is matched like distinct variables,
and the URI then matches only if its values are equal. The backreference that matched it before
searched every split of the first value, which no linear matcher can; the two differ only when the
literal between the repeats also occurs in the value (``{a}-{a}`` does not match ``1-1-1-1``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["VARIABLE", "UriTemplate"]

VARIABLE: Final = re.compile(r"\{(\+?)([A-Za-z0-9_]+)\}")  # ``{var}`` or ``{+var}``
# a form-style query expression ending the template (``{?q}``, ``{?q,page}``), after no ``?``
_QUERY: Final = re.compile(r"\{\?([A-Za-z0-9_]+(?:,[A-Za-z0-9_]+)*)\}\Z")
# In the URI as searched, what ends a ``{var}`` value (``?`` and ``#`` read as ``/``), and what ends
# a ``{+var}`` value
_FLAT: Final = str.maketrans("?#", "//")
_PLAIN_STOP: Final = "/"
_RESERVED_STOP: Final = "\n"


@dataclass(frozen=True, slots=True)
class _Step:
    stop: str  # the character its variable's value cannot hold (in the flattened URI)
    literal: str  # what follows the variable, up to the next one or the end of the template
    slot: int  # the variable's index in :attr:`UriTemplate.variables`


@dataclass(frozen=True, slots=True)
class UriTemplate:
    head: str  # the literal before the first variable
    steps: tuple[_Step, ...]
    variables: tuple[str, ...]  # the distinct variable names, in order of first appearance
    query: tuple[str, ...] = ()  # the names of the final ``{?...}`` expression (also in ``variables``)

    @staticmethod
    def split_query(template: str) -> tuple[str, tuple[str, ...]]:
        """The template before its final ``{?...}`` expression, and that expression's names (none
        when it has no such expression, or when a ``?`` comes before it: the query would not be
        the expression's)."""
        found = _QUERY.search(template)
        if found is None or "?" in template[: found.start()]:
            return template, ()
        return template[: found.start()], tuple(found.group(1).split(","))

    @classmethod
    def parse(cls, template: str) -> UriTemplate:
        """The template's head and steps; any text outside ``{var}``, ``{+var}`` and a final
        ``{?var,...}`` is literal."""
        template, query = cls.split_query(template)
        names: list[str] = []
        found = list(VARIABLE.finditer(template))
        steps: list[_Step] = []
        for index, match in enumerate(found):
            name = match.group(2)
            if name not in names:
                names.append(name)
            following = found[index + 1].start() if index + 1 < len(found) else len(template)
            stop = _RESERVED_STOP if match.group(1) else _PLAIN_STOP
            steps.append(_Step(stop, template[match.end() : following], names.index(name)))
        head = template[: found[0].start()] if found else template
        names.extend(name for name in dict.fromkeys(query) if name not in names)
        return cls(head, tuple(steps), tuple(names), query)

    @property
    def supported(self) -> bool:
        """Whether the template has no expression but ``{var}``, ``{+var}`` and a final
        ``{?var,...}``: :meth:`parse` reads any other as literal text, which no URI expands."""
        return not any("{" in text or "}" in text for text in (self.head, *(step.literal for step in self.steps)))

    def match(self, uri: str) -> tuple[str | None, ...] | None:
        """The value of each variable (raw, as in the URI; None for a query variable the URI leaves
        undefined), or None when ``uri`` does not match."""
        if not self.query:
            return self._match_path(uri)
        uri, mark, query = uri.partition("?")
        given = self._query_values(query) if mark else {}
        if given is None or (found := self._match_path(uri)) is None:
            return None
        values = list(found)
        for name, value in given.items():
            slot = self.variables.index(name)
            if values[slot] is not None and values[slot] != value:  # also a variable of the path
                return None
            values[slot] = value
        return tuple(values)

    def _query_values(self, query: str) -> dict[str, str] | None:
        """The values a form-style expansion wrote in ``query``, or None when it is none."""
        names = self.query
        parts = query.split("&", len(names)) if query else []
        if len(parts) > len(names) or "#" in query:
            return None
        given: dict[str, str] = {}
        for part in parts:
            key, equals, value = part.partition("=")
            if not equals or key not in names or key in given:
                return None
            given[key] = value
        return given

    def _match_path(self, uri: str) -> tuple[str | None, ...] | None:
        """The values of the variables before the query expression (None for the query's)."""
        head = self.head
        if not uri.startswith(head):
            return None
        start = len(head)
        if not self.steps:
            return (None,) * len(self.variables) if len(uri) == start else None
        # the highest interval that reaches below start + 1: it holds start, or no interval does
        found = next(_Scan(uri, self.steps).starts(0, start + 1), None)
        if found is None or not found[0] <= start < found[1][0]:
            return None
        return self._values(uri, start, found[1])

    def _values(self, uri: str, start: int, ends: Sequence[int]) -> tuple[str | None, ...] | None:
        values: list[str | None] = [None] * len(self.variables)
        for step, end in zip(self.steps, ends, strict=True):
            value, known = uri[start:end], values[step.slot]
            if known is None:
                values[step.slot] = value
            elif known != value:  # a repeated variable, another value
                return None
            start = end + len(step.literal)
        return tuple(values)


class _Scan:
    """One match: the URI, and the steps' intervals found from the last step to the first."""

    __slots__ = ("flat", "steps", "uri")

    def __init__(self, uri: str, steps: tuple[_Step, ...]) -> None:
        self.uri = uri
        self.flat = uri.translate(_FLAT)  # stops are searched for as one character each
        self.steps = steps

    def starts(self, k: int, top: int) -> Iterator[tuple[int, tuple[int, ...]]]:
        """The positions below ``top`` (at least those) from which steps ``k``... match the rest of
        the URI: intervals ``[a, ends[0])``, highest first, one per run of step ``k``'s characters
        at most, each with the ends of the values of steps ``k``... that its starts give (each the
        largest with which the rest matches)."""
        step, uri, flat = self.steps[k], self.uri, self.flat
        literal, width, stop = step.literal, len(step.literal), step.stop
        if k == len(self.steps) - 1:  # the last value ends where the template's tail begins
            end = len(uri) - width
            if end > 0 and uri.startswith(literal, end):
                first = flat.rfind(stop, 0, end) + 1
                if first < end:
                    yield first, (end,)
            return
        # A value ends in the run that holds ``top - 1``, or in one below: at its end, at most.
        ceiling = flat.find(stop, top - 1)
        below = (len(uri) if ceiling < 0 else ceiling) + 1  # ends still to look at lie below this
        for first_next, ends in self.starts(k + 1, below + width):
            # the ends of this value in [low, high) go on in the next step's interval [first_next, ends[0])
            low, high = max(first_next - width, 0), min(ends[0] - width, below)
            while high > low:
                end = uri.rfind(literal, low, high - 1 + width)
                if end < 0:
                    break
                first = flat.rfind(stop, 0, end) + 1  # where the run that ``end`` closes starts
                if first < end:
                    yield first, (end, *ends)
                high = below = first  # the rest of that run has its interval (or none: end == first)
            if below <= 0:
                return
