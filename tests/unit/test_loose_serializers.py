"""A response model whose JSON its documented schema may not describe: a serializer without a
return annotation (``@field_serializer``, ``@model_serializer``, plain or wrap) or the
``json_encoders`` option, in the model or one it holds. FastAPI documents the field's own type,
the route answers the serializer's value: the tool gets no ``outputSchema`` (its JSON goes out as
text), and the catalog says so, once per route."""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import logging
import warnings
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import (
    BaseModel,
    ConfigDict,
    HttpUrl,
    PlainSerializer,
    SecretStr,
    WrapSerializer,
    field_serializer,
    model_serializer,
    with_config,
)
from pydantic.dataclasses import dataclass
from typing_extensions import TypedDict

from mcp_middleware import MCPMiddleware
from tests.support import BASE_HEADERS, post, request

# json_encoders: deprecated since pydantic 2.0, still applied (and said again whenever FastAPI builds a schema)
pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:`json_encoders` is deprecated")]

HEADERS = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}  # a revision with output schemas
AT = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class Event(BaseModel):
    id: int

    @field_serializer("id")
    def public_id(self, v):  # type: ignore[no-untyped-def]  # no return annotation: the point
        return f"evt_{v}"


with warnings.catch_warnings():  # deprecated since pydantic 2.0, still applied
    warnings.simplefilter("ignore", DeprecationWarning)

    class Legacy(BaseModel):
        model_config = ConfigDict(json_encoders={datetime.datetime: lambda v: v.timestamp()})
        at: datetime.datetime


class Whole(BaseModel):
    id: int

    @model_serializer
    def whole(self):  # type: ignore[no-untyped-def]
        return {"id": str(self.id)}


class Wrapped(BaseModel):
    id: int

    @model_serializer(mode="wrap")
    def wrapped(self, handler):  # type: ignore[no-untyped-def]
        return {**handler(self), "id": str(self.id)}


class WrappedField(BaseModel):
    id: int

    @field_serializer("id", mode="wrap")
    def wrapped(self, v, handler):  # type: ignore[no-untyped-def]
        return str(handler(v))


@dataclass
class Stamp:
    at: datetime.datetime

    @field_serializer("at")
    def seconds(self, v):  # type: ignore[no-untyped-def]
        return v.timestamp()


class Holder(BaseModel):
    items: dict[str, Event | int]
    stamp: Stamp | None = None


class Annotated_(BaseModel):
    id: int

    @field_serializer("id")
    def public_id(self, v: int) -> str:
        return f"evt_{v}"


class Explicit(BaseModel):
    id: int

    @field_serializer("id", return_type=str)
    def public_id(self, v):  # type: ignore[no-untyped-def]
        return f"evt_{v}"


# the pydantic-v2 way to write a reusable serializer: a lambda cannot be annotated
Timestamp = Annotated[datetime.datetime, PlainSerializer(lambda v: int(v.timestamp()))]
Money = Annotated[float, PlainSerializer(lambda v: f"{v:.2f}", when_used="json")]
Rounded = Annotated[float, WrapSerializer(lambda v, handler: str(handler(v)), when_used="unless-none")]


class Timed(BaseModel):
    at: Timestamp


class Feed(BaseModel):
    events: list[Timed]


class Price(BaseModel):
    amount: Money
    rounded: Rounded | None = None


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    class Shared(BaseModel):  # a base config migrated from pydantic v1
        model_config = ConfigDict(json_encoders={datetime.date: lambda v: v.toordinal()})

    class User(Shared):  # no date anywhere: the encoder is never used
        id: int
        name: str
        kind: Literal["user"] = "user"  # a Literal's arguments are values, not types

    class Dated(TypedDict):  # a TypedDict has the config of the model holding it
        on: datetime.datetime  # a date too: pydantic matches an encoder along the type's MRO

    class Member(Shared):
        dated: list[Dated | None]


class Infinite(BaseModel):  # review D5: inf written "Infinity", where the schema says a number
    model_config = ConfigDict(ser_json_inf_nan="strings")
    f: float | None


class Reading(TypedDict):  # a TypedDict has the config of the model holding it
    value: float


class Readings(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="strings")
    readings: list[Reading]


class Measured(BaseModel):
    f: float


class Counted(BaseModel):  # no float: ser_json_inf_nan changes nothing
    model_config = ConfigDict(ser_json_inf_nan="strings")
    n: int
    inner: Measured | None = None  # a model has its own config


class Counts(BaseModel):  # the float is a model's own, with its own config
    model_config = ConfigDict(ser_json_inf_nan="strings")
    measured: Measured


@with_config(ConfigDict(ser_json_inf_nan="strings"))
class OwnConfig(TypedDict):  # its own ser_json_inf_nan is not what pydantic writes it with (re-review rr2 #4)
    value: float


