"""``make audit``: known vulnerabilities in the pinned dependencies (pip-audit --strict on the Python locks, npm audit
on the npm locks); a known vulnerability fails the step.

    python -m tools.lint.dependency_audit [--osv-url URL] [--npm-registry URL] [--timeout SECONDS]

pip-audit (``.venv-audit``, ``requirements-audit.txt``) runs ``--strict --disable-pip`` on each Python lock (hashed,
so no resolution and no install): PyPI's JSON API (@default) or, with ``--osv-url``, an OSV-compatible service.
npm audit runs ``--package-lock-only`` on ``package-lock.json`` and ``web/package-lock.json`` against the npm
registry (@default; ``--npm-registry`` for another).

Where the advisory source does not answer (these machines: PyPI's per-version JSON answers 404, api.osv.dev does not
resolve, the npm audit endpoint answers 405), nothing is audited; without ``--strict`` pip-audit would still print "No
known vulnerabilities found". This step then prints ONE line, ``advisory source unreachable (N of N not audited)``
(N: the pins of the locks it could not audit, a package in two locks counted twice), exits 0 and tells ``make test``'s
roll-up to show "not audited" (``MAKE_TEST_RESULT``), never "passed".

Exit status: 0 audited and clean, or not audited (said so); 1 a known vulnerability; 2 the audit itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.runtime.node import ProjectNodeError, project_node
from tools.release.lock_hashes import LOCKS, parse

ROOT = Path(__file__).resolve().parents[2]
PIP_AUDIT = ROOT / ".venv-audit" / "bin" / "pip-audit"
# requirements.txt is audited through requirements-dev.txt, which includes it (-r).
PYTHON_LOCKS = tuple(lock for lock in LOCKS if lock.name != "requirements.txt")
NPM_LOCKS = (ROOT / "package-lock.json", ROOT / "web" / "package-lock.json")
# What pip-audit and npm say when the advisory source does not answer (not a finding either way).
UNREACHABLE = re.compile(
    r"could not be audited|ConnectionError|Max retries exceeded|Failed to resolve|ServiceError|HTTPError|"
    r"Could not connect|timed out|audit endpoint returned an error|E405|ENOTFOUND|ECONNREFUSED|ETIMEDOUT"
)
RESULT_VARIABLE = "MAKE_TEST_RESULT"
SUMMARY_VARIABLE = "MAKE_TEST_SUMMARY"


class AuditError(RuntimeError):
    """The audit could not run (a tool missing, output not understood): neither a finding nor an unreachable source."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One lock's audit: how many packages, whether the source answered, the known vulnerabilities found."""

    lock: str
    packages: int
    audited: bool
    findings: tuple[str, ...] = field(default_factory=tuple)
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Sources:
    """Where the advisories come from (@default: PyPI's JSON API and the npm registry) and how long to wait."""

    osv_url: str | None = None
    npm_registry: str | None = None
    timeout: int = 15


