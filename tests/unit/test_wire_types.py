"""The SDK's wire types load with deferred building (mcp_middleware/_wire_types.py) and work the same.

Each case runs in a fresh interpreter: what is imported first decides what happens.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

# What the package does with the wire types, run in both modes; the outputs must be equal.
_EXERCISE = """
import gc
import hashlib
import json
import pydantic
import mcp_types
from mcp_types.methods import CLIENT_REQUESTS, serialize_server_result, validate_client_request
from pydantic._internal._config import config_defaults

out = {"deferred_at_start": not mcp_types.CreateTaskResult.__pydantic_complete__}
# The SDK's module-level adapters over unions of wire types (none of them used by the package).
ADAPTERS = [
    "client_request_adapter",
    "client_notification_adapter",
    "client_result_adapter",
    "server_request_adapter",
    "server_notification_adapter",
    "server_result_adapter",
    "jsonrpc_message_adapter",
]
out["adapters_built_at_start"] = [getattr(mcp_types, name).pydantic_complete for name in ADAPTERS]
call = {"name": "get_item", "arguments": {"item_id": 1}, "_meta": {"progressToken": 7}}
envelope = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
for version in ("2025-06-18", "2025-11-25", "2026-07-28"):
    if version == "2026-07-28":
        call["_meta"].update(envelope)
    validate_client_request("tools/call", version, call)
    try:
        validate_client_request("tools/call", version, {"arguments": []})
    except pydantic.ValidationError as exc:
        out[f"error {version}"] = [(e["type"], e["loc"]) for e in exc.errors(include_url=False)]
    result = {"content": [{"type": "text", "text": "hi", "annotations": {"priority": 0.5}}], "isError": False}
    if version == "2026-07-28":
        result["resultType"] = "complete"
    out[f"result {version}"] = serialize_server_result("tools/call", version, result)
out["schema"] = CLIENT_REQUESTS[("tools/call", "2025-11-25")].model_json_schema()
out["unused_built"] = mcp_types.CreateTaskResult.__pydantic_complete__


def use_adapters():  # first use from inside a function, as the SDK's own code uses them
    samples = {
        "client_request_adapter": {"method": "tools/call", "params": {"name": "x", "arguments": {"a": 1}}},
        "client_notification_adapter": {"method": "notifications/cancelled", "params": {"requestId": 3}},
        "client_result_adapter": {"roots": [{"uri": "file:///tmp"}]},
        "server_request_adapter": {"method": "roots/list"},
        "server_notification_adapter": {
            "method": "notifications/progress",
            "params": {"progressToken": 1, "progress": 2},
        },
        "server_result_adapter": {"content": [{"type": "text", "text": "hi"}], "isError": False},
        "jsonrpc_message_adapter": {"jsonrpc": "2.0", "id": 1, "method": "ping"},
    }
    for name in ADAPTERS:
        adapter = getattr(mcp_types, name)
        value = adapter.validate_json(json.dumps(samples[name]), by_name=False)
        out[f"adapter {name}"] = adapter.dump_python(value, by_alias=True, mode="json", exclude_none=True)
        try:
            adapter.validate_python({"method": 42})
        except pydantic.ValidationError as exc:
            out[f"adapter error {name}"] = exc.error_count()
        digest = json.dumps(adapter.json_schema(by_alias=True), sort_keys=True).encode()
        out[f"adapter schema {name}"] = hashlib.sha1(digest).hexdigest()


use_adapters()
out["later_adapter_built"] = pydantic.TypeAdapter(list[int]).pydantic_complete
out["adapter_switch_after"] = pydantic.TypeAdapter.__dict__["_defer_build"].fget.__module__
out["default_after"] = config_defaults["defer_build"]


class Later(pydantic.BaseModel):
    x: int


