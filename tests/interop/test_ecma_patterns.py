"""The patterns the schemas carry, compiled and run as clients compile a tool's ``inputSchema``:
by Node's ``RegExp`` with the ``u`` flag (the TypeScript SDK's ajv, VS Code, the Inspector) and
without it (a plain ``new RegExp(pattern)``), and by Python's ``jsonschema`` (draft 7 and 2020-12,
with Python's ``re``).

The cases: every translated pattern of ``tests/unit/test_ecma_regex.py``'s tables, and every
``pattern`` the ``tools/list`` of a sample app gives (``Field(pattern=...)``, ``Query(pattern=...)``
and an app's own path convertors). One ``node`` process compiles each pattern in both modes and
says, for each of its samples, whether ``RegExp.prototype.test`` takes it. Every engine compiles
every pattern, and the three agree on every sample. Then their answer is compared with what the
original pattern means on the server:

* :func:`~mcp_middleware._ecma_regex.ecma_pattern` (``Field(pattern=...)``): whether pydantic
  takes the sample, with its default engine (Rust's ``regex`` crate), or with
  ``regex_engine="python-re"`` for a pattern the default refuses (an app can only have it so);
* :func:`~mcp_middleware._ecma_regex.whole_match_pattern` (a convertor's regex): ``re.fullmatch``.

They agree but where ``\\d`` (``[0-9]``) is narrower: a client may refuse a non-ASCII digit the
server takes, never take what it refuses.

Node is required (the system ``node``): without it these tests fail, like the rest of the tier,
they never skip.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import jsonschema  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette import convertors
from starlette.convertors import Convertor, register_url_convertor

from mcp_middleware import MCPMiddleware
from mcp_middleware._ecma_regex import ecma_pattern, whole_match_pattern
from tests.support import call_modern
from tests.unit.test_ecma_regex import _KEPT as KEPT
from tests.unit.test_ecma_regex import _WHOLE as WHOLE
from tests.unit.test_ecma_regex import _takes

pytestmark = pytest.mark.interop

RUN_TIMEOUT_SECONDS = 60

# the flags a client compiles a pattern with: ajv's unicodeRegExp (the TypeScript SDK), plain
# new RegExp(pattern) (hand-written validators, older ajv)
FLAGS = ("u", "")
# Compiles each pattern with each of FLAGS and tests each of its samples; one line of JSON out.
NODE_SCRIPT = r"""
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const run = (pattern, samples, flags) => {
  let rx;
  try {
    rx = new RegExp(pattern, flags);
  } catch (e) {
    return { error: String(e.message), taken: null };
  }
  return { error: null, taken: samples.map((s) => rx.test(s)) };
};
const out = cases.map(({ pattern, samples, flags }) => flags.map((f) => run(pattern, samples, f)));
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
    "😀😀",
    "a😀",
    " ",
    "\t",
    "\n",
    "\r",
    "\u2028",
    "\u2029",
    "\x85",
    "\xa0",
    "\ufeff",
    "\x1c",
    "a\n",
    "a\n\n",
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
    r"^\d{3}-\d{2,}$": ["123-45", "١٢٣-٤٥", "123-4", "123-45\n", "123-456"],
    r"\s\S[\s\d]": ["  1", "\x85a\x85", "\ufeffa ", " a\u2028", "\x1ca ", " 😀1", " \n1", " a١"],
    r"[^\s\]]+@[^/]": ["a.b@c", "é@x", "😀@😀", "a@/", "]@c", "\x85@c", "a@\n", "\x1c@c"],
    r"a.b[.]": ["a-b.", "a\rb.", "a\u2028b.", "a\u2029b.", "a\nb.", "a-bx", "a😀b."],
    r"\x41\u00e9\t\n\r\f\v\.\*\+\?\(\)\[\]\{\}\|\/\\\^\$": [
        "Aé\t\n\r\f\v.*+?()[]{}|/\\^$",
        "Aé\t\n\r\f\v.*+?()[]{}|/\\^",
    ],
    "😀+[é]": ["😀😀é", "😀é", "é", "😀e", "\U0001f601é"],
    r"^(?P<q>['x]).*(?<=x)$": ["x'x", "'ax", "'a'", "x\rx", "x\u2028x", "xx\n", "xx\n\n", "'\nx", "x😀x"],
    r"(?<=[a\d])(?<!\s)x(?=\d)\d(?!\S)": ["ax1", "ax1 ", "ax1b", "1x2\x1c", " x1", "ax١", "ax1😀", "٣x1"],
    r"[[a]\0[\b]": ["[\0\b", "a\0\b", "b\0\b", "[\0"],
    r"é+": ["éé", "e\u0301"],
    r"[a-z0-9]+(?:-[a-z0-9]+)*": ["hello-world", "ab-", "-a", "a--b", "ab\n"],
    r"a|b": ["b", "ab", "ba"],
    r"a.b": ["a-b", "a\u2029b", "ab", "a😀b", "a😀😀b"],
    r"[.]\.": ["..", "a.", ".a"],
    r"\d{4}-\d{2}-\d{2}": ["2024-01-02", "٢٠٢٤-01-02", "2024-1-02", "2024-01-02\n", "2024-01-0２"],
    r"\s\S": [" a", "\x1ca", "\x1c\x1c", " 😀", "\ufeffa", " \n", "\x85\xa0"],
    r"^a$": ["a\n\n"],
    r"[$^]\$": ["$$", "^$", "a$"],
    r"\x41\t[\b]\u00e9\0": ["A\t\bé\0", "A\t\bé"],
    r"(?P<w>[a-z]+)=": ["ab=", "ab=c", "="],
    r"^[^+-]+$": ["Hello", "~", "+", "a+", "a-b"],
    r"^[^a-zA-Z0-9_-]+$": ["@@", "~", "a", "~_"],
    r"^[^！-]+$": ["！", "ab！", "\uff02"],
    r"^[^a-]{2}$": ["bc", "a-", "b-"],
    r"[-a][a-][a-c-e][\d-][^-]": ["-a-0x", "aa-d-", "aab0x", "aaa٣x", "-aa-x"],
    r"[\--/][+\-]": ["-+", ".-", "/-", ",+"],
    r"[^/.-]+": ["hello", "a-b", "a.b", "a/b", "é😀"],
    r"[--/]": [","],
    r"(a)*(?:b)+?c{2}?[d]{1,}\.?": ["bccd", "aabbccdd.", "bcd", "bccx"],
}

