"""A node binary of at least a given major version, for the interop clients that need a newer node
than the system's (Debian 12's apt node is 18).

``node_at_least(22, version, prefix)`` is the system ``node`` when it is new enough, else the npm
package ``node-linux-<arch>@version`` installed into ``prefix`` (once; later calls reuse it), as
``tests/interop/conformance/run.sh`` does for the conformance suite. Whatever goes wrong (no npm,
an unknown architecture, a failed install) raises ``RuntimeError`` saying what.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from .servers import REPO_ROOT

__all__ = ["RUNNER", "node_at_least", "node_major", "npm_install", "runner_pin"]

RUNNER = REPO_ROOT / "tests" / "interop" / "conformance" / "run.sh"  # the team's runner, kept in the repo
INSTALL_TIMEOUT_SECONDS = 300
NODE_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}  # as in run.sh


def runner_pin(pattern: str, what: str) -> str:
    """The first group of ``pattern`` (multi-line) in run.sh: a version run.sh pins."""
    match = re.search(pattern, RUNNER.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"cannot find the {what} pin in {RUNNER}")
    return match.group(1)


def node_major(node: str) -> int:
    """The major version of the node at ``node``; 0 when it does not run."""
    try:
        done = subprocess.run(
            [node, "-p", "process.versions.node.split('.')[0]"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return int(done.stdout.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0


def npm_install(npm: str, prefix: Path, spec: str) -> None:
    """``npm install --prefix PREFIX SPEC``; ``RuntimeError`` with npm's output when it fails."""
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error", spec]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stderr}")


def node_at_least(major: int, version: str, prefix: Path) -> str:
    """The system ``node`` if its major version is ``major`` or more, else ``node-linux-<arch>@version``
    from npm, installed into ``prefix`` unless it is there already."""
    node = shutil.which("node")
    if node is not None and node_major(node) >= major:
        return node
    arch = NODE_ARCH.get(platform.machine().lower())
    if arch is None:
        raise RuntimeError(f"unsupported arch {platform.machine()} and no node >= {major} on PATH")
    package = f"node-linux-{arch}"
    cached = prefix / "node_modules" / package / "bin" / "node"
    if not os.access(cached, os.X_OK):
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"npm is not on PATH (needed to install node >= {major})")
        prefix.mkdir(parents=True, exist_ok=True)
        npm_install(npm, prefix, f"{package}@{version}")
    if node_major(str(cached)) < major:
        raise RuntimeError(f"{cached} is not node >= {major}")
    return str(cached)
