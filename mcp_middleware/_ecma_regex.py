"""A pydantic ``pattern`` (Python's or Rust's regex syntax) as an ECMA-262 one, when it can be.

JSON Schema's ``pattern`` is an ECMA-262 regular expression, and clients compile the schemas of
the tools they list (the TypeScript SDK with ajv, whose ``unicodeRegExp`` mode is the ``u`` flag's
stricter grammar): one pattern it cannot compile makes ``tools/list`` throw, for every tool.
:func:`ecma_pattern` says a pattern as pydantic reads it: as Rust's regex does (pydantic's default
engine), or, for a pattern that refuses (a lookaround, a backreference), as Python's ``re`` does
(``regex_engine="python-re"``, the only way an app has one). It renames what only differs in
spelling — ``(?P<name>`` is ``(?<name>``, ``(?P=name)`` is ``\\k<name>`` — and says what the
engine reads otherwise than ECMA-262: ``\\d`` is any decimal digit (``\\p{Nd}``), ``.`` takes
``\\r``, ``\\u2028`` and ``\\u2029`` (``[^\\n]``); in Rust's, ``\\s`` is ``\\p{White_Space}`` and
``\\w`` UTS #18's word characters (``[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]``); in
Python's, ``$`` matches before a final line feed too (``(?=\\n?$)``). It returns None for a pattern
using anything else that ECMA-262 with ``u`` does not read as the engine does, or at all: inline
flags (``(?i)``, ``(?i:...)``), ``\\A``, ``\\Z``, ``\\z``, possessive quantifiers (``a++``) and
atomic groups, a conditional or a comment group, a POSIX class (``[[:alpha:]]``), a ``{``, ``}`` or
``]`` that is no quantifier or class, an identity escape (``\\-`` outside a class, ``\\q``), a class
opening with ``]``, a word boundary (``\\b``, ``\\B``), ``\\W`` in a class; Rust's nested classes
and set operations (``[a[b]]``, ``&&``, ``--``, ``~~``), a ``\\p{...}`` naming no General_Category
value or binary property that both know alike (a script: ``\\p{Greek}``; ``\\p{letter}``); Python's
``\\w``, ``\\s``, ``\\p``, ``\\k``, ``\\c``. The walk accepts only what it knows, so an unknown
construct also gives None.

:func:`whole_match_pattern` is for a regex of Python's ``re`` (a Starlette path convertor's): the
ECMA-262 pattern that a JSON Schema validator, which searches, finds in exactly the texts that
``re.fullmatch`` takes. It anchors the regex as ``^(?:regex)$`` and reads it as Python does (as
above), and gives None for a numbered backreference too (in a route's pattern the parameter's own
group comes first, so ``\\1`` is another group than in the regex), and for a surrogate ``\\ud83d``.

Both say Unicode's sets as ECMA-262's property escapes, so the client's Unicode version decides for
characters assigned since the server's.
"""

from __future__ import annotations

import re
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
_UNICODE = re.compile(r"[0-9A-Fa-f]{4}|\{[0-9A-Fa-f]{1,6}\}")
_PROPERTY = re.compile(r"\{(?:(?:General_Category|gc)=)?([A-Za-z_]+)\}")
_GROUP_STARTS = ("?:", "?=", "?!", "?<=", "?<!")
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
# the \p{...} names ECMA-262 and Rust's regex both know, spelled alike: General_Category's values
# (but Cs: no text has a surrogate) and binary properties; no script (which Unicode version knows it)
_PROPERTY_NAMES = (
    "C Other Cc Control Cf Format Cn Unassigned Co Private_Use L Letter LC Cased_Letter Ll "
    "Lowercase_Letter Lm Modifier_Letter Lo Other_Letter Lt Titlecase_Letter Lu Uppercase_Letter M Mark "
    "Combining_Mark Mc Spacing_Mark Me Enclosing_Mark Mn Nonspacing_Mark N Number Nd Decimal_Number Nl "
    "Letter_Number No Other_Number P Punctuation Pc Connector_Punctuation Pd Dash_Punctuation Pe "
    "Close_Punctuation Pf Final_Punctuation Pi Initial_Punctuation Po Other_Punctuation Ps "
    "Open_Punctuation S Symbol Sc Currency_Symbol Sk Modifier_Symbol Sm Math_Symbol So Other_Symbol Z "
    "Separator Zl Line_Separator Zp Paragraph_Separator Zs Space_Separator Any ASCII Assigned "
    "ASCII_Hex_Digit Alphabetic Bidi_Control Bidi_Mirrored Case_Ignorable Cased Changes_When_Casefolded "
    "Changes_When_Casemapped Changes_When_Lowercased Changes_When_Titlecased Changes_When_Uppercased "
    "Dash Default_Ignorable_Code_Point Deprecated Diacritic Emoji Emoji_Component Emoji_Modifier "
    "Emoji_Modifier_Base Emoji_Presentation Extended_Pictographic Extender Grapheme_Base Grapheme_Extend "
    "Hex_Digit IDS_Binary_Operator IDS_Trinary_Operator ID_Continue ID_Start Ideographic Join_Control "
    "Logical_Order_Exception Lowercase Math Noncharacter_Code_Point Pattern_Syntax Pattern_White_Space "
    "Quotation_Mark Radical Regional_Indicator Sentence_Terminal Soft_Dotted Terminal_Punctuation "
    "Unified_Ideograph Uppercase Variation_Selector White_Space XID_Continue XID_Start"
)
_PROPERTIES = frozenset(_PROPERTY_NAMES.split())
_WORD = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}"  # Rust's \w: UTS #18's word characters
_NOT_DIGIT = {"d": "\\p{Nd}", "D": "\\P{Nd}"}


