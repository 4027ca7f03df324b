"""``python -m preflight <cdk.tf.json> [...]``: run the preflight on synthesized stacks.

Exit status: 0 when no error-level finding, 1 when there is one, 2 when a file cannot be read. Warnings are
printed but do not fail, unless ``--strict`` (CI may want that once the warnings are resolved).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from preflight import RULES, errors, format_report, run_preflight


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="synthesized cdk.tf.json files")
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--list-rules", action="store_true", help="print the rule ids and rationales")
    args = parser.parse_args(argv)
    if args.list_rules:
        for rule_id, registered in RULES.items():
            print(f"{rule_id}: {registered.rationale}")
        return 0
    if not args.files:
        parser.error("give at least one cdk.tf.json (python tap.py writes cdktf.out/stacks/<stack>/cdk.tf.json)")
    status = 0
    for path in args.files:
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"preflight: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        findings = run_preflight(config)
        print(format_report(findings, source=str(path)))
        if errors(findings) or (args.strict and findings):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
