"""MCP-only tool names and descriptions: ``declare.tool`` (``x-mcp-name``/``x-mcp-description``)
and the ``tool_names`` option, without changing a route's ``operationId`` (which renames the
route in ``/openapi.json`` and every generated SDK client).

Parity review: FastMCP has ``from_fastapi(..., mcp_names={...})``; here the only way to rename a
tool was the operation id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from mcp_middleware import MCPMiddleware, _name_rules, config, declare
from mcp_middleware.catalog import Catalog, ToolFilter, build_catalog, catalog_from_app
from tests.support import call_legacy, call_modern, call_tool, result_json

pytestmark = pytest.mark.anyio

CATALOG = "mcp_middleware.catalog"

untyped: Any = declare


def _doc(*operations: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, method, operation in operations:
        paths.setdefault(path, {})[method] = {"responses": {"200": {"description": "ok"}}, **operation}
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}


GENERATED = ("/items/{item_id}", "get", {"operationId": "get_item_items__item_id__get", "summary": "Get item"})


def _names(catalog: Catalog) -> list[str]:
    return [spec.name for spec in catalog.tools]


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CATALOG]


# -- declare.tool --------------------------------------------------------------------------------


def test_declare_tool_gives_the_keys_it_was_given() -> None:
    assert declare.tool(name="fetch_item", description="Fetch one item.") == {
        "x-mcp-name": "fetch_item",
        "x-mcp-description": "Fetch one item.",
    }
    assert declare.tool(name="fetch-item_2") == {"x-mcp-name": "fetch-item_2"}
    assert declare.tool(description="") == {"x-mcp-description": ""}
    assert declare.tool(name="x" * 128) == {"x-mcp-name": "x" * 128}


REFUSED: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (lambda: untyped.tool(name=5), TypeError, "declare.tool: name must be a string, not 5"),
    (lambda: untyped.tool(name=""), ValueError, "declare.tool: name must not be empty"),
    (
        lambda: untyped.tool(name="fetch item"),
        ValueError,
        "declare.tool: name 'fetch item' may hold only A-Z, a-z, 0-9, '_' and '-'",
    ),
    (
        lambda: untyped.tool(name="items.get"),
        ValueError,
        "declare.tool: name 'items.get' may hold only A-Z, a-z, 0-9, '_' and '-'",
    ),
    (
        lambda: untyped.tool(name="x" * 129),
        ValueError,
        "declare.tool: name '" + "x" * 56 + "... is longer than 128 characters",
    ),
    (lambda: untyped.tool(description=b"d"), TypeError, "declare.tool: description must be a string, not b'd'"),
    (lambda: untyped.tool(), ValueError, "declare.tool: give a name, a description or both"),
]


@pytest.mark.parametrize(("make", "error", "message"), REFUSED)
def test_declare_tool_refuses_a_bad_value_at_once(
    make: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as refused:
        make()
    assert str(refused.value) == message


# -- x-mcp-name / x-mcp-description in the catalog ---------------------------------------------


def test_x_mcp_name_names_the_tool_and_the_operation_id_stays() -> None:
    path, method, operation = GENERATED
    catalog = build_catalog(_doc((path, method, {**operation, **declare.tool(name="fetch_item")})))
    assert _names(catalog) == ["fetch_item"]
    spec = catalog.get("fetch_item")
    assert spec is not None
    assert spec.tool["name"] == "fetch_item"
    assert catalog.get("get_item") is None


def test_x_mcp_description_replaces_the_description_in_tools_list_only() -> None:
    """The prompt made from the same route keeps the route's own description."""
    extra = {**declare.tool(description="For the model."), **declare.prompt("p", tool=True)}
    catalog = build_catalog(_doc(("/p", "get", {"operationId": "p", "summary": "Route text", **extra})))
    assert catalog.tools[0].tool["description"] == "For the model."
    assert catalog.declared[0].spec.tool["description"] == "Route text"


def test_a_hand_written_x_mcp_description_that_is_no_string_is_warned_and_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_doc(("/d", "get", {"operationId": "d1", "summary": "Own", "x-mcp-description": 7})))
    assert catalog.tools[0].tool["description"] == "Own"
    assert _messages(caplog) == ["Route GET /d: its x-mcp-description must be a string, not 7; it is ignored"]


