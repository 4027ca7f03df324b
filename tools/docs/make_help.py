"""Print the Makefile's targets grouped as start / develop / check / deploy, one line each.

Reads ``target: ... ## [group] text`` lines, so the help is written once, next to each target. Standard
library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

GROUPS = (
    ("start", "start here"),
    ("develop", "while changing code"),
    ("check", "the checks CI runs"),
    ("deploy", "towards a real account"),
)
TARGET = re.compile(r"^([a-z][a-z-]*):[^#\n]*##\s*(?:\[(\w+)\]\s*)?(.+)$")


def help_text(makefile: Path) -> str:
    """The grouped list."""
    entries: dict[str, list[tuple[str, str]]] = {}
    for line in makefile.read_text(encoding="utf-8").splitlines():
        match = TARGET.match(line)
        if match and match.group(1) != "help":
            entries.setdefault(match.group(2) or "other", []).append((match.group(1), match.group(3).strip()))
    width = max(len(target) for items in entries.values() for target, _ in items)
    lines = ["Payment platform: make <target>   (docs/getting-started.md explains each)"]
    for group, title in (*GROUPS, ("other", "other")):
        if entries.get(group):
            lines.append(f"\n{group} ({title}):")
            lines += [f"  make {target:<{width}}  {text}" for target, text in entries[group]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(help_text(Path(sys.argv[1] if len(sys.argv) > 1 else "Makefile")))
