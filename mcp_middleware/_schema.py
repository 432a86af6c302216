"""JSON Schema plumbing for :mod:`mcp_middleware.catalog`: OpenAPI schemas to self-contained tool schemas.

An OpenAPI 3.1 schema is JSON Schema 2020-12 plus references into ``#/components/schemas``. A tool
schema must stand alone, and many clients refuse ``$ref``/``$defs`` (or, reading draft-07, the
siblings of a ``$ref``), so :meth:`SchemaSet.convert` first writes each ``#/components/schemas/X``
as ``#/$defs/X`` (each component converted once per mode, below), then
:meth:`SchemaSet.standalone` inlines them (:mod:`mcp_middleware._schema_inline`): a copy of the
converted component in place of each reference, its siblings merged in. Only a recursive
component (a ``Node`` whose ``children`` are ``Node``) stays a ``$ref`` into a local ``$defs``,
and, past a size limit, the shared components whose copies would cost most. Every conversion
below applies to a component before it is inlined, so inlined content is converted alike.

Conversion also:

* drops OpenAPI-only keywords that are not JSON Schema (``discriminator`` — whose ``mapping``
  would keep ``#/components`` references —, ``xml``, ``externalDocs``, ``nullable``);
* translates OpenAPI 3.0's dialect (Starlette's ``SchemaGenerator`` docstrings, an app's own 3.0
  ``openapi()``), which JSON Schema reads otherwise: ``nullable: true`` becomes a null branch,
  ``anyOf: [X, {"type": "null"}]`` as pydantic writes ``Optional[X]`` (so input schemas collapse
  it alike), ``nullable: false`` goes; a boolean ``exclusiveMaximum: true`` beside ``maximum: M``
  becomes ``exclusiveMaximum: M`` (``false``, or ``true`` without its bound, goes), which ajv
  would refuse for every tool. ``example`` and ``x-*`` keys stay: unknown keywords, ignored by
  validators (the TypeScript SDK's ajv is not strict);
* gives every array an ``items`` (``{}`` when absent);
* in *input* mode only, renders an optional property (not in its object's ``required``) whose
  schema is ``anyOf: [X, {"type": "null"}]`` without a default or with ``None`` — pydantic's
  ``Optional[X] = None`` — as plain ``X``, and one of ``anyOf: [X, Y, ..., {"type": "null"}]``
  (``Optional[X | Y] = None``, ``Optional[Decimal] = None``) as ``anyOf: [X, Y, ...]``
  (omitting the argument means "None"; a JSON body field's explicit ``null`` is still sent,
  :meth:`SchemaSet.allows_null`). With another default ``null`` is a value of its own and stays
  (:func:`~mcp_middleware._schema_nulls.keeps_null`), and so does a required property's ``null``,
  except where the caller says null cannot be sent (a query, header, cookie or path parameter, a
  form field, where ``null`` means "omitted": there ``X | None`` is ``X``). Output schemas keep the
  ``null`` branch: a response may really contain ``null`` and MCP clients validate structured
  content against ``outputSchema``;
* in *output* mode only (``collapse=False``), keeps a ``format`` only when every JSON value
  pydantic writes for it satisfies the clients' checks (:data:`_SURE_FORMATS`: ``date``, ``uuid``,
  ``ipv4``, ``password``, ``binary``): a naive datetime or time is written without the offset RFC
  3339 requires (``date-time``, ``time``), a timedelta as ``PT1.5S`` or ``-PT1H`` (``duration``),
  a ``re.Pattern`` in Python's syntax, ``(?P<name>...)``, which is no ECMA-262 (``regex``), an
  ``EmailStr`` may be ``josé@example.com`` (``email``), a ``HttpUrl`` keeps ``|``, ``{``, ``^``
  (``uri``), an ``IPv6Address`` may be scoped, ``fe80::1%eth0`` (``ipv6``); a format no client
  knows (``path``, ``multi-host-uri``) checks nothing and makes ajv log a warning. And a
  ``multipleOf`` only when a whole number's on an ``integer`` (:func:`_sure`): pydantic checks a
  float's with a tolerance, the clients by division (19.99 is no multiple of 0.01 to them). And a
  URL type's ``maxLength``: pydantic checks it on the URL given and writes it percent-encoded.
  Clients that check output (the TypeScript SDK's ajv with ajv-formats, the Python SDK's
  ``jsonschema``, which checks no format) would refuse such a result. Input schemas keep them, as
  hints to the model (no official client checks a tool's arguments);
* drops what clients could not compile: JSON Schema's ``pattern`` is an ECMA-262 regex, pydantic's
  is Python's (or Rust's) syntax, and the TypeScript SDK's ajv compiles every schema it lists, so
  one ``(?P<name>...)`` made ``tools/list`` throw for every tool. Output schemas drop ``pattern``
  (the server's own JSON needs no checking by clients); input schemas keep it as pydantic's engine
  reads it, in a syntax ECMA-262 with and without the ``u`` flag and Python's ``re`` (``jsonschema``
  checks draft 7's ``regex`` format with it) read alike, never wider than the engine
  (:func:`~mcp_middleware._ecma_regex.ecma_pattern`: ``(?P<name>`` is ``(``, ``\\d`` is
  ``[0-9]``, narrower), and drop it where they cannot (``\\w``, ``\\p{...}``, inline flags,
  ``\\A``, possessive quantifiers, ``\\b``, a backreference, ...).
  ``patternProperties`` keys are translated alike, in input and output schemas (the portable form
  is what Python clients' ``re`` reads too; keys translated alike are one, the ``allOf`` of their
  schemas), a key dropped if it cannot be, and with it an
  ``additionalProperties`` beside it, or an ``unevaluatedProperties`` beside it or above it
  (through in-place applicators: :mod:`mcp_middleware._schema_evaluated`), that would refuse what
  it matched: the schema is never stricter than the server.

Leaving a keyword out (or narrowing a ``patternProperties`` key: ``\\d`` as ``[0-9]`` checks fewer
names) loosens the subschema it was in, which loosens the whole only in a positive place. In a
negative or exclusive one it tightens: under ``not`` (``not: {}`` refuses everything), under
``oneOf`` (a value may now match two branches), under an ``if`` with a ``then`` or ``else`` (a
value may now take ``then``), in a ``contains`` beside a ``maxContains`` (more items counted).
Conversion counts what it loosens (:meth:`SchemaSet._lost_since`: a ``pattern`` or ``format`` left
out, a key left out or narrowed, a refusing ``additionalProperties`` or ``unevaluatedProperties``
left out, a dangling ``$ref``, a member that is no schema), and follows the references met below
such a place to what they point to (a component, a local pointer read from each enclosing schema,
as :mod:`mcp_middleware._schema_evaluated` reads them), each converted once more, dry, to learn
whether it loses anything (:meth:`SchemaSet._reaches_loss`). Such a place is then loosened in turn
(:func:`~mcp_middleware._schema_keywords.loosen_exclusive`: the ``not`` goes, ``oneOf`` is
``anyOf``, the ``if`` is ``anyOf: [{allOf: [if, then]}, else]``, the ``maxContains`` goes), and
named: in the route's warning, or at DEBUG (:attr:`Unportable.quiet`) when all that was lost below
it is what an output schema leaves out by design and unsaid (a ``pattern``, a ``format`` or
``multipleOf`` not sure to hold, a key narrowed): the route's results are as they were, and a
discriminated union of response models, one with a ``Field(pattern=...)``, is no app's fault.
``then``, ``else``, ``anyOf``, ``allOf``, ``dependentSchemas``, ``items``, ``prefixItems``,
``propertyNames``, ``additionalProperties``: positive, kept. A ``oneOf`` whose branches may
overlap (pydantic's union with a callable ``Discriminator``: ``{x}`` and ``{x, y = 0}`` both take
``{"x": 1, "y": 0}``) refuses what the route takes: it is an ``anyOf``, unsaid, counted as a quiet
loss (so a ``not`` above it goes); in output schemas every ``oneOf`` is (clients only check results
with them), in input schemas each but one whose branches a tag tells apart
(:meth:`SchemaSet._exclusive`). A ``pattern`` translated narrower is no loss (a client may refuse
a rare value, never take one the app refuses: :mod:`mcp_middleware._ecma_regex`).

What ``null`` means (the collapsing of an ``Optional``, and an output schema that requires no
property that may be null) is in :mod:`mcp_middleware._schema_nulls`; the keywords and reference
prefixes this conversion walks, in :mod:`mcp_middleware._schema_keywords`.

A keyword whose value has not the shape JSON Schema gives it (a ``properties`` or
``patternProperties`` that is no object, a ``pattern`` that is no string, an ``items`` that is no
schema, an ``allOf`` that is no list) is copied as written: conversion rewrites what it can read and
never guesses at what a malformed value meant, so such a value is no key left out and takes
nothing with it. A member that is no schema, in a map or list of them (``properties``,
``patternProperties``, ``allOf``), is ``{}``, which takes anything (a ``$ref`` that is no string
goes, as a dangling one does).

Each component is converted once per mode and cached with the components it refers to directly
(and whether it reaches itself), so a tool's inlining reads a graph already built.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_middleware._schema_evaluated import Evaluations, followed
from mcp_middleware._schema_inline import standalone
from mcp_middleware._schema_keywords import (
    _ANNOTATIONS,
    _COMPONENT_PREFIX,
    _DEFS_PREFIX,
    _EXCLUSIVE_PLACES,
    _ONE_SCHEMA,
    _SCHEMA_LIST,
    _SCHEMA_MAP,
    loosen_exclusive,
    pointer_name,
    refuses_nothing,
)
from mcp_middleware._schema_nulls import _is_null, collapse_optional, keeps_null

__all__ = ["SchemaSet", "Unportable"]

_DROPPED = frozenset({"discriminator", "xml", "externalDocs", "nullable"})  # nullable: see _nullable
# OpenAPI 3.0's boolean exclusive bounds, by the bound each one makes exclusive
_EXCLUSIVE = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}
_NULL: dict[str, Any] = {"type": "null"}
# the formats every JSON value pydantic writes for them satisfies, as the clients check them (the
# TypeScript SDK's ajv-formats, full mode; jsonschema's FormatChecker): the only ones output schemas keep
_SURE_FORMATS = frozenset({"date", "uuid", "ipv4", "password", "binary"})
_OUTPUT_CHECKED = frozenset({"format", "multipleOf", "maxLength"})  # the keywords _sure judges
# the formats of pydantic's URL types, which percent-encode what they take: what they write may be
# longer than the maxLength they check on what they are given (HttpUrl's 2,083)
_GROWING_FORMATS = frozenset({"uri", "multi-host-uri"})
# what may refuse the properties no patternProperties key matches
_REFUSING = ("additionalProperties", "unevaluatedProperties")
_DEPTH = 16  # how deep the verdicts (may_be_array, takes_structure, ...) follow nested subschemas
# the Python values of a JSON object and array, which an ``enum`` or ``const`` may list (_may_be)
_STRUCTURES: dict[str, type | tuple[type, ...]] = {"object": Mapping, "array": (list, tuple)}
_Judge = Callable[[Mapping[str, Any]], bool]  # a question of one resolved subschema (SchemaSet._judged)


class _Seen:
    """A verdict's answers (SchemaSet._judged), each with how many levels below its subschema its
    judging went: by subschema (its id), question and ``-1`` (any depth it would not be cut off
    at), or, cut off at :data:`_DEPTH`, the depth it was judged at; and the deepest level the
    judging now running has reached (past ``_DEPTH``: cut off)."""

    __slots__ = ("answers", "reached")

    def __init__(self) -> None:
        self.answers: dict[tuple[int, str, int], tuple[bool, int]] = {}
        self.reached = 0


# how much a subschema lost (_lost_since): nothing; only what output schemas leave out by design,
# unsaid (a pattern, an unsure format or multipleOf, a key narrowed); something else
_KEPT, _QUIET, _LOUD = 0, 1, 2
_WHY = {
    "not": "left out: a keyword below it was, so it would refuse more",
    "oneOf": "now anyOf: a keyword below it was left out, so a value may match two branches",
    "if": "now anyOf [if and then, else]: a keyword below it was left out, so a value may take then instead of else",
    "maxContains": "left out: a keyword below contains was, so it would count more items",
}


@dataclass(slots=True)
class Unportable:
    """A pattern left out of a converted schema for want of a portable form: ``keyword``
    (``pattern``, ``patternProperties key``), in an ``input`` or ``output`` schema, at ``where``
    (the property names from the component or the tool's arguments down) of ``component``."""

    pattern: str
    keyword: str
    mode: str
    where: list[str] = field(default_factory=list)
    component: str | None = None
    why: str | None = None  # a keyword left out or rewritten for what was lost below it (_WHY)
    quiet: bool = False  # rewritten only for what an output schema leaves out unsaid: said at DEBUG

    def said(self) -> str:
        """As a warning names it: ``input schema 'Item' property 'tags' patternProperties key '^\\w'``;
        a keyword left out with a key (no ``pattern``): ``... additionalProperties (it would ...)``."""
        place = f" schema {self.component!r}" if self.component is not None else ""
        place += f" property {'.'.join(self.where)!r}" if self.where else ""
        if self.why is not None:
            return f"{self.mode}{place} {self.keyword} ({self.why})"
        if not self.pattern:
            return f"{self.mode}{place} {self.keyword} (it would refuse what a dropped key matches)"
        return f"{self.mode}{place} {self.keyword} {self.pattern!r}"


def _by_branches(schema: Mapping[str, Any], test: Callable[[Any], bool]) -> bool:
    """``test`` over ``schema``'s branches: whether it holds of any of its ``anyOf`` (else
    ``oneOf``), else of each of its ``allOf``; ``True`` (unsure) with no branches (the verdicts of
    :meth:`SchemaSet._may_be` and :meth:`SchemaSet._holds_structure`)."""
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return any(map(test, branches))
    branches = schema.get("allOf")
    if isinstance(branches, list) and branches:
        return all(map(test, branches))
    return True


def _tags(schema: Mapping[str, Any], branches: list[Mapping[str, Any]]) -> list[str]:
    """The properties that may tell a ``oneOf``'s ``branches`` apart (:meth:`SchemaSet._exclusive`):
    those every branch requires, and the one ``schema``'s ``discriminator`` names, which OpenAPI
    has every value carry unless a ``defaultMapping`` (3.2) says which branch takes one without it."""
    lists = [names for branch in branches if isinstance(names := branch.get("required"), list)]
    tags: list[str] = []
    if len(lists) == len(branches):
        tags = [name for name in lists[0] if isinstance(name, str) and all(name in names for names in lists[1:])]
    found = schema.get("discriminator")
    if isinstance(found, Mapping) and "defaultMapping" not in found and isinstance(found.get("propertyName"), str):
        tags.append(found["propertyName"])
    return tags


def ecma_pattern(pattern: str) -> str | None:
    """:func:`mcp_middleware._ecma_regex.ecma_pattern`, imported on first use: only a route with a
    ``pattern`` (or ``patternProperties``) needs the translator (ARCHITECTURE.md, "Modules imported
    on first use")."""
    from mcp_middleware._ecma_regex import ecma_pattern as portable

    return portable(pattern)


def _portable_key(pattern: Any) -> bool:
    """Whether a ``patternProperties`` key can stay: when it has a portable form (``ecma_pattern``:
    read alike by ECMA-262 with and without ``u`` and by Python's ``re``, which clients compile
    output schemas with), in input and output schemas alike. That form is never wider than the
    engine's reading, so a key it misses (a non-ASCII digit for ``\\d``) is only left unchecked."""
    return isinstance(pattern, str) and ecma_pattern(pattern) is not None


def _sure(key: str, value: Any, schema: Mapping[str, Any]) -> Any:
    """What an output schema keeps of ``format``, ``multipleOf`` or ``maxLength``: None for a check a client may
    fail on JSON pydantic wrote. A ``format`` not in :data:`_SURE_FORMATS` (an ``EmailStr`` takes
    ``josé@example.com``, a ``HttpUrl`` writes ``|``, an ``IPv6Address`` may be scoped,
    ``fe80::1%eth0``; one no client knows, ``path``, makes ajv log "unknown format ignored");
    a ``multipleOf`` but a whole number's on an ``integer`` (pydantic's float check has a
    tolerance, the clients' has none: 19.99 is no multiple of 0.01 to them), which is written as
    an integer (FastAPI writes ``6.0``, which ``jsonschema`` divides by in floating point). A
    ``maxLength`` beside a URL type's format (:data:`_GROWING_FORMATS`): pydantic checks it on the
    URL it is given and writes it percent-encoded, ``a b`` as ``a%20b``, which may be longer."""
    if key == "format":
        return value if isinstance(value, str) and value in _SURE_FORMATS else None
    if key == "maxLength":
        return None if schema.get("format") in _GROWING_FORMATS else value
    kind = schema.get("type")
    if not (kind == "integer" or (isinstance(kind, list) and "integer" in kind and "number" not in kind)):
        return None
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _exclusive_bounds(out: dict[str, Any]) -> None:
    """OpenAPI 3.0's ``exclusiveMaximum: true`` beside ``maximum: M`` as JSON Schema's
    ``exclusiveMaximum: M`` (likewise the minimum); ``false``, or ``true`` without a numeric bound,
    dropped. A boolean there is no valid JSON Schema: ajv (the TypeScript SDK) throws on it."""
    for key, bound in _EXCLUSIVE.items():
        flag = out.get(key)
        if not isinstance(flag, bool):
            continue
        del out[key]
        limit = out.get(bound)
        if flag and isinstance(limit, (int, float)) and not isinstance(limit, bool):
            out[key] = out.pop(bound)


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    """A converted schema that said OpenAPI 3.0's ``nullable: true``, taking ``null`` too: in
    pydantic's ``Optional[X]`` shape, ``anyOf: [X, {"type": "null"}]`` with the annotations outside,
    so an input schema collapses it where pydantic's would be (:func:`collapse_optional`). The null
    branch sits beside an ``enum`` or a ``$ref`` too (an enum of a nullable schema rarely lists
    ``null``). A schema that says nothing but annotations takes ``null`` already."""
    outer = {key: value for key, value in out.items() if key in _ANNOTATIONS}
    inner = {key: value for key, value in out.items() if key not in _ANNOTATIONS}
    if not inner:
        return out
    return {"anyOf": [inner, dict(_NULL)], **outer}


class SchemaSet:
    """The converted ``components.schemas`` of one OpenAPI document, shared by all its tools."""

    __slots__ = (
        "_cache",
        "_components",
        "_dry",
        "_dry_components",
        "_evaluations",
        "_loops",
        "_losses",
        "_met",
        "_quiet",
        "_unportable",
        "_within",
    )

    def __init__(self, components: Any) -> None:
        self._components: Mapping[str, Any] = components if isinstance(components, Mapping) else {}
        self._evaluations = Evaluations(self._components, _portable_key)
        self._within: list[Mapping[str, Any]] = []  # the raw schemas convert is in, outermost first
        self._cache: dict[tuple[str, bool], tuple[Any, frozenset[str]]] = {}
        self._loops: dict[tuple[str, bool], bool] = {}
        # the patterns left out since the last take_unportable (a component's once: it is cached)
        self._unportable: list[Unportable] = []
        # what conversion loosened (a keyword left out, a key narrowed: _loose), and the references
        # it met with the raw schemas enclosing each, since the outermost convert began
        self._losses = 0
        self._quiet = 0  # of those, what output schemas leave out by design, unsaid (_QUIET)
        self._met: list[tuple[str, tuple[Any, ...]]] = []
        self._dry = False  # converting only to learn whether a schema loses anything (_dry_loses)
        self._dry_components: dict[tuple[str, bool], tuple[int, list[tuple[str, tuple[Any, ...]]]]] = {}

    def take_unportable(self) -> list[Unportable]:
        """The patterns left out of what was converted since the last call (the catalog warns,
        naming the route it built): a component's with the first tool that converts it."""
        taken, self._unportable = self._unportable, []
        return taken

    def component_name(self, schema: Any) -> str | None:
        """The component a ``{"$ref": "#/components/schemas/X"}`` names, if it exists."""
        if not isinstance(schema, Mapping):
            return None
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith(_COMPONENT_PREFIX):
            return None
        name = pointer_name(ref, _COMPONENT_PREFIX)
        return name if name in self._components else None

    def resolve(self, schema: Any) -> Any:
        """Follow ``$ref``s at the root of ``schema`` to the raw component (cycle-safe)."""
        seen: set[str] = set()
        while (name := self.component_name(schema)) is not None and name not in seen:
            seen.add(name)
            schema = self._components[name]
        return schema

    def may_be_array(self, schema: Any) -> bool:
        """Whether ``schema`` (a raw one, ``$ref``s resolved here) may be an array: ``False`` only
        when it says it is something else (its ``type``, ``enum`` or ``const``, or every branch of
        an ``anyOf``/``oneOf``)."""
        return self._may_be(schema, "array", _Seen(), 0)

    def takes_structure(self, schema: Any, json_text: _Judge) -> bool:
        """Whether a form field of ``schema`` (a raw one, ``$ref``s resolved here) may take an
        object, or an array as an item of its array, which is then sent as its JSON text (OpenAPI's
        multipart default for an object property): it may be an object (:meth:`_may_be`), its
        arrays may hold one or an array (:meth:`_holds_structure`), or it, or a branch of it, is a
        string of JSON text (``json_text``: pydantic's ``Json[...]``). ``False`` only when the
        schema says otherwise (a string, number or boolean field, an array of them, an ``enum`` or
        ``const`` that lists no object or array): unsure, it takes. Each subschema is judged once
        per verdict (``seen``), so a recursive one (a self-referential ``allOf``, mutual ``$ref``s)
        is judged in time linear in its size."""
        seen = _Seen()
        return (
            self._may_be(schema, "object", seen, 0)
            or self._holds_structure(schema, json_text, seen, 0)
            or self._somewhere(schema, json_text, seen, 0)
        )

    def whole_numbers(self, schema: Any) -> bool:
        """Whether the numbers ``schema`` (a raw one, ``$ref``s resolved here) takes are integers
        only, as its own values or its arrays' items (an optional's too): it may be an integer and
        no other number. JSON Schema's ``integer`` takes 5.0, which such an argument writes ``5``."""
        for _ in range(_DEPTH):
            schema = self.resolve(schema)
            if not isinstance(schema, Mapping):
                return False
            branches = schema.get("anyOf", schema.get("oneOf"))
            if isinstance(branches, list):
                kept = [branch for branch in branches if not _is_null(self.resolve(branch))]
                if len(kept) != 1:
                    break
                schema = kept[0]
            elif schema.get("type") == "array":
                schema = schema.get("items")
            else:
                break
        seen = _Seen()
        return self._may_be(schema, "integer", seen, 0) and not self._may_be(schema, "number", seen, 0)

    def allows_null(self, schema: Any) -> bool:
        """Whether ``schema`` (a raw one, ``$ref``s resolved here) takes ``null``: its ``type`` (or
        OpenAPI 3.0's ``nullable``), ``enum``, ``const`` or a branch of its ``anyOf``/``oneOf`` says
        so, or it says nothing of its type (pydantic's ``Optional[X] = None`` is ``anyOf [X, null]``)."""
        return self._may_be(schema, "null", _Seen(), 0)

    def _judged(self, schema: Any, question: str, seen: _Seen, judge: _Judge, depth: int, looped: bool = True) -> bool:
        """``judge(schema)`` for ``question``, each resolved subschema judged once per verdict
        (``seen``, by identity: the verdict's schemas live as long as it does), so judging ends
        having visited each once. One met again within its own judging (a recursive ``$ref``, an
        ``allOf`` of itself) answers ``looped`` there: ``True`` for whether it may be something (it
        says nothing more there), ``False`` for a search (a loop finds nothing new). Nested deeper
        than :data:`_DEPTH` (the stack a deep schema would take), it answers ``True``, unsure; a
        boolean schema (or none) ``False`` for a search, else ``True`` but for ``false``.
        An answer stands where judging again would go no deeper than :data:`_DEPTH`; one cut off
        there stands at its own depth only, so a verdict does not depend on which branch met a
        subschema first (a shallower visit judges it to the bottom), but for one rare case: an
        answer that met a loop's stand-in (``looped``, worth no depth) in a mutual recursion is
        remembered as shallower than a fresh judging would go, so near :data:`_DEPTH` the two
        branch orders can differ (a review found 1 in 4,500 random schemas)."""
        schema = self.resolve(schema)
        if not isinstance(schema, Mapping):
            return looped and schema is not False
        if depth > _DEPTH:
            seen.reached = max(seen.reached, depth)
            return True
        whole, here = (id(schema), question, -1), (id(schema), question, depth)
        answer = seen.answers.get(whole)
        if answer is not None and depth + answer[1] <= _DEPTH:
            seen.reached = max(seen.reached, depth + answer[1])
            return answer[0]
        if (answer := seen.answers.get(here)) is not None:
            seen.reached = _DEPTH + 1
            return answer[0]
        outer, seen.reached = seen.reached, depth
        if placed := whole not in seen.answers:
            seen.answers[whole] = (looped, 0)  # met again within its own judging
        known = judge(schema)
        if seen.reached <= _DEPTH:
            seen.answers[whole] = (known, seen.reached - depth)
        else:
            if placed:
                del seen.answers[whole]
            seen.answers[here] = (known, 0)
        seen.reached = max(outer, seen.reached)
        return known

    def _may_be(self, schema: Any, kind: str, seen: _Seen, depth: int) -> bool:
        """Whether ``schema`` may be a value of JSON type ``kind``: ``False`` only when it says it is
        something else (for ``null``, its ``nullable``, ``const`` and ``enum`` say too; for an
        ``object`` or ``array``, its ``const`` and ``enum`` must list one)."""
        return self._judged(schema, kind, seen, lambda node: self._node_may_be(node, kind, seen, depth + 1), depth)

    def _node_may_be(self, schema: Mapping[str, Any], kind: str, seen: _Seen, depth: int) -> bool:
        if kind == "null":
            if schema.get("nullable") is True:
                return True
            if "const" in schema:
                return schema["const"] is None
            if isinstance(values := schema.get("enum"), list):
                return None in values
        elif (shape := _STRUCTURES.get(kind)) is not None:
            values = [schema["const"]] if "const" in schema else schema.get("enum")
            if isinstance(values, list) and not any(isinstance(value, shape) for value in values):
                return False
        types = schema.get("type")
        if isinstance(types, str):
            return types == kind
        if isinstance(types, list):
            return kind in types
        return _by_branches(schema, lambda branch: self._may_be(branch, kind, seen, depth))

    def _holds_structure(self, schema: Any, json_text: _Judge, seen: _Seen, depth: int) -> bool:
        """Whether an array ``schema`` may hold an object or an array: it may be an array, its
        ``items`` or a ``prefixItems`` member may be one or is JSON text (``json_text``, somewhere:
        ``list[Json[...]]``; an array that says neither holds anything), and a branch of its
        ``anyOf``/``oneOf`` (if any) and each of its ``allOf`` may hold one."""

        def judge(node: Mapping[str, Any]) -> bool:
            return self._node_holds(node, json_text, seen, depth + 1)

        return self._judged(schema, "holds", seen, judge, depth)

    def _node_holds(self, schema: Mapping[str, Any], json_text: _Judge, seen: _Seen, depth: int) -> bool:
        if not self._may_be(schema, "array", seen, depth):
            return False
        items = [schema["items"]] if "items" in schema else []
        if isinstance(prefix := schema.get("prefixItems"), list):
            items += prefix
        if items and not any(self._item_holds(item, json_text, seen, depth) for item in items):
            return False
        return _by_branches(schema, lambda branch: self._holds_structure(branch, json_text, seen, depth))

    def _item_holds(self, item: Any, json_text: _Judge, seen: _Seen, depth: int) -> bool:
        """Whether an array's ``item`` schema may be an object or an array, or is JSON text."""
        kinds = any(self._may_be(item, kind, seen, depth) for kind in _STRUCTURES)
        return kinds or self._somewhere(item, json_text, seen, depth)

    def _somewhere(self, schema: Any, found: _Judge, seen: _Seen, depth: int) -> bool:
        """Whether ``found`` holds of ``schema`` or of a branch of its ``anyOf``/``oneOf``/``allOf``."""

        def judge(node: Mapping[str, Any]) -> bool:
            if found(node):
                return True
            lists = [each for key in ("anyOf", "oneOf", "allOf") if isinstance(each := node.get(key), list)]
            return any(self._somewhere(branch, found, seen, depth + 1) for each in lists for branch in each)

        return self._judged(schema, "found", seen, judge, depth, looped=False)

    def convert(self, schema: Any, refs: set[str], *, collapse: bool) -> Any:
        """A converted copy of ``schema``; the components it refers to are added to ``refs``."""
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, Mapping):
            self._losses += 1  # a member that is no schema: {}, which takes anything
            return {}
        self._within.append(schema)
        try:
            return self._converted(schema, refs, collapse)
        finally:
            self._within.pop()
            if not self._within:
                self._losses, self._quiet, self._met = 0, 0, []

    def _converted(self, schema: Mapping[str, Any], refs: set[str], collapse: bool) -> Any:
        out: dict[str, Any] = {}
        lost = False
        loosened: dict[str, bool] = {}  # the exclusive places whose subschemas lost: whether loudly
        for key, value in schema.items():
            mark = (self._losses, len(self._met), self._quiet)
            if key in _DROPPED:
                continue
            if key in _OUTPUT_CHECKED and not collapse:
                if (sure := _sure(key, value, schema)) is not None:
                    out[key] = sure
                else:
                    self._losses += 1  # a check left out: looser (tighter below a not)
                    self._quiet += 1  # by design, unsaid
            elif key == "pattern" and isinstance(value, str):
                ecma = ecma_pattern(value) if collapse else None  # (output schemas have none)
                if ecma is not None:
                    out[key] = ecma
                    continue
                self._losses += 1
                if collapse:
                    self._unportable.append(Unportable(value, key, "input"))
                else:
                    self._quiet += 1  # by design, unsaid
            elif key == "patternProperties" and isinstance(value, Mapping):
                lost = self._pattern_properties(value, refs, collapse, out)
            elif key == "$ref":
                self._convert_ref(schema, value, refs, out)
            elif key == "properties" and isinstance(value, Mapping):
                out[key] = self._convert_properties(value, schema.get("required"), refs, collapse)
            elif key in _ONE_SCHEMA and isinstance(value, (Mapping, bool)):
                out[key] = self.convert(value, refs, collapse=collapse)
            elif key in _SCHEMA_LIST and isinstance(value, list):
                out[key] = [self.convert(v, refs, collapse=collapse) for v in value]
            elif key in _SCHEMA_MAP and isinstance(value, Mapping):
                out[key] = {k: self.convert(v, refs, collapse=collapse) for k, v in value.items()}
            else:
                out[key] = copy.deepcopy(value)
            if key in _EXCLUSIVE_PLACES and key in out and (loss := self._lost_since(mark, collapse)):
                loosened[key] = loss == _LOUD
        if loosened:
            self._exclusive_places(out, loosened, "input" if collapse else "output")
        if isinstance(out.get("oneOf"), list) and not (collapse and self._exclusive(schema)):
            loosen_exclusive(out, ["oneOf"])  # an anyOf: it takes a value two branches take
            self._losses += 1  # which is more: a not, if or contains above is loosened in turn
            self._quiet += 1  # by design, unsaid
        if lost or "unevaluatedProperties" in out:
            self._refusing_dropped(schema, out, lost, collapse)
        kind = out.get("type")
        if (kind == "array" or (isinstance(kind, list) and "array" in kind)) and "items" not in out:
            out["items"] = {}
        _exclusive_bounds(out)
        return _nullable(out) if schema.get("nullable") is True else out

    def _exclusive(self, schema: Mapping[str, Any]) -> bool:
        """Whether no value can match two branches of ``schema``'s ``oneOf`` (a raw one): it has one
        branch, or each is an object schema (a component's too) with a tag property whose ``const``
        or ``enum`` values no other branch's share, a tag each branch requires or the one its
        ``discriminator`` names (OpenAPI has every value carry it, but with a ``defaultMapping``),
        as pydantic's union with a string discriminator has. Unsure (a callable discriminator's
        union, which may take ``{"x": 1}`` under two branches): False, so an input schema's
        ``oneOf`` never refuses what the route takes."""
        branches = [self._followed(branch)[-1] for branch in schema["oneOf"]]
        if len(branches) < 2:
            return True
        objects = [
            branch
            for branch in branches
            if branch is not None and branch.get("type") in ("object", ["object"])
            if isinstance(branch.get("properties"), Mapping)
        ]
        if len(objects) < len(branches):
            return False
        return any(self._tells_apart(objects, tag) for tag in _tags(schema, objects))

    def _tells_apart(self, branches: list[Mapping[str, Any]], tag: str) -> bool:
        """Whether the ``tag`` property's values (:meth:`_tag_values`) of no two ``branches`` meet
        (as Python compares them: ``1 == 1.0`` as in JSON Schema, ``1 == True`` unlike it, unsure)."""
        taken: list[Any] = []
        for branch in branches:
            values = self._tag_values(branch["properties"].get(tag))
            if values is None or any(value == other for value in values for other in taken):
                return False
            taken += values
        return True

    def _tag_values(self, schema: Any) -> list[Any] | None:
        """The values a tag property's raw ``schema`` allows at most: its ``const``, or its
        ``enum``, through ``$ref``s to components (:meth:`_followed`); None where it may take any
        value or ``null``."""
        for level in self._followed(schema):
            if level is None:
                return None
            if "const" in level:
                return [level["const"]]
            if isinstance(values := level.get("enum"), list):
                return values
        return None

    def _followed(self, schema: Any) -> list[Mapping[str, Any] | None]:
        """``schema`` and the components its ``$ref``s lead to, in turn, ending in None where one is
        no schema object, says OpenAPI 3.0's ``nullable: true`` (which conversion makes a ``null``
        branch: it takes ``null`` too) or leads back to one before it."""
        chain: list[Mapping[str, Any] | None] = []
        named: set[str] = set()
        while isinstance(schema, Mapping) and schema.get("nullable") is not True:
            chain.append(schema)
            name = self.component_name(schema)
            if name is None:
                return chain
            if name in named:
                break
            named.add(name)
            schema = self._components[name]
        return [*chain, None]

    def _lost_since(self, mark: tuple[int, int, int], collapse: bool) -> int:
        """What was converted since ``mark`` (the losses, references and quiet losses counted then)
        lost: a keyword left out, or a reference to a schema that does (:meth:`_reaches_loss`; not
        asked in a dry conversion, which only counts). :data:`_LOUD` for something the warning
        names or that is not by design; :data:`_QUIET` for only what output schemas leave out
        unsaid; :data:`_KEPT` for nothing."""
        quiet = self._quiet - mark[2]
        if self._losses - mark[0] > quiet:
            return _LOUD
        found = _QUIET if quiet else _KEPT
        if self._dry:
            return found
        return max(found, self._reaches_loss(self._met[mark[1] :], collapse))

    def _reaches_loss(self, met: list[tuple[str, tuple[Any, ...]]], collapse: bool) -> int:
        """What the references ``met`` (each with the raw schemas enclosing it, which a local
        pointer is read from, as :mod:`mcp_middleware._schema_evaluated` reads them) reach that
        conversion loosens, the most of it (:meth:`_lost_since`): each schema reached converted
        dry, once; the search goes on past a quiet loss, for a loud one."""
        seen: set[Any] = set()
        found = _KEPT
        todo = list(met)
        while todo:
            ref, roots = todo.pop()
            for name, target, reads in followed(ref, roots, self._components):
                key = id(target) if name is None else name
                if key in seen:
                    continue
                seen.add(key)
                loses, further = self._dry_reached(name, target, reads, collapse)
                todo += further
                if loses == _LOUD:
                    return _LOUD
                found = max(found, loses)
        return found

    def _dry_reached(
        self, name: str | None, target: Any, roots: Sequence[Any], collapse: bool
    ) -> tuple[int, list[tuple[str, tuple[Any, ...]]]]:
        """:meth:`_dry_loses` of what a reference reaches (:func:`followed`): a component's once
        per mode (``name``: its name), a local pointer's target each time."""
        if name is None:
            return self._dry_loses(target, roots, collapse)
        key = (name, collapse)
        if key not in self._dry_components:
            self._dry_components[key] = self._dry_loses(target, roots, collapse)
        return self._dry_components[key]

    def _dry_loses(
        self, schema: Any, roots: Sequence[Any], collapse: bool
    ) -> tuple[int, list[tuple[str, tuple[Any, ...]]]]:
        """What converting ``schema`` (inside ``roots``) loses itself (:meth:`_lost_since`), and
        the references it meets (not followed here: :meth:`_reaches_loss` does, without
        recursion). Nothing converted is kept, nothing said."""
        saved = (self._losses, self._quiet, self._met, self._within, self._unportable, self._dry)
        self._losses, self._quiet, self._met, self._within = 0, 0, [], list(roots)
        self._unportable, self._dry = [], True
        try:
            self.convert(schema, set(), collapse=collapse)
            return self._lost_since((0, 0, 0), collapse), self._met
        finally:
            self._losses, self._quiet, self._met, self._within, self._unportable, self._dry = saved

    def _exclusive_places(self, out: dict[str, Any], loosened: dict[str, bool], mode: str) -> None:
        """Where a subschema lost a keyword (``loosened``: the keywords whose subschemas did, each
        with whether loudly) and the whole would refuse more for it, that keyword goes or is
        loosened in turn (:func:`~mcp_middleware._schema_keywords.loosen_exclusive`), and is
        named: quietly (at DEBUG) when all that was lost below it is what an output schema leaves
        out by design, unsaid."""
        for said in loosen_exclusive(out, list(loosened)):
            loud = loosened["contains" if said == "maxContains" else said]
            self._unportable.append(Unportable("", said, mode, why=_WHY[said], quiet=not loud))

    def _pattern_properties(self, keys: Mapping[Any, Any], refs: set[str], collapse: bool, out: dict[str, Any]) -> bool:
        """``patternProperties`` into ``out``: its portable keys translated, with their schemas (keys
        that translate alike, ``^\\d$`` and ``^[0-9]$``, under the one key, their schemas in an
        ``allOf``: a form is never wider than its key, so a name it matches, each key matched); a
        key with no portable form (:func:`_portable_key`) left out, and named. Whether one was
        (:meth:`_refusing_dropped`)."""
        kept: dict[str, list[Any]] = {}
        lost: list[str] = []
        for key, value in keys.items():
            ecma = ecma_pattern(key) if isinstance(key, str) else None  # (_portable_key)
            if ecma is None:
                lost.append(str(key))
            else:
                kept.setdefault(ecma, []).append(self.convert(value, refs, collapse=collapse))
        # left out, or narrower (\\d as [0-9]: fewer names checked; unsaid, so in output schemas quiet)
        narrowed = sum(1 for key in keys if isinstance(key, str) and "\\d" in key)
        self._losses += len(lost) + narrowed
        self._quiet += 0 if collapse else narrowed
        if kept:
            out["patternProperties"] = {
                key: found[0] if len(found) == 1 else {"allOf": found} for key, found in kept.items()
            }
        mode = "input" if collapse else "output"
        self._unportable += [Unportable(key, "patternProperties key", mode) for key in lost]
        return bool(lost)

    def _refusing_dropped(self, schema: Mapping[str, Any], out: dict[str, Any], lost: bool, collapse: bool) -> None:
        """Where a ``patternProperties`` key was left out (``lost``: beside them), the properties it
        matched are evaluated by nothing, so an ``additionalProperties`` beside it, or an
        ``unevaluatedProperties`` beside it or above it (through in-place applicators:
        :mod:`mcp_middleware._schema_evaluated`), would refuse them, a schema stricter than the
        app's: one that may refuse anything (not ``true``, not ``{}``) is left out too, and named."""
        for key in _REFUSING:
            if key not in out or refuses_nothing(out[key]):
                continue
            if lost or (key == "unevaluatedProperties" and self._evaluations.lost_within(schema, self._within)):
                del out[key]
                self._losses += 1
                self._unportable.append(Unportable("", key, "input" if collapse else "output"))

    def convert_property(
        self,
        schema: Any,
        refs: set[str],
        *,
        collapse: bool,
        required: bool,
        null_sendable: bool = True,
        name: str | None = None,
    ) -> Any:
        """``null_sendable=False``: the value cannot be ``null`` (a query parameter, a form field), so
        the property is plain ``X`` whatever its default, required or not. ``name``: the property's,
        which the patterns left out of it are said at (:meth:`take_unportable`)."""
        start = len(self._unportable)
        converted = self.convert(schema, refs, collapse=collapse)
        if name is not None:
            for left_out in self._unportable[start:]:
                left_out.where.insert(0, name)
        if not collapse or (null_sendable and (required or keeps_null(converted))):
            return converted
        return collapse_optional(converted)

    def standalone(self, schema: dict[str, Any], refs: Iterable[str], *, collapse: bool) -> dict[str, Any]:
        """A converted ``schema`` (referring to ``refs``) with its components inlined: ``$defs``
        only for those that must stay definitions (:func:`~mcp_middleware._schema_inline.standalone`)."""
        found = self._reachable(refs, collapse)
        definitions = {name: found[name][0] for name in found}
        return standalone(schema, definitions, lambda name: self._recursive(name, collapse))

    def _reachable(self, refs: Iterable[str], collapse: bool) -> dict[str, tuple[Any, frozenset[str]]]:
        """Every component reachable from ``refs``, converted, with those it refers to directly."""
        todo = list(refs)
        found: dict[str, tuple[Any, frozenset[str]]] = {}
        while todo:
            name = todo.pop()
            if name not in found:
                found[name] = self._component(name, collapse)
                todo.extend(found[name][1])
        return found

    def _recursive(self, name: str, collapse: bool) -> bool:
        """Whether a component reaches itself through its references (computed once)."""
        key = (name, collapse)
        if key not in self._loops:
            self._loops[key] = name in self._reachable(self._component(name, collapse)[1], collapse)
        return self._loops[key]

    def _component(self, name: str, collapse: bool) -> tuple[Any, frozenset[str]]:
        key = (name, collapse)
        cached = self._cache.get(key)
        if cached is None:
            refs: set[str] = set()
            start = len(self._unportable)
            converted = self.convert(self._components[name], refs, collapse=collapse)
            for left_out in self._unportable[start:]:
                left_out.component = name
            cached = self._cache[key] = (converted, frozenset(refs))
        return cached

    def _convert_ref(self, schema: Mapping[str, Any], ref: Any, refs: set[str], out: dict[str, Any]) -> None:
        name = self.component_name(schema)
        if name is not None:
            refs.add(name)
            out["$ref"] = _DEFS_PREFIX + str(ref)[len(_COMPONENT_PREFIX) :]
            self._met.append((str(ref), ()))
        elif isinstance(ref, str) and not ref.startswith("#/components/"):
            out["$ref"] = ref  # a local or external reference we cannot inline: keep it
            self._met.append((ref, tuple(self._within)))
        else:  # a dangling #/components reference is dropped: the schema then accepts anything
            self._losses += 1

    def _convert_properties(
        self, properties: Mapping[str, Any], required: Any, refs: set[str], collapse: bool
    ) -> dict[str, Any]:
        needed = set(required) if isinstance(required, list) else set()
        return {
            name: self.convert_property(prop, refs, collapse=collapse, required=name in needed, name=str(name))
            for name, prop in properties.items()
        }
