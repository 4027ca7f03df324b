"""``make test``: run each step in order, then print one table of every step, its time and its result.

    python -m tools.dev.run_steps [-C DIR] STEP [STEP ...]

Each step is ``make STEP`` with its output streamed as usual. The first failing step ends the run (the
later ones would fail on the same cause or cost minutes for nothing) and the table marks them "not run";
Ctrl-C ends it too, and the table still prints.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Step:
    """One make target and what became of it."""

    name: str
    result: str = "not run"
    seconds: float = 0.0


def run(steps: list[Step], directory: Path) -> int:
    """Run the steps in order; return the first non-zero exit status (0 when all passed)."""
    make = os.environ.get("MAKE", "make")
    for step in steps:
        started = time.monotonic()
        try:
            code = subprocess.run(
                [make, "--no-print-directory", "-C", str(directory), step.name], check=False
            ).returncode
        except KeyboardInterrupt:
            step.result, step.seconds = "interrupted", time.monotonic() - started
            return 130
        step.seconds = time.monotonic() - started
        step.result = "passed" if code == 0 else f"FAILED (exit {code})"
        if code != 0:
            return code
    return 0


def table(steps: list[Step]) -> str:
    """The roll-up printed last."""
    width = max(len(step.name) for step in steps)
    lines = ["", "make test: roll-up", f"  {'step':<{width}}  {'time':>8}  result"]
    lines += [f"  {step.name:<{width}}  {step.seconds:7.1f}s  {step.result}" for step in steps]
    total = sum(step.seconds for step in steps)
    verdict = "PASSED" if all(step.result == "passed" for step in steps) else "FAILED"
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
