"""_ecma_regex.ecma_pattern: a pydantic pattern in ECMA-262 syntax, or None where it has none."""

from __future__ import annotations

import pytest

from mcp_middleware._ecma_regex import ecma_pattern

# (pydantic pattern, its ECMA-262 form); tests/interop/test_ecma_patterns.py compiles these in Node
_KEPT = [
    (r"^[a-z]+$", r"^[a-z]+$"),
    (r"^(?P<word>[a-z]+)$", r"^(?<word>[a-z]+)$"),
    (r"^(?P<q>['x]).*(?P=q)$", r"^(?<q>['x]).*\k<q>$"),
    (r"(?<named>x)\k<named>", r"(?<named>x)\k<named>"),  # Rust's spelling is ECMA-262's
    (r"^\d{3}-\d{2,}-\d{1,4}$", r"^\d{3}-\d{2,}-\d{1,4}$"),
    (r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)", r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)"),
    (r"[\w.\-]+@[^\s\]]+\.\w+", r"[\w.\-]+@[^\s\]]+\.\w+"),
    (
        r"\x41\u00e9\0\t\n\r\f\v\cJ\b\B\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$",
        r"\x41\u00e9\0\t\n\r\f\v\cJ\b\B\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$",
    ),
    (r"\p{L}+\P{N}", r"\p{L}+\P{N}"),  # Rust (pydantic's default engine)
    (r"(a)(b)\2\1", r"(a)(b)\2\1"),
    (r"[[a]", r"[[a]"),  # a [ inside a class
    (r"é+", "é+"),
    ("", ""),
]
_DROPPED = [
    r"(?i)^abc$",  # inline flags
    r"(?i:abc)",
    r"(?x) a b",
    r"\Aabc\Z",
    r"abc\z",  # Rust
    r"a++",  # possessive
    r"a*+",
    r"a?+",
    r"a{2}+",
    r"(?>ab)",  # atomic
    r"(a)?(?(1)b|c)",  # conditional
    r"(?#comment)a",
    r"[[:alpha:]]",  # POSIX class (Rust)
    r"[]a]",  # Python's literal ]
    r"[^]a]",
    r"a{",  # a literal { in Python
    r"a{,3}",
    r"a}",
    r"\-",  # an identity escape outside a class
    r"\q",
    r"\pL",  # Rust's one-letter property
    r"\x4",
    r"\u12",
    r"\c1",
    r"[\1]",
    r"\01",
    "abc\\",
    r"[abc",
    r"(?P<1bad>x)",
    r"(?P<name x)",
    r"(?P=name",
    r"\k<name",
    r"\k",
    r"['\"]",  # an identity escape in a class (the u flag refuses it)
]


@pytest.mark.parametrize(("pattern", "expected"), _KEPT)
def test_translated(pattern: str, expected: str) -> None:
    assert ecma_pattern(pattern) == expected


@pytest.mark.parametrize("pattern", _DROPPED)
def test_dropped(pattern: str) -> None:
    assert ecma_pattern(pattern) is None
