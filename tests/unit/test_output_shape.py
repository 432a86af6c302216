"""``output_shape``: what of an output schema's top level each call checks, read once per tool."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mcp_middleware._output_shape import ABSENT, NO_SHAPE, OutputShape, json_type, output_shape


def test_the_types_of_simply_typed_top_level_properties_are_read() -> None:
    schema = {
        "type": "object",
        "required": ["id", 3, "name"],
        "properties": {
            "id": {"type": "integer", "title": "Id"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"type": "string", "enum": ["a", "b"]},  # the type is checked, not the values
            "q": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "n": {"type": ["integer", "null"]},
            "c": {"oneOf": [{"type": "array"}, {"type": ["string", "integer"]}]},
            "old": {"type": "integer", "nullable": True},  # OpenAPI 3.0
        },
    }
    shape = output_shape(schema)
    assert shape.required == frozenset({"id", "name"})
    assert dict(shape.types) == {
        "id": ("integer",),
        "tags": ("array",),
        "kind": ("string",),
        "q": ("string", "null"),
        "n": ("integer", "null"),
        "c": ("array", "string", "integer"),
        "old": ("integer", "null"),
    }
    # the typed names, then the other required ones; an optional one may be absent (ABSENT's type)
    assert [name for name, _ in shape.checks] == [*shape.types, "name"]
    assert [name for name, allowed in shape.checks if type(ABSENT) in allowed] == ["tags", "kind", "q", "n", "c", "old"]
    assert dict(shape.checks)["q"] == {str, type(None), type(ABSENT)}
    assert dict(shape.checks)["id"] == {int, orjson.Fragment}


def test_fits_refuses_an_object_without_a_required_name_typed_or_not() -> None:
    """The fast check says alone that no required name is missing (the collector makes no other
    test before it): a missing one's ABSENT is allowed for the optional names only."""
    shape = output_shape(
        {"required": ["id", "sub"], "properties": {"id": {"type": "integer"}, "q": {"type": "string"}, "sub": {}}}
    )
    fast = shape.fits
    assert [name for name, _ in shape.checks] == ["id", "q", "sub"]
    values: list[Any] = ["s", 1, 1.5, True, None, [], {}, orjson.Fragment(b"123456789012345678901234567890")]
    for parsed in values:
        assert fast({"id": 1, "sub": parsed}), parsed  # a name not typed simply: any JSON value
    assert fast({"id": 1, "sub": 1, "q": "x"})
    assert not fast({"id": 1})  # the untyped required one missing
    assert not fast({"sub": 1})  # the typed required one missing
    assert not fast({"id": 1, "sub": 1, "q": 2})


@pytest.mark.parametrize(
    "prop",
    [
        {"$ref": "#/$defs/Sub"},
        {"anyOf": [{"$ref": "#/$defs/Sub"}, {"type": "null"}]},  # Optional[Sub]
        {"enum": [1, "a"]},
        {"const": 3},
        {"allOf": [{"type": "integer"}]},
        {"anyOf": []},
        {"type": "decimal"},  # no JSON type
        {"type": []},
        {"type": ["integer", 3]},
        {},
        True,
    ],
)
def test_a_property_not_simply_typed_is_not_checked(prop: Any) -> None:
    assert dict(output_shape({"properties": {"p": prop}}).types) == {}


@pytest.mark.parametrize("schema", [None, [], "object", {}, {"properties": [1]}, {"required": "id"}])
def test_a_schema_with_nothing_to_check_has_the_empty_shape(schema: Any) -> None:
    assert output_shape(schema) is NO_SHAPE


def test_fits_and_mismatches_agree_with_json_semantics() -> None:
    shape = OutputShape(frozenset(), {"i": ("integer",), "n": ("number",), "b": ("boolean",), "o": ("object",)})
    fast = shape.fits

    assert fast({"i": 1, "n": 1, "b": True, "o": {}})
    assert fast({"n": 1.5, "i": orjson.Fragment(b"123456789012345678901234567890")})
    assert fast({})  # absent: ``required``'s to check
    wrongs: list[dict[str, Any]] = [{"i": True}, {"n": False}, {"i": "1"}, {"b": 0}, {"o": []}, {"i": None}]
    for wrong in wrongs:
        assert not fast(wrong), wrong
        assert shape.mismatches(wrong), wrong
    assert not fast({"i": 2.0})  # the fast check sends an integral float to the exact one
    assert shape.mismatches({"i": 2.0, "n": 3}) == []
    assert shape.mismatches({"i": 2.5, "b": None}) == [("i", "number", ("integer",)), ("b", "null", ("boolean",))]


