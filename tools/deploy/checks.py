"""One check of a live account or deployment, and how a list of them is shown.

The account preflight (before a plan) and ``make verify-deployment`` (after an apply) both report a list of
:class:`Check`. A check that the emulator cannot answer (Service Quotas for EC2, target health, log delivery) is
:data:`NEEDS_REAL_ACCOUNT` in the sandbox: never passed, never failed. A failed check names what it looked at and
what to do; a run with any failed check exits non-zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PASSED = "passed"
FAILED = "failed"
WARNING = "warning"
NEEDS_REAL_ACCOUNT = "needs a real account"
STATUSES = (PASSED, WARNING, NEEDS_REAL_ACCOUNT, FAILED)


@dataclass(frozen=True, kw_only=True)
class Check:
    """The outcome of one check."""

    name: str
    """Short and stable, e.g. ``certificate: ALB``; tests and the summary refer to it."""
    status: str
    """One of :data:`STATUSES`."""
    looked_at: str
    """What the check read: the API call and the resource, e.g. ``acm:DescribeCertificate arn:aws:acm:...``."""
    detail: str = ""
    """What it found (a failure's cause, a figure)."""
    fix: str = ""
    """What to do about a failure or warning; empty when there is nothing to do."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.name!r}: status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.status in (FAILED, WARNING) and not self.fix:
            raise ValueError(f"check {self.name!r} is {self.status} but says nothing about what to do")


def failed(checks: Iterable[Check]) -> list[Check]:
    """The failed checks, in order."""
    return [check for check in checks if check.status == FAILED]


def render(title: str, checks: list[Check]) -> str:
    """A report: one line per check (status, name, what it found), the fix on the next line, then a count."""
    lines = [title]
    for check in checks:
        found = f": {check.detail}" if check.detail else ""
        lines.append(f"  [{check.status}] {check.name}{found}")
        lines.append(f"      looked at: {check.looked_at}")
        if check.fix and check.status != PASSED:
            lines.append(f"      fix: {check.fix}")
    counts = {status: sum(check.status == status for check in checks) for status in STATUSES}
    lines.append("  " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    return "\n".join(lines)
