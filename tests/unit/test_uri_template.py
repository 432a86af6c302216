"""Resource templates matched against URIs: what the regular expression did, in linear time."""

from __future__ import annotations

import gc
import itertools
import re
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from mcp_middleware._uri_template import VARIABLE, UriTemplate


def replaced_pattern(template: str) -> re.Pattern[str]:
    """The regular expression templates were matched with before (``fullmatch``), as it was made."""
    parts: list[str] = []
    variables: list[str] = []
    last = 0
    for match in VARIABLE.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        name = match.group(2)
        if name in variables:
            parts.append(f"(?P=v{variables.index(name)})")
        else:
            parts.append(f"(?P<v{len(variables)}>{'.+' if match.group(1) else '[^/?#]+'})")
            variables.append(name)
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts))


TEMPLATES = (
    *("x:{a}", "x:{+a}", "x:{a}-{b}", "x:{a}{b}", "x:{+a}{b}", "x:{a}{+b}", "x:{+a}-{+b}", "x:{a}/{+b}"),
    *("x:{+a}/{b}", "x:{a}-{b}-{c}", "x:{+a}-{b}/{c}", "x:{a}--{b}", "x:{a}-", "x:{a}-{+b}-", "x:{a}{b}{c}"),
    *("x:/{+a}?{b}", "x:{a}a{b}", "x:{+a}a{+b}a", "{a}", "{+a}{b}{+c}", "x{a}x{b}x", "x:{a}{+b}{c}"),
    "x:{+a}{b}{+c}{d}",
)


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_short_uri_matches_as_the_regular_expression_matched_it(template: str) -> None:
    """Every URI of up to six characters from the ones that end values (``/ ? # \\n``) and the
    templates' literals (``a -``): the same match or none, the same values (the longest first)."""
    before, now = replaced_pattern(template), UriTemplate.parse(template)
    head = "x:" if template.startswith("x") else ""
    for size in range(7):
        for chars in itertools.product("a-/?#\n", repeat=size):
            uri = head + "".join(chars)
            match = before.fullmatch(uri)
            assert now.match(uri) == (None if match is None else match.groups()), (template, uri)


def test_the_first_variable_takes_the_longest_value() -> None:
    assert UriTemplate.parse("events://{year}-{month}").match("events://2024-01-05") == ("2024-01", "05")
    assert UriTemplate.parse("files://{name}.txt").match("files://a.b.txt") == ("a.b",)
    assert UriTemplate.parse("docs://{+path}/{page}").match("docs://a/b/c") == ("a/b", "c")


def test_a_repeated_variable_is_split_like_two_then_must_be_equal() -> None:
    """The documented difference: the backreference found ``1-1`` by trying every split."""
    template = UriTemplate.parse("x:{a}-{a}")
    assert template.variables == ("a",)
    assert template.match("x:12-12") == ("12",)
    assert template.match("x:12-13") is None
    assert template.match("x:1-1-1-1") is None  # the regular expression: ("1-1",)
    assert replaced_pattern("x:{a}-{a}").fullmatch("x:1-1-1-1") is not None


def steps(template: UriTemplate, uri: str) -> int:
    """The Python calls (functions, and methods such as ``str.rfind``) one match makes. The cyclic
    garbage collector is off meanwhile: a collection the match's allocations set off runs what
    earlier tests left behind (a generator's close, a finaliser), whose calls the profile would
    count too (a fresh CI run counted 53 against 45 once)."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        count += 1

    enabled = gc.isenabled()
    gc.disable()
    sys.setprofile(profile)
    try:
        template.match(uri)
    finally:
        sys.setprofile(None)
        if enabled:
            gc.enable()
    return count


ATTACKS: tuple[tuple[str, Callable[[int], str]], ...] = (
    ("events://{year}-{month}", lambda n: "events://" + "1-" * n + "/"),  # the review's: fails at its end
    ("events://{year}-{month}", lambda n: "events://" + "1-" * n + "/2-3"),
    ("x://{+a}/{+b}", lambda n: "x://" + "/" * n + "\n"),
    ("x://{a}-{b}-{c}", lambda n: "x://" + "1-" * n + "/x-y"),
    ("x://{a}{b}", lambda n: "x://" + "a" * n + "/"),
    ("x://{+a}{b}{+c}", lambda n: "x://" + "a/" * n + "\n"),
    ("x://{+a}/{b}/{c}", lambda n: "x://" + "a/" * n + "?"),
    ("x://{a}{b}{c}{d}", lambda n: "x://" + "ab" * n + "/"),
)


@pytest.mark.parametrize(("template", "uri"), ATTACKS)
def test_the_work_of_a_crafted_uri_does_not_grow_with_its_length(template: str, uri: Callable[[int], str]) -> None:
    """Two variables around a literal the URI repeats, two ``{+var}``: the regular expression tried
    every split (quadratic: 32 KB took 3 s). Here the same number of steps at 100 and 100 000
    repeats: each is a search of the URI's text that never reads a character twice."""
    parsed = UriTemplate.parse(template)
    assert steps(parsed, uri(100)) == steps(parsed, uri(100_000))


