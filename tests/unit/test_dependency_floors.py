"""The declared dependency floors and `.ci/minimums.txt`, the constraints `.ci/run`'s floor check
installs, say the same versions: each dependency of pyproject.toml (the runtime ones and the test
extra) has a `>=` floor, pinned there with `==`, and the file pins nothing else."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*?)\s*$")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def floors_of(requirements: list[str]) -> dict[str, str]:
    """Each requirement's name and the version of its ``>=`` bound; one without is an error."""
    floors = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        assert match, requirement
        bounds = [part.strip() for part in match[2].split(",")]
        lower = [bound[2:].strip() for bound in bounds if bound.startswith(">=")]
        assert len(lower) == 1, f"{requirement!r} declares no single '>=' floor"
        floors[normalized(match[1])] = lower[0]
    return floors


def pins_of(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r} in .ci/minimums.txt is no 'name==version' pin"
            pins[normalized(name)] = version.strip()
    return pins


def declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {**floors_of(project["dependencies"]), **floors_of(project["optional-dependencies"]["test"])}


def test_minimums_pin_every_declared_floor_and_nothing_else() -> None:
    assert pins_of((ROOT / ".ci" / "minimums.txt").read_text()) == declared()


def test_the_package_s_direct_imports_are_declared() -> None:
    """pydantic and python-multipart were used (by the package, by the tests' forms) and not declared."""
    assert {"pydantic", "starlette", "anyio", "mcp-types", "orjson", "python-multipart"} <= declared().keys()


@pytest.mark.parametrize(
    ("requirements", "error"),
    [(["starlette"], "no single"), (["starlette<2"], "no single"), (["a>=1,>=2"], "no single")],
)
def test_a_requirement_without_one_floor_is_refused(requirements: list[str], error: str) -> None:
    with pytest.raises(AssertionError, match=error):
        floors_of(requirements)


def test_floors_keep_extras_out_of_the_name_and_other_bounds_out_of_the_floor() -> None:
    assert floors_of(["uvicorn[standard] >= 0.31.1", "mcp-types>=2.3,<3", "Python_Multipart>=0.0.9"]) == {
        "uvicorn": "0.31.1",
        "mcp-types": "2.3",
        "python-multipart": "0.0.9",
    }


def test_a_minimums_line_that_is_no_pin_is_refused() -> None:
    assert pins_of("# comment\n\nanyio==4.10.0  # why\n") == {"anyio": "4.10.0"}
    with pytest.raises(AssertionError, match="no 'name==version' pin"):
        pins_of("anyio>=4.10.0\n")
