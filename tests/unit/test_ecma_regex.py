"""_ecma_regex.ecma_pattern: a pydantic pattern in ECMA-262 syntax, or None where it has none."""

from __future__ import annotations

import pytest

from mcp_middleware._ecma_regex import ecma_pattern, whole_match_pattern

_W = r"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}"  # Rust's \w: UTS #18's word characters
# (pydantic pattern, its ECMA-262 form); tests/interop/test_ecma_patterns.py compiles these in Node
# (with _WHOLE) and checks that RegExp.test takes what pydantic takes
_KEPT = [
    (r"^[a-z]+$", r"^[a-z]+$"),
    (r"^(?P<word>[a-z]+)$", r"^(?<word>[a-z]+)$"),
    # Rust's regex (pydantic's default engine) reads \d, \s, \w and . as Unicode's, ECMA-262 as ASCII's
    (r"^\d{3}-\d{2,}-\D$", r"^\p{Nd}{3}-\p{Nd}{2,}-\P{Nd}$"),
    (r"\s\S[\s\d][^\S]", r"\p{White_Space}\P{White_Space}[\p{White_Space}\p{Nd}][^\P{White_Space}]"),
    (r"[\w.\-]+@[^\s\]]+\.\w+", rf"[{_W}.\-]+@[^\p{{White_Space}}\]]+\.[{_W}]+"),
    (r"\W[^\w]", rf"[^{_W}][^{_W}]"),
    (r"a.b[.]", r"a[^\n]b[.]"),  # Rust's . takes \r, \u2028 and \u2029
    (
        r"\x41\u00e9\u{1F600}\t\n\r\f\v\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$",
        r"\x41\u00e9\u{1F600}\t\n\r\f\v\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$",
    ),
    (r"\p{L}+\P{N}\p{Lu}\p{Letter}", r"\p{L}+\P{N}\p{Lu}\p{Letter}"),  # names ECMA-262 knows
    (r"\p{gc=Lu}\p{General_Category=Letter}", r"\p{gc=Lu}\p{General_Category=Letter}"),
    (r"\p{White_Space}\P{Alphabetic}\p{Any}", r"\p{White_Space}\P{Alphabetic}\p{Any}"),
    # what Rust does not read, pydantic only reads with regex_engine="python-re": as Python reads it
    (r"^(?P<q>['x]).*(?P=q)$", r"^(?<q>['x])[^\n]*\k<q>(?=\n?$)"),  # $: also before a final \n
    (r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)", r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)"),
    (r"(a)(b)\2\1\d", r"(a)(b)\2\1\p{Nd}"),
    (r"[[a]\0[\b]", r"[[a]\0[\b]"),  # a [ inside a class; \0; [\b], a backspace
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
    r"a]",  # a literal ] (the u flag refuses it)
    r"\bx",  # Rust's \b, \B: Unicode's word boundary
    r"x\B",
    r"[\W]",  # no class inside a class
    r"[a[b]]",  # Rust's nested class, ECMA-262's [ and a ]
    r"[a&&b]",  # Rust's intersection, difference, symmetric difference
    r"[a--b]",
    r"[a~~b]",
    r"\p{Greek}",  # no General_Category or binary property: ECMA-262 may not know it
    r"\p{Script=Greek}",
    r"\p{sc=greek}",
    r"\p{letter}",  # Rust's loose matching
    r"\p{gc=letter}",
    r"\p{Cs}",  # no such text
    r"(?<named>x)\k<named>",  # Rust reads no backreference, Python's re no \k<name>
    r"(a)\1\w",  # Python's \w (python-re), neither Rust's nor ECMA-262's
    r"(a)\1\s",
    r"(?=a)\b",
    r"\0\cJ",  # Python's re reads no \cJ
]


@pytest.mark.parametrize(("pattern", "expected"), _KEPT)
def test_translated(pattern: str, expected: str) -> None:
    assert ecma_pattern(pattern) == expected


@pytest.mark.parametrize("pattern", _DROPPED)
def test_dropped(pattern: str) -> None:
    assert ecma_pattern(pattern) is None


# (a path convertor's regex, as Python's re reads it, the ECMA-262 pattern that takes the same texts)
_WHOLE = [
    (r"[a-z0-9]+(?:-[a-z0-9]+)*", r"^(?:[a-z0-9]+(?:-[a-z0-9]+)*)$"),
    (r"a|b", r"^(?:a|b)$"),  # the group holds the alternation: not ^a or b$
    (r"(?P<w>[a-z]+)=(?P=w)", r"^(?:(?<w>[a-z]+)=\k<w>)$"),
    (r"a.b", r"^(?:a[^\n]b)$"),  # Python's . takes \r, \u2028 and \u2029, ECMA-262's does not
    (r"[.]\.", r"^(?:[.]\.)$"),  # a dot in a class, or escaped, is a dot
    (r"\d{2}\D", r"^(?:\p{Nd}{2}\P{Nd})$"),  # Python's \d: any decimal digit
    (r"[\d\-][^\D]", r"^(?:[\p{Nd}\-][^\P{Nd}])$"),
    (r"^a$", r"^(?:^a(?=\n?$))$"),  # Python's $: the end, or before a final line feed
    (r"[$^]\$", r"^(?:[$^]\$)$"),
    (r"\x41\t[\b]\u00e9\0", r"^(?:\x41\t[\b]\u00e9\0)$"),  # [\b] is a backspace in both
]
_NOT_WHOLE = [
    r"\w+",  # Python's \w, \s, \b: Unicode's; ECMA-262's: ASCII (and \s another set)
    r"[\w]",
    r"\W",
    r"\s",
    r"[^\S]",
    r"\bx",
    r"x\B",
    r"(a)\1",  # in a route's pattern the parameter's group comes first: \1 is another group
    r"\p{L}",  # not Python's (Rust's, ECMA-262's)
    r"\ud83d\ude00",  # two characters in Python, one in ECMA-262's u mode
    r"(?i)a",
]


@pytest.mark.parametrize(("regex", "expected"), _WHOLE)
def test_a_whole_match_in_ecma_262(regex: str, expected: str) -> None:
    assert whole_match_pattern(regex) == expected


@pytest.mark.parametrize("regex", _NOT_WHOLE)
def test_no_whole_match_where_ecma_262_reads_otherwise(regex: str) -> None:
    assert whole_match_pattern(regex) is None


def test_the_whole_match_takes_what_python_takes() -> None:
    """Where ECMA-262's syntax is Python's too (no \\p, no (?<name>)), the pattern takes, searched
    as a validator does, exactly what the regex takes whole. (ECMA-262's final ``$``, without the
    ``m`` flag, is Python's ``\\Z``.)"""
    import re

    for regex, values in [
        (r"a.b", ["a-b", "a\rb", "a\nb", "ab"]),
        (r"a|b", ["a", "b", "ab", "xb", "ax"]),
        (r"[a-z0-9]+(?:-[a-z0-9]+)*", ["ab-c", "ab-", "-a", "A", "a\n"]),
    ]:
        pattern = whole_match_pattern(regex)
        assert pattern is not None
        for value in values:
            found = re.search(pattern.removesuffix("$") + r"\Z", value)
            assert (found is not None) == (re.fullmatch(regex, value) is not None), value
