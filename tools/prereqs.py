"""Check the tools the project needs before set-up installs anything: one line per missing or old tool.

    python3 tools/prereqs.py        # exit 0 when all are there, 2 otherwise (make setup runs it first)

Standard library only (it runs before the virtual environment exists).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable

# (name, minimum version, what needs it, how to get it)
REQUIREMENTS = (
    ("python3", (3, 11), "the project and its tools", "install Python 3.11 or newer"),
    ("node", (20, 0), "cdktf's jsii runtime (every synth) and the cdktf CLI",
     "install Node.js 20 or newer (nodejs.org, or your distribution's nodejs package)"),
    ("npm", (9, 0), "installing the pinned cdktf CLI (package-lock.json)", "it comes with Node.js"),
    ("terraform", (1, 10), "validate, plan and the sandbox (S3 native state locking needs 1.10)",
     "install Terraform 1.10 or newer (developer.hashicorp.com/terraform/install)"),
)


def _version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def _terraform_version(binary: str) -> str:
    output = subprocess.run([binary, "version", "-json"], capture_output=True, text=True, check=False,
                            timeout=60).stdout
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


def problems() -> list[str]:
    """One line per tool that is missing or too old."""
    found = []
    for name, minimum, needed_by, fix in REQUIREMENTS:
        version = installed_version(name)
        wanted = ".".join(map(str, minimum))
        if version is None:
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