out["later_built"] = Later.__pydantic_complete__
# Last: every wire type built (deferred ones on first use, here), with its JSON schema's digest.
models = {c for c in gc.get_objects() if isinstance(c, type) and issubclass(c, pydantic.BaseModel)}
out["all_models"] = {
    f"{m.__module__}.{m.__qualname__}": hashlib.sha1(
        json.dumps(m.model_json_schema(by_alias=True), sort_keys=True).encode()
    ).hexdigest()
    for m in models
    if m.__module__.startswith("mcp_types")
}
out["all_built"] = all(m.__pydantic_complete__ for m in models if m.__module__.startswith("mcp_types"))
print(json.dumps(out))
"""


def _run(prelude: str) -> dict[str, Any]:
    script = textwrap.dedent(prelude) + _EXERCISE
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_package_loads_the_wire_types_deferred_and_they_work_as_built_ones() -> None:
    deferred = _run("import mcp_middleware")
    eager = _run("import mcp_types.methods\nimport mcp_middleware")  # the SDK first: nothing deferred
    assert deferred.pop("deferred_at_start") is True
    assert eager.pop("deferred_at_start") is False
    assert deferred.pop("unused_built") is False  # never used: never built
    assert eager.pop("unused_built") is True
    assert deferred.pop("adapters_built_at_start") == [False] * 7
    assert eager.pop("adapters_built_at_start") == [True] * 7
    assert deferred == eager  # same validation, errors, dumps and JSON schemas, of every wire type
    assert len(deferred["all_models"]) > 400
    assert deferred["all_built"] is True
    assert deferred["default_after"] is False  # pydantic's default is back
    assert deferred["later_built"] is True  # models defined afterwards are built as usual
    assert deferred["later_adapter_built"] is True  # and adapters made afterwards
    assert deferred["adapter_switch_after"] == "pydantic.type_adapter"  # pydantic's own switch is back
    assert all(deferred[f"adapter error {name}"] > 0 for name in ("client_request_adapter", "jsonrpc_message_adapter"))
    assert deferred["error 2025-11-25"]  # the bad call was refused in both eras
    assert deferred["error 2026-07-28"]


_ALONE = """
import importlib.util, pathlib
path = pathlib.Path(importlib.util.find_spec("mcp_middleware").origin).with_name("_wire_types.py")
spec = importlib.util.spec_from_file_location("wire_types_alone", path)
wire = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wire)  # the module alone, without the package (whose import runs load())
"""


def test_load_says_whether_it_deferred() -> None:
    assert _run(_ALONE + "assert wire.load() is True")["deferred_at_start"] is True
    assert _run("import mcp_types.methods" + _ALONE + "assert wire.load() is False")["unused_built"] is True


def test_without_the_expected_pydantic_internals_the_types_load_as_usual() -> None:
    out = _run(_ALONE + "wire._defaults = lambda: None  # as if pydantic had changed\nassert wire.load() is False")
    assert out["deferred_at_start"] is False
    assert out["unused_built"] is True
    assert out["adapters_built_at_start"] == [True] * 7


def test_without_the_expected_adapter_switch_only_the_models_are_deferred() -> None:
    out = _run(_ALONE + "wire._adapter_class = lambda: None  # as if pydantic had changed\nassert wire.load() is True")
    assert out["deferred_at_start"] is True
    assert out["unused_built"] is False
    assert out["adapters_built_at_start"] == [True] * 7


def test_a_failing_import_puts_the_default_back() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import importlib.abc, sys

                class Refuse(importlib.abc.MetaPathFinder):
                    def find_spec(self, name, path=None, target=None):
                        if name == "mcp_types.methods":
                            raise ImportError("refused for the test")
                        return None

                sys.meta_path.insert(0, Refuse())
                try:
                    import mcp_middleware
                except ImportError as exc:
                    print("raised:", exc)
                from pydantic._internal._config import config_defaults
                from pydantic import TypeAdapter
                print("default:", config_defaults["defer_build"])
                print("adapter switch:", TypeAdapter.__dict__["_defer_build"].fget.__module__)
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "raised: refused for the test",
        "default: False",
        "adapter switch: pydantic.type_adapter",
    ]


_STAND_INS = ("__pydantic_core_schema__", "__pydantic_validator__", "__pydantic_serializer__")


def test_a_deferred_wire_type_is_built_through_a_rebuild_and_pydantic_gets_its_function_back() -> None:
    check = f"""
    import sys, mcp_types
    from pydantic._internal import _mock_val_ser, _model_construction
    from mcp_middleware._wire_types import _Rebuild
    stand_ins = [mcp_types.CreateTaskResult.__dict__[name] for name in {_STAND_INS!r}]
    rebuilds = [s._attempt_rebuild for s in stand_ins]
    assert all(type(r) is _Rebuild for r in rebuilds), rebuilds
    assert [(r.cls, r.name) for r in rebuilds] == [(mcp_types.CreateTaskResult, name) for name in {_STAND_INS!r}]
    assert not hasattr(rebuilds[0], "__dict__")  # one small object each (see the module's docstring)
    assert sys.getsizeof(rebuilds[0]) <= 48, sys.getsizeof(rebuilds[0])
    assert _model_construction.set_model_mocks is _mock_val_ser.set_model_mocks
    """
    out = _run("import mcp_middleware\n" + textwrap.dedent(check))
    assert out["deferred_at_start"] is True
    assert out["all_built"] is True  # each, on first use, through its rebuilds


def test_without_the_expected_mocks_the_models_keep_pydantics_own() -> None:
    check = f"""
    import types, mcp_types
    stand_ins = [mcp_types.CreateTaskResult.__dict__[name] for name in {_STAND_INS!r}]
    assert all(isinstance(s._attempt_rebuild, types.FunctionType) for s in stand_ins), stand_ins
    """
    prelude = _ALONE + "wire._construction = lambda: None  # as if pydantic had changed\nassert wire.load() is True\n"
    out = _run(prelude + textwrap.dedent(check))
    assert out["deferred_at_start"] is True
    assert out["unused_built"] is False


def test_the_lighter_stand_ins_build_the_model_or_raise_pydantics_error() -> None:
    from pydantic import BaseModel, ConfigDict, PydanticUserError
    from pydantic._internal._mock_val_ser import set_model_mocks

    from mcp_middleware._wire_types import _construction, _lighter

    assert _construction() is not None  # the pydantic installed here is the one the package expects

    class Deferred(BaseModel):
        model_config = ConfigDict(defer_build=True)
        x: int

    _lighter(set_model_mocks)(Deferred)
    assert not Deferred.__pydantic_complete__
    assert Deferred(x=1).model_dump() == {"x": 1}  # the first use builds it
    assert Deferred.__pydantic_complete__

    class Undefined(BaseModel):
        model_config = ConfigDict(defer_build=True)
        x: Missing  # type: ignore[name-defined]  # noqa: F821

    _lighter(set_model_mocks)(Undefined, "`Missing`")
    with pytest.raises(PydanticUserError, match="`Undefined` is not fully defined; you should define `Missing`"):
        Undefined(x=1)


def test_the_lighter_stand_ins_pass_on_only_the_arguments_pydantic_gave() -> None:
    """pydantic's default for the name in its error differs between its versions (2.12: a text, 2.14:
    None it fills in): a stand-in made with one argument reads exactly as pydantic's own."""
    from pydantic import BaseModel, ConfigDict, PydanticUserError
    from pydantic._internal._mock_val_ser import set_model_mocks

    from mcp_middleware._wire_types import _lighter

    def message(mocks: Any) -> str:
        class Undefined(BaseModel):
            model_config = ConfigDict(defer_build=True)
            x: Missing  # type: ignore[name-defined]  # noqa: F821

        mocks(Undefined)
        with pytest.raises(PydanticUserError) as raised:
            Undefined(x=1)
        return str(raised.value)

    assert message(_lighter(set_model_mocks)) == message(set_model_mocks)
    assert "define None" not in message(_lighter(set_model_mocks))


