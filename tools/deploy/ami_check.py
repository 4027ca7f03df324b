"""Does a saved plan move an instance to a newer AMI? The scheduled plan's verdict (issue 28 item 5, PCI DSS 6.3.3).

Every plan reads the newest Amazon Linux 2023 AMI from AWS's public SSM parameter (lib/blocks/instances.py), so a
plan made after an AMI release changes the ``image_id`` of each launch template. This reads the plan's JSON
(``terraform show -json <plan>``) and reports each launch template whose ``image_id`` the plan changes:

    python -m tools.deploy.ami_check plan.json

Exit 0: no launch template changes its AMI ("no new AMI"); exit 2 (like ``terraform plan -detailed-exitcode``): at
least one does, one line per template ("new AMI available: <address> <before> -> <after>"), so a scheduled job fails
visibly and someone applies (``make deploy ENVIRONMENT=...``), which rolls the fleet through the instance refresh;
exit 1: the file is not a plan's JSON, or an ``image_id`` is unknown until apply (said, not guessed).
docs/operating.md ("Scheduled plan: new AMI") has the CI job.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAUNCH_TEMPLATE = "aws_launch_template"
NEW_AMI_EXIT = 2


class PlanError(ValueError):
    """The input cannot be judged (not a plan's JSON, or an AMI known only at apply)."""


@dataclass(frozen=True, kw_only=True)
class AmiChange:
    """One launch template whose AMI the plan changes."""

    address: str
    before: str | None
    """The AMI in the state; None when the plan creates the template (a first apply: nothing to patch)."""
    after: str


def ami_changes(plan: Mapping[str, Any]) -> list[AmiChange]:
    """The launch templates of ``plan`` (``terraform show -json``) whose ``image_id`` changes, created ones included
    with ``before`` None."""
    if "resource_changes" not in plan or "format_version" not in plan:
        raise PlanError(
            "not a plan's JSON (no format_version/resource_changes): give the output of "
            "`terraform show -json plans/TapStack<name>.tfplan`"
        )
    changes = []
    for change in plan["resource_changes"] or []:
        if change.get("type") != LAUNCH_TEMPLATE or change.get("mode", "managed") != "managed":
            continue
        detail = change.get("change") or {}
        if set(detail.get("actions") or []) <= {"no-op", "read", "delete"}:
            continue
        before, after = detail.get("before") or {}, detail.get("after") or {}
        if (detail.get("after_unknown") or {}).get("image_id"):
            raise PlanError(
                f"{change['address']}: image_id is known only at apply; the AMI parameter could not be read at "
                "plan time (run the plan with the deployer's ssm:GetParameter)"
            )
        if after.get("image_id") and after.get("image_id") != before.get("image_id"):
            changes.append(AmiChange(address=change["address"], before=before.get("image_id"), after=after["image_id"]))
    return changes


def report(changes: Sequence[AmiChange]) -> tuple[str, int]:
    """The lines to print and the exit status."""
    updates = [change for change in changes if change.before is not None]
    if not updates:
        created = f" ({len(changes)} launch template(s) created by this plan)" if changes else ""
        return f"no new AMI: no launch template changes its image_id{created}", 0
    lines = [f"new AMI available: {change.address} {change.before} -> {change.after}" for change in updates]
    lines.append(
        "apply it (make deploy ENVIRONMENT=<name>): the new launch template version rolls the fleet through the "
        "instance refresh (PCI DSS 6.3.3)"
    )
    return "\n".join(lines), NEW_AMI_EXIT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("plan_json", type=Path, help="the output of `terraform show -json <saved plan>`")
    args = parser.parse_args(argv)
    try:
        plan = json.loads(args.plan_json.read_text(encoding="utf-8"))
        text, status = report(ami_changes(plan))
    except (OSError, ValueError) as error:
        print(f"ami_check: {args.plan_json}: {error}", file=sys.stderr)
        return 1
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