@pytest.mark.parametrize(
    ("declared", "why"),
    [
        ("fetch item", "'fetch item' may hold only A-Z, a-z, 0-9, '_' and '-'"),
        (12, "must be a string, not 12"),
        ("", "must not be empty"),
        ("a" * 129, f"'{'a' * 56}... is longer than 128 characters"),
    ],
)
def test_a_bad_hand_written_x_mcp_name_leaves_the_route_out_with_a_warning(
    caplog: pytest.LogCaptureFixture, declared: Any, why: str
) -> None:
    """A Starlette YAML docstring's ``x-mcp-name`` is read with the routes (at the first MCP
    request): like the other hand-written ``x-mcp-*`` keys that break the rules, it is left out
    (no tool under an unintended name, so no filter fails open) and the warning names route and name."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            _doc(("/bad", "get", {"operationId": "bad", "x-mcp-name": declared}), ("/ok", "get", {"operationId": "ok"}))
        )
    assert _names(catalog) == ["ok"]
    assert _messages(caplog) == [f"Route GET /bad is no tool: its x-mcp-name {why}"]


@pytest.mark.parametrize("length", [41, 128])
def test_a_declared_name_longer_than_max_tool_name_length_is_kept_with_a_warning(
    caplog: pytest.LogCaptureFixture, length: int
) -> None:
    """Review: ``declare.tool`` took a name of 41-128 characters at import (the spec's limit) and
    the build then left the route out for being longer than ``max_tool_name_length`` (40). The
    two agree now: a given name may be as long as the spec allows; one longer than the option,
    which only shortens derived names, is kept and warned about (clients' 60-64 budgets)."""
    long_name = "n" * length
    document = _doc(
        ("/long", "get", {"operationId": "long", **declare.tool(name=long_name)}), ("/ok", "get", {"operationId": "ok"})
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document)
    assert _names(catalog) == [long_name, "ok"]
    assert _messages(caplog) == [
        f"Tool {long_name!r} (GET /long): its given name is longer than max_tool_name_length (40) characters, "
        "which derived names are cut to; it is kept, but clients that prefix tool names within a 60-64 "
        "character budget (VS Code, Claude Code, Cursor) may cut or refuse it"
    ]


def test_a_declared_name_within_max_tool_name_length_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            _doc(("/a", "get", {"operationId": "a", **declare.tool(name="n" * 12)})), max_name_length=12
        )
    assert _names(catalog) == ["n" * 12]
    assert _messages(caplog) == []


STEM = "get_customer_subscription_invoice_line_items_for_billing_period"  # 63 characters


def _long_warning(name: str, path: str, limit: int = 40) -> str:
    return (
        f"Tool {name!r} (GET {path}): its given name is longer than max_tool_name_length ({limit}) characters, "
        "which derived names are cut to; it is kept, but clients that prefix tool names within a 60-64 "
        "character budget (VS Code, Claude Code, Cursor) may cut or refuse it"
    )


def _cut_clash(later: str, later_path: str, first: str, first_path: str, limit: int = 40) -> str:
    return (
        f"Route GET {later_path} is no tool: the tool name {later!r} it is given starts with the same {limit} "
        f"characters (max_tool_name_length) as GET {first_path}'s {first!r}, so clients that cut names to fit "
        "would make them one"
    )


def test_two_long_given_names_alike_within_max_tool_name_length_the_later_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review (names case A): two long given names that differ only after the cut were both kept,
    and collide once a client cuts them (clients.md: names unique after truncation)."""
    region, product = STEM + "_by_region", STEM + "_by_product"
    document = _doc(
        ("/a", "get", {"operationId": "a", **declare.tool(name=region)}),
        ("/b", "get", {"operationId": "b", **declare.tool(name=product)}),
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document)
    assert [(s.name, s.path) for s in catalog.tools] == [(region, "/a")]
    assert _messages(caplog) == [
        _long_warning(region, "/a"),
        _long_warning(product, "/b"),
        _cut_clash(product, "/b", region, "/a"),
    ]


def test_a_given_name_that_is_a_long_given_names_cut_clashes_with_it(caplog: pytest.LogCaptureFixture) -> None:
    document = _doc(
        ("/a", "get", {"operationId": "a", **declare.tool(name=STEM)}),
        ("/b", "get", {"operationId": "b"}),
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_names={"b": STEM[:40]})
    assert [(s.name, s.path) for s in catalog.tools] == [(STEM, "/a")]
    assert _messages(caplog) == [_long_warning(STEM, "/a"), _cut_clash(STEM[:40], "/b", STEM, "/a")]


def test_a_default_name_that_is_a_long_given_names_cut_is_numbered() -> None:
    document = _doc(
        ("/a", "get", {"operationId": STEM[:40]}),
        ("/b", "get", {"operationId": "b", **declare.tool(name=STEM)}),
    )
    catalog = build_catalog(document)
    assert [(s.name, s.path) for s in catalog.tools] == [(STEM[:38] + "_2", "/a"), (STEM, "/b")]


def test_long_given_names_that_differ_within_max_tool_name_length_are_both_tools() -> None:
    document = _doc(
        ("/a", "get", {"operationId": "a", **declare.tool(name="a_" + STEM)}),
        ("/b", "get", {"operationId": "b", **declare.tool(name="b_" + STEM)}),
    )
    assert _names(build_catalog(document)) == ["a_" + STEM, "b_" + STEM]


@pytest.mark.parametrize("limit", [129, 1000])
def test_max_tool_name_length_above_the_specs_128_is_refused_when_built(limit: int) -> None:
    """Review (names case B): 200 was taken, and names of 129-200 characters listed, which the
    spec says SHOULD be 1-128 characters (2025-11-25)."""
    message = f"max_tool_name_length must be at most 128 (the spec's longest tool name), got {limit!r}"
    with pytest.raises(ValueError, match="max_tool_name_length") as refused:
        MCPMiddleware(FastAPI(), max_tool_name_length=limit)
    assert str(refused.value) == message
    with pytest.raises(ValueError, match="max_name_length") as refused:
        build_catalog(_doc(GENERATED), max_name_length=limit)
    assert str(refused.value) == "max_name_length must be at most 128 (the spec's longest tool name)"


def test_the_options_cap_is_the_name_rules_longest_name() -> None:
    assert config.LONGEST_TOOL_NAME == _name_rules.LONGEST_NAME == 128


def test_max_tool_name_length_of_128_is_taken() -> None:
    long_id = "o" * 180
    catalog = build_catalog(_doc(("/c", "get", {"operationId": long_id})), max_name_length=128)
    assert _names(catalog) == [long_id[:128]]
    MCPMiddleware(FastAPI(), max_tool_name_length=128, tool_names={"get_item": "n" * 128})


def test_a_given_name_takes_a_derived_name_and_the_derived_one_is_numbered() -> None:
    """As an explicit operation id kept verbatim goes first: the route the name was given to
    keeps it, whatever the document order."""
    catalog = build_catalog(
        _doc(
            ("/a", "get", {"operationId": "list_items"}),
            ("/b", "get", {"operationId": "b", **declare.tool(name="list_items")}),
        )
    )
    assert [(s.name, s.path) for s in catalog.tools] == [("list_items_2", "/a"), ("list_items", "/b")]


def test_renaming_a_tool_renames_no_other() -> None:
    """Renaming a tool renames no other: the others keep the names they had without it."""
    plain = build_catalog(_doc(("/a", "get", {"operationId": "a"}), ("/b", "get", {"operationId": "b"})))
    renamed = build_catalog(
        _doc(("/a", "get", {"operationId": "a", **declare.tool(name="b_renamed")}), ("/b", "get", {"operationId": "b"}))
    )
    assert _names(plain) == ["a", "b"]
    assert _names(renamed) == ["b_renamed", "b"]


def test_two_routes_given_one_name_the_later_is_left_out_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """As for a prompt name or URI two routes declare: the first keeps it."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            _doc(
                ("/one", "get", {"operationId": "one", **declare.tool(name="same")}),
                ("/two", "post", {"operationId": "two", **declare.tool(name="same")}),
            )
        )
    assert [(s.name, s.path) for s in catalog.tools] == [("same", "/one")]
    assert _messages(caplog) == ["Route POST /two is no tool: the tool name 'same' it is given is GET /one's already"]