@dataclass(frozen=True)
class _Dialect:
    """How a regex engine reads what ECMA-262 (``u``) reads otherwise: the ECMA-262 text of an
    escape (by its letter) outside a class, inside one, and of a syntax character outside one;
    None: ECMA-262 has no such text."""

    escapes: Mapping[str, str | None]
    class_escapes: Mapping[str, str | None]
    syntax: Mapping[str, str]
    nested_sets: bool  # a [ in a class opens another, &&, -- and ~~ are set operations (Rust)


_SPACE = {"s": "\\p{White_Space}", "S": "\\P{White_Space}"}
# Rust's regex, pydantic's default engine: Unicode's \d, \s, \w and word boundary; . takes all but \n
_RUST = _Dialect(
    escapes={**_NOT_DIGIT, **_SPACE, "w": f"[{_WORD}]", "W": f"[^{_WORD}]", "b": None, "B": None},
    class_escapes={**_NOT_DIGIT, **_SPACE, "w": _WORD, "W": None},
    syntax={".": "[^\\n]"},
    nested_sets=True,
)
# Python's re (str patterns): Unicode's \d (any decimal digit); \w, \s, \b: sets of its own
_PYTHON = _Dialect(
    escapes={**_NOT_DIGIT, **dict.fromkeys("wWsSbBpPkc")},
    class_escapes={**_NOT_DIGIT, **dict.fromkeys("wWsSpPkc")},  # [\b]: a backspace
    syntax={".": "[^\\n]", "$": "(?=\\n?$)"},  # $: the end, or before a final line feed
    nested_sets=False,
)
# a route's regex: the parameter's own group comes first, so \1 is another group than in the regex
_ROUTE = _Dialect({**_PYTHON.escapes, **dict.fromkeys("123456789")}, _PYTHON.class_escapes, _PYTHON.syntax, False)


def whole_match_pattern(regex: str) -> str | None:
    """The ECMA-262 pattern (``u`` flag) found in exactly the texts Python's ``re.fullmatch(regex)``
    takes, ``^(?:...)$``; None when ECMA-262 cannot say ``regex`` as Python reads it."""
    pattern = _translate(regex, _ROUTE)
    return None if pattern is None else f"^(?:{pattern})$"


def ecma_pattern(pattern: str) -> str | None:
    """``pattern`` as pydantic reads it, in ECMA-262 syntax (``u`` flag), None when it cannot be
    said there: as Rust's regex reads it (pydantic's default engine), or, when that refuses it, as
    Python's ``re`` (``regex_engine="python-re"``, the only way an app has such a pattern). The
    document does not say the engine: with python-re, a pattern Rust reads too is still said as
    Rust reads it (Python's ``$`` also matches before a final line feed, its ``\\w`` and ``\\s``
    are other sets)."""
    return _translate(pattern, _RUST if _rust_reads(pattern) else _PYTHON)


def _rust_reads(pattern: str) -> bool:
    """Whether pydantic's default engine (Rust's regex) compiles ``pattern``."""
    try:
        SchemaValidator(core_schema.str_schema(pattern=pattern))
    except SchemaError:
        return False
    return True


