"""The ECMA-262 patterns the schemas carry, compiled and run by Node's ``RegExp`` (``u`` flag), as
clients compile a tool's ``inputSchema`` (the TypeScript SDK's ajv, VS Code, the Inspector).

The cases: every translated pattern of ``tests/unit/test_ecma_regex.py``'s tables, and every
``pattern`` the ``tools/list`` of a sample app gives (``Field(pattern=...)``, ``Query(pattern=...)``
and an app's own path convertors). One ``node`` process compiles each pattern and says, for each
of its samples, whether ``RegExp.prototype.test`` takes it. Then each answer is compared with what
the original pattern means in Python:

* :func:`~mcp_middleware._ecma_regex.ecma_pattern` (``Field(pattern=...)``): whether pydantic
  takes the sample, with its default engine (Rust's ``regex`` crate), or with
  ``regex_engine="python-re"`` for a pattern the default refuses (an app can only have it so);
* :func:`~mcp_middleware._ecma_regex.whole_match_pattern` (a convertor's regex): ``re.fullmatch``.

Node is required (the system ``node``): without it these tests fail, like the rest of the tier,
they never skip.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette import convertors
from starlette.convertors import Convertor, register_url_convertor

from mcp_middleware import MCPMiddleware
from mcp_middleware._ecma_regex import _PROPERTIES, ecma_pattern, whole_match_pattern
from tests.support import call_modern
from tests.unit.test_ecma_regex import _KEPT as KEPT
from tests.unit.test_ecma_regex import _WHOLE as WHOLE

pytestmark = pytest.mark.interop

RUN_TIMEOUT_SECONDS = 60

# Compiles each pattern with the u flag and tests each of its samples; one line of JSON out.
NODE_SCRIPT = r"""
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(({ pattern, samples }) => {
  let rx;
  try {
    rx = new RegExp(pattern, "u");
  } catch (e) {
    return { error: String(e.message), taken: null };
  }
  return { error: null, taken: samples.map((s) => rx.test(s)) };
});
process.stdout.write(JSON.stringify(out));
"""

# Every pattern is tried on these: ASCII and other letters and digits (Arabic-Indic, fullwidth),
# a mark, a joiner, the line terminators ECMA-262 and Python count differently, Unicode's and
# ECMA-262's other spaces (NEL is Unicode's only, the BOM ECMA-262's only), the empty string.
SAMPLES = [
    "",
    "a",
    "A",
    "abc",
    "_",
    "-",
    ".",
    "x",
    "xx",
    "0",
    "123",
    "é",
    "ß",
    "α",
    "٣",
    "１",
    "²",
    "\u0301",
    "\u200d",
    "😀",
    " ",
    "\t",
    "\n",
    "\r",
    "\u2028",
    "\u2029",
    "\x85",
    "\xa0",
    "\ufeff",
    "a\n",
    "\na",
    "a\nb",
    "a\rb",
    "a\u2028b",
    "[",
    "'",
    "/",
]

# samples of a pattern's own, so that each pattern takes some and refuses some
EXTRA: dict[str, list[str]] = {
    r"^\d{3}-\d{2,}-\D$": ["123-45-x", "١٢٣-٤٥-x", "123-45-6", "123-4-x", "123-45-x\n"],
    r"\s\S[\s\d][^\S]": ["  1 ", "\x85a\x85\x85", "\ufeffa  ", " a\u2028\u2029", "\x1ca  "],
    r"[\w.\-]+@[^\s\]]+\.\w+": ["a.b@c.d", "é@x.y", "a@é.ü", "a@\x85.c", "a@\ufeff.c", "a@b]c.d", "a_-@b.c"],
    r"\W[^\w]": ["--", "a-", "-\u0301", "\u200d-", "²-", "¹²"],
    r"a.b[.]": ["a-b.", "a\rb.", "a\u2028b.", "a\u2029b.", "a\nb.", "a-bx"],
    r"\x41\u00e9\u{1F600}\t\n\r\f\v\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$": [
        "Aé😀\t\n\r\f\v.*+?()[]{}|/\\^$",
        "Aé😀\t\n\r\f\v.*+?()[]{}|/\\^",
    ],
    r"\p{L}+\P{N}\p{Lu}\p{Letter}": ["ab-Aa", "é-Éé", "a1Aa", "ab-aa"],
    r"\p{gc=Lu}\p{General_Category=Letter}": ["Aa", "ÉǅA", "aA", "A1"],
    r"\p{White_Space}\P{Alphabetic}\p{Any}": [" 1x", "\x851\n", "\ufeff1x", " a1"],
    r"^(?P<q>['x]).*(?P=q)$": ["x'x", "xax", "'a'", "x\rx", "x\u2028x", "xx\n", "'\n'", "x\nx"],
    r"(a)(b)\2\1\d": ["abba1", "abba١", "abbax", "abab1"],
    r"[[a]\0[\b]": ["[\0\b", "a\0\b", "b\0\b", "[\0"],
    r"é+": ["éé", "e\u0301"],
    r"[a-z0-9]+(?:-[a-z0-9]+)*": ["hello-world", "ab-", "-a", "a--b", "ab\n"],
    r"a|b": ["b", "ab", "ba"],
    r"(?P<w>[a-z]+)=(?P=w)": ["ab=ab", "ab=ac", "ab=ab\n"],
    r"a.b": ["a-b", "a\u2029b", "ab"],
    r"[.]\.": ["..", "a.", ".a"],
    r"\d{2}\D": ["12a", "١٢a", "123", "12", "12\n"],
    r"[\d\-][^\D]": ["-1", "٣٣", "a1", "--"],
    r"^a$": ["a\n\n"],
    r"[$^]\$": ["$$", "^$", "a$"],
    r"\x41\t[\b]\u00e9\0": ["A\t\bé\0", "A\t\bé"],
}

# patterns that take every sample, or none: the comparison has no other side to check
ONE_SIDED = {
    "": "the empty pattern is found in every text",
    r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)": "nothing before the lookbehind for g can end in g",
}
# where Node and Python disagree: why, and for which (original pattern, samples); each must still
# disagree. None left: ecma_pattern says Rust's (and python-re's) \d, \w, \s and . as they read them.
_KNOWN: dict[str, dict[str, list[str]]] = {}
KNOWN = {(original, s): why for why, cases in _KNOWN.items() for original, samples in cases.items() for s in samples}


@dataclass(frozen=True)
class Case:
    """One pattern as a client gets it (``pattern``), what it was translated from, by which function."""

    pattern: str
    original: str
    kind: str  # "ecma": ecma_pattern, "whole": whole_match_pattern
    samples: tuple[str, ...]


def _case(pattern: str, original: str, kind: str) -> Case:
    return Case(pattern, original, kind, tuple(dict.fromkeys([*SAMPLES, *EXTRA.get(original, [])])))


# --- the sample app -----------------------------------------------------------------------------

# (property, Field(pattern=...) or Query(pattern=...)): the pydantic patterns of the sample app
APP_FIELDS = {
    "sku": r"^[A-Z]{3}-\d{4}$",
    "handle": r"^\w+$",
    "email": r"^(?P<user>[\w.]+)@(?P<host>[a-z.]+)$",
    "note": r"^.{1,3}$",
    "code": r"^\S+\s?$",
    "tag": r"^\p{L}[\p{L}\d]*$",
}
# (path parameter, its convertor's regex)
APP_PATHS = {"ref": r"[a-z0-9]+(?:-[a-z0-9]+)*", "n": r"\d+"}
EXTRA.update(
    {
        APP_FIELDS["sku"]: ["ABC-1234", "ABC-١٢٣٤", "ABC-12345"],
        APP_FIELDS["handle"]: ["ab_1", "éé", "a\u0301", "a-b"],
        APP_FIELDS["email"]: ["a.b@c.d", "é@c.d", "a@B.c"],
        APP_FIELDS["note"]: ["a\rb", "abcd", "a\u2029"],
        APP_FIELDS["code"]: ["ab ", "ab\x85", "ab\ufeff", "a b", "ab\x1c"],
        APP_FIELDS["tag"]: ["a1", "a١", "1a"],
        APP_PATHS["n"]: ["٣٣", "12\n"],
    }
)


def _convertor(regex: str) -> Convertor[str]:
    class Text(Convertor[str]):
        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    Text.regex = regex
    return Text()


class Order(BaseModel):
    sku: str = Field(pattern=APP_FIELDS["sku"])
    handle: str = Field(pattern=APP_FIELDS["handle"])
    email: str = Field(pattern=APP_FIELDS["email"])
    note: str = Field(pattern=APP_FIELDS["note"])
    code: str = Field(pattern=APP_FIELDS["code"])


def _sample_app(names: dict[str, str]) -> FastAPI:
    """A FastAPI app with ``APP_FIELDS``' patterns (a body model's, a query's) and path parameters of
    convertors registered as ``names`` (parameter: convertor name)."""
    app = FastAPI()

    @app.post(f"/orders/{{ref:{names['ref']}}}/{{n:{names['n']}}}", operation_id="place")
    async def place(ref: str, n: str, order: Order, tag: Annotated[str, Query(pattern=APP_FIELDS["tag"])]) -> str:
        return ref

    app.add_middleware(MCPMiddleware)
    return app


def _patterns(schema: Any, into: dict[str, str]) -> dict[str, str]:
    """Each property of ``schema`` (its ``$defs`` too) that has a ``pattern``: name -> pattern."""
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and "pattern" in prop:
                into[name] = prop["pattern"]
        for value in schema.values():
            _patterns(value, into)
    elif isinstance(schema, list):
        for value in schema:
            _patterns(value, into)
    return into


@pytest.fixture(scope="module")
def app_patterns() -> Iterator[dict[str, str]]:
    """The sample app's ``tools/list``: each property with a pattern, name -> pattern. Its
    convertors are registered under fresh names, and taken out again."""
    names = {param: f"c{uuid.uuid4().hex}" for param in APP_PATHS}
    for param, name in names.items():
        register_url_convertor(name, _convertor(APP_PATHS[param]))
    try:
        reply = anyio.run(call_modern, _sample_app(names), "tools/list")
        yield _patterns([tool["inputSchema"] for tool in reply.result()["tools"]], {})
    finally:
        for name in names.values():
            del convertors.CONVERTOR_TYPES[name]


@pytest.fixture(scope="module")
def cases(app_patterns: dict[str, str]) -> list[Case]:
    found = [_case(ecma, original, "ecma") for original, ecma in KEPT]
    found += [_case(whole, regex, "whole") for regex, whole in WHOLE]
    for name, pattern in app_patterns.items():
        original, kind = (APP_PATHS[name], "whole") if name in APP_PATHS else (APP_FIELDS[name], "ecma")
        found.append(_case(pattern, original, kind))
    return found + PROPERTY_CASES


def _property_case(original: str) -> Case:
    pattern = ecma_pattern(original)
    assert pattern is not None, original
    return _case(pattern, original, "ecma")


# every \p{...} name ecma_pattern keeps: Node knows it, and takes what Rust's regex takes (samples
# of characters both Unicode versions have)
PROPERTY_CASES = [_property_case(f"^\\{p}{{{name}}}$") for name in sorted(_PROPERTIES) for p in "pP"]


# --- Node ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """Node's: the error compiling the pattern, else whether ``test`` took each sample."""

    error: str | None
    taken: tuple[bool, ...] | None


