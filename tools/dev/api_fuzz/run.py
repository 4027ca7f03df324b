"""``make api-fuzz``: schemathesis against the payment API as ``make api`` serves it, reproducibly.

    python -m tools.dev.api_fuzz.run [--max-examples N] [--seed N]

Starts the API with a throw-away PostgreSQL 15 on 127.0.0.1 (tools/dev/local_api/local.py ``serving``, the same
path as ``make api``) with an operator key created for the run, then runs ``schemathesis run`` on the served
``/openapi.json``: the coverage, fuzzing and stateful phases, every check, a fixed seed and ``--max-examples``,
no example database and no cache (each run draws the same cases); a safety cap ends a stuck run. Accepted contract
differences are in baseline.json, each with its reason. Stops the API and PostgreSQL whatever happens, prints
one summary line, and writes it to ``MAKE_TEST_SUMMARY`` when ``make test`` (tools/dev/run_steps.py) sets it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tools.dev.local_api.local import serving
from tools.dev.local_api.postgres import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
BASELINE = HERE / "baseline.json"
CONFIG = HERE / "schemathesis.toml"
SEED = 23
MAX_EXAMPLES = 400
SAFETY_CAP_SECONDS = 180
"""A stuck run is stopped after this long and fails. 180 s, not 120: with POST /v1/csp-reports (7 operations, 4,922
cases) schemathesis took 107 s on this shared 2-CPU machine at load average 6-7 (2026-12-05), and two runs at that
load were stopped at 120 s while still passing every case; at load 1.5 the 6-operation run took about 45 s. Not
schemathesis's ``--max-time``: in 4.32.5 that is a budget, whose fuzzing and stateful phases repeat until it is spent
(schemathesis/engine/core.py), so a run with it would draw as many cases as the machine's speed allows, not the same
cases every time."""
PHASES = "coverage,fuzzing,stateful"
# Schemathesis's closing line ("=== No issues found in 44.83s ===", "=== 2 failures in 120.02s ===") and its count.
SUMMARY = re.compile(r"^=+ (?P<text>[^=]*? in [0-9.]+s[^=]*?) =+$", re.MULTILINE)
GENERATED = re.compile(r"^\s*(\d+) generated", re.MULTILINE)


def command(url: str, *, seed: int, max_examples: int, report: Path, update: bool = False) -> list[str]:
    """The schemathesis command line (``update``: merge this run's failures into baseline.json, to review)."""
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--phases",
        PHASES,
        "--checks",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--baseline",
        str(BASELINE),
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
        *(["--baseline-update"] if update else []),
    ]


def summary_line(output: str, code: int, seconds: float) -> str:
    """One line: what schemathesis closed with (or its exit status), the accepted differences and the wall time."""
    found = SUMMARY.findall(output)
    text = found[-1] if found else f"schemathesis exited {code} without its summary line"
    generated = GENERATED.findall(output)
    if generated:
        text = f"{generated[-1]} cases generated, {text}"
    accepted = len(json.loads(BASELINE.read_text(encoding="utf-8")).get("entries", []))
    verdict = "passed" if code == 0 else "FAILED"
    return f"api-fuzz {verdict}: {text}; {accepted} accepted differences in {BASELINE.name}; {seconds:.0f} s in all"


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """schemathesis, its output captured; past ``SAFETY_CAP_SECONDS`` it is killed and the run fails (exit 124)."""
    try:
        return subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            timeout=SAFETY_CAP_SECONDS,
        )
    except subprocess.TimeoutExpired as stuck:
        output = stuck.output.decode(errors="replace") if isinstance(stuck.output, bytes) else stuck.output or ""
        message = (
            f"schemathesis ran past the {SAFETY_CAP_SECONDS} s safety cap and was stopped: the API is stuck or "
            "--max-examples is too high for this machine (run.py MAX_EXAMPLES)"
        )
        return subprocess.CompletedProcess(argv, 124, f"{output}\n{message}", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    parser.add_argument(
        "--baseline-update",
        action="store_true",
        help="merge this run's failures into baseline.json (then give each a reason)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = ROOT / "schemathesis-report" / "api-fuzz.json"
    report.parent.mkdir(exist_ok=True)
    try:
        with serving(free_port(), "make api-fuzz") as (service, token):
            env = {**os.environ, "SCHEMATHESIS_HOOKS": "tools.dev.api_fuzz.hooks", "API_FUZZ_OPERATOR_TOKEN": token}
            print(f"[api-fuzz] schemathesis against {service.url} (logs: {service.log_path})", flush=True)
            fuzz = _run(
                command(
                    service.url,
                    seed=args.seed,
                    max_examples=args.max_examples,
                    report=report,
                    update=args.baseline_update,
                ),
                env,
            )
    except RuntimeError as error:
        print(f"[api-fuzz] {error}", file=sys.stderr)
        reason = (str(error) or type(error).__name__).splitlines()[0][:200]
        _summarize(f"api-fuzz FAILED: the API did not start ({reason})")
        return 1
    print(fuzz.stdout, flush=True)
    _summarize(summary_line(fuzz.stdout, fuzz.returncode, time.monotonic() - started))
    return fuzz.returncode


def _summarize(line: str) -> None:
    """Print the summary line and leave it where ``make test``'s roll-up reads it."""
    print(line, flush=True)
    if os.environ.get("MAKE_TEST_SUMMARY"):
        Path(os.environ["MAKE_TEST_SUMMARY"]).write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
