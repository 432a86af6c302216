"""What a ``patternProperties`` key with no portable form takes with it, and what it must not.

The rule (:mod:`mcp_middleware._schema`): the published schema is never stricter than what the
app accepts. A key left out stops evaluating the properties it matched, so an ``additionalProperties``
beside it, or an ``unevaluatedProperties`` that sees its evaluations (beside it, or up through the
in-place applicators), would refuse them: those that may refuse go too, and are named. These arise
from hand-written schemas only (``openapi_extra``, ``json_schema_extra``).
"""

from __future__ import annotations

import logging
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import pytest

from mcp_middleware.catalog import build_catalog
from tests.unit.test_unportable_patterns import CATALOG, WHY

INNER = {"type": "object", "patternProperties": {"^x_": {"type": "integer"}, "^\\w+$": {"type": "string"}}}
PORTABLE_ONLY = {"^x_": {"type": "integer"}}
WORD_KEY = "input property 'labels' patternProperties key '^\\\\w+$'"
ONE_OF = "input property 'labels' oneOf (now anyOf: a keyword below it was left out, so a value may match two branches)"
UNEVALUATED = "input property 'labels' unevaluatedProperties (it would refuse what a dropped key matches)"
# a property only the dropped key (^\w+$, Unicode in Python's re and Rust's regex) matched
ONLY_THE_DROPPED_KEY = {"héllo": "x"}


def _doc(body: Any, components: dict[str, Any] | None = None) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"labels": body}}
    media = {"content": {"application/json": {"schema": schema}}}
    operation = {"operationId": "a", "requestBody": media, "responses": {"200": {"description": "ok"}}}
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"post": operation}}}
    return {**doc, "components": {"schemas": components}} if components else doc


def _labels(body: Any, caplog: pytest.LogCaptureFixture, components: dict[str, Any] | None = None) -> Any:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        tool = build_catalog(_doc(body, components)).tools[0].tool
    return tool["inputSchema"]["properties"]["labels"]


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CATALOG]


def _accepts(schema: Any, instance: Any) -> bool:
    return bool(jsonschema.Draft202012Validator(schema).is_valid(instance))


ENCLOSING = [
    pytest.param({"allOf": [INNER]}, id="allOf"),
    pytest.param({"anyOf": [INNER]}, id="anyOf"),
    pytest.param({"oneOf": [INNER]}, id="oneOf"),
    pytest.param({"if": INNER}, id="if"),
    pytest.param({"if": {"type": "object"}, "then": INNER}, id="then"),
    pytest.param({"if": False, "else": INNER}, id="else"),
    pytest.param({"dependentSchemas": {"héllo": INNER}}, id="dependentSchemas"),
    pytest.param({"$defs": {"P": INNER}, "$ref": "#/$defs/P"}, id="$ref $defs"),
    pytest.param({"definitions": {"P": INNER}, "allOf": [{"$ref": "#/definitions/P"}]}, id="$ref definitions"),
    pytest.param({"allOf": [{"anyOf": [{"oneOf": [INNER]}]}]}, id="three levels"),
    pytest.param({"allOf": [{"allOf": [INNER], "unevaluatedProperties": False}]}, id="between"),
]


@pytest.mark.parametrize("enclosing", ENCLOSING)
def test_an_enclosing_unevaluatedproperties_that_sees_a_dropped_key_goes_too(
    caplog: pytest.LogCaptureFixture, enclosing: dict[str, Any]
) -> None:
    """Review: an ``unevaluatedProperties: false`` beside an in-place applicator (``allOf``,
    ``anyOf``, ``oneOf``, ``if``/``then``/``else``, ``dependentSchemas``, a ``$ref`` into
    ``$defs`` or ``definitions``) whose subschema lost a key stayed, and refused what that key used
    to evaluate, which the app takes. It goes too, and is named; so does one between them."""
    original = {"type": "object", **enclosing, "unevaluatedProperties": False}
    assert _accepts(original, ONLY_THE_DROPPED_KEY)
    labels = _labels(original, caplog)
    assert "unevaluatedProperties" not in labels
    assert "unevaluatedProperties" not in str(labels)  # the one between them too
    assert _accepts(labels, ONLY_THE_DROPPED_KEY)
    # named once, as said alike; a oneOf whose branch lost a key is an anyOf (test_schema_exclusive.py)
    one_of = [ONE_OF] if "oneOf" in str(enclosing) else []
    assert _said(caplog) == [f"Route POST /a: {WHY}{', '.join([WORD_KEY, *one_of, UNEVALUATED])}"]


