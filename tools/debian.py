"""Debian packages a development tool needs, installed on first use: the set-up (``make setup``) has no
system-package step, and the machines (a developer's, CI's) run as root on Debian.

``ensure("wrk", "wrk")`` returns the command's path; when it is missing and this process is root on a machine
with ``apt-get``, it runs ``apt-get install -y --no-install-recommends <package>`` (and, only if that fails,
``apt-get update`` once and the install again: a stale package list is the usual reason). Anywhere else it raises
:class:`MissingPackage`, naming the package and the command that installs it. ``ensure_files`` does the same for
packages that ship files rather than a command (a PostgreSQL extension).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

INSTALL_TIMEOUT = 1200
"""Seconds one ``apt-get install`` may take (chromium is ~100 MB)."""
UPDATE_TIMEOUT = 600
"""Seconds ``apt-get update`` may take."""


class MissingPackage(RuntimeError):
    """A Debian package is missing and cannot be installed from here (not root, or no apt-get), or its
    installation failed."""


def install_command(package: str) -> list[str]:
    """The one install command used (and printed in errors)."""
    return ["apt-get", "install", "-y", "--no-install-recommends", package]


def _can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(package: str, why: str) -> None:
    """``apt-get install`` ``package`` (``why``: what is missing, for the message), ``apt-get update`` once first
    if the install fails; :class:`MissingPackage` when that cannot or did not work."""
    wanted = " ".join(install_command(package))
    if not _can_install():
        raise MissingPackage(
            f"{why}: Debian package {package!r} is needed. Install it as root (`{wanted}`), "
            "or run this as root on a Debian machine with apt-get, which installs it."
        )
    print(f"[debian] {why}: {wanted}", flush=True)
    if subprocess.run(install_command(package), check=False, timeout=INSTALL_TIMEOUT).returncode == 0:
        return
    print("[debian] the install failed: apt-get update, then once more", flush=True)
    subprocess.run(["apt-get", "update"], check=False, timeout=UPDATE_TIMEOUT)
    if subprocess.run(install_command(package), check=False, timeout=INSTALL_TIMEOUT).returncode != 0:
        raise MissingPackage(
            f"{why}: installing Debian package {package!r} failed, also after `apt-get update` (apt-get's output is "
            f"above): is the name right for this Debian release? (`apt-cache policy {package}` shows its candidate)"
        )


def ensure(command: str, package: str, *, also: Sequence[str] = ()) -> str:
    """The path of ``command`` (or of the first of ``also``, other names it has), installing ``package`` when none
    is on PATH; :class:`MissingPackage` when it cannot, or when the package did not bring ``command``."""
    for name in (command, *also):
        found = shutil.which(name)
        if found:
            return found
    install(package, f"{command} is missing")
    found = shutil.which(command)
    if found is None:
        path = os.environ.get("PATH", "")
        raise MissingPackage(f"apt-get installed {package!r} but {command!r} is still not on PATH ({path})")
    return found


def ensure_files(paths: Sequence[Path], package: str) -> None:
    """Install ``package`` when any of ``paths`` (files it ships) is missing; :class:`MissingPackage` when it
    cannot, or when the files are still missing after the install."""
    missing = [path for path in paths if not path.exists()]
    if not missing:
        return
    install(package, f"{', '.join(map(str, missing))} missing")
    still = [str(path) for path in paths if not path.exists()]
    if still:
        raise MissingPackage(f"apt-get installed {package!r} but these files are still missing: {', '.join(still)}")
