"""Compliance scan: checkov over the synthesized ``cdk.tf.json``, zero unsuppressed failures required.

    python -m tools.lint.checkov_scan [cdktf.out/stacks/TapStack<suffix>/cdk.tf.json] [--summary-json PATH]

Why a wrapper instead of calling checkov directly:

* checkov's Terraform JSON runner honours no inline skip, and ``--skip-check ID:regex`` scopes by file, which
  would silence a check for the whole stack. Suppressions are therefore declared in the stack code with
  :func:`lib.suppressions.suppress`, land in the resource's ``"//"`` comment block, and are applied here to
  exactly one resource address and one check id.
* A suppression that no longer matches a failure (the resource was fixed, renamed, or the check does not
  apply to it) fails the scan too: stale suppressions hide nothing today but would hide a regression later.
* The summary lists every suppression with its reason, so reviewers see them on every run.

checkov is installed in its own virtual environment (``.venv-checkov``) because checkov 3.3.x pins
``boto3==1.35.49``, ``packaging<24`` and ``networkx<2.7``, which would downgrade what moto and the rest of
the tool chain use. The binary is looked for in ``$CHECKOV_BIN``, ``.venv-checkov/bin/checkov``, then PATH.

Exit status: 0 clean; 1 unsuppressed failures, stale suppressions or parse errors; 2 checkov unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``python tools/lint/checkov_scan.py`` as well as ``python -m tools.lint.checkov_scan``
    sys.path.insert(0, str(ROOT))

from lib.config import stack_name_for  # noqa: E402  pylint: disable=wrong-import-position
from lib.suppressions import Suppression, read_suppressions  # noqa: E402  pylint: disable=wrong-import-position
from lib.synth_output import DEFAULT_OUTPUT_DIR, stack_file  # noqa: E402  pylint: disable=wrong-import-position

CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = ROOT / ".venv-checkov"
FRAMEWORK = "terraform_json"
SUMMARY_JSON = ROOT / "cdktf.out" / "checkov-summary.json"


class ScanError(RuntimeError):
    """checkov could not be run or its output could not be read."""


@dataclass(frozen=True)
class CheckResult:
    """One checkov result mapped back to the Terraform address and construct path it concerns."""

    check_id: str
    check_name: str
    address: str
    path: str
    guideline: str | None = None


@dataclass
class ScanReport:
    """Everything the summary, the exit status and ``tools/docs/compliance_report.py`` need."""

    stack_file: str
    checkov_version: str
    passed: list[CheckResult] = field(default_factory=list)
    failed: list[CheckResult] = field(default_factory=list)
    suppressed: list[tuple[CheckResult, Suppression]] = field(default_factory=list)
    stale: list[Suppression] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.stale and not self.parsing_errors

    def to_json(self) -> dict[str, Any]:
        return {
            "stack_file": self.stack_file,
            "checkov_version": self.checkov_version,
            "framework": FRAMEWORK,
            "passed": [asdict(r) for r in self.passed],
            "failed": [asdict(r) for r in self.failed],
            "suppressed": [{**asdict(r), "reason": s.reason} for r, s in self.suppressed],
            "stale": [asdict(s) for s in self.stale],
            "parsing_errors": self.parsing_errors,
        }


def find_checkov() -> str:
    """The checkov executable, or ScanError with the command that installs it."""
    candidates = [os.environ.get("CHECKOV_BIN"), str(CHECKOV_VENV / "bin" / "checkov"), shutil.which("checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ScanError(
        f"checkov not found. Install it in its own environment: python3 -m venv {CHECKOV_VENV.name} && "
        f"{CHECKOV_VENV.name}/bin/pip install checkov=={CHECKOV_VERSION} (or set CHECKOV_BIN)."
    )


def default_stack_file() -> Path:
    suffix = os.environ.get("ENVIRONMENT_SUFFIX", "dev")
    return stack_file(ROOT / DEFAULT_OUTPUT_DIR, stack_name_for(suffix))


def run_checkov(stack_file: Path, checkov: str) -> dict[str, Any]:
    """checkov's JSON report for one file (``--skip-download``: no calls to the Prisma Cloud API)."""
    command = [
        checkov,
        "-f",
        str(stack_file),
        "--framework",
        FRAMEWORK,
        "--output",
        "json",
        "--skip-download",
        "--compact",
    ]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    completed = subprocess.run(command, capture_output=True, text=True, check=False, env=env, timeout=600)
    if completed.returncode not in (0, 1):
        raise ScanError(f"checkov exited {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    try:
        report = json.loads(completed.stdout)
    except ValueError as exc:
        raise ScanError(f"checkov output is not JSON: {completed.stdout[:500]!r} {completed.stderr[-1000:]!r}") from exc
    if isinstance(report, list):  # several frameworks: one report each
        report = next((r for r in report if r.get("check_type") == FRAMEWORK), report[0])
    if "results" not in report:  # nothing scanned: checkov prints only a summary
        report = {"results": {"passed_checks": [], "failed_checks": []}, "summary": report}
    return report


class AddressIndex:
    """Maps checkov's resource ids back to Terraform addresses.

    checkov names Python-check results ``resource.<name>`` / ``data.<name>`` (the type is lost) and graph-check
    results ``<type>.<name>``; cdktf logical names are unique within a stack, so the name alone is enough.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.paths: dict[str, str] = {}
        self.by_name: dict[tuple[bool, str], list[str]] = {}
        for block, is_data in (("resource", False), ("data", True)):
            for rtype, instances in (config.get(block) or {}).items():
                for name, body in (instances or {}).items():
                    address = f"{'data.' if is_data else ''}{rtype}.{name}"
                    meta = body.get("//", {}) if isinstance(body, Mapping) else {}
                    self.paths[address] = str((meta.get("metadata") or {}).get("path", address))
                    self.by_name.setdefault((is_data, name), []).append(address)

    def address(self, checkov_resource: str) -> str:
        if checkov_resource in self.paths:
            return checkov_resource
        head, _, name = checkov_resource.partition(".")
        if head in ("resource", "data"):
            matches = self.by_name.get((head == "data", name), [])
            if len(matches) == 1:
                return matches[0]
        data_address = f"data.{checkov_resource}"
        if data_address in self.paths:
            return data_address
        return checkov_resource

    def path(self, address: str) -> str:
        return self.paths.get(address, address)


def build_report(stack_file: Path, config: Mapping[str, Any], checkov_json: Mapping[str, Any]) -> ScanReport:
    """Apply the in-code suppressions to checkov's results."""
    index = AddressIndex(config)
    suppressions = read_suppressions(config)
    summary = checkov_json.get("summary") or {}
    report = ScanReport(str(stack_file), str(summary.get("checkov_version", "unknown")))
    report.parsing_errors = [str(e) for e in (checkov_json.get("results") or {}).get("parsing_errors", []) or []]

    def convert(item: Mapping[str, Any]) -> CheckResult:
        address = index.address(str(item.get("resource", "")))
        return CheckResult(
            str(item["check_id"]), str(item.get("check_name", "")), address, index.path(address), item.get("guideline")
        )

    results = checkov_json.get("results") or {}
    report.passed = sorted(
        {convert(i) for i in results.get("passed_checks", [])}, key=lambda r: (r.check_id, r.address)
    )
    matched: set[Suppression] = set()
    for item in results.get("failed_checks", []):
        result = convert(item)
        suppression = next(
            (s for s in suppressions if s.check_id == result.check_id and s.address == result.address), None
        )
        if suppression is None:
            report.failed.append(result)
        else:
            report.suppressed.append((result, suppression))
            matched.add(suppression)
    report.stale = [s for s in suppressions if s not in matched]
    report.failed.sort(key=lambda r: (r.check_id, r.address))
    report.suppressed.sort(key=lambda pair: (pair[0].check_id, pair[0].address))
    return report


def format_summary(report: ScanReport) -> str:
    lines = [
        f"checkov {report.checkov_version} ({FRAMEWORK}) over {report.stack_file}: {len(report.passed)} passed, "
        f"{len(report.failed) + len(report.suppressed)} failed, of which {len(report.suppressed)} suppressed in code",
    ]
    if report.suppressed:
        lines.append("Suppressions (declared with lib.suppressions.suppress next to the resource):")
        lines += [f"  {r.check_id:<12} {r.path} ({r.address}): {s.reason}" for r, s in report.suppressed]
    if report.failed:
        lines.append("UNSUPPRESSED FAILURES (fix the resource, or suppress with a reason next to it):")
        for result in report.failed:
            guide = f" [{result.guideline}]" if result.guideline else ""
            lines.append(f"  {result.check_id:<12} {result.path} ({result.address}): {result.check_name}{guide}")
    if report.stale:
        lines.append("STALE SUPPRESSIONS (no failed check matches them; remove the suppress() call):")
        lines += [f"  {s.check_id:<12} {s.construct_path} ({s.address}): {s.reason}" for s in report.stale]
    if report.parsing_errors:
        lines.append(f"PARSING ERRORS: {', '.join(report.parsing_errors)}")
    lines.append("compliance scan " + ("passed" if report.ok else "FAILED"))
    return "\n".join(lines)


def scan(stack_file: Path, checkov: str | None = None) -> ScanReport:
    """Run checkov on ``stack_file`` and apply the suppressions recorded in it."""
    if not stack_file.is_file():
        raise ScanError(f"{stack_file} does not exist; run `python tap.py` (make synth) first")
    config = json.loads(stack_file.read_text(encoding="utf-8"))
    return build_report(stack_file, config, run_checkov(stack_file, checkov or find_checkov()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lint.checkov_scan", description=__doc__.splitlines()[0])
    parser.add_argument("stack_file", nargs="?", type=Path, default=None)
    parser.add_argument(
        "--summary-json",
        type=Path,
        default=SUMMARY_JSON,
        help=f"where to write the machine-readable result (default {SUMMARY_JSON.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    stack_file = args.stack_file or default_stack_file()
    try:
        report = scan(stack_file)
    except ScanError as exc:
        print(f"checkov_scan: {exc}", file=sys.stderr)
        return 2
    args.summary_json.parent.mkdir(parents=True, exist_ok=True)
    args.summary_json.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    print(format_summary(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