def test_an_enclosing_unevaluatedproperties_sees_a_dropped_key_through_a_component(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The subschema reached through ``#/components/schemas/P`` (converted apart, then inlined)."""
    original = {"type": "object", "allOf": [{"$ref": "#/components/schemas/P"}], "unevaluatedProperties": False}
    labels = _labels(original, caplog, {"P": INNER})
    assert labels == {"type": "object", "allOf": [{"type": "object", "patternProperties": PORTABLE_ONLY}]}
    assert _accepts(labels, ONLY_THE_DROPPED_KEY)
    assert _said(caplog) == [f"Route POST /a: {WHY}{UNEVALUATED}, input schema 'P' patternProperties key '^\\\\w+$'"]


@pytest.mark.parametrize(
    "enclosing",
    [
        pytest.param({"properties": {"inner": INNER}}, id="properties"),
        pytest.param({"additionalProperties": INNER}, id="additionalProperties"),
        pytest.param({"items": INNER}, id="items"),
        pytest.param({"not": {**INNER, "required": ["x_1"]}}, id="not"),
        pytest.param({"allOf": [{**INNER, "additionalProperties": True}]}, id="additionalProperties true beside it"),
        pytest.param({"allOf": [{**INNER, "unevaluatedProperties": {}}]}, id="unevaluatedProperties {} beside it"),
        pytest.param({"allOf": [{"$ref": "other.json#/P"}, {"patternProperties": PORTABLE_ONLY}]}, id="portable"),
    ],
)
def test_an_unevaluatedproperties_that_sees_no_dropped_key_stays(
    caplog: pytest.LogCaptureFixture, enclosing: dict[str, Any]
) -> None:
    """Evaluations under ``properties``, ``additionalProperties``, ``items`` are of other
    instances, and a ``not`` keeps none (its subschema must fail); an ``additionalProperties:
    true`` (or ``unevaluatedProperties: {}``) beside the dropped key still evaluates what it matched."""
    labels = _labels({"type": "object", **enclosing, "unevaluatedProperties": False}, caplog)
    assert labels["unevaluatedProperties"] is False
    assert "unevaluatedProperties (it would" not in " ".join(_said(caplog))


@pytest.mark.parametrize("value", [True, {}])
def test_an_enclosing_unevaluatedproperties_that_refuses_nothing_stays(
    caplog: pytest.LogCaptureFixture, value: Any
) -> None:
    labels = _labels({"type": "object", "allOf": [INNER], "unevaluatedProperties": value}, caplog)
    assert labels["unevaluatedProperties"] == value
    assert _said(caplog) == [f"Route POST /a: {WHY}{WORD_KEY}"]


def test_an_enclosing_additionalproperties_stays(caplog: pytest.LogCaptureFixture) -> None:
    """``additionalProperties`` reads only the ``properties`` and ``patternProperties`` beside it."""
    body = {"type": "object", "properties": {"héllo": {}}, "allOf": [INNER], "additionalProperties": False}
    labels = _labels(body, caplog)
    assert labels["additionalProperties"] is False
    assert _accepts(labels, ONLY_THE_DROPPED_KEY)


def test_an_inner_additionalproperties_dropped_takes_the_enclosing_unevaluatedproperties(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The ``additionalProperties: false`` beside the dropped key evaluated every other property;
    left out, those are unevaluated above it too."""
    inner = {**INNER, "additionalProperties": False}
    original = {"type": "object", "allOf": [inner], "unevaluatedProperties": False}
    labels = _labels(original, caplog)
    assert labels == {"type": "object", "allOf": [{"type": "object", "patternProperties": PORTABLE_ONLY}]}
    assert _accepts(labels, ONLY_THE_DROPPED_KEY)


def test_a_recursive_component_s_own_reference_sees_its_dropped_key(caplog: pytest.LogCaptureFixture) -> None:
    """A ``Node`` whose ``child`` is a ``Node`` with ``unevaluatedProperties: false`` beside the
    reference (a definition kept for its recursion, read while it is converted): it goes too."""
    node = {
        "type": "object",
        "patternProperties": {"^\\w+$": {"type": "string"}},
        "properties": {"child": {"$ref": "#/components/schemas/Node", "unevaluatedProperties": False}},
    }
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        tool = build_catalog(_doc({"$ref": "#/components/schemas/Node"}, {"Node": node})).tools[0].tool
    assert tool["inputSchema"]["$defs"]["Node"] == {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}
    assert _accepts(tool["inputSchema"], {"labels": {"child": ONLY_THE_DROPPED_KEY}})
    assert _said(caplog) == [
        f"Route POST /a: {WHY}input schema 'Node' patternProperties key '^\\\\w+$', input schema 'Node' property "
        "'child' unevaluatedProperties (it would refuse what a dropped key matches)"
    ]


# ^\d$ (Rust's and Python's \d: any decimal digit) and ^[0-9]$ both translate to ^[0-9]$(?!\n)
ONE_FORM = {"^[0-9]$": {"type": "integer", "minimum": 1}, "^\\d$": {"maximum": 3}}


@pytest.mark.parametrize("beside", [{}, {"additionalProperties": False}, {"unevaluatedProperties": False}])
def test_two_keys_with_one_portable_form_keep_both_schemas(
    caplog: pytest.LogCaptureFixture, beside: dict[str, Any]
) -> None:
    """Review: two portable keys that translate to one pattern kept one subschema (the other was
    overwritten: ``minimum`` vanished, a looser schema), and, counted as a key left out, took an
    ``additionalProperties`` beside them with a warning that named no key. Both schemas stay, under
    the one key (``allOf``); nothing else goes, and nothing is said."""
    labels = _labels({"type": "object", "patternProperties": ONE_FORM, **beside}, caplog)
    both = {"allOf": [{"type": "integer", "minimum": 1}, {"maximum": 3}]}
    assert labels == {"type": "object", "patternProperties": {"^[0-9]$(?!\\n)": both}, **beside}
    assert [_accepts(labels, {"7": n}) for n in (0, 2, 4)] == [False, True, False]  # minimum and maximum
    assert _said(caplog) == []


def test_keys_with_one_portable_form_beside_one_left_out(caplog: pytest.LogCaptureFixture) -> None:
    """A key left out still takes the ``additionalProperties`` beside them, named once."""
    keys = {**ONE_FORM, "^\\w+$": {"type": "string"}}
    labels = _labels({"type": "object", "patternProperties": keys, "additionalProperties": False}, caplog)
    both = {"allOf": [{"type": "integer", "minimum": 1}, {"maximum": 3}]}
    assert labels == {"type": "object", "patternProperties": {"^[0-9]$(?!\\n)": both}}
    additional = "input property 'labels' additionalProperties (it would refuse what a dropped key matches)"
    assert _said(caplog) == [f"Route POST /a: {WHY}{WORD_KEY}, {additional}"]


MALFORMED = [["^\\w+$"], 3, None, True]


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        *(("patternProperties", value) for value in ["^\\w+$", *MALFORMED]),
        *(("properties", value) for value in ["^\\w+$", *MALFORMED]),
        *(("pattern", value) for value in [{"^\\w+$": {}}, *MALFORMED]),
    ],
)
def test_a_malformed_patternproperties_is_copied_as_written_like_any_malformed_keyword(
    caplog: pytest.LogCaptureFixture, keyword: str, value: Any
) -> None:
    """Review: a ``patternProperties`` that is no object passes through unchanged. So does every
    keyword whose value has not the shape JSON Schema gives it (``properties`` no object,
    ``pattern`` no string): conversion rewrites what it can read and copies the rest as written,
    never guessing at what a malformed value meant. It is no key left out, so nothing beside it
    goes and nothing is said; the published schema says what the document says."""
    body = {"type": "object", keyword: value, "additionalProperties": False}
    assert _labels(body, caplog) == body
    assert _said(caplog) == []


@pytest.mark.parametrize("member", [3, None, "^a", ["^a"]])
def test_a_member_that_is_no_schema_takes_anything_like_a_property_s(
    caplog: pytest.LogCaptureFixture, member: Any
) -> None:
    """A member of ``patternProperties`` that is no schema is ``{}``, as one of ``properties`` is
    (and as ``convert`` makes any non-schema): it takes anything, never stricter than the app; a
    key with no portable form is left out whatever its member."""
    body = {"type": "object", "properties": {"a": member}, "patternProperties": {"^b": member, "^\\w+$": member}}
    assert _labels(body, caplog) == {"type": "object", "properties": {"a": {}}, "patternProperties": {"^b": {}}}
    assert _said(caplog) == [f"Route POST /a: {WHY}{WORD_KEY}"]
