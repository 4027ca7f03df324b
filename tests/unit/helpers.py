"""Small readers over the synthesized JSON, shared by the unit tests."""

from __future__ import annotations

import json
import re
from typing import Any

REFERENCE = re.compile(r"\$\{([a-z0-9_]+)\.([A-Za-z0-9_]+)(?:\.([a-z_]+))?")


def only(resources: dict[str, dict[str, Any]], rtype: str) -> dict[str, Any]:
    """The single resource of ``rtype``."""
    bodies = list(resources[rtype].values())
    assert len(bodies) == 1, f"expected one {rtype}, found {len(bodies)}"
    return bodies[0]


def by_path(resources: dict[str, dict[str, Any]], rtype: str, path_end: str) -> tuple[str, dict[str, Any]]:
    """The resource of ``rtype`` whose construct path ends with ``path_end``: (logical name, body)."""
    matches = [(name, body) for name, body in resources[rtype].items()
               if body["//"]["metadata"]["path"].endswith(path_end)]
    assert len(matches) == 1, f"{rtype} ending {path_end!r}: {len(matches)} matches"
    return matches[0]


def ref(rtype: str, name: str, attribute: str = "id") -> str:
    return f"${{{rtype}.{name}.{attribute}}}"


def policy(body: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    return json.loads(body[key])