class HoldsOwnConfig(BaseModel):  # the default config: its floats' inf written null
    held: OwnConfig


INF = float("inf")

LOOSE: list[tuple[str, Any, Any, str, str]] = [
    # path, response model, value, the model the warning names, the route's JSON
    ("/event", Event, Event(id=1), "Event", '{"id":"evt_1"}'),
    ("/legacy", Legacy, Legacy(at=AT), "Legacy", '{"at":1767225600.0}'),
    ("/whole", Whole, Whole(id=1), "Whole", '{"id":"1"}'),
    ("/wrapped", Wrapped, Wrapped(id=1), "Wrapped", '{"id":"1"}'),
    ("/wrapped-field", WrappedField, WrappedField(id=1), "WrappedField", '{"id":"1"}'),
    ("/events", list[Event], [Event(id=1)], "Event", '[{"id":"evt_1"}]'),
    (
        "/holder",
        Holder,
        Holder(items={"a": Event(id=2), "b": 3}),
        "Event",
        '{"items":{"a":{"id":"evt_2"},"b":3},"stamp":null}',
    ),
    (
        "/stamped",
        Holder | None,
        Holder(items={}, stamp=Stamp(at=AT)),
        "Stamp",
        '{"items":{},"stamp":{"at":1767225600.0}}',
    ),
    ("/timed", Timed, Timed(at=AT), "Timed", '{"at":1767225600}'),
    ("/feed", Feed, Feed(events=[Timed(at=AT)]), "Timed", '{"events":[{"at":1767225600}]}'),
    ("/price", Price, Price(amount=1.5, rounded=2.0), "Price", '{"amount":"1.50","rounded":"2.0"}'),
    ("/stamps", list[Timestamp], [AT], "PlainSerializer", "[1767225600]"),
    ("/member", Member, Member(dated=[{"on": AT}]), "Member", '{"dated":[{"on":739617}]}'),
    ("/infinite", Infinite, Infinite(f=INF), "Infinite", '{"f":"Infinity"}'),
    ("/infinites", dict[str, Infinite], {"a": Infinite(f=-INF)}, "Infinite", '{"a":{"f":"-Infinity"}}'),
    ("/readings", Readings, Readings(readings=[{"value": INF}]), "Readings", '{"readings":[{"value":"Infinity"}]}'),
]


def _app(path: str, model: Any, value: Any) -> FastAPI:
    app = FastAPI()
    app.get(path, operation_id="read", response_model=model)(lambda: value)
    app.add_middleware(MCPMiddleware)
    return app


async def _read(app: FastAPI) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``read`` tool as listed, and the result of calling it."""
    tools = (await post(app, request("tools/list", {}), HEADERS)).result()["tools"]
    result = (await post(app, request("tools/call", {"name": "read", "arguments": {}}), HEADERS)).result()
    return tools[0], result


@pytest.mark.parametrize(("path", "model", "value", "named", "written"), LOOSE, ids=[case[0] for case in LOOSE])
async def test_a_serializer_without_return_annotation_leaves_out_the_output_schema(
    path: str, model: Any, value: Any, named: str, written: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: the tool had the documented schema (``id`` an integer) and every call failed with
    "... whose 'id' is a string where the schema says integer, so it is not this tool's result"."""
    app = _app(path, model, value)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        tool, result = await _read(app)
        await _read(app)  # said once, however often the tools are listed
    assert "outputSchema" not in tool
    assert result == {"content": [{"type": "text", "text": written}]}
    warnings = [r.getMessage() for r in caplog.records if "serializ" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"Route GET {path}: "), warnings
    assert f"'{named}'" in warnings[0], warnings


@pytest.mark.parametrize("model", [Annotated_, Explicit])
async def test_an_annotated_serializer_keeps_the_output_schema(model: Any, caplog: pytest.LogCaptureFixture) -> None:
    """FastAPI documents the response model in serialization mode, which follows the serializer's
    return type (``-> str``, ``return_type=str``): the schema says what the route writes."""
    app = _app("/annotated", model, model(id=1))
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        tool, result = await _read(app)
    assert tool["outputSchema"]["properties"]["id"]["type"] == "string"
    assert result["structuredContent"] == {"id": "evt_1"}
    assert not [r for r in caplog.records if "serializ" in r.getMessage()]


class Builtins(BaseModel):
    """pydantic's own types, some serialized by pydantic's functions (no return type: not the user's)."""

    url: HttpUrl
    ip: ipaddress.IPv4Address
    net: ipaddress.IPv6Network
    secret: SecretStr
    price: decimal.Decimal
    at: datetime.datetime
    seconds: Annotated[datetime.datetime, PlainSerializer(lambda v: int(v.timestamp()), return_type=int)]


