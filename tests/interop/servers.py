"""Start ASGI apps under uvicorn in a subprocess, for the interop tier.

``start_app("module:app")`` serves any app on a free port of 127.0.0.1 from the repository root
and yields its MCP endpoint URL; ``conftest.demo_server`` is that for ``examples.demo:app``.
``start_server`` yields the URL and the uvicorn process, for a test that signals it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["REPO_ROOT", "free_port", "start_app", "start_server"]

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_SECONDS = 20.0
POLL_INTERVAL_SECONDS = 0.05
SHUTDOWN_GRACE_SECONDS = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _exited(proc: subprocess.Popen[bytes], wait: float) -> bool:
    """Whether the process has exited, waiting at most ``wait`` seconds for it (the poll pause)."""
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        return False
    return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def start_app(
    target: str,
    *,
    path: str = "/mcp",
    env: Mapping[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Serve ``target`` (``"module:attr"``) with uvicorn; yield ``http://127.0.0.1:PORT{path}``
    (:func:`start_server`, without the process)."""
    with start_server(target, path=path, env=env, extra_args=extra_args) as (url, _):
        yield url


@contextmanager
def start_server(
    target: str,
    *,
    path: str = "/mcp",
    env: Mapping[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve ``target`` (``"module:attr"``) with uvicorn; yield ``http://127.0.0.1:PORT{path}`` and
    the uvicorn process.

    Runs ``sys.executable -m uvicorn target --host 127.0.0.1 --port <free port>`` from the repository
    root, polls the port until it accepts connections (deadline 20 s; fails the test with the
    server's output if it dies or the deadline passes), and terminates and reaps it on exit.
    """
    host = "127.0.0.1"
    port = free_port(host)
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        host,
        "--port",
        str(port),
        "--log-level",
        "warning",
        *extra_args,
    ]
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
            while not _accepts_connections(host, port):
                if _exited(proc, POLL_INTERVAL_SECONDS):
                    problem = f"exited with status {proc.returncode}"
                elif time.monotonic() > deadline:
                    problem = f"did not accept connections within {STARTUP_DEADLINE_SECONDS:g} s"
                else:
                    continue
                _stop(proc)
                log.seek(0)
                output = log.read().decode(errors="replace")
                pytest.fail(f"`{' '.join(cmd)}` {problem}; its output:\n{output}", pytrace=False)
            yield f"http://{host}:{port}{path}", proc
        finally:
            _stop(proc)
