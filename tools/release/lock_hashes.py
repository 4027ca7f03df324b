"""The Python locks carry hashes: every pin is ``name==version`` followed by the sha256 of each of its files on PyPI.

    python -m tools.release.lock_hashes [--check] [LOCK ...]

Without ``--check``: rewrite each lock (@default :data:`LOCKS`) in place, each ``name==version`` line (a changed one,
a new one, one that has hashes already) followed by ``--hash=sha256:...`` for every file PyPI has of that version
(wheels of every platform and the sdist, as ``pip-compile --generate-hashes`` writes them), read from the index's
JSON simple API (PEP 691; ``LOCK_INDEX_URL``, @default https://pypi.org/simple). Comments, blank lines and ``-r``
lines are kept. A lock is rewritten only once every one of its pins got its hashes.

``--check`` (offline): every line is a comment, a ``-r`` of another lock, or a pin with at least one hash; pip then
installs every lock with ``--require-hashes``. The local packages (services/contract, services/payment_api) are no
lock lines: ``make setup`` installs them in a second, ``--no-deps`` step.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Every lock pip installs from (with --require-hashes): the tool chain, the checkov and AWS CLI venvs, pip-audit's
# venv, and what an instance installs from the artifact's wheelhouse.
LOCKS = (
    ROOT / "requirements.txt",
    ROOT / "requirements-dev.txt",
    ROOT / "requirements-awscli.txt",
    ROOT / "requirements-checkov.txt",
    ROOT / "requirements-audit.txt",
    ROOT / "services" / "payment_api" / "requirements.lock",
)
INDEX_VARIABLE = "LOCK_INDEX_URL"
DEFAULT_INDEX = "https://pypi.org/simple"
PIN = re.compile(r"(?P<name>[A-Za-z0-9._-]+)(?P<extras>\[[A-Za-z0-9._,-]+\])?==(?P<version>[A-Za-z0-9.+!-]+)")
HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})")
# `make setup` runs --check with the system Python before .venv has any package: this module imports the standard
# library only at load time (packaging, for reading the index, inside the functions that do).
FIX = 'run `python -m tools.release.lock_hashes <lock>` (docs/developing.md, "Updating a Python lock")'


def canonical_name(name: str) -> str:
    """PEP 503's normalized project name (as ``packaging.utils.canonicalize_name``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class LockError(ValueError):
    """A lock line that pip would refuse under --require-hashes, or a pin whose hashes cannot be found."""


@dataclass(frozen=True, kw_only=True)
class Pin:
    """One pinned requirement of a lock and the sha256 digests pip accepts for it."""

    name: str
    extras: str
    version: str
    hashes: tuple[str, ...]
    line: int

    @property
    def key(self) -> str:
        """The canonical project name."""
        return canonical_name(self.name)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, joined text) of each logical line: ``\\``-continued lines joined, comments dropped."""
    result: list[tuple[int, str]] = []
    current, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
        if not current:
            start = number
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            result.append((start, current.strip()))
        current = ""
    if current.strip():
        result.append((start, current.strip()))
    return result


def parse(lock: Path) -> list[Pin]:
    """The pins of ``lock`` (not of the locks it ``-r``-includes); a line pip would refuse raises LockError."""
    pins = []
    for number, line in _logical_lines(lock.read_text(encoding="utf-8")):
        if line.startswith("-r ") or line.startswith("--requirement "):
            continue
        head = line.split()[0]
        match = PIN.fullmatch(head)
        if match is None:
            raise LockError(
                f"{lock.name}:{number}: {head!r} is not an exact pin (name==version). Under --require-hashes a lock "
                "holds pins only; a local package (-e ./services/...) installs in make setup's second --no-deps step"
            )
        hashes = tuple(found.group("digest") for found in HASH.finditer(line))
        pins.append(
            Pin(
                name=match.group("name"),
                extras=match.group("extras") or "",
                version=match.group("version"),
                hashes=hashes,
                line=number,
            )
        )
    return pins


def check(locks: tuple[Path, ...] = LOCKS) -> list[str]:
    """What keeps each lock from installing with --require-hashes (empty: every pin carries hashes)."""
    problems = []
    for lock in locks:
        try:
            pins = parse(lock)
        except LockError as error:
            problems.append(str(error))
            continue
        problems += [
            f"{lock.name}:{pin.line}: {pin.name}=={pin.version} has no --hash; {FIX}" for pin in pins if not pin.hashes
        ]
    return problems


def _file_version(filename: str) -> tuple[str, Any] | None:
    # pylint: disable-next=import-outside-toplevel  # see FIX: the module loads with the standard library only
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(name), version


def index_hashes(name: str, version: str, index: str | None = None) -> tuple[str, ...]:
    """The sha256 of every file of ``name==version`` on the index (PEP 691 JSON), sorted; LockError when none."""
    from packaging.version import Version  # pylint: disable=import-outside-toplevel  # see FIX

    base = (index or os.environ.get(INDEX_VARIABLE) or DEFAULT_INDEX).rstrip("/")
    request = urllib.request.Request(
        f"{base}/{canonical_name(name)}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.loads(response.read())["files"]
    except (OSError, ValueError, KeyError) as error:
        raise LockError(
            f"{name}=={version}: cannot read {request.full_url} ({error}); is the index reachable?"
        ) from error
    wanted = Version(version)
    digests = sorted(
        {
            str(entry["hashes"]["sha256"])
            for entry in files
            if "sha256" in entry.get("hashes", {})
            and (parsed := _file_version(str(entry["filename"]))) is not None
            and canonical_name(parsed[0]) == canonical_name(name)
            and parsed[1] == wanted
        }
    )
    if not digests:
        raise LockError(f"{name}=={version}: the index {base} has no file of this version; fix the pin")
    return tuple(digests)


def rewrite(lock: Path, index: str | None = None) -> int:
    """Rewrite ``lock`` with the hashes of every pin; return the number of pins."""
    text = lock.read_text(encoding="utf-8")
    pins = {pin.line: pin for pin in parse(lock)}
    out: list[str] = []
    skipping = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if skipping:
            skipping = raw.rstrip().endswith("\\")
            continue
        pin = pins.get(number)
        if pin is None:
            out.append(raw)
            continue
        skipping = raw.rstrip().endswith("\\")
        digests = index_hashes(pin.name, pin.version, index)
        out.append(f"{pin.name}{pin.extras}=={pin.version} \\")
        out += [
            f"    --hash=sha256:{digest}" + (" \\" if i < len(digests) - 1 else "") for i, digest in enumerate(digests)
        ]
    lock.write_text("\n".join(out) + "\n", encoding="utf-8")
    return len(pins)


def main(argv: list[str] | None = None) -> int:
    """Rewrite the locks with hashes, or (--check) say which pins lack them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="offline: every pin carries hashes")
    parser.add_argument("locks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    locks = tuple(path.resolve() for path in args.locks) or LOCKS
    if args.check:
        problems = check(locks)
        for problem in problems:
            print(f"[locks] {problem}", file=sys.stderr)
        print(
            f"[locks] {len(locks)} lock(s): "
            + ("every pin carries hashes" if not problems else f"{len(problems)} problem(s)")
        )
        return 1 if problems else 0
    try:
        for lock in locks:
            print(f"[locks] {lock.relative_to(ROOT)}: {rewrite(lock)} pin(s) hashed")
    except LockError as error:
        print(f"[locks] {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