def _pins(lock: Path) -> int:
    """The pins pip-audit reads from ``lock``: its own and those of the locks it ``-r``-includes."""
    included = re.findall(r"^-r\s+(\S+)", lock.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return len(parse(lock)) + sum(_pins(lock.parent / name) for name in included)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def audit_python(lock: Path, sources: Sources, pip_audit: Path = PIP_AUDIT) -> Outcome:
    """pip-audit --strict on one hashed lock."""
    if not pip_audit.is_file():
        raise AuditError(
            f"{pip_audit} is missing: run `make audit` (it installs .venv-audit from requirements-audit.txt)"
        )
    service = ["-s", "osv", "--osv-url", sources.osv_url] if sources.osv_url else ["-s", "pypi"]
    command = [str(pip_audit), "--strict", "--disable-pip", "-r", str(lock), "-f", "json", "--progress-spinner", "off"]
    command += [*service, "--timeout", str(sources.timeout)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30 * sources.timeout + 60)
    packages = _pins(lock)
    findings = tuple(
        f"{dependency['name']}=={dependency.get('version', '?')}: {vuln['id']}"
        + (f" (fixed in {', '.join(vuln['fix_versions'])})" if vuln.get("fix_versions") else "")
        for dependency in _json(result.stdout).get("dependencies", [])
        for vuln in dependency.get("vulns", [])
    )
    if result.returncode == 0 or findings:
        return Outcome(lock=_relative(lock), packages=packages, audited=True, findings=findings)
    if UNREACHABLE.search(result.stderr):
        return Outcome(lock=_relative(lock), packages=packages, audited=False, reason=_last_line(result.stderr))
    raise AuditError(f"pip-audit on {_relative(lock)} exited {result.returncode}: {result.stderr.strip()[-600:]}")


def audit_npm(lock: Path, sources: Sources) -> Outcome:
    """npm audit --package-lock-only on one package-lock.json (any severity counts)."""
    packages = sum(1 for name in json.loads(lock.read_text(encoding="utf-8")).get("packages", {}) if name)
    env = _npm_environment(sources)
    npm = shutil.which("npm", path=env["PATH"])
    if npm is None:
        raise AuditError("npm is not on PATH: install Node's npm (make setup runs npm ci with it)")
    command = [npm, "audit", "--package-lock-only", "--json", "--audit-level=low"]
    command += [f"--registry={sources.npm_registry}"] if sources.npm_registry else []
    result = subprocess.run(
        command, cwd=lock.parent, capture_output=True, text=True, check=False, env=env, timeout=4 * sources.timeout + 60
    )
    report = _json(result.stdout)
    vulnerable = report.get("vulnerabilities")
    if isinstance(vulnerable, dict):
        findings = tuple(
            f"{name}: {entry.get('severity', '?')} ({entry.get('range', '?')})"
            for name, entry in sorted(vulnerable.items())
        )
        if result.returncode == 0 or findings:
            return Outcome(lock=_relative(lock), packages=packages, audited=True, findings=findings)
    if UNREACHABLE.search(result.stdout + result.stderr):
        reason = str(report.get("message") or _last_line(result.stderr))
        return Outcome(lock=_relative(lock), packages=packages, audited=False, reason=reason)
    raise AuditError(f"npm audit on {_relative(lock)} exited {result.returncode}: {result.stderr.strip()[-600:]}")


def _npm_environment(sources: Sources) -> dict[str, str]:
    """npm on the project's Node (as the Makefile's recipes run it), one attempt per request."""
    try:
        node_dir = str(project_node().parent)
    except ProjectNodeError as error:
        raise AuditError(str(error)) from error
    return {
        **os.environ,
        "PATH": node_dir + os.pathsep + os.environ.get("PATH", ""),
        "npm_config_fetch_retries": "0",
        "npm_config_fetch_timeout": str(sources.timeout * 1000),
        "npm_config_update_notifier": "false",
    }


def _json(text: str) -> dict[str, Any]:
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no answer"


def verdict(outcomes: list[Outcome]) -> tuple[int, str, list[str]]:
    """(exit status, the one summary line, the lines above it) of the whole audit."""
    total = sum(outcome.packages for outcome in outcomes)
    findings = [f"  {outcome.lock}: {finding}" for outcome in outcomes for finding in outcome.findings]
    missed = [outcome for outcome in outcomes if not outcome.audited]
    not_audited = sum(outcome.packages for outcome in missed)
    details = [f"  {outcome.lock}: not audited: {outcome.reason}" for outcome in missed]
    if findings:
        line = f"FAILED: {len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'}"
        line += f" ({not_audited} of {total} not audited)" if missed else f" ({total} packages audited)"
        return (
            1,
            line + '; upgrade the pins named above (docs/developing.md, "Updating a Python lock")',
            findings + details,
        )
    if missed:
        return 0, f"advisory source unreachable ({not_audited} of {total} not audited)", details
    return 0, f"no known vulnerabilities ({total} packages in {len(outcomes)} locks audited)", []


def main(argv: list[str] | None = None) -> int:
    """Audit every lock, print the findings and one summary line, tell the roll-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osv-url", default=None, help="an OSV-compatible /v1/query URL (@default: PyPI's JSON API)")
    parser.add_argument("--npm-registry", default=None, help="the registry npm audit asks (@default: npm's)")
    parser.add_argument("--timeout", type=int, default=15, help="seconds per request (@default: 15)")
    args = parser.parse_args(argv)
    sources = Sources(osv_url=args.osv_url, npm_registry=args.npm_registry, timeout=args.timeout)
    try:
        outcomes = [audit_python(lock, sources) for lock in PYTHON_LOCKS]
        outcomes += [audit_npm(lock, sources) for lock in NPM_LOCKS]
    except (AuditError, subprocess.TimeoutExpired) as error:
        print(f"[audit] the audit could not run: {error}", file=sys.stderr)
        return 2
    code, line, details = verdict(outcomes)
    if code:  # the findings (and the locks not audited); an unreachable source alone is said in the one line
        print("\n".join(details), file=sys.stderr)
    print(f"[audit] {line}", flush=True)
    _tell_roll_up(line, not all(outcome.audited for outcome in outcomes) and code == 0)
    return code


def _tell_roll_up(line: str, not_audited: bool) -> None:
    """make test's runner (tools/dev/run_steps.py) shows the line under the step, and "not audited" as its result."""
    if os.environ.get(SUMMARY_VARIABLE):
        Path(os.environ[SUMMARY_VARIABLE]).write_text(line + "\n", encoding="utf-8")
    if not_audited and os.environ.get(RESULT_VARIABLE):
        Path(os.environ[RESULT_VARIABLE]).write_text("not audited\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
