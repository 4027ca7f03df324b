"""``cfn-outputs/flat-outputs.json``: every deployed stack's outputs under its own key.

``{"TapStack<suffix>": {"<output>": <value>, ...}, ...}``. Writers merge their own key and never remove another
stack's; the sandbox removes only its own key once it has destroyed its stack, and ``make clean`` refuses while the
file holds a key other than the sandbox's. Writes go to a temporary file that replaces the old one, under a lock,
so two deploys of different stacks cannot lose each other's key.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tap_contract import identity

from lib.config import stack_name_for
from tools.sandbox import SANDBOX_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS_FILE = ROOT / identity.OUTPUTS_FILE


class OutputsError(ValueError):
    """The outputs file is not what its writers write; the message names the file and the fix."""


def read(path: Path = OUTPUTS_FILE) -> dict[str, dict[str, Any]]:
    """Every stack's outputs (empty when the file does not exist)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise OutputsError(f"{path} is not JSON ({err}); move it away and deploy again to rewrite it") from err
    if not isinstance(data, dict) or not all(isinstance(value, dict) for value in data.values()):
        raise OutputsError(f"{path} is not {{stack: {{output: value}}}}; move it away and deploy again to rewrite it")
    return data


def stack_outputs(stack: str, path: Path = OUTPUTS_FILE) -> dict[str, Any]:
    """One stack's outputs; :class:`OutputsError` naming the stacks the file has when it lacks this one."""
    data = read(path)
    if stack not in data:
        have = ", ".join(sorted(data)) or "none"
        raise OutputsError(
            f"{path} has no outputs for {stack} (it has: {have}). Deploy the stack first "
            f"(`make deploy ENVIRONMENT=<name>` writes them after apply)."
        )
    return data[stack]


def flatten(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``terraform output -json`` -> ``{name: value}`` (values keep their JSON types)."""
    return {name: entry["value"] for name, entry in sorted(raw.items())}


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _replace(path: Path, data: Mapping[str, Any]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(json.dumps(dict(sorted(data.items())), indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def write_stack(stack: str, values: Mapping[str, Any], path: Path = OUTPUTS_FILE) -> None:
    """Set ``stack``'s key to ``values``; every other stack's key stays as it is."""
    with _locked(path):
        data = read(path)
        data[stack] = dict(values)
        _replace(path, data)


def remove_stack(stack: str, path: Path = OUTPUTS_FILE) -> bool:
    """Remove ``stack``'s key (the file goes when no key is left); True when there was one."""
    with _locked(path):
        data = read(path)
        if data.pop(stack, None) is None:
            return False
        if data:
            _replace(path, data)
        else:
            path.unlink()
        return True


def others(allowed: set[str], path: Path = OUTPUTS_FILE) -> list[str]:
    """The stacks in the file other than ``allowed``."""
    return sorted(set(read(path)) - allowed)


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.deploy.outputs check-clean``: exit 2, naming them, while the file holds another stack's
    key than the sandbox's (``make clean`` runs it before deleting ``cfn-outputs/``)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["check-clean"]:
        print("usage: python -m tools.deploy.outputs check-clean", file=sys.stderr)
        return 2
    sandbox = stack_name_for(os.environ.get("ENVIRONMENT_SUFFIX") or SANDBOX_SUFFIX)
    try:
        kept = others({sandbox}, OUTPUTS_FILE)
    except OutputsError as err:
        print(f"make clean: {err}; nothing was deleted", file=sys.stderr)
        return 2
    if kept:
        print(
            f"make clean: {OUTPUTS_FILE.relative_to(ROOT)} holds the outputs of {', '.join(kept)}, a deployment "
            "this checkout may be the only record of. Nothing was deleted. Keep a copy elsewhere and remove "
            "those keys (or the file), then run make clean again.",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