def _translate(pattern: str, dialect: _Dialect) -> str | None:
    """``pattern``, as ``dialect`` reads it, in ECMA-262 syntax."""
    out: list[str] = []
    i, n = 0, len(pattern)
    quantified = False  # the last token was a quantifier: a following + would be possessive
    while i < n:
        char = pattern[i]
        if char == "\\":
            step = _escape(pattern, i, in_class=False)
            text = None if step is None else _as_read(pattern[i : i + step], dialect.escapes)
            if step is None or text is None:
                return None
            out.append(text)
            i, quantified = i + step, False
        elif char == "[":
            translated = _char_class(pattern, i, dialect)
            if translated is None:
                return None
            text, step = translated
            out.append(text)
            i, quantified = i + step, False
        elif char == "(":
            group = _group_start(pattern, i)
            if group is None:
                return None
            text, step = group
            out.append(text)
            i, quantified = i + step, False
        elif char in "*+?":
            if quantified and char == "+":
                return None  # possessive
            if quantified and char == "?":  # lazy: a+? is fine, a+?? is not
                out.append(char)
                i, quantified = i + 1, False
                continue
            out.append(char)
            i, quantified = i + 1, True
        elif char == "{":
            match = _QUANTIFIER.match(pattern, i)
            if match is None:
                return None
            out.append(match.group())
            i, quantified = match.end(), True
        elif char in "}]":
            return None  # a literal (the u flag refuses it unescaped)
        else:
            out.append(dialect.syntax.get(char, char))
            i, quantified = i + 1, False
    return "".join(out)


def _as_read(escape: str, table: Mapping[str, str | None]) -> str | None:
    """The ECMA-262 text of ``escape`` (valid there) as the dialect whose ``table`` it is reads it."""
    if escape[1] in table:
        return table[escape[1]]
    return None if _SURROGATE.match(escape) else escape


def _escape(pattern: str, i: int, *, in_class: bool) -> int | None:
    """The length of the escape at ``pattern[i]`` (a backslash), None if ECMA-262 reads it otherwise."""
    if i + 1 >= len(pattern):
        return None
    char = pattern[i + 1]
    if char in (_CLASS_ESCAPES if in_class else _ESCAPES) or char in _SYNTAX:
        return 2
    if char == "0":
        return 2 if not pattern[i + 2 : i + 3].isdigit() else None
    if char in "123456789" and not in_class:
        j = i + 2
        while j < len(pattern) and pattern[j].isdigit():
            j += 1
        return j - i
    if char == "c" and pattern[i + 2 : i + 3].isascii() and pattern[i + 2 : i + 3].isalpha():
        return 3
    if char == "x":
        return 4 if _HEX2.match(pattern, i + 2) else None
    if char == "u":
        match = _UNICODE.match(pattern, i + 2)
        return None if match is None else match.end() - i
    if char in "pP":
        match = _PROPERTY.match(pattern, i + 2)
        return None if match is None or match.group(1) not in _PROPERTIES else match.end() - i
    if char == "k" and not in_class and pattern[i + 2 : i + 3] == "<":
        match = _NAME.match(pattern, i + 3)
        if match is not None and pattern[match.end() : match.end() + 1] == ">":
            return match.end() + 1 - i
    return None


def _char_class(pattern: str, i: int, dialect: _Dialect) -> tuple[str, int] | None:
    """The ECMA-262 text of the class opening at ``pattern[i]`` (as ``dialect`` reads it) and its
    length, None if ECMA-262 reads it otherwise."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":
        return None  # Python's literal ], ECMA-262's empty class
    out = [pattern[i:j]]
    while j < len(pattern):
        char = pattern[j]
        if char == "]":
            out.append(char)
            return "".join(out), j + 1 - i
        if char == "\\":
            step = _escape(pattern, j, in_class=True)
            text = None if step is None else _as_read(pattern[j : j + step], dialect.class_escapes)
            if step is None or text is None:
                return None
            out.append(text)
            j += step
        elif char == "[" and (dialect.nested_sets or pattern[j + 1 : j + 2] in (":", "=", ".")):
            return None  # a POSIX class, or a nested set
        elif dialect.nested_sets and pattern[j : j + 2] in ("&&", "--", "~~"):
            return None  # Rust's intersection, difference, symmetric difference
        else:
            out.append(char)
            j += 1
    return None


def _group_start(pattern: str, i: int) -> tuple[str, int] | None:
    """The ECMA-262 text of the group opening at ``pattern[i]`` and how much of the pattern it
    spans (a whole ``(?P=name)``), None if it has no ECMA-262 form."""
    rest = pattern[i + 1 : i + 2]
    if rest != "?":
        return "(", 1
    if any(pattern.startswith(start, i + 1) for start in _GROUP_STARTS):
        return "(", 1
    for head, close in (("?P<", ">"), ("?<", ">"), ("?P=", ")")):
        if pattern.startswith(head, i + 1):
            match = _NAME.match(pattern, i + 1 + len(head))
            if match is None or pattern[match.end() : match.end() + 1] != close:
                return None
            name = match.group()
            text = f"\\k<{name}>" if head == "?P=" else f"(?<{name}>"
            return text, match.end() + 1 - i
    return None  # inline flags, an atomic group, a conditional, a comment