# -- filters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["get_item_items__item_id__get", "get_item", "fetch_item"])
def test_exclude_operations_by_operation_id_default_name_or_given_name_excludes(value: str) -> None:
    """Nothing fails open: an exclude written before the rename still excludes."""
    path, method, operation = GENERATED
    document = _doc(
        (path, method, {**operation, **declare.tool(name="fetch_item")}), ("/o", "get", {"operationId": "o"})
    )
    assert _names(build_catalog(document, tool_filter=ToolFilter(exclude_operations=frozenset([value])))) == ["o"]
    assert _names(build_catalog(document, tool_filter=ToolFilter(include_operations=frozenset([value])))) == [
        "fetch_item"
    ]


def test_a_filter_value_naming_a_given_name_is_no_unmatched_value(caplog: pytest.LogCaptureFixture) -> None:
    path, method, operation = GENERATED
    document = _doc((path, method, {**operation, **declare.tool(name="fetch_item")}))
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        build_catalog(document, tool_filter=ToolFilter(exclude_operations=frozenset(["fetch_item", "fetch_itme"])))
    assert _messages(caplog) == [
        "MCPMiddleware filter values that match no route (paths are globs over path templates that start with "
        "'/', operations match an operation id or a tool name, methods a route's): exclude_operations 'fetch_itme'",
        "MCPMiddleware's tool filters exclude_operations=['fetch_item', 'fetch_itme'] leave none of the app's 1 "
        "operations as tools, so the MCP endpoint exposes no tools",
    ]


def test_the_no_tool_left_warning_counts_a_route_left_out_for_its_given_name(caplog: pytest.LogCaptureFixture) -> None:
    """Review: the warning that the filters leave no tool said "the app's 1 operations" of two
    tool routes when the other was left out for a bad hand-written ``x-mcp-name``: that route is
    one of the app's operations the filters were given (its name is warned about on its own)."""
    document = _doc(
        ("/bad", "get", {"operationId": "bad", "x-mcp-name": "bad name"}), ("/ok", "get", {"operationId": "ok"})
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_filter=ToolFilter(exclude_operations=frozenset(["ok", "bad"])))
    assert _names(catalog) == []
    assert _messages(caplog) == [
        "Route GET /bad is no tool: its x-mcp-name 'bad name' may hold only A-Z, a-z, 0-9, '_' and '-'",
        "MCPMiddleware's tool filters exclude_operations=['bad', 'ok'] leave none of the app's 2 operations as "
        "tools, so the MCP endpoint exposes no tools",
    ]