_QUALIFIERS = """
import gc, pydantic
models = [c for c in gc.get_objects() if isinstance(c, type) and issubclass(c, pydantic.BaseModel)]
infos = [i for m in models if m.__module__.startswith("mcp_types") for i in m.__pydantic_fields__.values()]
print("qualifiers:", sorted({type(i._qualifiers).__name__ for i in infos if not i._qualifiers}), len(infos))
print("shared:", len({id(i._qualifiers) for i in infos if not i._qualifiers}))
"""


def _qualifiers(prelude: str) -> list[str]:
    script = textwrap.dedent(prelude) + _QUALIFIERS
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_wire_types_fields_without_qualifiers_share_one_empty_frozenset() -> None:
    kinds, shared = _qualifiers("import mcp_middleware")
    assert kinds.startswith("qualifiers: ['frozenset'] "), kinds
    assert int(kinds.split()[-1]) > 1000, kinds
    assert shared == "shared: 1"
    kinds, shared = _qualifiers("import mcp_types.methods\nimport mcp_middleware")  # the SDK first: untouched
    assert kinds.startswith("qualifiers: ['set'] "), kinds
    assert shared != "shared: 1"


_DECORATORS = """
import dataclasses, gc, pydantic
models = [c for c in gc.get_objects() if isinstance(c, type) and issubclass(c, pydantic.BaseModel)]
wire = [m for m in models if m.__module__.startswith("mcp_types")]
infos = [m.__dict__["__pydantic_decorators__"] for m in wire]
empty = [i for i in infos if not any(getattr(i, f.name) for f in dataclasses.fields(i))]
print("empty:", len(empty), "of", len(infos))
print("shared:", len({id(i) for i in empty}))
print("others:", len({id(i) for i in infos if i not in empty}), "own", sum(1 for i in infos if i not in empty))
"""


