"""``make test``: run each step in order, then print one table of every step, its time and its result.

    python -m tools.dev.run_steps [-C DIR] STEP [STEP ...]

Each step is ``make STEP`` with its output streamed as usual. The first failing step ends the run (the
later ones would fail on the same cause or cost minutes for nothing) and the table marks them "not run";
Ctrl-C ends it too, and the table still prints. A step may leave one line of summary in the file named by
``MAKE_TEST_SUMMARY`` (``make api-fuzz`` does); the table shows it under the step. A step that exits 0 may name
its result in the file ``MAKE_TEST_RESULT`` names, from :data:`RESULTS` (``make audit`` writes "not audited" when
the advisory sources do not answer): the table shows that instead of "passed", and the total says so.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Results a step that exits 0 may report instead of "passed": it ran, and did not check what it is for.
RESULTS = ("not audited",)


@dataclass
class Step:
    """One make target and what became of it."""

    name: str
    result: str = "not run"
    seconds: float = 0.0
    summary: str = ""


def run(steps: list[Step], directory: Path) -> int:
    """Run the steps in order; return the first non-zero exit status (0 when all passed)."""
    make = os.environ.get("MAKE", "make")
    for step in steps:
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as folder:
            summary, reported = Path(folder) / "summary", Path(folder) / "result"
            env = {**os.environ, "MAKE_TEST_SUMMARY": str(summary), "MAKE_TEST_RESULT": str(reported)}
            try:
                code = subprocess.run(
                    [make, "--no-print-directory", "-C", str(directory), step.name], check=False, env=env
                ).returncode
            except KeyboardInterrupt:
                step.result, step.seconds = "interrupted", time.monotonic() - started
                return 130
            if summary.is_file():
                step.summary = next(iter(summary.read_text(encoding="utf-8").strip().splitlines()), "")
            told = reported.read_text(encoding="utf-8").strip() if reported.is_file() else ""
        step.seconds = time.monotonic() - started
        step.result = "passed" if code == 0 else f"FAILED (exit {code})"
        if code == 0 and told in RESULTS:
            step.result = told
        if code != 0:
            return code
    return 0


def table(steps: list[Step]) -> str:
    """The roll-up printed last."""
    width = max(len(step.name) for step in steps)
    lines = ["", "make test: roll-up", f"  {'step':<{width}}  {'time':>8}  result"]
    for step in steps:
        lines.append(f"  {step.name:<{width}}  {step.seconds:7.1f}s  {step.result}")
        if step.summary:
            lines.append(f"  {'':<{width}}            {step.summary}")
    total = sum(step.seconds for step in steps)
    verdict = "PASSED" if all(step.result in ("passed", *RESULTS) for step in steps) else "FAILED"
    unchecked = [step.name for step in steps if step.result in RESULTS]
    if verdict == "PASSED" and unchecked:
        verdict += f" ({', '.join(f'{step.name}: {step.result}' for step in steps if step.name in unchecked)})"
    lines.append(f"  {'total':<{width}}  {total:7.1f}s  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", dest="directory", type=Path, default=Path.cwd())
    parser.add_argument("steps", nargs="+")
    args = parser.parse_args(argv)
    steps = [Step(name) for name in args.steps]
    code = run(steps, args.directory)
    print(table(steps), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