def test_filters_that_keep_only_a_route_left_out_for_its_name_are_not_blamed(caplog: pytest.LogCaptureFixture) -> None:
    """The filters keep the route; its bad name leaves it out, which its own warning says."""
    document = _doc(
        ("/bad", "get", {"operationId": "bad", "x-mcp-name": "bad name"}), ("/ok", "get", {"operationId": "ok"})
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_filter=ToolFilter(exclude_operations=frozenset(["ok"])))
    assert _names(catalog) == []
    assert _messages(caplog) == [
        "Route GET /bad is no tool: its x-mcp-name 'bad name' may hold only A-Z, a-z, 0-9, '_' and '-'"
    ]


def _versions() -> dict[str, Any]:
    return _doc(
        ("/v1/search", "get", {"operationId": "search_v1", "tags": ["v1"], **declare.tool(name="search")}),
        ("/v2/search", "get", {"operationId": "search_v2", "tags": ["v2"], **declare.tool(name="search")}),
    )


@pytest.mark.parametrize(
    "tool_filter",
    [
        ToolFilter(include_tags=frozenset(["v2"])),
        ToolFilter(exclude_tags=frozenset(["v1"])),
        ToolFilter(exclude_operations=frozenset(["search_v1"])),
        ToolFilter(exclude_paths=("/v1/*",)),
    ],
)
def test_a_route_the_filters_leave_out_takes_no_given_name(
    caplog: pytest.LogCaptureFixture, tool_filter: ToolFilter
) -> None:
    """Review (names3): who owns a given name was settled over every operation before the filters,
    so the excluded ``/v1/search`` took ``search`` and the kept ``/v2/search`` was left out: no
    tool at all, and no warning that the filters left none. Only a tool takes a name now."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_versions(), tool_filter=tool_filter)
    assert [(s.name, s.path) for s in catalog.tools] == [("search", "/v2/search")]
    assert _messages(caplog) == []


def test_a_route_the_filters_leave_out_takes_no_default_name() -> None:
    """The route given another's default name numbers that tool only when both are tools."""
    document = _doc(
        ("/items", "get", {"operationId": "list_items"}),
        ("/old", "get", {"operationId": "old", "tags": ["old"], **declare.tool(name="list_items")}),
    )
    catalog = build_catalog(document, tool_filter=ToolFilter(exclude_tags=frozenset(["old"])))
    assert [(s.name, s.path) for s in catalog.tools] == [("list_items", "/items")]


def test_routes_the_filters_keep_still_clash_over_a_given_name(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_versions(), tool_filter=ToolFilter(include_tags=frozenset(["v1", "v2"])))
    assert [(s.name, s.path) for s in catalog.tools] == [("search", "/v1/search")]
    assert _messages(caplog) == [
        "Route GET /v2/search is no tool: the tool name 'search' it is given is GET /v1/search's already"
    ]


def test_filters_that_exclude_both_routes_given_one_name_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Matched by the given name, both routes are left out: the filters leave no tool, and say so."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_versions(), tool_filter=ToolFilter(exclude_operations=frozenset(["search"])))
    assert _names(catalog) == []
    assert _messages(caplog) == [
        "MCPMiddleware's tool filters exclude_operations=['search'] leave none of the app's 2 operations as "
        "tools, so the MCP endpoint exposes no tools"
    ]


# -- tool_names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["get_item_items__item_id__get", "get_item"])
def test_tool_names_maps_an_operation_id_or_a_default_name(key: str) -> None:
    catalog = build_catalog(_doc(GENERATED), tool_names={key: "fetch_item"})
    assert _names(catalog) == ["fetch_item"]


def test_tool_names_wins_over_x_mcp_name() -> None:
    path, method, operation = GENERATED
    document = _doc((path, method, {**operation, **declare.tool(name="from_code")}))
    assert _names(build_catalog(document, tool_names={"get_item": "from_deployment"})) == ["from_deployment"]


def test_tool_names_keys_that_match_no_route_are_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_doc(GENERATED), tool_names={"get_itme": "x", "get_item": "fetch_item"})
    assert _names(catalog) == ["fetch_item"]
    assert _messages(caplog) == [
        "MCPMiddleware tool_names keys that match no route (a key is an operation id or a default tool name): "
        "'get_itme'"
    ]