def _decorators(prelude: str) -> list[str]:
    script = textwrap.dedent(prelude) + _DECORATORS
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_wire_types_without_decorators_share_one_empty_decorator_infos() -> None:
    empty, shared, others = _decorators("import mcp_middleware")
    assert int(empty.split()[1]) > 400, empty
    assert shared == "shared: 1"
    count = int(others.split()[-1])  # a model with decorators of its own keeps them, each its own
    assert count >= 1, others
    assert others == f"others: {count} own {count}", others
    empty, shared, _ = _decorators("import mcp_types.methods\nimport mcp_middleware")  # the SDK first: untouched
    assert shared == f"shared: {empty.split()[1]}", (empty, shared)


def test_a_shared_empty_decorator_infos_stays_empty_when_a_model_with_decorators_derives_from_it() -> None:
    """pydantic reads a base's decorators when it builds a subclass, and never writes them."""
    script = """
    import dataclasses, pydantic
    import mcp_middleware, mcp_types
    shared = mcp_types.CreateTaskResult.__dict__["__pydantic_decorators__"]
    assert shared is mcp_types.CallToolResult.__dict__["__pydantic_decorators__"]

    class Mine(mcp_types.CallToolResult):
        @pydantic.field_validator("is_error")
        @classmethod
        def flipped(cls, value):
            return not value

        @pydantic.computed_field
        @property
        def size(self) -> int:
            return len(self.content)

    assert Mine(content=[], isError=True).is_error is False
    assert Mine(content=[]).model_dump()["size"] == 0
    assert not any(getattr(shared, f.name) for f in dataclasses.fields(shared)), shared
    plain = mcp_types.CallToolResult(content=[], isError=True).model_dump(exclude_none=True)
    assert plain == {"content": [], "is_error": True, "result_type": "complete"}, plain  # the base's own
    print("ok")
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok"]
