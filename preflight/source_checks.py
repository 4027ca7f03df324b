"""Source-level duplicate check (seed failure 8 of docs/requirements.md: the same assume-role JSON pasted
into several modules).

Why a check and not a convention: duplicated trust policies drift apart (one gets the confused-deputy
``aws:SourceAccount`` condition, the other does not). ``lib/blocks/iam.py`` is the one place that builds policy
documents; any other ``lib/`` module that spells ``sts:AssumeRole`` is building its own.

    python -m preflight.source_checks [lib]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ASSUME_ROLE_ACTION = "sts:AssumeRole"
POLICY_MODULE = Path("blocks", "iam.py")
EXCLUDED_PARTS = {"preflight", "__pycache__", "templates"}


@dataclass(frozen=True)
class SourceFinding:
    """One line outside lib/blocks/iam.py that writes an assume-role action."""

    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.text.strip()!r} builds an assume-role policy outside "
            f"lib/{POLICY_MODULE}. Fix: use lib.blocks.iam.assume_role_policy(service) "
            "(seed failure 8 in docs/requirements.md, R0801)."
        )


def find_inline_assume_role(lib_dir: Path) -> list[SourceFinding]:
    """Every ``sts:AssumeRole`` in ``lib_dir``'s Python sources except lib/blocks/iam.py and this package."""
    found: list[SourceFinding] = []
    for source in sorted(lib_dir.rglob("*.py")):
        if source.relative_to(lib_dir) == POLICY_MODULE:
            continue
        if EXCLUDED_PARTS & set(source.relative_to(lib_dir).parts):
            continue
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
            if ASSUME_ROLE_ACTION in line:
                found.append(SourceFinding(source, number, line))
    return found


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    lib_dir = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "lib"
    findings = find_inline_assume_role(lib_dir)
    for item in findings:
        print(item)
    print(f"assume-role duplicate check {'FAILED' if findings else 'passed'} for {lib_dir}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