def test_tool_names_giving_one_operation_two_names_uses_the_operation_ids(caplog: pytest.LogCaptureFixture) -> None:
    names = {"get_item_items__item_id__get": "by_id", "get_item": "by_name"}
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_doc(GENERATED), tool_names=names)
    assert _names(catalog) == ["by_id"]
    assert _messages(caplog) == [
        "MCPMiddleware tool_names gives GET /items/{item_id} two names, 'by_id' (by its operation id) and "
        "'by_name' (by its tool name 'get_item'): 'by_id' is used"
    ]


def test_tool_names_giving_two_operations_one_name_leaves_the_later_out(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            _doc(("/a", "get", {"operationId": "a"}), ("/b", "get", {"operationId": "b"})),
            tool_names={"a": "same", "b": "same"},
        )
    assert [(s.name, s.path) for s in catalog.tools] == [("same", "/a")]
    assert _messages(caplog) == ["Route GET /b is no tool: the tool name 'same' it is given is GET /a's already"]


RENAMED_ONTO = (
    "Tool name 'list_items' given to GET /items/{item_id} is also GET /items's default name (its tool is "
    "'list_items_2' now); a filter value naming 'list_items' matches GET /items only (by its operation id)"
)


def test_a_rename_onto_another_routes_default_name_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Review: ``tool_names={"get_item": "list_items"}`` renamed a tool onto another route's
    default name without a word: that tool is numbered (by design, as a sanitised id is against a
    verbatim one), and a filter value naming the name matches the other route only."""
    document = _doc(GENERATED, ("/items", "get", {"operationId": "list_items"}))
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_names={"get_item": "list_items"})
    assert _names(catalog) == ["list_items", "list_items_2"]
    assert _messages(caplog) == [RENAMED_ONTO]


def _renamed_onto(way: str, list_id: str = "list_items") -> tuple[dict[str, Any], dict[str, str]]:
    """``GET /items/{item_id}`` given the name ``list_items`` (by ``tool_names`` or by
    ``declare.tool``), beside ``GET /items`` whose operation id is ``list_id``."""
    path, method, operation = GENERATED
    declared = declare.tool(name="list_items") if way == "declare.tool" else {}
    document = _doc((path, method, {**operation, **declared}), ("/items", "get", {"operationId": list_id}))
    return document, ({"get_item": "list_items"} if way == "tool_names" else {})


def _overlap(option: str, means: str = "its operation id") -> str:
    return (
        f"MCPMiddleware {option} 'list_items' matches GET /items ({means}), not GET /items/{{item_id}} (its given "
        "tool name): an operation filter value matches the routes whose operation id it is, else those whose "
        "default tool name it is, else those given it as their tool name; name GET /items/{item_id} by its "
        "operation id 'get_item_items__item_id__get' or its path"
    )


@pytest.mark.parametrize("way", ["tool_names", "declare.tool"])
def test_an_exclude_naming_one_route_s_operation_id_and_another_s_given_name_excludes_the_first_warned(
    caplog: pytest.LogCaptureFixture, way: str
) -> None:
    """Review: ``exclude_operations=["list_items"]`` left out both the route renamed
    ``list_items`` and the route whose operation id is ``list_items``, and said nothing unless no
    tool was left: nobody could tell which routes a value hit. A value now names the route whose
    operation id it is (as fastapi-mcp's filters do), else the one whose default name it is, else
    the ones given it; so every route can still be named (``GET /items`` by ``list_items`` only),
    and an exclude written before a rename still means what it did. The warning names both."""
    document, names = _renamed_onto(way)
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            document, tool_names=names, tool_filter=ToolFilter(exclude_operations=frozenset(["list_items"]))
        )
    assert [(s.name, s.path) for s in catalog.tools] == [("list_items", "/items/{item_id}")]
    assert _messages(caplog) == [_overlap("exclude_operations")]


@pytest.mark.parametrize("way", ["tool_names", "declare.tool"])
def test_an_include_naming_one_route_s_operation_id_and_another_s_given_name_includes_the_first_warned(
    caplog: pytest.LogCaptureFixture, way: str
) -> None:
    document, names = _renamed_onto(way)
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            document, tool_names=names, tool_filter=ToolFilter(include_operations=frozenset(["list_items"]))
        )
    assert [(s.name, s.path) for s in catalog.tools] == [("list_items", "/items")]
    assert _messages(caplog) == [_overlap("include_operations")]


def test_a_default_name_is_matched_before_another_route_s_given_name(caplog: pytest.LogCaptureFixture) -> None:
    """``GET /items``'s default name ``list_items`` comes from its generated operation id."""
    document, names = _renamed_onto("tool_names", "list_items_items_get")
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            document, tool_names=names, tool_filter=ToolFilter(exclude_operations=frozenset(["list_items"]))
        )
    assert [(s.name, s.path) for s in catalog.tools] == [("list_items", "/items/{item_id}")]
    assert _messages(caplog) == [_overlap("exclude_operations", "its default tool name")]


