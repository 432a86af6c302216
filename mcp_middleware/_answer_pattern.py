"""An elicitation's ``requestedSchema`` pattern (ECMA-262, as the client reads it) in Rust's regex
syntax with ECMA-262's meaning, for the answer check (:mod:`._answers`), or None where that cannot
be said exactly.

The server must never refuse an answer the client's own validation accepts. Rust's regex reads
``\\d``, ``\\w`` and ``\\s`` (and their negations, in and out of classes) as Unicode sets, where
ECMA-262's are ``[0-9]``, ``[0-9A-Za-z_]`` and its WhiteSpace and LineTerminator code points: a
``٣`` matched ECMA-262's ``\\D`` but not Rust's, a ``\\ufeff`` ECMA-262's ``\\s`` but not Rust's.
They are written here as ECMA-262's exact sets (a negated one nested in a class, ``[^\\D]`` as
``[^[^0-9]]``, which Rust reads). ``\\b`` and ``\\B`` (ECMA-262's word boundary is of its ASCII
``\\w``) give None: the pattern is not checked. So does every escape whose meaning differs
between the two, or in ECMA-262's two modes (with and without the ``u`` flag): a backreference
or octal escape, ``\\c``, ``\\k``, ``\\p``, ``\\u{...}``, a letter escape neither defines, and a
``{`` that is no quantifier (ECMA-262 without ``u`` reads it as a character). Inside a class,
every character is written as ``\\x{...}``, so that Rust's class operators (``&&``, ``--``,
``~~``, a nested ``[``) are characters, as in ECMA-262; ``[]`` takes nothing and ``[^]``
anything, as there. What Rust cannot read (a lookaround, a lone surrogate escape) fails to
compile, and is not checked either.

``.`` is ECMA-262's too (all but ``\\n``, ``\\r``, U+2028 and U+2029; Rust's takes the last three).
Rust reads an astral character as one character, as ECMA-262 with ``u`` does, where without ``u``
it is two code units (``^..$`` takes one): :mod:`._answers` checks no answer that holds one.
"""

from __future__ import annotations

import re

__all__ = ["rust_pattern"]

_SPACE = r"\t\n\x0B\x0C\r\x20\xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}"
_DOT = r"[^\n\r\x{2028}\x{2029}]"
_SETS = {"d": "0-9", "w": "0-9A-Za-z_", "s": _SPACE}
_CONTROLS = {"t": 0x09, "n": 0x0A, "v": 0x0B, "f": 0x0C, "r": 0x0D}
_QUANTIFIER = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")


class _Unsaid(Exception):
    """The pattern has what cannot be said exactly: it is not checked."""


def rust_pattern(pattern: str) -> str | None:
    """``pattern`` (ECMA-262) in Rust's syntax with ECMA-262's meaning; None where that cannot be said."""
    try:
        return "".join(_translated(pattern))
    except _Unsaid:
        return None


def _translated(pattern: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            text, i = _outside_escape(pattern, i + 1)
            out.append(text)
        elif char == "[":
            text, i = _class(pattern, i + 1)
            out.append(text)
        elif char == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier is None:
                raise _Unsaid
            out.append(quantifier.group())
            i = quantifier.end()
        elif char == ".":  # ECMA-262's: all but its LineTerminators (Rust's: all but \n)
            out.append(_DOT)
            i += 1
        elif char == "(" and pattern.startswith("?", i + 1) and not pattern.startswith(":", i + 2):
            # a lookaround (Rust reads none), a named group, or an ES2025 modifier ((?s:.), (?i:...),
            # which change what . $ and classes mean inside them): not checked
            raise _Unsaid
        elif char in "}]":
            out.append(_char(ord(char)))
            i += 1
        else:
            out.append(char)
            i += 1
    return out


def _set_class(letter: str) -> str:
    """The Rust class of the set escape ``letter`` (``d``, ``D``, ``w``, ...) with ECMA-262's meaning."""
    return f"[{'^' if letter.isupper() else ''}{_SETS[letter.lower()]}]"


def _outside_escape(pattern: str, i: int) -> tuple[str, int]:
    """The escape whose letter is at ``i`` outside a class: its Rust text, and where it ends."""
    if i >= len(pattern):
        raise _Unsaid
    letter = pattern[i]
    if letter.lower() in _SETS:
        return _set_class(letter), i + 1
    code, end = _escaped_char(pattern, i)
    return _char(code), end


def _escaped_char(pattern: str, i: int) -> tuple[int, int]:
    """The code point of the character escape whose letter is at ``i`` (the same in and out of a
    class but for ``\\b``), and where it ends."""
    letter = pattern[i]
    if letter in _CONTROLS:
        return _CONTROLS[letter], i + 1
    if letter == "x" and _HEX2.fullmatch(pattern, i + 1, i + 3):
        return int(pattern[i + 1 : i + 3], 16), i + 3
    if letter == "u" and _HEX4.fullmatch(pattern, i + 1, i + 5):
        code = int(pattern[i + 1 : i + 5], 16)
        if 0xD800 <= code <= 0xDFFF:  # a surrogate: one code unit without u, part of a pair with it
            raise _Unsaid
        return code, i + 5
    if letter == "0" and not pattern[i + 1 : i + 2].isdigit():
        return 0, i + 1
    if letter.isalnum() or letter == "_":  # \b, \B, a backreference, \c, \k, \p, \u{...}...
        raise _Unsaid
    if 0xD800 <= ord(letter) <= 0xDFFF:
        raise _Unsaid
    return ord(letter), i + 1


def _class(pattern: str, i: int) -> tuple[str, int]:
    """The class whose contents start at ``i`` (after its ``[``): its Rust text, and where it ends."""
    negated = pattern.startswith("^", i)
    i += negated
    items: list[str] = []
    while True:
        if i >= len(pattern):
            raise _Unsaid  # no closing ]: ECMA-262 refuses it
        if pattern[i] == "]":
            break
        first, i = _class_atom(pattern, i)
        if pattern.startswith("-", i) and i + 1 < len(pattern) and pattern[i + 1] != "]":
            last, i = _class_atom(pattern, i + 1)
            if isinstance(first, int) and isinstance(last, int):
                if first > last:
                    raise _Unsaid  # out of order: ECMA-262 refuses it
                items.append(f"{_char(first)}-{_char(last)}")
                continue
            items.extend((_class_item(first), _char(ord("-")), _class_item(last)))  # a - beside a set: a character
            continue
        items.append(_class_item(first))
    end = i + 1
    if not items:  # ECMA-262's [] takes nothing, [^] anything
        return (r"[\x{0}-\x{10FFFF}]" if negated else r"[^\x{0}-\x{10FFFF}]"), end
    return f"[{'^' if negated else ''}{''.join(items)}]", end


def _class_atom(pattern: str, i: int) -> tuple[int | str, int]:
    """A class's character (its code point) or set escape (its Rust class) at ``i``, and where it ends."""
    char = pattern[i]
    if char != "\\":
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise _Unsaid
        return ord(char), i + 1
    if i + 1 >= len(pattern):
        raise _Unsaid
    letter = pattern[i + 1]
    if letter.lower() in _SETS:
        return _set_class(letter), i + 2
    if letter == "b":  # a backspace, in a class
        return 0x08, i + 2
    return _escaped_char(pattern, i + 1)


def _class_item(atom: int | str) -> str:
    return _char(atom) if isinstance(atom, int) else atom


def _char(code: int) -> str:
    return f"\\x{{{code:X}}}"