BUILTINS = Builtins(
    url=HttpUrl("https://example.com/a"),
    ip=ipaddress.IPv4Address("10.0.0.1"),
    net=ipaddress.IPv6Network("fe80::/64"),
    secret=SecretStr("s"),
    price=decimal.Decimal("1.5"),
    at=AT,
    seconds=AT,
)


@pytest.mark.parametrize(
    ("model", "value", "structured"),
    [
        (
            Builtins,
            BUILTINS,
            {
                "url": "https://example.com/a",
                "ip": "10.0.0.1",
                "net": "fe80::/64",
                "secret": "**********",
                "price": "1.5",
                "at": "2026-01-01T00:00:00Z",
                "seconds": 1767225600,
            },
        ),
        (User, User(id=1, name="ann"), {"id": 1, "name": "ann", "kind": "user"}),
        (Counted, Counted(n=1), {"n": 1, "inner": None}),
        (Counts, Counts(measured=Measured(f=1.5)), {"measured": {"f": 1.5}}),
        (HoldsOwnConfig, HoldsOwnConfig(held={"value": 1.5}), {"held": {"value": 1.5}}),
        (OwnConfig, {"value": 1.5}, {"value": 1.5}),
    ],
    ids=[
        *("builtins", "unused-json-encoders", "inf-nan-strings-without-a-float", "inf-nan-strings-beside-a-model"),
        *("inf-nan-strings-of-a-held-typed-dict", "inf-nan-strings-of-the-typed-dict-itself"),
    ],
)
async def test_a_model_whose_json_the_document_describes_keeps_the_output_schema(
    model: Any, value: Any, structured: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (false positive): ``json_encoders`` for a type no field has (a shared base config)
    cost the tool its ``outputSchema``; pydantic's own serializers, which have no return type
    either, must not."""
    app = _app("/plain", model, value)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        tool, result = await _read(app)
    assert "outputSchema" in tool
    assert result["structuredContent"] == structured
    assert not [r for r in caplog.records if "serializ" in r.getMessage()]


@pytest.mark.parametrize(
    ("model", "value", "written"),
    [
        (HoldsOwnConfig, HoldsOwnConfig(held={"value": INF}), '{"held":{"value":null}}'),
        (OwnConfig, {"value": INF}, '{"value":null}'),
    ],
    ids=["held", "itself"],
)
async def test_a_typed_dicts_own_inf_nan_config_is_not_what_writes_it(model: Any, value: Any, written: str) -> None:
    """Why its own ``ser_json_inf_nan="strings"`` is not counted (above): pydantic writes its
    infinity null, as the default config does, held by a model or as the response model itself."""
    app = FastAPI()
    app.get("/held", response_model=model)(lambda: value)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/held")).text == written


async def test_a_mounted_apps_route_is_named_under_its_prefix(caplog: pytest.LogCaptureFixture) -> None:
    v2 = FastAPI()
    v2.get("/event", operation_id="read", response_model=Event)(lambda: Event(id=1))
    app = FastAPI()
    app.mount("/v2", v2)
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        tool, result = await _read(app)
    assert "outputSchema" not in tool
    assert result == {"content": [{"type": "text", "text": '{"id":"evt_1"}'}]}
    assert [r.getMessage()[:24] for r in caplog.records if "serializ" in r.getMessage()] == ["Route GET /v2/event: its"]


def test_a_response_model_without_a_core_schema_is_left_to_the_other_checks() -> None:
    """``loose_models`` reads pydantic's core schema; a type pydantic cannot take has none."""
    from mcp_middleware._loose_serializers import loose_models

    assert loose_models(object()) == []
    assert loose_models(Annotated_) == []
    assert loose_models(Builtins) == []
    assert loose_models(User) == []
    assert loose_models(dict[str, list[Holder | None]]) == ["Event", "Stamp"]
    # Member's json_encoders, and Dated, whose field pydantic gives Member's encoder
    assert loose_models(dict[str, Feed | Member]) == ["Dated", "Member", "Timed"]


def test_json_encoders_count_where_a_fields_type_cannot_be_read() -> None:
    """Not sure whether an encoder's type is held: it counts (the tool loses its ``outputSchema``,
    rather than keeping one its results may not fit)."""
    from mcp_middleware._loose_serializers import _may_encode

    class Unresolved:
        at: Nowhere  # type: ignore[name-defined]  # noqa: F821  # not a type get_type_hints finds

    assert _may_encode(Unresolved, {datetime.date: str})
    assert not _may_encode(User, {datetime.date: str})
    assert _may_encode(Member, {datetime.date: str})