# patterns that take every sample, or none: the comparison has no other side to check
ONE_SIDED = {
    "": "the empty pattern is found in every text",
    r"(?:ab)+?c*?d??(?=e)(?!f)(?<=g)(?<!h)": "nothing before the lookbehind for g can end in g",
}


def narrowed(original: str, sample: str) -> bool:
    """Whether a client may refuse ``sample`` that the server takes: ``\\d`` is ``[0-9]``, and the
    sample has another decimal digit (which models practically never send)."""
    return "\\d" in original and any(unicodedata.category(c) == "Nd" and not c.isascii() for c in sample)


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
APP_PATHS = {"ref": r"[a-z0-9]+(?:-[a-z0-9]+)*", "n": r"\d+", "day": r"\d{4}-\d{2}-\d{2}"}
EXTRA.update(
    {
        APP_FIELDS["sku"]: ["ABC-1234", "ABC-١٢٣٤", "ABC-12345"],
        APP_FIELDS["handle"]: ["ab_1", "éé", "a\u0301", "a-b"],
        APP_FIELDS["email"]: ["a.b@c.d", "é@c.d", "a@B.c"],
        APP_FIELDS["note"]: ["a\rb", "abcd", "a\u2029"],
        APP_FIELDS["code"]: ["ab ", "ab\x85", "ab\ufeff", "a b", "ab\x1c"],
        APP_FIELDS["tag"]: ["a1", "a١", "1a"],
        APP_PATHS["n"]: ["٣٣", "12\n"],
        APP_PATHS["day"]: ["2024-01-02", "٢٠٢٤-01-02", "2024-01-02\n"],
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

    @app.post(f"/orders/{{ref:{names['ref']}}}/{{n:{names['n']}}}/{{day:{names['day']}}}", operation_id="place")
    async def place(
        ref: str, n: str, day: str, order: Order, tag: Annotated[str, Query(pattern=APP_FIELDS["tag"])]
    ) -> str:
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
    return found


# --- Node ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One engine's: the error compiling the pattern, else whether it found it in each sample."""

    error: str | None
    taken: tuple[bool, ...] | None


@pytest.fixture(scope="module")
def answers(cases: list[Case]) -> dict[Case, dict[str, Answer]]:
    """Every case run by one ``node`` process, with each of ``FLAGS``: flags -> Node's answer."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (the interop tier needs node)", pytrace=False)
    payload = json.dumps([{"pattern": c.pattern, "samples": list(c.samples), "flags": FLAGS} for c in cases])
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
        case: {
            flags: Answer(a["error"], None if a["taken"] is None else tuple(a["taken"]))
            for flags, a in zip(FLAGS, per_flags, strict=True)
        }
        for case, per_flags in zip(cases, out, strict=True)
    }


def _jsonschema(case: Case) -> Answer:
    """Python's clients': jsonschema checks the schema (``pattern`` is of format "regex", which it
    checks with ``re``), and searches the pattern with ``re``, as draft 7 and 2020-12 do."""
    schema = {"type": "string", "pattern": case.pattern}
    try:
        for validator in (jsonschema.Draft7Validator, jsonschema.Draft202012Validator):
            validator.check_schema(schema)
        validators = [v(schema) for v in (jsonschema.Draft7Validator, jsonschema.Draft202012Validator)]
        taken = [{v.is_valid(sample) for v in validators} for sample in case.samples]
    except (jsonschema.SchemaError, re.error) as e:
        return Answer(str(e), None)
    assert all(len(both) == 1 for both in taken)
    return Answer(None, tuple(both.pop() for both in taken))


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


def _python(case: Case) -> Callable[[str], bool] | None:
    """What the original pattern takes, as Python reads it (None: no pydantic engine reads it)."""
    if case.kind == "whole":
        return lambda text: re.fullmatch(case.original, text) is not None
    return _pydantic(case.original)


def _client_answers(case: Case, answers: dict[Case, dict[str, Answer]]) -> dict[str, Answer]:
    """Each client engine's answer: Node's with each of ``FLAGS``, Python's ``jsonschema``'s."""
    return {**{f"node /{flags}": answer for flags, answer in answers[case].items()}, "jsonschema": _jsonschema(case)}


def _disagreements(
    cases: list[Case], answers: dict[Case, dict[str, Answer]]
) -> dict[tuple[str, str], tuple[bool, bool]]:
    """(original, sample) -> (the server's answer, the clients'), wherever they differ."""
    found: dict[tuple[str, str], tuple[bool, bool]] = {}
    for case in cases:
        server, taken = _python(case), _client_answers(case, answers)["node /u"].taken
        if server is None or taken is None:
            continue
        for sample, client_says in zip(case.samples, taken, strict=True):
            if server(sample) != client_says:
                found[(case.original, sample)] = (server(sample), client_says)
    return found


# --- the tests ----------------------------------------------------------------------------------


def test_the_sample_app_lists_the_patterns_translated(app_patterns: dict[str, str]) -> None:
    """The schema builder's patterns are the translations' (so the cases below are what clients get)."""
    expected = {name: ecma_pattern(p) for name, p in APP_FIELDS.items()}
    expected |= {name: whole_match_pattern(r) for name, r in APP_PATHS.items()}
    assert app_patterns == {name: p for name, p in expected.items() if p is not None}
    assert set(app_patterns) >= set(APP_PATHS)  # the convertors' patterns are there


def test_every_pattern_compiles_in_every_client_engine(
    cases: list[Case], answers: dict[Case, dict[str, Answer]]
) -> None:
    """ECMA-262 with the u flag and without it, and Python's ``re`` behind ``jsonschema`` (whose
    draft 7 meta-schema checks ``pattern`` as a "regex")."""
    errors = {
        (case.pattern, engine): answer.error
        for case in cases
        for engine, answer in _client_answers(case, answers).items()
        if answer.error is not None
    }
    assert errors == {}


def test_the_client_engines_agree(cases: list[Case], answers: dict[Case, dict[str, Answer]]) -> None:
    """On every sample, Node with and without the u flag, and ``jsonschema``, give one answer."""
    differ = {}
    for case in cases:
        said = {engine: answer.taken for engine, answer in _client_answers(case, answers).items()}
        for k, sample in enumerate(case.samples):
            verdicts = {engine: taken[k] for engine, taken in said.items() if taken is not None}
            if len(set(verdicts.values())) > 1:
                differ[(case.pattern, sample)] = verdicts
    assert differ == {}, "\n".join(f"{k!r}: {v!r}" for k, v in differ.items())


def test_clients_take_what_the_server_takes(cases: list[Case], answers: dict[Case, dict[str, Answer]]) -> None:
    """For every sample, the clients agree with pydantic (``ecma_pattern``) or ``re.fullmatch``
    (``whole_match_pattern``), but where ``\\d`` is narrowed (:func:`narrowed`): there a client may
    refuse what the server takes, never the other way."""
    found = _disagreements(cases, answers)
    unexplained = {key: says for key, says in found.items() if not (narrowed(*key) and says == (True, False))}
    assert unexplained == {}, "\n".join(f"{k!r}: {v!r}" for k, v in unexplained.items())
    assert ("\\d{4}-\\d{2}-\\d{2}", "٢٠٢٤-01-02") in found  # the narrowing is real, and seen


def test_pydantic_reads_every_pattern(cases: list[Case]) -> None:
    """Each original is one an app can have (so each comparison above compared something)."""
    assert [case.original for case in cases if _python(case) is None] == []


def test_each_pattern_takes_a_sample_and_refuses_one(cases: list[Case]) -> None:
    """The comparison sees both sides of every pattern (but the known one-sided ones)."""
    one_sided = set()
    for case in cases:
        python = _python(case)
        if python is not None and len({python(sample) for sample in case.samples}) < 2:
            one_sided.add(case.original)
    assert one_sided == set(ONE_SIDED)
