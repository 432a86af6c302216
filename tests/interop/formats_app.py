"""Routes whose JSON pydantic writes in forms a JSON Schema ``format`` would refuse: a naive
datetime and time (no offset, which RFC 3339 needs), a timedelta (``-PT1H``) and a ``re.Pattern``
(``(?P<word>...)``, no ECMA-262), and a ``Field(pattern=...)`` in Python's syntax, which made the
client's ``listTools`` throw. ``test_typescript_client`` calls them with the official client,
which compiles each tool's ``outputSchema`` (ajv) and checks formats (ajv-formats) against it."""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Annotated

from fastapi import FastAPI, Query
from pydantic import BaseModel, Field, HttpUrl, WithJsonSchema

from mcp_middleware import MCPMiddleware

app = FastAPI(title="Formats")


class Event(BaseModel):
    title: str
    created_at: datetime.datetime  # naive, as from datetime.now() or a DateTime column


class Slot(BaseModel):
    starts: datetime.time


class Timer(BaseModel):
    elapsed: datetime.timedelta


class Rx(BaseModel):
    pattern: re.Pattern[str]


@app.get("/event", operation_id="event")
def event() -> Event:
    return Event(title="standup", created_at=datetime.datetime(2024, 5, 1, 9, 30))


@app.get("/slot", operation_id="slot")
def slot() -> Slot:
    return Slot(starts=datetime.time(9, 30))


@app.get("/timer", operation_id="timer")
def timer() -> Timer:
    return Timer(elapsed=datetime.timedelta(hours=-1))


@app.get("/rx", operation_id="rx")
def rx() -> Rx:
    return Rx(pattern=re.compile(r"(?P<word>\w+)"))


class Code(BaseModel):
    code: str = Field(pattern=r"^(?P<word>[a-z]+)$")


@app.get("/code", operation_id="code")
def code(prefix: Annotated[str, Query(pattern=r"^(?P<p>[a-z]*)$")] = "ab") -> Code:
    return Code(code=prefix + "c")


@app.get("/flags", operation_id="flags")
def flags() -> dict[str, bool]:  # an object schema without properties: {"additionalProperties": {...}}
    return {"deleted": True}


@app.get("/stamps", operation_id="stamps")
def stamps() -> dict[str, datetime.datetime]:  # ... whose values' format would be refused too
    return {"created": datetime.datetime(2024, 5, 1, 9, 30)}


class Sale(BaseModel):
    amount: float = Field(multiple_of=0.01)  # 19.99 is no multiple of 0.01 in floating point
    boxes: int = Field(multiple_of=6)  # an integer's: kept, and checked exactly alike
    email: Annotated[str, WithJsonSchema({"type": "string", "format": "email"})]  # as EmailStr says
    url: HttpUrl  # written with | { ^ unescaped
    host: ipaddress.IPv6Address  # may be scoped


@app.get("/sale", operation_id="sale")
def sale() -> Sale:
    return Sale(
        amount=19.99,
        boxes=12,
        email="josé@example.com",
        url=HttpUrl("https://maps.example.com/?markers=a|b&q={x}^"),
        host=ipaddress.IPv6Address("fe80::1%eth0"),
    )


app.add_middleware(MCPMiddleware)