@pytest.fixture(scope="module")
def answers(cases: list[Case]) -> dict[Case, Answer]:
    """Every case run by one ``node`` process."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (the interop tier needs node)", pytrace=False)
    payload = json.dumps([{"pattern": c.pattern, "samples": list(c.samples)} for c in cases])
    done = subprocess.run(
        [node, "-e", NODE_SCRIPT],
        input=payload,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"node exited {done.returncode}:\n{done.stderr}", pytrace=False)
    out = json.loads(done.stdout)
    assert len(out) == len(cases)
    return {
        case: Answer(a["error"], None if a["taken"] is None else tuple(a["taken"]))
        for case, a in zip(cases, out, strict=True)
    }


# --- what Python takes --------------------------------------------------------------------------


def _pydantic(pattern: str) -> Callable[[str], bool] | None:
    """Whether pydantic takes a text for ``Field(pattern=pattern)``: with its default engine
    (Rust's), or python-re's where the default refuses the pattern; None if neither reads it."""
    for config in (None, ConfigDict(regex_engine="python-re")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # re: "Possible nested set" ([[a])
                adapter: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=pattern)], config=config)
        except Exception:
            continue
        return functools.partial(_takes, adapter)
    return None


def _takes(adapter: TypeAdapter[str], text: str) -> bool:
    try:
        adapter.validate_python(text)
    except ValidationError:
        return False
    return True


def _python(case: Case) -> Callable[[str], bool] | None:
    """What the original pattern takes, as Python reads it (None: no pydantic engine reads it)."""
    if case.kind == "whole":
        return lambda text: re.fullmatch(case.original, text) is not None
    return _pydantic(case.original)


def _disagreements(cases: list[Case], answers: dict[Case, Answer]) -> dict[tuple[str, str], tuple[bool, bool]]:
    """(original, sample) -> (Python's answer, Node's), wherever they differ."""
    found: dict[tuple[str, str], tuple[bool, bool]] = {}
    for case in cases:
        python, taken = _python(case), answers[case].taken
        if python is None or taken is None:
            continue
        for sample, node_says in zip(case.samples, taken, strict=True):
            if python(sample) != node_says:
                found[(case.original, sample)] = (python(sample), node_says)
    return found


# --- the tests ----------------------------------------------------------------------------------


def test_the_sample_app_lists_the_patterns_translated(app_patterns: dict[str, str]) -> None:
    """The schema builder's patterns are the translations' (so the cases below are what clients get)."""
    expected = {name: ecma_pattern(p) for name, p in APP_FIELDS.items()}
    expected |= {name: whole_match_pattern(r) for name, r in APP_PATHS.items()}
    assert app_patterns == {name: p for name, p in expected.items() if p is not None}
    assert set(app_patterns) >= set(APP_PATHS)  # the convertors' patterns are there


def test_every_pattern_compiles_with_the_u_flag(cases: list[Case], answers: dict[Case, Answer]) -> None:
    errors = {case.pattern: answers[case].error for case in cases if answers[case].error is not None}
    assert errors == {}


def test_node_takes_what_python_takes(cases: list[Case], answers: dict[Case, Answer]) -> None:
    """For every sample, ``RegExp.test`` agrees with pydantic (``ecma_pattern``) or ``re.fullmatch``
    (``whole_match_pattern``), but for the known, explained exceptions, which still disagree."""
    found = _disagreements(cases, answers)
    unexplained = {key: says for key, says in found.items() if key not in KNOWN}
    assert unexplained == {}, "\n".join(f"{k!r}: {v!r}" for k, v in unexplained.items())
    assert set(KNOWN) <= set(found), "a known disagreement no longer is one: take it out of KNOWN"


def test_pydantic_reads_every_pattern(cases: list[Case]) -> None:
    """Each original is one an app can have (so each comparison above compared something)."""
    assert [case.original for case in cases if _python(case) is None] == []


def test_each_pattern_takes_a_sample_and_refuses_one(cases: list[Case]) -> None:
    """The comparison sees both sides of every pattern (but the known one-sided ones)."""
    one_sided = set()
    for case in cases:
        if case in PROPERTY_CASES:
            continue
        python = _python(case)
        if python is not None and len({python(sample) for sample in case.samples}) < 2:
            one_sided.add(case.original)
    assert one_sided == set(ONE_SIDED)