def test_a_value_naming_a_route_that_is_no_tool_still_names_a_tool_given_it(caplog: pytest.LogCaptureFixture) -> None:
    """Only the routes that would be tools are weighed: a resource's operation id takes no value
    from a tool given that name (the filters never make a resource a tool)."""
    path, method, operation = GENERATED
    document = _doc(
        (path, method, {**operation, **declare.tool(name="list_items")}),
        ("/items", "get", {"operationId": "list_items", **declare.resource("data://items")}),
        ("/o", "get", {"operationId": "o"}),
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_filter=ToolFilter(exclude_operations=frozenset(["list_items"])))
    assert _names(catalog) == ["o"]
    assert _messages(caplog) == []


def test_a_declared_name_onto_another_routes_default_name_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    path, method, operation = GENERATED
    renamed = (path, method, {**operation, **declare.tool(name="list_items")})
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_doc(renamed, ("/items", "get", {"operationId": "list_items"})))
    assert _names(catalog) == ["list_items", "list_items_2"]
    assert _messages(caplog) == [RENAMED_ONTO]


def test_a_rename_onto_the_routes_own_default_name_or_a_free_name_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = _doc(GENERATED, ("/items", "get", {"operationId": "list_items"}))
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            document, tool_names={"get_item_items__item_id__get": "get_item", "list_items": "all_items"}
        )
    assert _names(catalog) == ["get_item", "all_items"]
    assert _messages(caplog) == []


def test_a_rename_onto_the_default_name_of_a_route_left_out_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """That route is no tool (its bad ``x-mcp-name`` is warned about): no filter can mistake it."""
    document = _doc(GENERATED, ("/items", "get", {"operationId": "list_items", "x-mcp-name": 3}))
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_names={"get_item": "list_items"})
    assert _names(catalog) == ["list_items"]
    assert _messages(caplog) == ["Route GET /items is no tool: its x-mcp-name must be a string, not 3"]


@pytest.mark.parametrize(
    ("other", "tool_filter"),
    [
        ({"operationId": "list_items", **declare.resource("data://items")}, ToolFilter()),
        ({"operationId": "list_items"}, ToolFilter(exclude_paths=("/items",))),
        ({"operationId": "list_items"}, ToolFilter(methods=frozenset(["GET"]))),
    ],
)
def test_a_given_name_onto_the_default_name_of_a_route_that_is_no_tool_is_not_warned_about(
    caplog: pytest.LogCaptureFixture, other: dict[str, Any], tool_filter: ToolFilter
) -> None:
    """Review (names2): the warning fired for a route that is a resource, or one the filters leave
    out, and named a tool ``list_items_2`` that does not exist: no filter can mistake that route."""
    path, method, operation = GENERATED
    renamed = (path, method, {**operation, **declare.tool(name="list_items")})
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_doc(renamed, ("/items", "post", other)), tool_filter=tool_filter)
    assert _names(catalog) == ["list_items"]
    assert _messages(caplog) == []


async def deep(request: Request) -> JSONResponse:
    return JSONResponse({})  # pragma: no cover (never reached: the mount reads its path otherwise)


async def renamed_onto_deep(request: Request) -> JSONResponse:
    """Renamed.

    ---
    x-mcp-name: deep
    """
    return JSONResponse({"ok": True})


def test_a_given_name_onto_the_default_name_of_a_route_left_out_unreachable_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The filters keep the mount's route, but no call reaches it (it is left out, warned): it is
    no tool, so the given name is warned about only for it being unreachable."""
    app = Starlette(
        routes=[
            Mount("/p/{p:path}", routes=[Route("/q/r", deep, name="deep")]),
            Route("/renamed", renamed_onto_deep, name="renamed"),
        ]
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = catalog_from_app(app)
    assert _names(catalog) == ["deep"]
    assert [message for message in _messages(caplog) if "default name" in message] == []


async def search_all(request: Request) -> JSONResponse:
    return JSONResponse({})  # pragma: no cover (listed, not called)


def _stranded_app() -> Starlette:
    return Starlette(
        routes=[
            Mount("/p/{p:path}", routes=[Route("/q/r", deep, name="deep")]),  # no call reaches it
            Route("/search", search_all, name="search_all"),
        ]
    )


def test_a_route_no_call_reaches_takes_no_given_name_from_a_reachable_route(caplog: pytest.LogCaptureFixture) -> None:
    """Review (n1): the unreachable route, kept by the filters but left out later, took the name
    'search' given to both routes, so the reachable route was no tool and no tool was listed."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = catalog_from_app(_stranded_app(), tool_names={"deep": "search", "search_all": "search"})
    assert _names(catalog) == ["search"]
    assert catalog.tools[0].path == "/search"
    messages = _messages(caplog)
    assert [message for message in messages if "is no tool" in message] == []
    assert [message for message in messages if "is left out" in message] == [
        "Route GET /p/{p:path}/q/r is left out (no tool, prompt or resource): no call would reach it with the "
        "values given: the mount /p/{p:path} reads 'p' up to the last '/' of the path, and there is always "
        "one in /q/r after it, so 'p' would be read with part of it"
    ]