def test_json_type_names_each_parsed_value() -> None:
    values = [(True, "boolean"), (1, "integer"), (orjson.Fragment(b"1"), "integer"), (1.0, "number")]
    values += [("", "string"), (None, "null"), ([], "array"), ({}, "object")]
    for value, name in values:
        assert json_type(value) == name


def test_the_type_of_a_simply_typed_additional_properties_schema_is_read() -> None:
    """``dict[str, int]`` (FastAPI: ``additionalProperties: {"type": "integer"}``): every value not
    named in ``properties`` is checked, by the exact reading (``fits`` is always false for it)."""
    shape = output_shape({"type": "object", "additionalProperties": {"type": "integer"}})
    assert shape is not NO_SHAPE
    assert shape.extra == ("integer",)
    assert not shape.fits({})  # the fast check sends every such object to ``mismatches``
    assert shape.mismatches({"a": 1, "b": 2.0, "c": orjson.Fragment(b"1")}) == []
    assert shape.mismatches({"a": "1", "b": None, "c": 1.5}) == [
        ("a", "string", ("integer",)),
        ("b", "null", ("integer",)),
        ("c", "number", ("integer",)),
    ]
    both = output_shape({"properties": {"id": {"type": "string"}}, "additionalProperties": {"type": ["number"]}})
    assert both.mismatches({"id": "x", "n": 1.5}) == []
    assert both.mismatches({"id": 3, "n": "x"}) == [("id", "integer", ("string",)), ("n", "string", ("number",))]
    optional = output_shape({"additionalProperties": {"anyOf": [{"type": "boolean"}, {"type": "null"}]}})
    assert optional.extra == ("boolean", "null")


def test_additional_properties_apply_only_to_the_keys_properties_do_not_name() -> None:
    """Review (diffC): a model with typed extras (``__pydantic_extra__: dict[str, int]``) and a
    property whose type is not simply said (an Enum or a nested model: ``$ref``; ``Any``: ``{}``)
    had that property checked against ``additionalProperties``, so a valid result became an
    error. JSON Schema applies ``additionalProperties`` only to keys ``properties`` does not name
    (and no ``patternProperties`` matches: with those, the extras are not checked)."""
    schema = {
        "properties": {"color": {"$ref": "#/$defs/Color"}, "note": {}, "n": {"type": "integer"}},
        "additionalProperties": {"type": "integer"},
    }
    shape = output_shape(schema)
    assert shape.mismatches({"color": "red", "note": "hi", "n": 1, "apples": 3}) == []
    assert shape.mismatches({"color": "red", "n": "1", "apples": "3"}) == [
        ("n", "string", ("integer",)),
        ("apples", "string", ("integer",)),
    ]
    patterned = output_shape({**schema, "patternProperties": {"^x-": {"type": "string"}}})
    assert patterned.extra == ()
    assert patterned.mismatches({"color": "red", "x-tag": "t", "apples": "3"}) == []


@pytest.mark.parametrize(
    "extra",
    [True, False, {}, {"$ref": "#/$defs/Sub"}, {"additionalProperties": {"type": "integer"}}, {"enum": [1]}],
)
def test_additional_properties_not_simply_typed_are_not_checked(extra: Any) -> None:
    shape = output_shape({"additionalProperties": extra, "properties": {"id": {"type": "integer"}}})
    assert shape.extra == ()
    assert shape.mismatches({"id": 1, "other": "anything"}) == []
    assert output_shape({"additionalProperties": extra}) is NO_SHAPE


def test_a_shape_without_additional_properties_keeps_its_fast_check() -> None:
    shape = output_shape({"properties": {"id": {"type": "integer"}}})
    assert shape.extra == ()
    assert shape.fits({"id": 1})
    assert not shape.fits({"id": "1"})


def test_a_wrapped_shape_has_no_fast_check_and_checks_its_result() -> None:
    """A tool whose body is no object: every body is wrapped and checked exactly, an object too."""
    schema = {"type": "object", "properties": {"result": {"type": "array"}}, "required": ["result"]}
    shape = output_shape(schema, wrapped=True)
    assert shape.wrapped
    assert not output_shape(schema).wrapped
    assert not shape.fits({"result": []})
    assert output_shape(schema).fits({"result": []})
    assert shape.mismatches({"result": {}}) == [("result", "object", ("array",))]
    assert output_shape({}, wrapped=True).wrapped  # (an empty schema's shape still says it)
