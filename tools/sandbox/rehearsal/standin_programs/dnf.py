#!/usr/bin/python3
"""dnf stand-in for the boot rehearsal: ``dnf install -y [-q] [--setopt=KEY=VALUE] NAME...`` and
``dnf upgrade --security --releasever=RELEASE -y [-q]``.

Installed as ``/usr/bin/dnf`` in the rehearsal's root. Installs nothing: a name passes only if it is in the committed
allow-list of Amazon Linux 2023 packages (``al2023_packages.json``, each entry citing the AL2023 packages page of a
named release) AND the command(s) the package provides on AL2023 exist in this root (the Debian host supplies them).

Fails like dnf does on a name AL2023 does not have (``No match for argument: NAME``, ``Error: Unable to find a match:
NAME``, exit 1, nothing installed), and says which command is missing when an allowed package cannot be used here.
Without ``-y`` dnf would ask for confirmation, which a boot script cannot answer: refused (``Operation aborted.``).

``upgrade`` (the boot's security updates, services/payment_api/boot/hardening.sh) applies nothing, since the stand-in
has no repository: it accepts only ``--security`` with ``--releasever=`` equal to the release of
``/etc/amazon-linux-release`` (the AMI's; AL2023 pins its repository to it), says what dnf would have done, and
refuses a package name (the boot upgrades everything the errata name, never a chosen package).

``STANDIN_ROOT`` (default ``/``) prefixes every path it reads; the tests set it, the rehearsal does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROG = "[standin dnf]"
ALLOW_LIST = "/usr/share/rehearsal-standins/al2023_packages.json"
# Options a boot script may pass; anything else is refused rather than ignored.
FLAG_OPTIONS = {
    "-y": "assumeyes",
    "--assumeyes": "assumeyes",
    "-q": "quiet",
    "--quiet": "quiet",
    "--security": "security",
}
SUBCOMMANDS = ("install", "upgrade")
RELEASE_FILE = "/etc/amazon-linux-release"
RELEASEVER = "--releasever="


class DnfError(Exception):
    """Exit 1 with this message (dnf's wording where dnf has one)."""


def in_root(path: str) -> Path:
    return Path(os.environ.get("STANDIN_ROOT", "/")) / path.lstrip("/")


def parse_args(argv: list[str]) -> tuple[str, set[str], list[str]]:
    """(subcommand, flags, names). Options may come before or after the subcommand, as dnf allows; a
    ``--releasever=V`` is the flag ``releasever=V``."""
    flags: set[str] = set()
    words: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in FLAG_OPTIONS:
            flags.add(FLAG_OPTIONS[arg])
        elif arg.startswith(RELEASEVER) and arg.removeprefix(RELEASEVER):
            flags.add(f"releasever={arg.removeprefix(RELEASEVER)}")
        elif arg.startswith("--setopt="):
            _check_setopt(arg.removeprefix("--setopt="))
        elif arg == "--setopt":
            _check_setopt(next(args, ""))
        elif arg.startswith("-"):
            raise DnfError(
                f"{PROG} unknown option {arg}: the stand-in accepts only "
                f"{', '.join(sorted(FLAG_OPTIONS))}, --releasever=RELEASE and --setopt=KEY=VALUE (extend it if the "
                "boot script needs more)"
            )
        else:
            words.append(arg)
    if not words:
        raise DnfError("Error: No command given. (the stand-in supports: install)")
    command, names = words[0], words[1:]
    if command not in SUBCOMMANDS:
        raise DnfError(f"No such command: {command}. The dnf stand-in supports only: {', '.join(SUBCOMMANDS)}")
    if command == "upgrade":
        return command, flags, names
    if not names:
        raise DnfError("Error: Need to pass a list of pkgs to install")
    return command, flags, names


def _check_setopt(value: str) -> None:
    if "=" not in value or not value.split("=", 1)[0]:
        raise DnfError(f"{PROG} --setopt needs KEY=VALUE, got {value!r}")
    print(f"{PROG} --setopt={value} accepted (no repository is read by the stand-in)", file=sys.stderr)


def load_allow_list() -> dict[str, dict[str, Any]]:
    path = in_root(ALLOW_LIST)
    try:
        packages: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["packages"]
    except (OSError, ValueError, KeyError) as err:
        raise DnfError(f"{PROG} cannot read the allow-list {path}: {err} (install_standins writes it)") from err
    return packages


def unusable(name: str, entry: dict[str, Any]) -> list[str]:
    """Why an allowed package cannot be used in this root: its commands missing, or its probe failing."""
    problems = []
    for command in entry.get("provides", []):
        target = in_root(str(command))
        executable = "/bin/" in str(command) or "/sbin/" in str(command)
        if not (target.is_file() and (os.access(target, os.X_OK) or not executable)):
            problems.append(f"{name} provides {command} on AL2023, and {command} is missing on this host")
    probe = [str(part) for part in entry.get("probe", [])]
    if probe and not problems:
        result = subprocess.run(probe, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            problems.append(
                f"{name}: probe {' '.join(probe)} failed ({result.returncode}): {result.stderr.strip()[-300:]}"
                f" ({entry.get('probe_why', 'the package is not usable as AL2023 ships it')})"
            )
    return problems


def install(names: list[str], flags: set[str]) -> None:
    packages = load_allow_list()
    missing = [name for name in names if name not in packages]
    if missing:
        for name in missing:
            print(f"No match for argument: {name}", file=sys.stderr)
        raise DnfError(
            f"Error: Unable to find a match: {' '.join(missing)}\n"
            f"{PROG} allowed names (tools/sandbox/rehearsal/al2023_packages.json): {', '.join(sorted(packages))}"
        )
    if "assumeyes" not in flags:
        raise DnfError("Operation aborted. (dnf asks for confirmation without -y; a boot script cannot answer)")
    problems = [problem for name in names for problem in unusable(name, packages[name])]
    if problems:
        raise DnfError("\n".join(f"{PROG} {problem}" for problem in problems))
    for name in names:
        entry = packages[name]
        print(
            f"{PROG} {name}: on AL2023 {entry['release']} ({entry['source_url']}); provided here by "
            f"{', '.join(str(c) for c in entry.get('provides', [])) or 'nothing to check'}",
        )
    if "quiet" not in flags:
        print("Complete!")


def ami_release() -> str:
    """The release ``/etc/amazon-linux-release`` names (``Amazon Linux release 2023.x.y (Amazon Linux)``)."""
    path = in_root(RELEASE_FILE)
    try:
        words = path.read_text(encoding="utf-8").split()
    except OSError as err:
        raise DnfError(f"{PROG} cannot read {path}: {err} (install_standins writes it)") from err
    return words[3] if len(words) > 3 and words[:3] == ["Amazon", "Linux", "release"] else ""


def upgrade(names: list[str], flags: set[str]) -> None:
    """The security updates of the AMI's release: checked, not applied (no repository here)."""
    if names:
        raise DnfError(f"{PROG} upgrade {' '.join(names)}: the boot upgrades what the errata name, not chosen packages")
    if "security" not in flags:
        raise DnfError(f"{PROG} upgrade without --security would take every update, not only security errata")
    releasevers = [flag.removeprefix("releasever=") for flag in flags if flag.startswith("releasever=")]
    release = ami_release()
    if releasevers != [release]:
        raise DnfError(
            f"{PROG} upgrade --security needs --releasever={release or '<the AMI release>'} (the AMI's, from "
            f"{RELEASE_FILE}); got {', '.join(releasevers) or 'none'}"
        )
    if "assumeyes" not in flags:
        raise DnfError("Operation aborted. (dnf asks for confirmation without -y; a boot script cannot answer)")
    print(
        f"{PROG} upgrade --security --releasever={release}: on AL2023 this applies the security errata of release "
        f"{release}; the stand-in has no repository, so nothing was applied"
    )


def main(argv: list[str]) -> int:
    try:
        command, flags, names = parse_args(argv)
        (upgrade if command == "upgrade" else install)(names, flags)
    except DnfError as err:
        print(str(err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