def test_a_route_no_call_reaches_numbers_no_reachable_tool_s_default_name(caplog: pytest.LogCaptureFixture) -> None:
    """Review (n1): the unreachable route given a reachable route's default name took it, and the
    reachable tool was numbered ``search_all_2``."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = catalog_from_app(_stranded_app(), tool_names={"deep": "search_all"})
    assert _names(catalog) == ["search_all"]
    assert [message for message in _messages(caplog) if "default name" in message] == []


def test_build_catalog_refuses_a_bad_tool_names_value() -> None:
    with pytest.raises(ValueError, match="tool_names") as refused:
        build_catalog(_doc(GENERATED), tool_names={"get_item": "bad name"})
    assert str(refused.value) == "tool_names['get_item']: 'bad name' may hold only A-Z, a-z, 0-9, '_' and '-'"


OPTION_REFUSED: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"tool_names": ["get_item"]}, TypeError, "tool_names must be a mapping of strings to strings, not ['get_item']"),
    ({"tool_names": {1: "x"}}, TypeError, "tool_names keys must be strings, not 1"),
    ({"tool_names": {"get_item": None}}, TypeError, "tool_names['get_item']: must be a string, not None"),
    ({"tool_names": {"get_item": ""}}, ValueError, "tool_names['get_item']: must not be empty"),
    (
        {"tool_names": {"get_item": "fetch/item"}},
        ValueError,
        "tool_names['get_item']: 'fetch/item' may hold only A-Z, a-z, 0-9, '_' and '-'",
    ),
    (
        {"tool_names": {"get_item": "f" * 129}},
        ValueError,
        "tool_names['get_item']: '" + "f" * 56 + "... is longer than 128 characters",
    ),
]


@pytest.mark.parametrize(("options", "error", "message"), OPTION_REFUSED)
def test_the_middleware_refuses_a_bad_tool_names_option_when_built(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as refused:
        MCPMiddleware(FastAPI(), **options)
    assert str(refused.value) == message


@pytest.mark.parametrize("length", [41, 128])
def test_a_tool_names_value_longer_than_max_tool_name_length_is_kept_with_a_warning(
    caplog: pytest.LogCaptureFixture, length: int
) -> None:
    """Review: ``tool_names`` refused a value longer than ``max_tool_name_length`` (a
    ``ValueError`` when the middleware was built), while ``declare.tool`` took the same name and
    kept it with a warning. A given name is a given name, however it is given: up to the spec's
    128 characters, warned about beyond the option (which only cuts derived names), so one long
    name needs no longer cut for every derived name."""
    long_name = "n" * length
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(
            _doc(GENERATED, ("/ok", "get", {"operationId": "ok"})), tool_names={"get_item": long_name}
        )
    assert _names(catalog) == [long_name, "ok"]
    assert _messages(caplog) == [_long_warning(long_name, "/items/{item_id}")]
    MCPMiddleware(FastAPI(), tool_names={"get_item": long_name})  # not refused


def test_two_long_tool_names_values_alike_within_max_tool_name_length_the_later_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As for two long names given by ``declare.tool``: clients may cut both to one."""
    region, product = STEM + "_by_region", STEM + "_by_product"
    document = _doc(("/a", "get", {"operationId": "a"}), ("/b", "get", {"operationId": "b"}))
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_names={"a": region, "b": product})
    assert [(s.name, s.path) for s in catalog.tools] == [(region, "/a")]
    assert _messages(caplog) == [
        _long_warning(region, "/a"),
        _long_warning(product, "/b"),
        _cut_clash(product, "/b", region, "/a"),
    ]


def test_a_tool_names_value_within_max_tool_name_length_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_doc(GENERATED), tool_names={"get_item": "n" * 12}, max_name_length=12)
    assert _names(catalog) == ["n" * 12]
    assert _messages(caplog) == []


# -- over the wire ---------------------------------------------------------------------------------


