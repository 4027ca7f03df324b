"""``make regions``: a development and a production stack synthesized in every supported region, through the preflight.

    python -m tools.release.regions [--region REGION ...] [--type development|production ...]

Every other check synthesizes us-east-1, where the stack's home region and its ``us_east_1`` provider alias (the
CloudFront WAF, its log group and key) are the same region: a rule or a resource that confuses the two passes there
and fails everywhere else (issue 20: 14 of the 15 supported regions refused synth). This step runs ``tap.synthesize``
(the function ``python tap.py`` runs: stack, preflight, nothing written on an error) for each region of
``facts/regions.json`` ``supported`` and each environment type, in one process (the fast binding loader makes
a synth about 1.5 s), printing one line per stack with its time; it exits 1 naming every region and type that failed.

The settings are the ones ``make upgrade-check`` synthesizes (``tools/release/addresses.CONFIGURATIONS``, kept equal
to the unit tests' by a test) with ``AWS_REGION`` changed; the production stacks ship the unverified production artifact
(``tools/release/build_artifact.unverified_production_pointer``), the development ones ``dist/``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from tap_contract import examples  # noqa: E402

import tap  # noqa: E402  # enables the fast binding loader before cdktf is imported
from facts import load_data  # noqa: E402
from lib.artifact import PaymentApiArtifact, load_artifact  # noqa: E402
from lib.config import StackConfig  # noqa: E402
from tools.release.addresses import CONFIGURATIONS  # noqa: E402
from tools.release.build_artifact import unverified_production_pointer  # noqa: E402

TYPES = ("development", "production")


@dataclass(frozen=True)
class Outcome:
    """One synthesized stack: where, which type, how long, and the error (empty when it passed)."""

    region: str
    environment_type: str
    seconds: float
    error: str = ""


def supported_regions() -> list[str]:
    """The regions the stack supports (``facts/regions.json``)."""
    return [str(region) for region in load_data("regions.json")["supported"]]


def synthesize_one(region: str, environment_type: str, artifact: PaymentApiArtifact, workdir: Path) -> Outcome:
    """``tap.synthesize`` of one configuration into its own folder; the preflight's report is kept for a failure."""
    environ = examples.in_region(CONFIGURATIONS[environment_type], region)
    report = io.StringIO()
    started = time.monotonic()
    try:
        with contextlib.redirect_stderr(report):
            config = StackConfig.from_env(environ)
            tap.synthesize(config, workdir / f"{region}-{environment_type}", artifact)
    except ValueError as error:  # ConfigError, PreflightError, ArtifactKindError: a refused synth
        detail = "\n".join(line for line in report.getvalue().splitlines() if line.startswith("[ERROR]"))
        return Outcome(region, environment_type, time.monotonic() - started, f"{error}\n{detail}".strip())
    return Outcome(region, environment_type, time.monotonic() - started)


def run(regions: Iterable[str], types: Iterable[str]) -> list[Outcome]:
    """Synthesize each (region, type), printing a line per stack as it finishes."""
    artifacts = {
        "development": load_artifact() if "development" in types else None,
        "production": load_artifact(unverified_production_pointer()) if "production" in types else None,
    }
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="tap-regions-") as workdir:
        for region in regions:
            for environment_type in types:
                artifact = artifacts[environment_type]
                assert artifact is not None
                outcome = synthesize_one(region, environment_type, artifact, Path(workdir))
                status = "ok" if not outcome.error else "FAILED"
                print(f"[regions] {region:<15} {environment_type:<12} {outcome.seconds:5.1f} s  {status}", flush=True)
                outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--region", action="append", help="only this region (repeatable; default: every supported)")
    parser.add_argument("--type", action="append", choices=TYPES, help="only this environment type (repeatable)")
    args = parser.parse_args(argv)
    regions = args.region or supported_regions()
    unknown = sorted(set(regions) - set(supported_regions()))
    if unknown:
        print(
            f"[regions] {', '.join(unknown)}: not a supported region; use one of {', '.join(supported_regions())} "
            "(facts/regions.json)",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    outcomes = run(regions, tuple(args.type or TYPES))
    failed = [outcome for outcome in outcomes if outcome.error]
    for outcome in failed:
        print(
            f"[regions] {outcome.region} {outcome.environment_type}: synth refused:\n{outcome.error}", file=sys.stderr
        )
    names = ", ".join(f"{outcome.region} {outcome.environment_type}" for outcome in failed)
    print(
        f"[regions] {len(outcomes) - len(failed)} of {len(outcomes)} stacks synthesized and passed the preflight "
        f"in {time.monotonic() - started:.1f} s" + (f"; FAILED: {names}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
