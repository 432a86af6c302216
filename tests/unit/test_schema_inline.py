"""Tool schemas without ``$ref``/``$defs``: every non-recursive component is inlined (clients such as
VS Code, Copilot CLI, Gemini CLI, Cursor and Claude Code refuse or mangle references), recursive ones
stay as definitions, and a component whose copies would make the schema too large stays one too."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from mcp_middleware import _schema_inline
from mcp_middleware.catalog import Catalog, ToolSpec, build_catalog, catalog_from_app


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Paint(BaseModel):
    color: Color = Field(description="Paint color to use")
    shade: Color = Color.BLUE


class Address(BaseModel):
    street: str
    city: str


class Person(BaseModel):
    name: str
    home: Address
    work: Address | None = None


class Node(BaseModel):
    value: int
    color: Color = Color.RED
    children: list[Node] = []


class Tree(BaseModel):
    name: str
    root: Node
    owner: Address


class Ping(BaseModel):
    name: str
    pong: Pong | None = None


class Pong(BaseModel):
    count: int
    ping: Ping | None = None


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/paint")
    def paint(p: Paint, finish: Color = Color.RED) -> Paint:
        return p

    @app.post("/people")
    def people(people: list[Person]) -> Person:
        return people[0]

    @app.post("/person")
    def person(p: Person | None = None) -> Person:
        return p or Person(name="x", home=Address(street="s", city="c"))

    @app.post("/tree")
    def tree(t: Tree) -> Tree:
        return t

    @app.post("/ping")
    def ping(p: Ping) -> Ping:
        return p

    return app


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalog_from_app(_app())


def spec(catalog: Catalog, name: str) -> ToolSpec:
    found = catalog.get(name)
    assert found is not None, name
    return found


def refs_in(schema: Any) -> set[str]:
    text = json.dumps(schema)
    return {part.split('"')[0] for part in text.split('"$ref": "#/$defs/')[1:]}


def test_enum_parameters_and_fields_are_inlined(catalog: Catalog) -> None:
    tool = spec(catalog, "paint").tool
    schema = tool["inputSchema"]
    assert "$defs" not in schema
    assert "$ref" not in json.dumps(schema)
    assert schema["properties"]["finish"] == {"type": "string", "enum": ["red", "blue"], "title": "Color"} | {
        "default": "red"
    }
    assert schema["properties"]["shade"]["enum"] == ["red", "blue"]
    assert schema["properties"]["shade"]["default"] == "blue"
    output = tool["outputSchema"]
    assert "$defs" not in output
    assert "$ref" not in json.dumps(output)
    assert output["properties"]["color"]["enum"] == ["red", "blue"]


def test_a_reference_with_a_description_keeps_it(catalog: Catalog) -> None:
    """Under draft-07 the siblings of a ``$ref`` are ignored: inlined, the description stays."""
    color = spec(catalog, "paint").tool["inputSchema"]["properties"]["color"]
    assert color == {"type": "string", "enum": ["red", "blue"], "title": "Color", "description": "Paint color to use"}


def test_nested_models_are_inlined(catalog: Catalog) -> None:
    tool = spec(catalog, "person").tool
    for schema in (tool["inputSchema"], tool["outputSchema"]):
        assert "$defs" not in schema
        assert "$ref" not in json.dumps(schema)
    # Optional[Person] = None as a body: the body's fields are the arguments
    assert tool["inputSchema"]["properties"]["home"]["properties"]["city"] == {"type": "string", "title": "City"}
    work = tool["outputSchema"]["properties"]["work"]
    assert work["anyOf"][0]["properties"]["street"] == {"type": "string", "title": "Street"}
    assert work["anyOf"][1] == {"type": "null"}


def test_optional_model_collapses_in_input_mode() -> None:
    app = FastAPI()

    @app.post("/p")
    def p(person: Person) -> dict[str, int]:
        return {}

    work = spec(catalog_from_app(app), "p").tool["inputSchema"]["properties"]["work"]
    assert "anyOf" not in work
    assert work["type"] == "object"
    assert work["required"] == ["street", "city"]


def test_a_list_of_models_body_is_inlined(catalog: Catalog) -> None:
    schema = spec(catalog, "people").tool["inputSchema"]
    assert "$defs" not in schema
    assert "$ref" not in json.dumps(schema)
    items = schema["properties"]["body"]["items"]
    assert items["properties"]["home"]["required"] == ["street", "city"]
    person = {"name": "a", "home": {"street": "s", "city": "c"}}
    jsonschema.validate({"body": [person]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"body": [{"name": "a", "home": {"street": "s"}}]}, schema)


def test_a_recursive_model_keeps_only_itself_as_a_definition(catalog: Catalog) -> None:
    tool = spec(catalog, "tree").tool
    for schema, node in ((tool["inputSchema"], "Node-Input"), (tool["outputSchema"], "Node-Output")):
        assert sorted(schema["$defs"]) == [node]
        assert refs_in(schema) == {node}
        defined = schema["$defs"][node]
        assert defined["properties"]["children"]["items"] == {"$ref": f"#/$defs/{node}"}
        assert defined["properties"]["color"]["enum"] == ["red", "blue"]  # Color inlined in it
        assert schema["properties"]["owner"]["properties"]["street"]["type"] == "string"  # inlined
        jsonschema.Draft7Validator.check_schema(schema)
    schema = tool["inputSchema"]
    assert schema["properties"]["root"] == {"$ref": "#/$defs/Node-Input"}
    good = {"name": "t", "root": {"value": 1, "children": [{"value": 2}]}, "owner": {"street": "s", "city": "c"}}
    jsonschema.validate(good, schema)
    bad = {**good, "root": {"value": 1, "children": [{"color": "green"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_mutual_recursion_keeps_both_definitions(catalog: Catalog) -> None:
    schema = spec(catalog, "ping").tool["inputSchema"]
    assert sorted(schema["$defs"]) == ["Ping-Input", "Pong-Input"]
    assert schema["properties"]["name"] == {"type": "string", "title": "Name"}
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate({"name": "a", "pong": {"count": 1, "ping": {"name": "b"}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "a", "pong": {"count": 1, "ping": {"pong": {}}}}, schema)


def _document(components: dict[str, Any], body: Any, output: Any = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": "op",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
    }
    if output is not None:
        content = {"application/json": {"schema": output}}
        operation["responses"] = {"200": {"description": "ok", "content": content}}
    return {"paths": {"/op": {"post": operation}}, "components": {"schemas": components}}


def _tool(components: dict[str, Any], body: Any, output: Any = None) -> dict[str, Any]:
    tool: dict[str, Any] = build_catalog(_document(components, body, output)).tools[0].tool
    return tool


def test_a_sibling_that_conflicts_with_a_validation_keyword_keeps_both() -> None:
    components = {
        "Short": {"type": "string", "maxLength": 3},
        "Box": {
            "type": "object",
            "properties": {
                "a": {"$ref": "#/components/schemas/Short", "maxLength": 10, "title": "A"},
                "b": {"$ref": "#/components/schemas/Short", "minLength": 1, "title": "B"},
                "c": {"$ref": "#/components/schemas/Short", "type": "string"},
            },
        },
    }
    schema = _tool(components, {"$ref": "#/components/schemas/Box"})["inputSchema"]
    assert schema["properties"]["a"] == {"allOf": [{"type": "string", "maxLength": 3}], "maxLength": 10, "title": "A"}
    # a validation keyword the component does not have merges: both apply either way
    assert schema["properties"]["b"] == {"type": "string", "maxLength": 3, "minLength": 1, "title": "B"}
    assert schema["properties"]["c"] == {"type": "string", "maxLength": 3}  # saying the same: merged


def test_siblings_beside_an_object_schema_keep_their_own_meaning() -> None:
    """``additionalProperties`` beside ``$ref`` reads no properties of the referenced schema: merged
    into it, it would read them, so the reference is wrapped in ``allOf``."""
    components = {"Open": {"type": "object", "properties": {"x": {"type": "integer"}}}}
    body = {
        "type": "object",
        "properties": {"o": {"$ref": "#/components/schemas/Open", "additionalProperties": False}},
    }
    o = _tool(components, body)["inputSchema"]["properties"]["o"]
    assert o == {"allOf": [{"type": "object", "properties": {"x": {"type": "integer"}}}], "additionalProperties": False}


def test_a_reference_to_a_kept_definition_with_siblings_is_wrapped() -> None:
    """A recursive component stays a ``$ref``; its siblings would be ignored by draft-07."""
    components = {
        "Loop": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Loop"}}},
    }
    body = {"type": "object", "properties": {"l": {"$ref": "#/components/schemas/Loop", "description": "D"}}}
    schema = _tool(components, body)["inputSchema"]
    assert schema["properties"]["l"] == {"allOf": [{"$ref": "#/$defs/Loop"}], "description": "D"}
    assert sorted(schema["$defs"]) == ["Loop"]


def _doubling(levels: int) -> dict[str, Any]:
    """``L0`` refers to ``L1`` twice, which refers to ``L2`` twice...: inlined, 2**levels copies."""
    components: dict[str, Any] = {f"L{levels}": {"type": "object", "properties": {"leaf": {"type": "string"}}}}
    for level in range(levels):
        child = {"$ref": f"#/components/schemas/L{level + 1}"}
        components[f"L{level}"] = {"type": "object", "properties": {"left": child, "right": dict(child)}}
    return components


def test_a_schema_too_large_inlined_keeps_its_shared_components_as_definitions() -> None:
    components = _doubling(24)
    tool = _tool(components, {"$ref": "#/components/schemas/L0"}, {"$ref": "#/components/schemas/L0"})
    for key in ("inputSchema", "outputSchema"):
        schema = tool[key]
        assert len(json.dumps(schema)) <= _schema_inline.SIZE_LIMIT
        assert schema["$defs"], key  # some levels stay definitions
        assert refs_in(schema) <= set(schema["$defs"])
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.validate({"left": {"left": {}}, "right": {}}, schema)
    # small enough: the same shape is inlined whole
    small = _tool(_doubling(3), {"$ref": "#/components/schemas/L0"})["inputSchema"]
    assert "$defs" not in small
    assert "$ref" not in json.dumps(small)
    assert small["properties"]["left"]["properties"]["right"]["properties"]["left"]["properties"]["leaf"]


def test_the_shared_components_kept_are_those_that_save_most() -> None:
    """Past the limit, the component whose copies cost most is kept first; the rest stays inlined."""
    wide = {f"field_{n:03}": {"type": "string", "title": f"Field {n:03}"} for n in range(400)}
    components = {
        "Big": {"type": "object", "properties": wide},
        "Small": {"type": "string", "maxLength": 3},
    }
    big, small = {"$ref": "#/components/schemas/Big"}, {"$ref": "#/components/schemas/Small"}
    body = {
        "type": "object",
        "properties": {f"{k}{n}": dict(v) for n in range(3) for k, v in (("b", big), ("s", small))},
    }
    schema = _tool(components, body)["inputSchema"]
    assert sorted(schema["$defs"]) == ["Big"]
    assert schema["properties"]["b0"] == {"$ref": "#/$defs/Big"}
    assert schema["properties"]["s2"] == {"type": "string", "maxLength": 3}
    # once, it is inlined however large
    once = _tool(components, {"type": "object", "properties": {"b": big}})["inputSchema"]
    assert "$defs" not in once
    assert len(once["properties"]["b"]["properties"]) == 400


def test_every_schema_is_valid_draft_07(catalog: Catalog) -> None:
    for tool in catalog.tool_dicts():
        for key in ("inputSchema", "outputSchema"):
            if key in tool:
                jsonschema.Draft7Validator.check_schema(tool[key])
                jsonschema.Draft202012Validator.check_schema(tool[key])