def _app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, int]:
        """Read an item."""
        return {"item_id": item_id}

    @app.get("/users/{uid}", openapi_extra=declare.tool(name="fetch_user", description="A user, by id."))
    def get_user(uid: int) -> dict[str, int]:
        return {"uid": uid}

    app.add_middleware(MCPMiddleware, **options)
    return app


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_given_names_are_listed_and_called_and_the_openapi_document_keeps_its_ids(era: str) -> None:
    app = _app(tool_names={"get_item": "fetch_item"})
    listed = (await (call_legacy if era == "legacy" else call_modern)(app, "tools/list", {})).result()["tools"]
    assert [(t["name"], t["description"]) for t in listed] == [
        ("fetch_item", "Get Item\n\nRead an item."),
        ("fetch_user", "A user, by id."),
    ]
    assert result_json(await call_tool(app, era, "fetch_item", {"item_id": 3})) == {"item_id": 3}
    assert result_json(await call_tool(app, era, "fetch_user", {"uid": 4})) == {"uid": 4}
    paths = app.openapi()["paths"]
    assert paths["/items/{item_id}"]["get"]["operationId"] == "get_item_items__item_id__get"
    assert paths["/users/{uid}"]["get"]["operationId"] == "get_user_users__uid__get"


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_long_tool_names_value_is_listed_and_called(era: str) -> None:
    long_name = "fetch_" + STEM
    app = _app(tool_names={"get_item": long_name})
    listed = (await (call_legacy if era == "legacy" else call_modern)(app, "tools/list", {})).result()["tools"]
    assert [t["name"] for t in listed] == [long_name, "fetch_user"]
    assert result_json(await call_tool(app, era, long_name, {"item_id": 3})) == {"item_id": 3}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_the_default_name_is_an_unknown_tool_once_renamed(era: str) -> None:
    app = _app(tool_names={"get_item": "fetch_item"})
    params = {"name": "get_item", "arguments": {"item_id": 1}}
    reply = await (
        call_legacy(app, "tools/call", params)
        if era == "legacy"
        else call_modern(app, "tools/call", params, "get_item")
    )
    assert reply.error()["error"]["message"] == "Unknown tool: get_item"


async def search(request: Request) -> JSONResponse:
    """Search.

    ---
    x-mcp-name: find
    x-mcp-description: Find things.
    """
    return JSONResponse({"ok": True})


async def test_a_starlette_yaml_docstring_names_and_describes_the_tool() -> None:
    app = Starlette(routes=[Route("/search", search)])
    app.add_middleware(MCPMiddleware)
    listed = (await call_legacy(app, "tools/list", {})).result()["tools"]
    assert [(t["name"], t["description"]) for t in listed] == [("find", "Find things.")]
    assert result_json(await call_tool(app, "modern", "find", {})) == {"ok": True}


def test_an_operation_id_is_matched_before_another_route_s_default_name(caplog: pytest.LogCaptureFixture) -> None:
    """``read_a_get`` is FastAPI's operation id of ``GET /a`` (function ``read``, tool ``read``)
    and the default name of ``GET /b``, whose operation id ``read.a.get`` it is cleaned to."""
    document = _doc(("/a", "get", {"operationId": "read_a_get"}), ("/b", "get", {"operationId": "read.a.get"}))
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_filter=ToolFilter(exclude_operations=frozenset(["read_a_get"])))
    assert [(s.name, s.path) for s in catalog.tools] == [("read_a_get", "/b")]
    assert _messages(caplog) == [
        "MCPMiddleware exclude_operations 'read_a_get' matches GET /a (its operation id), not GET /b (its default "
        "tool name): an operation filter value matches the routes whose operation id it is, else those whose "
        "default tool name it is, else those given it as their tool name; name GET /b by its operation id "
        "'read.a.get' or its path"
    ]


@pytest.mark.parametrize(
    "tool_filter",
    [
        ToolFilter(include_tags=frozenset(["v2"]), exclude_operations=frozenset(["search"])),
        ToolFilter(exclude_tags=frozenset(["v1"]), exclude_operations=frozenset(["search"])),
        ToolFilter(exclude_paths=("/v1/*",), exclude_operations=frozenset(["search"])),
        ToolFilter(methods=frozenset(["POST"]), exclude_operations=frozenset(["search"])),
    ],
)
def test_an_operation_filter_value_weighs_only_the_routes_the_other_filters_keep(
    caplog: pytest.LogCaptureFixture, tool_filter: ToolFilter
) -> None:
    """Review (94694b8): with ``include_tags=["v2"]``, ``tool_names={"find": "search"}`` and
    ``exclude_operations=["search"]``, the value matched ``GET /v1/search`` by its default name,
    a route the tag filter leaves out anyway, so the tool renamed ``search`` was kept. A value
    names a route by the names the routes that would be tools have: those the tag, path and
    method filters keep."""
    document = _doc(
        ("/v1/search", "get", {"operationId": "search_v1_search_get", "tags": ["v1"]}),
        ("/v2/find", "post", {"operationId": "find_v2_find_post", "tags": ["v2"]}),
        ("/v2/other", "post", {"operationId": "other", "tags": ["v2"]}),
    )
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(document, tool_names={"find": "search"}, tool_filter=tool_filter)
    assert _names(catalog) == ["other"]
    assert _messages(caplog) == []


def test_an_operation_filter_value_weighs_only_the_routes_a_call_reaches(caplog: pytest.LogCaptureFixture) -> None:
    """A route no call reaches is no tool either (left out with its own warning): it takes no
    filter value from the route given its name."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        kept = catalog_from_app(_stranded_app(), tool_names={"search_all": "deep"})
        catalog = catalog_from_app(
            _stranded_app(),
            tool_names={"search_all": "deep"},
            tool_filter=ToolFilter(exclude_operations=frozenset(["deep"])),
        )
    assert _names(kept) == ["deep"]
    assert _names(catalog) == []