@pytest.mark.parametrize(
    ("template", "unit"),
    [
        ("x:{v0}?{+v1}{v2}-{v3}", "-\n"),  # a run per line feed, each an interval
        ("x:{+v0}--{v1}{+v2}-", "a//"),
        ("x:{v0}/a{+v1}a{v2}a-{v3}-", "\n-a"),
    ],
)
def test_the_work_is_at_most_linear_in_the_length(template: str, unit: str) -> None:
    """Templates that mix ``{var}`` and ``{+var}`` without a literal between can make a step per
    run of a variable's characters: at most a few per character, never more per character as the
    URI grows."""
    parsed = UriTemplate.parse(template)
    small, large = "x:" + unit * 100, "x:" + unit * 10_000
    per_character = steps(parsed, large) / len(large)
    assert per_character <= steps(parsed, small) / len(small)
    assert per_character <= 10


def test_a_final_query_expression_takes_its_variables_from_the_query() -> None:
    """RFC 6570 form-style query expansion (``{?q,page}``), which the TS SDK and VS Code expand: the
    keys in any order, each once; an undefined variable is left out of the URI, so it is None."""
    template = UriTemplate.parse("search://items{?q,page}")
    assert template.variables == ("q", "page")
    assert template.match("search://items?q=a%20b&page=2") == ("a%20b", "2")
    assert template.match("search://items?page=2&q=x") == ("x", "2")
    assert template.match("search://items?q=") == ("", None)
    assert template.match("search://items") == (None, None)
    assert template.match("search://items?") == (None, None)
    teams = UriTemplate.parse("teams://{name}{?region}")
    assert teams.variables == ("name", "region")
    assert teams.match("teams://red?region=eu") == ("red", "eu")
    assert teams.match("teams://red") == ("red", None)
    files = UriTemplate.parse("files://{+path}{?rev}")
    assert files.match("files://a/b.txt?rev=3") == ("a/b.txt", "3")


@pytest.mark.parametrize(
    "uri",
    [
        "search://items?x=1",  # a key the template does not name
        "search://items?q=1&q=2",  # a key twice
        "search://items?q=1&&page=2",  # an empty part: no expansion makes one
        "search://items?q=1&page=2&q=3",
        "search://items?q",  # no '=': form-style expansion always writes one
        "search://items?q=1#top",  # a fragment is no value
        "search://other?q=1",
        "search://items/?q=1",
    ],
)
def test_a_query_that_is_no_expansion_of_the_template_does_not_match(uri: str) -> None:
    assert UriTemplate.parse("search://items{?q,page}").match(uri) is None


@pytest.mark.parametrize(
    ("template", "uri"),
    [
        ("x://{a}-{b}{?q,r}", lambda n: "x://" + "1-" * n + "?q=" + "&" * n),
        ("x://{a}{?q,r}", lambda n: "x://a?" + "q=1&" * n),
        ("x://{a}{?q}", lambda n: "x://a?q=" + "=" * n),
    ],
)
def test_the_work_of_a_crafted_query_does_not_grow_with_its_length(template: str, uri: Callable[[int], str]) -> None:
    parsed = UriTemplate.parse(template)
    assert steps(parsed, uri(100)) == steps(parsed, uri(100_000))


@pytest.mark.parametrize(
    ("template", "supported"),
    [
        ("docs://{name}", True),
        ("files://{+path}{?rev}", True),
        ("search://items{?q,page}", True),
        ("plain://fixed", True),
        ("a://{x}{&q}", False),
        ("a://{/x}", False),
        ("a://{x:3}", False),
        ("a://{x*}", False),
        ("a://?v=1{?q}", False),  # a '?' before the query expression: it is no query's
        ("a://{x}}", False),
    ],
)
def test_supported_says_whether_any_expression_is_left_as_literal_text(template: str, supported: bool) -> None:
    assert UriTemplate.parse(template).supported is supported
