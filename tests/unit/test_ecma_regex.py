"""_ecma_regex.ecma_pattern: a pydantic pattern in ECMA-262 syntax, or None where it has none."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from mcp_middleware._ecma_regex import ecma_pattern, whole_match_pattern

_S = r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"  # Rust's \s
_PY_S = _S.replace(r"\u0020", r"\u001C-\u0020")  # Python's \s: U+001C to U+001F too
_PAIR = r"[\uD800-\uDBFF][\uDC00-\uDFFF]"  # an astral character: two code units without the u flag


def _none_of(chars: str) -> str:
    return rf"(?:{_PAIR}|[^{chars}\uD800-\uDFFF])"


_DOT = _none_of(r"\n")
_END = r"$(?!\n)"  # the end, in ECMA-262 and in Python's re (whose $ is also before a final \n)
# (pydantic pattern, its portable form: ECMA-262 with and without u, and Python's re, read it
# alike); tests/interop/test_ecma_patterns.py compiles these in Node (with _WHOLE) and Python and
# checks that each takes what pydantic takes
_KEPT = [
    (r"^[a-z]+$", rf"^[a-z]+{_END}"),
    (r"^(?P<word>[a-z]+)$", rf"^([a-z]+){_END}"),  # no name: Python's re reads no (?<name>
    # Rust's regex (pydantic's default engine) reads \d, \s and . as Unicode's, ECMA-262 otherwise
    (r"^\d{3}-\d{2,}$", rf"^[0-9]{{3}}-[0-9]{{2,}}{_END}"),  # narrower: no other decimal digit
    (r"\s\S[\s\d]", rf"[{_S}]{_none_of(_S)}[{_S}0-9]"),
    (r"[^\s\]]+@[^/]", _none_of(_S + r"\]") + "+@" + _none_of("/")),
    (r"a.b[.]", rf"a{_DOT}b[.]"),  # Rust's . takes \r, \u2028, \u2029 and an astral character
    (
        r"\x41\u00e9\t\n\r\f\v\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$",
        r"\x41\u00e9\t\n\r\f\v\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$",
    ),
    ("😀+[é]", "(?:😀)+[é]"),  # without the u flag, two code units quantified together
    # what Rust does not read, pydantic only reads with regex_engine="python-re": as Python reads it
    (r"^(?P<q>['x]).*(?<=x)$", rf"^(['x]){_DOT}*(?<=x)(?=\n?{_END})"),  # $: also before a final \n
    (r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)", r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)"),
    (
        r"(?<=[a\d])(?<!\s)x(?=\d)\d(?!\S)",
        rf"(?<=[a0-9])(?<![{_PY_S}])x(?=[0-9])[0-9](?!{_none_of(_PY_S)})",
    ),
    (r"(?![0-9])(?<![a-c])x", r"(?![0-9])(?<![a-c])x"),  # no \d: exact, where a match refuses too
    (r"[[a]\0[\b]", r"[\[a]\0[\b]"),  # a [ inside a class (escaped: Python's re warns); \0; [\b]
    (r"é+", "é+"),
    # a literal - is escaped, so that nothing put after it (a negated class's surrogate range) makes
    # it a range: [^+-\uD800-\uDFFF] would be a class of + and U+002D to U+D800
    (r"^[^+-]+$", r"^" + _none_of(r"+\-") + rf"+{_END}"),
    (r"^[^a-zA-Z0-9_-]+$", r"^" + _none_of(r"a-zA-Z0-9_\-") + rf"+{_END}"),
    (r"^[^！-]+$", r"^" + _none_of(r"！\-") + rf"+{_END}"),  # ！-\uD800: a range out of order
    (r"^[^a-]{2}$", r"^" + _none_of(r"a\-") + rf"{{2}}{_END}"),
    (r"[-a][a-][a-c-e][\d-][^-]", r"[\-a][a\-][a-c\-e][0-9\-]" + _none_of(r"\-")),
    (r"[\--/][+\-]", r"[\--/][+\-]"),  # an escaped - (a range's end too) stays escaped
    (r"(a)*(?:b)+?c{2}?[d]{1,}\.?", r"(a)*(?:b)+?c{2}?[d]{1,}\.?"),  # a quantifier, lazy or not
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
    r"[+--]",  # Rust: no range from + to -
    # a quantifier of what ECMA-262 or Python's re cannot quantify (Rust's regex can)
    r"a**",  # a quantifier's
    r"a{2}{3}",
    r"[ab]?{2}",
    r"a{2}*",
    r"a???",  # a lazy quantifier's
    r"a*?+",
    r"^*a",  # an assertion's: the u flag, Python's re refuse it
    r"a$?",
    r"${1,2}",
    r"a|*b",  # nothing's
    r"(*a)",
    r"(?=a)*a",  # a lookaround's (python-re): the u flag refuses it
    r"(?<=a)?b",
    r"(?!a){2}b",
    r"\p{Greek}",  # no General_Category or binary property: ECMA-262 may not know it
    r"\p{Script=Greek}",
    r"\p{sc=greek}",
    r"\p{letter}",  # Rust's loose matching
    r"\p{gc=letter}",
    r"\p{Cs}",  # no such text
    r"(?<named>x)\k<named>",  # Rust reads no backreference, Python's re no \k<name>
    r"(a)\1",  # no backreference: ECMA-262's takes a group that took nothing, Python's refuses
    r"(?P<q>a)(?P=q)",
    r"(?=a)\b",
    r"\0\cJ",  # Python's re reads no \cJ
    # no portable form, and a narrower one would refuse ordinary values (a name with é)
    r"^\w+$",
    r"[\w.]",
    r"\W",
    r"\D",  # [^0-9] would take what the server refuses (other decimal digits)
    r"[^\d]",
    r"[\S]",
    r"\p{L}+",
    r"\P{N}",
    r"\p{gc=Lu}",
    r"\p{White_Space}",
    r"\u{1F600}",  # without the u flag: u repeated
    "[😀]",  # without the u flag: either half of it
    "\ud83d\ude00",  # a surrogate: two characters in Python, one in ECMA-262 with u
    r"[\x00-\uffff]",  # takes a surrogate: without the u flag, half of an astral character
    r"(?!\d)a",  # [0-9], narrower, where the match refuses: wider
    r"(?<![\d])a",
    r"(?<=.)a",  # one or two code units: no lookbehind of Python's
    r"(?<=[^a])b",
    r"a)",
    r"[a-\d]",  # a class escape as a range's end: an error in both engines
    r"[\s-a]",
]


@pytest.mark.parametrize(("pattern", "expected"), _KEPT)
def test_translated(pattern: str, expected: str) -> None:
    assert ecma_pattern(pattern) == expected


@pytest.mark.parametrize("pattern", _DROPPED)
def test_dropped(pattern: str) -> None:
    assert ecma_pattern(pattern) is None


# (a path convertor's regex, as Python's re reads it, the ECMA-262 pattern that takes the same texts)
_WHOLE = [
    (r"[a-z0-9]+(?:-[a-z0-9]+)*", rf"^(?:[a-z0-9]+(?:-[a-z0-9]+)*){_END}"),
    (r"a|b", rf"^(?:a|b){_END}"),  # the group holds the alternation: not ^a or b$
    (r"a.b", rf"^(?:a{_DOT}b){_END}"),  # Python's . takes \r, \u2028 and \u2029, ECMA-262's does not
    (r"[.]\.", rf"^(?:[.]\.){_END}"),  # a dot in a class, or escaped, is a dot
    (r"\d{4}-\d{2}-\d{2}", rf"^(?:[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}){_END}"),  # narrower: ASCII digits
    (r"\s\S", rf"^(?:[{_PY_S}]{_none_of(_PY_S)}){_END}"),  # Python's \s: U+001C to U+001F too
    (r"^a$", rf"^(?:^a(?=\n?{_END})){_END}"),  # Python's $: the end, or before a final line feed
    (r"[$^]\$", rf"^(?:[$^]\$){_END}"),
    (r"\x41\t[\b]\u00e9\0", rf"^(?:\x41\t[\b]\u00e9\0){_END}"),  # [\b] is a backspace in both
    (r"(?P<w>[a-z]+)=", rf"^(?:([a-z]+)=){_END}"),
    (r"[^/.-]+", r"^(?:" + _none_of(r"/.\-") + rf"+){_END}"),  # a literal - escaped (as above)
    (r"[--/]", rf"^(?:[\--/]){_END}"),  # Python's re: a range from - (Rust's: -- is a difference)
]
_NOT_WHOLE = [
    r"\w+",  # Python's \w, \b: Unicode's; ECMA-262's: ASCII
    r"[\w]",
    r"\W",
    r"\D",
    r"[^\S]",  # no negated set in a class
    r"\bx",
    r"x\B",
    r"(a)\1",  # no backreference
    r"(?P<w>a)(?P=w)",
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
    """The pattern takes, searched as a validator does with Python's ``re``, exactly what the regex
    takes whole."""
    import re

    for regex, values in [
        (r"a.b", ["a-b", "a\rb", "a\nb", "ab", "a😀b"]),
        (r"a|b", ["a", "b", "ab", "xb", "ax", "a\n"]),
        (r"[a-z0-9]+(?:-[a-z0-9]+)*", ["ab-c", "ab-", "-a", "A", "a\n"]),
        (r"\s+$", [" ", " \n", "\x1c", " \n\n", "\n", ""]),
    ]:
        pattern = whole_match_pattern(regex)
        assert pattern is not None
        for value in values:
            found = re.search(pattern, value)
            assert (found is not None) == (re.fullmatch(regex, value) is not None), value


def test_a_class_with_a_literal_dash_takes_what_pydantic_takes() -> None:
    """A ``-`` ending a negated class stays a ``-``: Python's ``re`` (a client's ``jsonschema``)
    compiles the portable pattern and takes what pydantic takes (Node: tests/interop)."""
    import re

    for pattern, values in [
        (r"^[^+-]+$", ["abc", "Hello", "~", "+", "-", "a+", "\U0001f600"]),
        (r"^[^a-zA-Z0-9_-]+$", ["@@", "~", "é", "a", "-", "_"]),
        (r"^[^！-]+$", ["abc", "！", "-", "\U0001f600"]),
        (r"^[^a-]{2}$", ["bc", "a-", "\U0001f600", "\U0001f600\U0001f600"]),
    ]:
        portable = ecma_pattern(pattern)
        assert portable is not None
        adapter = TypeAdapter(Annotated[str, Field(pattern=pattern)])
        for value in values:
            assert (re.search(portable, value) is not None) == _takes(adapter, value), (pattern, value)


def test_the_space_sets_are_the_engines() -> None:
    """Rust's ``\\s`` (pydantic's) is Unicode's White_Space, Python's adds U+001C to U+001F."""
    import re

    rust = re.compile(f"[{_S}]")
    python = re.compile(f"[{_PY_S}]")
    adapter = TypeAdapter(Annotated[str, Field(pattern=r"^\s$")])
    for code in range(0x10000):
        char = chr(code)
        assert (python.match(char) is not None) == (re.match(r"\s", char) is not None), hex(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        assert (rust.match(char) is not None) == _takes(adapter, char), hex(code)


def _takes(adapter: TypeAdapter[str], text: str) -> bool:
    try:
        adapter.validate_python(text)
    except ValidationError:
        return False
    return True
