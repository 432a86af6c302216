"""What compiling the hot path with mypyc would save: the same code, pure and compiled, side by side.

    python -m benchmarks.compiled                     # ~5 min: build (2-4 min on 2 CPUs), 2 × 2 interleaved runs
    python -m benchmarks.compiled --runs 3 --rounds 20
    python -m benchmarks.compiled --tests             # also run tests/unit against the compiled copy

An experiment, not a way to install the package: nothing ships compiled. It copies
``mcp_middleware/`` to ``--into`` (default ``.bench-compiled/`` in the repository, ignored by
git), compiles the modules a ``tools/call`` runs through with mypyc (part of mypy, a test
dependency; it needs a C compiler), and then runs ``benchmarks.interleaved`` alternately on the
repository's package and on the compiled copy, each in a process of its own, ``--runs`` times
each. ``--tests`` then runs the unit tests against the compiled copy: see ``benchmarks/README.md``
for the tests that fail there and why (a mypyc miscompilation of ``try``/``finally`` with an
``await`` in the ``finally`` block, and tests that subclass compiled classes).

``context.py`` (an exception class derived from ``RuntimeError``) and ``_ticker.py`` (an async
generator) are left out: mypyc cannot compile them. So are the modules that define pydantic
models: mypyc 2.4.1 emits C that references a module it never declares
(``CPyModule_pydantic___main``) for a ``BaseModel`` subclass, and gcc refuses it; and
``middleware.py``, whose ``MCPMiddleware.__init__`` mypyc's C calls with too few arguments (see
``LEFT_OUT``). The rest of the package stays interpreted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["HOT", "LEFT_OUT", "build", "main"]

ROOT = Path(__file__).resolve().parent.parent
HOT = (
    "handlers.py",
    "_served_app.py",
    "_invocation.py",
    "toolcall.py",
    "_call_registry.py",
    "_tool_run.py",
    "_run_handle.py",
    "_call_types.py",
    "_guard.py",
    "dispatch.py",
    "_requests.py",
    "_plan.py",
    "_paths.py",
    "_query_and_body.py",
    "_values.py",
    "results.py",
    "_body.py",
    "_body_text.py",
    "_response_headers.py",
    "_result_shapes.py",
    "_redaction.py",
    "jsonrpc.py",
    "_rpc_messages.py",
    "_rpc_parse.py",
    "_exact_json.py",
    "transport/endpoint.py",
    "transport/handshake.py",
    "transport/modern.py",
    "transport/_http.py",
    "transport/_checks.py",
    "transport/_responder.py",
)
# on a tools/call's path, but mypyc (2.4.1) cannot build them: they stay interpreted in the copy
LEFT_OUT = {
    "validation.py": "defines a pydantic model (_Answers); mypyc's C references CPyModule_pydantic___main",
    "middleware.py": "mypyc's C calls MCPMiddleware.__init__ with too few arguments",
}


def build(into: Path, modules: Sequence[str] = HOT) -> None:
    """A copy of the package in ``into`` with ``modules`` compiled in place (``.so`` beside them)."""
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        sys.exit("mypyc needs a C compiler: install gcc (Debian: apt-get install -y gcc)")
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    shutil.copytree(ROOT / "mcp_middleware", into / "mcp_middleware", ignore=shutil.ignore_patterns("__pycache__"))
    paths = [f"mcp_middleware/{name}" for name in modules]
    done = subprocess.run([sys.executable, "-m", "mypyc", *paths], cwd=into, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"mypyc failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    # the tests, to run against the copy (pytest puts the directory above `tests` first on sys.path)
    shutil.copytree(ROOT / "tests", into / "tests", ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")


def _compiled_in(where: Path) -> bool:
    """Whether a process started in ``where`` imports a compiled ``toolcall``."""
    probe = "import mcp_middleware.toolcall as t; print(t.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=where, env=_env(), capture_output=True, text=True)
    return out.stdout.strip().endswith(".so")


def _env() -> dict[str, str]:
    # `benchmarks` from the repository; `mcp_middleware` from the working directory (sys.path[0])
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _interleaved(where: Path, rounds: int, per_round: int) -> str:
    args = [sys.executable, "-m", "benchmarks.interleaved", "--rounds", str(rounds), "--per-round", str(per_round)]
    done = subprocess.run(args, cwd=where, env=_env(), capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"benchmarks.interleaved failed in {where}:\n{done.stderr[-3000:]}")
    return done.stdout


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--into", type=Path, default=ROOT / ".bench-compiled", help="where the compiled copy goes")
    parser.add_argument("--runs", type=int, default=2, help="interleaved runs of each, alternating, 1..5")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per interleaved run, 3..200")
    parser.add_argument("--per-round", type=int, default=300, help="requests per row and round, 20..5000")
    parser.add_argument("--tests", action="store_true", help="also run tests/unit against the compiled copy")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 5:
        parser.error("--runs must be 1..5")
    into: Path = args.into.resolve()
    build(into)
    left_out = "; ".join(f"{name} ({why})" for name, why in LEFT_OUT.items())
    print(f"compiled {len(HOT)} modules; left interpreted: {left_out}", flush=True)
    if not _compiled_in(into):
        sys.exit(f"the copy in {into} did not import compiled")
    for run in range(args.runs):
        for label, where in (("pure", ROOT), ("compiled", into)):
            print(f"== {label} (run {run + 1} of {args.runs})", flush=True)
            print(_interleaved(where, args.rounds, args.per_round), flush=True)
    if args.tests:
        tests = [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"]
        sys.exit(subprocess.run(tests, cwd=into, env=_env()).returncode)


if __name__ == "__main__":
    main()
