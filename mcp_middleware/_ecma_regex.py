"""A pydantic ``pattern`` (Python's or Rust's regex syntax) as an ECMA-262 one, when it can be.

JSON Schema's ``pattern`` is an ECMA-262 regular expression, and clients compile the schemas of
the tools they list (the TypeScript SDK with ajv, whose ``unicodeRegExp`` mode is the ``u`` flag's
stricter grammar): one pattern it cannot compile makes ``tools/list`` throw, for every tool.
:func:`ecma_pattern` renames what only differs in spelling — ``(?P<name>`` is ``(?<name>``,
``(?P=name)`` is ``\\k<name>`` — and returns None for a pattern using anything else that ECMA-262
with ``u`` does not read as Python does, or at all: inline flags (``(?i)``, ``(?i:...)``), ``\\A``,
``\\Z``, ``\\z``, possessive quantifiers (``a++``) and atomic groups, a conditional or a comment
group, a POSIX class (``[[:alpha:]]``), a ``{`` or ``}`` that is no quantifier, an identity escape
(``\\-`` outside a class, ``\\q``), a class opening with ``]``. The walk accepts only what it
knows, so an unknown construct also gives None.

:func:`whole_match_pattern` is for a regex of Python's ``re`` (a Starlette path convertor's): the
ECMA-262 pattern that a JSON Schema validator, which searches, finds in exactly the texts that
``re.fullmatch`` takes. It anchors the regex as ``^(?:regex)$`` and also reads what Python reads
otherwise: ``.`` takes ``\\r``, ``\\u2028`` and ``\\u2029`` (``[^\\n]``); ``$`` matches before a final
line feed too (``(?=\\n?$)``); ``\\d`` is any decimal digit (``\\p{Nd}``, ``\\D`` ``\\P{Nd}``). It gives
None for ``\\w``, ``\\s``, ``\\b`` and their negations (Unicode's sets in Python, ASCII's or
others in ECMA-262), for a numbered backreference (in a route's pattern the parameter's own group
comes first, so ``\\1`` is another group than in the regex), and for what Python does not read as
ECMA-262 does or at all (``\\p{L}``, ``\\k<name>``, ``\\cJ``, a surrogate ``\\ud83d``).
"""

from __future__ import annotations

import re

__all__ = ["ecma_pattern", "whole_match_pattern"]

_CLASS_ESCAPES = frozenset("dDwWsStnvfrb-")  # valid after a backslash inside [...] (\b: backspace)
_ESCAPES = frozenset("dDwWsSbBtnvfr")
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_UNICODE = re.compile(r"[0-9A-Fa-f]{4}|\{[0-9A-Fa-f]{1,6}\}")
_PROPERTY = re.compile(r"\{[A-Za-z_]+(=[A-Za-z_]+)?\}")
_GROUP_STARTS = ("?:", "?=", "?!", "?<=", "?<!")
# Python's ``re`` (str patterns) ─▶ the ECMA-262 (``u``) text reading the same, None: no such text
_PYTHON_ESCAPES = {"d": "\\p{Nd}", "D": "\\P{Nd}", **dict.fromkeys("wWsSbBpPkc123456789")}
_PYTHON_CLASS_ESCAPES = {"d": "\\p{Nd}", "D": "\\P{Nd}", **dict.fromkeys("wWsSpPkc")}  # [\b]: a backspace
_PYTHON_SYNTAX = {".": "[^\\n]", "$": "(?=\\n?$)"}  # outside a class
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def whole_match_pattern(regex: str) -> str | None:
    """The ECMA-262 pattern (``u`` flag) found in exactly the texts Python's ``re.fullmatch(regex)``
    takes, ``^(?:...)$``; None when ECMA-262 cannot say ``regex`` as Python reads it."""
    pattern = _translate(regex, python=True)
    return None if pattern is None else f"^(?:{pattern})$"


def ecma_pattern(pattern: str) -> str | None:
    """``pattern`` in ECMA-262 syntax (``u`` flag), None when it cannot be said there as it is."""
    return _translate(pattern, python=False)


def _translate(pattern: str, *, python: bool) -> str | None:
    """``pattern`` in ECMA-262 syntax; ``python``: read as Python's ``re`` reads it (:func:`whole_match_pattern`)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    quantified = False  # the last token was a quantifier: a following + would be possessive
    while i < n:
        char = pattern[i]
        if char == "\\":
            step = _escape(pattern, i, in_class=False)
            text = None if step is None else _as_python_reads(pattern[i : i + step], python, _PYTHON_ESCAPES)
            if step is None or text is None:
                return None
            out.append(text)
            i, quantified = i + step, False
        elif char == "[":
            translated = _char_class(pattern, i, python)
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
        elif char == "}":
            return None
        else:
            out.append(_PYTHON_SYNTAX.get(char, char) if python else char)
            i, quantified = i + 1, False
    return "".join(out)


def _as_python_reads(escape: str, python: bool, table: dict[str, str | None]) -> str | None:
    """The ECMA-262 text of ``escape`` (valid there) as Python reads it, when ``python``; else as it is."""
    if not python:
        return escape
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
        return None if match is None else match.end() - i
    if char == "k" and not in_class and pattern[i + 2 : i + 3] == "<":
        match = _NAME.match(pattern, i + 3)
        if match is not None and pattern[match.end() : match.end() + 1] == ">":
            return match.end() + 1 - i
    return None


def _char_class(pattern: str, i: int, python: bool) -> tuple[str, int] | None:
    """The ECMA-262 text of the class opening at ``pattern[i]`` (``python``: as Python's ``re``
    reads it) and its length, None if ECMA-262 reads it otherwise."""
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
            text = None if step is None else _as_python_reads(pattern[j : j + step], python, _PYTHON_CLASS_ESCAPES)
            if step is None or text is None:
                return None
            out.append(text)
            j += step
        elif char == "[" and pattern[j + 1 : j + 2] in (":", "=", "."):
            return None  # a POSIX class, or a nested set
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
