"""A pydantic ``pattern`` (Python's or Rust's regex syntax) as a JSON Schema one every client reads
alike, when it can be.

JSON Schema's ``pattern`` is an ECMA-262 regular expression, and clients compile the schemas of the
tools they list: the TypeScript SDK with ajv (``unicodeRegExp``: the ``u`` flag), others with a
plain ``new RegExp(pattern)`` (no flag, where ``\\p`` is a ``p`` and an astral character two code
units), Python ones with ``jsonschema`` (Python's ``re``, which draft 7's meta-schema also uses to
check the ``regex`` format: one ``\\p{Nd}`` made it refuse the whole tool schema). One pattern a
client cannot compile makes its ``tools/list`` throw, for every tool. So what this module emits is
said in the syntax all three read, with one meaning in all three, and is never wider than the
server's engine: a client may refuse a rare value the route takes, never take one it refuses.

:func:`ecma_pattern` says a pattern as pydantic reads it: as Rust's regex does (pydantic's default
engine), or, for a pattern that refuses (a lookaround, a backreference), as Python's ``re`` does
(``regex_engine="python-re"``, the only way an app has one). What the engines read otherwise:

* ``\\d`` is ``[0-9]``: narrower (the engine's is any decimal digit, ``٣`` too), which models
  practically never send; so it is None where a match refuses (in ``[^...]``, a negative
  lookaround), where narrower would be wider; ``\\D`` is None (``[^0-9]`` would be wider);
* ``\\s`` is the engine's set, code point by code point (``\\uXXXX``): Rust's is Unicode's
  White_Space, Python's adds U+001C to U+001F; ``\\S`` is one character none of them;
* ``.`` (all but ``\\n``, in both engines) and a negated class are one character none of theirs,
  an astral one as one: ``(?:[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]|[^\\n\\uD800-\\uDFFF])`` (without
  ``u`` its two code units are a pair; a lone surrogate, which no JSON the server reads holds, is
  neither); an astral literal is grouped, ``(?:😀)``, so that a quantifier takes both units;
* ``$`` is ``$(?!\\n)``, the end (Python's ``re`` reads ``$`` before a final line feed too), and
  Python's own ``$`` (the end, or before a final line feed) ``(?=\\n?$(?!\\n))``;
* a named group is a plain one (Python's ``re`` reads no ``(?<name>``, ECMA-262 no ``(?P<name>``).

``\\w``, ``\\W``, ``\\b``, ``\\B`` and ``\\p{...}`` have no portable form: no escape says a Unicode
set in both ECMA-262 modes and Python, and a narrower ASCII set would refuse ordinary values (a
name with an ``é``), so the pattern is left out (the route still checks). Left out too: a
backreference (ECMA-262's takes a group that took nothing, Python's does not), ``\\u{...}`` and
``\\c``, a class that takes a surrogate or has an astral character, one of ``.``, a negated class or
``\\S`` in a lookbehind (Python's is of one width), inline flags (``(?i)``, ``(?i:...)``), ``\\A``,
``\\Z``, ``\\z``, possessive quantifiers (``a++``) and atomic groups, a quantifier of what
ECMA-262 (with ``u``) or Python's ``re`` cannot quantify (Rust's regex can): of a quantifier
(``a**``, ``a{2}{3}``, ``a???``), of an anchor, a lookaround or nothing (``^*``, ``a$?``,
``(?=a)*``, ``a|*``), a conditional or a comment group, a POSIX class (``[[:alpha:]]``), a ``{``,
``}`` or ``]`` that is no quantifier or class, an identity escape (``\\-`` outside a class,
``\\q``), a class opening with ``]``, ``\\S`` in a class; Rust's nested classes and set operations
(``[a[b]]``, ``&&``, ``--``, ``~~``). The walk accepts only what it knows, so an unknown construct
also gives None. A ``[`` in a class is escaped (Python's ``re`` warns of nested sets to come), and so
is a ``-`` that is no range's (``[^+-]`` is ``[^+\\-\\uD800-\\uDFFF]``, not a range from ``-`` to
U+D800); a class escape as a range's end, or a range out of order, gives None (neither engine reads
it).

:func:`whole_match_pattern` is for a regex of Python's ``re`` (a Starlette path convertor's): the
pattern that a JSON Schema validator, which searches, finds in exactly the texts that
``re.fullmatch`` takes (but a non-ASCII digit, as above). It anchors the regex as
``^(?:regex)$(?!\\n)`` and reads it as Python does (as above).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic_core import SchemaError, SchemaValidator, core_schema

__all__ = ["ecma_pattern", "whole_match_pattern"]

_CLASS_ESCAPES = frozenset("dDwWsStnvfrb-")  # valid after a backslash inside [...] (\b: backspace)
_ESCAPES = frozenset("dDwWsSbBtnvfr")
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_GROUP_STARTS = {"?:": "", "?=": "=", "?!": "!", "?<=": "<", "?<!": "!<"}  # how each reads its content
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATES = "".join(map(chr, range(0xD800, 0xE000)))
_PAIR = "[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]"  # an astral character, as two code units without u
_END = "$(?!\\n)"  # the end: without the m flag, ECMA-262's $; in Python's re, $ is also before a final \n
# the White_Space code points (Unicode 6.3 on): Rust's \s; Python's \s adds U+001C to U+001F
_RUST_SPACE = "\\u0009-\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000"
_PYTHON_SPACE = _RUST_SPACE.replace("\\u0020", "\\u001C-\\u0020")


def _none_of(chars: str) -> str:
    """One character, an astral one too, that is none of ``chars`` (BMP characters), in every
    engine's reading: without the u flag an astral character is two code units, matched together
    as a pair; a lone surrogate (which no JSON the server reads holds) matches neither branch."""
    return f"(?:{_PAIR}|[^{chars}\\uD800-\\uDFFF])"


@dataclass(frozen=True)
class _Dialect:
    """How a regex engine reads what the three engines clients use (ECMA-262 with and without the
    ``u`` flag, Python's ``re``) read otherwise: the portable text of an escape (by its letter)
    outside a class, inside a class (not negated), and of a syntax character outside one; None:
    it has none."""

    escapes: Mapping[str, str | None]
    class_escapes: Mapping[str, str | None]
    syntax: Mapping[str, str]
    nested_sets: bool  # a [ in a class opens another, &&, -- and ~~ are set operations (Rust)


# \d: [0-9], narrower (no other decimal digits: a client may refuse ٣, never take what the server
# refuses); \D, \w, \W, \b, \B, \p, \P: no portable form, not even a narrower one models would not
# notice (a name with é); \c: Python's re refuses it; \k, \1: no backreference (module docstring)
_UNSAID = dict.fromkeys("DwWbBpPkc123456789")


def _dialect(space: str, dollar: str, *, nested_sets: bool) -> _Dialect:
    return _Dialect(
        escapes={**_UNSAID, "d": "[0-9]", "s": f"[{space}]", "S": _none_of(space)},
        class_escapes={**_UNSAID, "b": "\\b", "d": "0-9", "s": space, "S": None},  # [\b]: a backspace
        syntax={".": _none_of("\\n"), "$": dollar},
        nested_sets=nested_sets,
    )


# Rust's regex, pydantic's default engine: . takes all but \n, $ is the end
_RUST = _dialect(_RUST_SPACE, _END, nested_sets=True)
# Python's re (str patterns): . takes all but \n, $ is the end or before a final line feed
_PYTHON = _dialect(_PYTHON_SPACE, f"(?=\\n?{_END})", nested_sets=False)


def whole_match_pattern(regex: str) -> str | None:
    """The portable pattern found in exactly the texts Python's ``re.fullmatch(regex)`` takes (but
    for a non-ASCII digit ``\\d`` reads), ``^(?:...)$(?!\\n)``; None when there is none."""
    pattern = _translate(regex, _PYTHON)
    return None if pattern is None else f"^(?:{pattern}){_END}"


# a pure function of the text, asked again for the same one (a patternProperties key by conversion
# and by _schema_evaluated's key test, once per mode, and in dry conversions): each text translated
# once. What a left-out pattern is said as is written by the caller, per schema, outside the cache
@functools.lru_cache(maxsize=1024)
def ecma_pattern(pattern: str) -> str | None:
    """``pattern`` as pydantic reads it, in the syntax ECMA-262 (with and without ``u``) and
    Python's ``re`` read alike, None when it cannot be said there: as Rust's regex reads it
    (pydantic's default engine), or, when that refuses it, as Python's ``re``
    (``regex_engine="python-re"``, the only way an app has such a pattern). The document does not
    say the engine: with python-re, a pattern Rust reads too is still said as Rust reads it
    (Python's ``$`` also matches before a final line feed, its ``\\s`` has U+001C to U+001F)."""
    return _translate(pattern, _RUST if _rust_reads(pattern) else _PYTHON)


def _rust_reads(pattern: str) -> bool:
    """Whether pydantic's default engine (Rust's regex) compiles ``pattern``."""
    try:
        SchemaValidator(core_schema.str_schema(pattern=pattern))
    except SchemaError:
        return False
    return True


@dataclass
class _Walk:
    """Where the walk is: the lookarounds it is inside (``!``: negative, ``<``: behind, both, ``=``
    ahead, or none of them for a group), and what the last token was: ``atom`` (a character, a
    class, a group: a quantifier may follow), ``quantifier`` (a lazy ``?`` may follow), or nothing
    a quantifier may follow (the start, ``(``, ``|``, ``^``, ``$``, a lookaround, a lazy quantifier:
    ECMA-262 with the u flag and Python's re refuse a quantifier there, Rust's regex takes it)."""

    groups: list[str]
    last: str = ""

    def refusing(self) -> bool:
        return any("!" in g for g in self.groups)

    def behind(self) -> bool:
        return any("<" in g for g in self.groups)

    def allows(self, text: str) -> bool:
        """Whether ``text`` may stand here: a character of one or two code units (:func:`_none_of`)
        cannot stand in a lookbehind (Python's is of one width)."""
        return not (text.startswith("(?:" + _PAIR) and self.behind())


def _translate(pattern: str, dialect: _Dialect) -> str | None:
    """``pattern``, as ``dialect`` reads it, in portable syntax."""
    out: list[str] = []
    walk = _Walk([])
    i, n = 0, len(pattern)
    while i < n:
        step = _token(pattern, i, dialect, walk, out)
        if step is None:
            return None
        i += step
    return None if walk.groups else "".join(out)


def _token(pattern: str, i: int, dialect: _Dialect, walk: _Walk, out: list[str]) -> int | None:
    """Appends the portable text of the token at ``pattern[i]`` to ``out``; its length, or None."""
    char, last = pattern[i], walk.last
    walk.last = "atom"
    if char == "\\":
        step = _escape(pattern, i, in_class=False)
        text = None if step is None else _as_read(pattern[i : i + step], dialect.escapes)
        if text == "[0-9]" and walk.refusing():
            return None  # \\d, narrower, where a match refuses: wider
    elif char == "[":
        translated = _char_class(pattern, i, dialect, walk)
        text, step = (None, None) if translated is None else translated
    elif char == "(":
        group = _group_start(pattern, i)
        text, step = (None, None) if group is None else (group[0], 1 + len(group[1]))
        if group is not None:
            walk.groups.append(group[2])
        walk.last = ""
    elif char == ")":
        text, step = (char, 1) if walk.groups else (None, None)
        if walk.groups:
            walk.last = "" if walk.groups.pop() else "atom"  # a lookaround is quantified nowhere alike
    elif char in "*+?{":
        quantifier = _quantifier(pattern, i, last)
        if quantifier is None:
            return None
        text, walk.last = quantifier
        step = len(text)
    elif char in "}]" or 0xD800 <= ord(char) <= 0xDFFF:
        return None  # a literal } or ] (the u flag refuses it); a lone surrogate
    elif ord(char) > 0xFFFF:
        text, step = f"(?:{char})", 1  # two code units without the u flag: quantified together
    else:
        text, step = dialect.syntax.get(char, char), 1
        if char in "^$|":
            walk.last = ""
    if text is None or step is None or not walk.allows(text):
        return None
    out.append(text)
    return step


def _quantifier(pattern: str, i: int, last: str) -> tuple[str, str] | None:
    """The quantifier at ``pattern[i]`` and what it leaves (see :class:`_Walk`), after a token that
    left ``last``; None if it has no portable form: a quantifier of an atom, or a lazy ``?`` after
    one, is the only kind all three engines read (not ``a**``, ``a{2}{3}``, ``a???``, ``^*``, the
    possessive ``a++``)."""
    if pattern[i] == "{":
        match = _QUANTIFIER.match(pattern, i)
        text = None if match is None else match.group()
    else:
        text = pattern[i]
    if text is None:
        return None
    if last == "atom":
        return text, "quantifier"
    return (text, "") if last == "quantifier" and text == "?" else None


def _as_read(escape: str, table: Mapping[str, str | None]) -> str | None:
    """The portable text of ``escape`` as the dialect whose ``table`` it is reads it."""
    if escape[1] in table:
        return table[escape[1]]
    return None if _SURROGATE.match(escape) else escape


def _escape(pattern: str, i: int, *, in_class: bool) -> int | None:
    """The length of the escape at ``pattern[i]`` (a backslash), None if the engines read it otherwise."""
    if i + 1 >= len(pattern):
        return None
    char = pattern[i + 1]
    if char in (_CLASS_ESCAPES if in_class else _ESCAPES) or char in _SYNTAX:
        return 2
    if char == "0":
        return 2 if not pattern[i + 2 : i + 3].isdigit() else None
    if char in "123456789" and not in_class:
        return 2  # a backreference: none is said (below)
    if char == "x":
        return 4 if _HEX2.match(pattern, i + 2) else None
    if char == "u":
        return 6 if _HEX4.match(pattern, i + 2) else None  # no \\u{...}: only the u flag reads it
    if char in "pPk":
        return 2  # none is said (below)
    return None


def _char_class(pattern: str, i: int, dialect: _Dialect, walk: _Walk) -> tuple[str, int] | None:
    """The portable text of the class opening at ``pattern[i]`` (as ``dialect`` reads it) and its
    length, None if it has none. A ``-`` is a range's only between two characters (not at either
    end, not after a range: as both engines read it); any other is written ``\\-``, so that what
    follows it in the portable text (a negated class's surrogate range) cannot make it one."""
    j = i + 1
    negated = pattern[j : j + 1] == "^"
    j += negated
    if pattern[j : j + 1] == "]":
        return None  # Python's literal ], ECMA-262's empty class
    out: list[str] = []
    while j < len(pattern) and pattern[j] != "]":
        low = _class_item(pattern, j, dialect, negated or walk.refusing())
        if low is None:
            return None
        j += low[2]
        if pattern[j : j + 1] != "-" or pattern[j + 1 : j + 2] in ("]", ""):
            out.append(low[0])
            continue
        if dialect.nested_sets and pattern[j + 1 : j + 2] == "-":
            return None  # Rust's difference ([+--] is + less a set)
        high = _class_item(pattern, j + 1, dialect, negated or walk.refusing())
        if high is None or low[1] is None or high[1] is None or low[1] > high[1]:
            return None  # a class escape as a range's end, a range out of order: no engine reads it
        out.append(f"{low[0]}-{high[0]}")
        j += 1 + high[2]
    if j >= len(pattern):
        return None
    text = _class_text("".join(out), negated=negated)
    return None if text is None else (text, j + 1 - i)


# the characters a class's escapes stand for (the others: the character after the backslash)
_CLASS_CHARS = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13, "b": 8, "0": 0}


def _class_item(pattern: str, j: int, dialect: _Dialect, refusing: bool) -> tuple[str, int | None, int] | None:
    """The class item at ``pattern[j]``: its portable text, the character it is (None: a set, as
    ``\\d``), its length; None if it has no portable form. ``refusing``: a match of the class
    refuses (a negated class, a negative lookaround), where the narrower ``\\d`` would be wider."""
    char = pattern[j]
    if char == "\\":
        step = _escape(pattern, j, in_class=True)
        text = None if step is None else _as_read(pattern[j : j + step], dialect.class_escapes)
        if step is None or text is None or (text == "0-9" and refusing):
            return None  # [^\\d]: [^0-9] would take other digits the server refuses
        letter = pattern[j + 1]
        if letter in "ds":
            return text, None, step
        code = int(pattern[j + 2 : j + step], 16) if letter in "xu" else _CLASS_CHARS.get(letter, ord(letter))
        return text, code, step
    if char == "[" and (dialect.nested_sets or pattern[j + 1 : j + 2] in (":", "=", ".")):
        return None  # a POSIX class, or a nested set
    if dialect.nested_sets and pattern[j : j + 2] in ("&&", "--", "~~"):
        return None  # Rust's intersection, difference, symmetric difference
    if 0xD800 <= ord(char) <= 0xDFFF or ord(char) > 0xFFFF:
        return None  # an astral character: two code units in a class without the u flag
    # a [: escaped (Python's re warns of a nested set to come); a -: escaped (the docstring above)
    return ("\\" + char if char in "[-" else char), ord(char), 1


def _class_text(body: str, *, negated: bool) -> str | None:
    """A class of ``body``: a negated one takes an astral character as one (:func:`_none_of`); a
    class that takes a surrogate has none (without the u flag, half of an astral character)."""
    if negated:
        return _none_of(body)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # [[a]: "Possible nested set"
            takes_surrogate = re.search(f"[{body}]", _SURROGATES) is not None
    except re.error:
        return None
    return None if takes_surrogate else f"[{body}]"


def _group_start(pattern: str, i: int) -> tuple[str, str, str] | None:
    """The portable text of the group opening at ``pattern[i]``, what it spans after the ``(``, and
    how it reads its content (see :class:`_Walk`); None if it has no portable form: no name
    (Python's re reads no ``(?<name>``, ECMA-262 no ``(?P<name>``), no backreference."""
    if pattern[i + 1 : i + 2] != "?":
        return "(", "", ""
    for start, reads in _GROUP_STARTS.items():
        if pattern.startswith(start, i + 1):
            return f"({start}", start, reads
    for head in ("?P<", "?<"):
        if pattern.startswith(head, i + 1):
            match = _NAME.match(pattern, i + 1 + len(head))
            if match is None or pattern[match.end() : match.end() + 1] != ">":
                return None
            return "(", pattern[i + 1 : match.end() + 1], ""
    return None  # (?P=name), inline flags, an atomic group, a conditional, a comment
