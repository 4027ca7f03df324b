"""``make upgrade-check``: every stateful resource keeps its Terraform address from release to release.

Why: cdktf names a resource ``<type>.<scope path>_<id>_<hash of the construct path>``. Moving a construct
to another scope, or renaming its id, changes that address, and on an existing deployment Terraform then
plans a destroy and a create: an empty database, buckets that must be emptied first, keys scheduled for
deletion, a new CloudFront or ALB domain name. Nothing in a synth, a plan on an empty account or a unit test
notices. This check compares the synthesized stack with a committed baseline of addresses per release
(``release/addresses-<release>.json``, one per release some deployment may still run) and fails when a
stateful address is gone and no Terraform ``moved`` block maps it to an address the stack still declares.
Every other change (added, moved, removed non-stateful) is printed, never fatal.

    python -m tools.release.addresses --check                 # make upgrade-check (a make test step)
    python -m tools.release.addresses --write --release v1    # make release-baseline RELEASE=v1 (release step)

Data sources are not compared: Terraform keeps nothing of them between runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_contract import examples

ROOT = Path(__file__).resolve().parents[2]
BASELINE_DIR = ROOT / "release"
BASELINE_GLOB = "addresses-*.json"
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
INSTANCE_KEY = re.compile(r"\[[^\]]*\]$")  # the [0] / ["key"] of a counted or for_each instance

# The configurations a baseline covers: addresses can differ by configuration (counts, optional parts). The same
# environments as tests/conftest.py, both the contract's examples (tap_contract.examples); each baseline records the one
# it used.
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "development": dict(examples.DEVELOPMENT),
    "production": dict(examples.PRODUCTION),
}

# Resource types whose replacement loses data or an identity other systems hold: what Terraform destroys with it.
STATEFUL: dict[str, str] = {
    "aws_db_instance": "the database: Terraform would destroy it and create an empty one (data loss, new endpoint)",
    "aws_s3_bucket": "its objects (frontend assets, access logs kept for PCI DSS 10.5) go with it, and the "
    "destroy fails on a non-empty bucket half-way through the apply",
    "aws_kms_key": "destroying it schedules key deletion: whatever it encrypts (database storage, logs, "
    "parameters) becomes unreadable when the waiting period ends",
    "aws_cloudwatch_log_group": "its log events (the audit trail PCI DSS 10.5.1 keeps for a year) are deleted with it",
    "aws_secretsmanager_secret": "the secret value and its versions go with it, and the name stays reserved for "
    "the recovery window, so the create fails",
    "aws_ssm_parameter": "its value and history go with it; readers see it missing between destroy and create",
    "aws_cloudfront_distribution": "a new distribution gets a new *.cloudfront.net domain name (DNS records point "
    "at the old one), and the create fails while the old one holds the alias",
    "aws_lb": "a new load balancer gets a new DNS name; DNS records and partners that pinned it break",
    "aws_alb": "a new load balancer gets a new DNS name; DNS records and partners that pinned it break",
    "aws_eip": "the public address changes: partners that allowlist the NAT egress addresses would drop traffic",
}


def _nat_address_without_egress(path: str, stack: Mapping[str, Any]) -> str | None:
    """A NAT gateway's Elastic IP gone with every NAT gateway: the stack has no processor egress (issue 29), so
    nothing of it goes to the internet and no partner can have allowlisted it."""
    if path.startswith("networking/nat_eip_") and not (stack.get("resource") or {}).get("aws_nat_gateway"):
        return (
            "the stack has no NAT gateway now (no processor egress: PAYMENT_PROCESSOR=stripe or "
            "PAYMENT_PROCESSOR_EGRESS_CIDRS bring them back, with new addresses)"
        )
    return None


# Removals of stateful resources that are a design decision, not a lost address: each a function of the resource's
# construct path and the current stack, answering why the removal is intended (None: it is not).
INTENDED_REMOVALS: tuple[Callable[[str, Mapping[str, Any]], str | None], ...] = (_nat_address_without_egress,)


def _intended(path: str, stack: Mapping[str, Any]) -> str | None:
    return next((reason for rule in INTENDED_REMOVALS if (reason := rule(path, stack)) is not None), None)


class AddressError(ValueError):
    """A baseline or stack that cannot be compared (the message names the file, the value and the fix)."""


@dataclass
class Comparison:
    """What an upgrade from one baseline to the current stack does to addresses."""

    failures: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


def resource_addresses(stack: Mapping[str, Any]) -> dict[str, str]:
    """``{"<type>.<name>": construct path below the stack}`` of every resource the stack declares."""
    addresses: dict[str, str] = {}
    for rtype, resources in stack.get("resource", {}).items():
        for name, body in resources.items():
            path = body.get("//", {}).get("metadata", {}).get("path", "")
            addresses[f"{rtype}.{name}"] = path.split("/", 1)[1] if "/" in path else path
    return dict(sorted(addresses.items()))


def moved_blocks(stack: Mapping[str, Any]) -> dict[str, str]:
    """``{from: to}`` of the stack's Terraform ``moved`` blocks (cdktf: ``resource.move_from_id(old)``)."""
    moves: dict[str, str] = {}
    for block in stack.get("moved", []):
        if (
            not isinstance(block, Mapping)
            or not isinstance(block.get("from"), str)
            or not isinstance(block.get("to"), str)
        ):
            raise AddressError(
                f"moved block {block!r} is not "
                '{"from": "<type>.<name>", "to": "<type>.<name>"}; declare moves with '
                "cdktf's move_from_id / move_to_id, which write that shape"
            )
        moves[block["from"]] = block["to"]
    return moves


def _destination(address: str, moves: Mapping[str, str]) -> str | None:
    """Where a chain of moved blocks takes ``address`` (None when no block starts there)."""
    seen = {address}
    target = moves.get(address)
    while target is not None and target in moves and target not in seen:
        seen.add(target)
        target = moves[target]
    return target


def _fix(address: str, path: str, candidates: list[str], current: Mapping[str, str]) -> str:
    rtype = address.split(".", 1)[0]
    new = candidates[0] if len(candidates) == 1 else f"{rtype}.<new name>"
    lines = [
        f"  Fix: keep the construct's scope and id (`{path}`), or declare the move on the new construct:",
        f'      <new construct>.move_from_id("{address}")',
        "  which synthesizes the Terraform moved block",
        f'      "moved": [{{"from": "{address}", "to": "{new}"}}]',
    ]
    if len(candidates) == 1:
        lines.append(f"  The new address is probably {new} (construct {current[new]}), the only {rtype} added.")
    elif candidates:
        lines.append(f"  {rtype} added: {', '.join(candidates)}.")
    lines.append(
        '  If the resource is meant to go, that is a release decision: see docs/deploying.md, "Upgrade safety".'
    )
    return "\n".join(lines)


def compare(*, baseline: Mapping[str, str], stack: Mapping[str, Any]) -> Comparison:
    """Failures (stateful addresses lost) and printed changes from ``baseline`` to ``stack``."""
    current = resource_addresses(stack)
    moves = moved_blocks(stack)
    result = Comparison()
    moved_to: set[str] = set()
    gone = [address for address in baseline if address not in current]
    added = [address for address in current if address not in baseline]
    for address in gone:
        rtype = address.split(".", 1)[0]
        target = _destination(address, moves)
        landed = INSTANCE_KEY.sub("", target) if target else None  # a move may land on "<type>.<name>[0]"
        if landed is not None and landed in current:
            moved_to.add(landed)
            result.changes.append(
                f"moved    {address} -> {target} (construct {baseline[address]} -> {current[landed]})"
            )
        elif rtype in STATEFUL and (intended := _intended(baseline[address], stack)) is not None:
            result.changes.append(f"removed  {address} (construct {baseline[address]}): intended, {intended}")
        elif rtype in STATEFUL:
            where = f"; its moved block points at {target}, which the stack does not declare" if target else ""
            candidates = [a for a in added if a.startswith(f"{rtype}.") and a not in moves.values()]
            result.failures.append(
                f"{address} (construct {baseline[address]}) is gone from the stack and no moved block maps it to an "
                f"address the stack declares{where}.\n  Why it matters: {STATEFUL[rtype]}.\n"
                + _fix(address, baseline[address], candidates, current)
            )
        else:
            result.changes.append(
                f"removed  {address} (construct {baseline[address]}): not stateful, Terraform "
                "destroys it and creates what replaces it"
            )
    for address in added:
        if address not in moved_to:
            result.changes.append(f"added    {address} (construct {current[address]})")
    return result


def synthesize(environ: Mapping[str, str]) -> dict[str, Any]:
    """The stack JSON for ``environ``, synthesized in this process (nothing is written outside a temp folder)."""
    from lib.runtime import fast_bindings  # pylint: disable=import-outside-toplevel

    fast_bindings.enable()
    from cdktf import App  # pylint: disable=import-outside-toplevel

    from lib.artifact import load_artifact  # pylint: disable=import-outside-toplevel
    from lib.config import StackConfig  # pylint: disable=import-outside-toplevel
    from lib.synth_output import stack_file  # pylint: disable=import-outside-toplevel
    from lib.tap_stack import TapStack  # pylint: disable=import-outside-toplevel
    from tools.release.build_artifact import unverified_production_pointer  # pylint: disable=import-outside-toplevel

    config = StackConfig.from_env(dict(environ))
    # A production stack refuses a development artifact: it gets an unverified production one (never deployed).
    artifact = load_artifact(unverified_production_pointer()) if config.environment_type == "production" else None
    with tempfile.TemporaryDirectory(prefix="tap-addresses-") as outdir:
        app = App(outdir=outdir)
        TapStack(app, config.stack_name, config=config, artifact=artifact)
        app.synth()
        return json.loads(stack_file(outdir, config.stack_name).read_text(encoding="utf-8"))


Synthesizer = Callable[[Mapping[str, str]], Mapping[str, Any]]


def baseline_document(*, release: str, stacks: Mapping[str, tuple[Mapping[str, str], Mapping[str, Any]]]) -> str:
    """The committed baseline for ``release``: per configuration, its environment and its addresses."""
    document = {
        "release": release,
        "written_by": f"python -m tools.release.addresses --write --release {release}",
        "configurations": {
            name: {"environment": dict(sorted(environ.items())), "resources": resource_addresses(stack)}
            for name, (environ, stack) in sorted(stacks.items())
        },
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def load_baseline(path: Path) -> dict[str, Any]:
    """One baseline file, checked for the shape ``baseline_document`` writes."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        configurations = document["configurations"]
        for entry in configurations.values():
            if not isinstance(entry["environment"], dict) or not isinstance(entry["resources"], dict):
                raise TypeError("environment and resources must be objects")
        return document
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise AddressError(
            f"{path} is not a baseline ({err}); restore it from git, or rewrite it with "
            "`make release-baseline RELEASE=<release>` only if that release was never deployed"
        ) from err


def check(*, baselines: Iterable[Path], synth: Synthesizer = synthesize) -> int:
    """Compare the stack with every baseline; print the result; 1 when a stateful address is lost."""
    cache: dict[tuple[tuple[str, str], ...], Mapping[str, Any]] = {}
    failures = 0
    files = sorted(baselines)
    if not files:
        raise AddressError(
            f"no baseline matches {BASELINE_DIR / BASELINE_GLOB}; record the deployed release with "
            "`make release-baseline RELEASE=v0`"
        )
    for path in files:
        document = load_baseline(path)
        release = document.get("release", path.stem)
        for name, entry in sorted(document["configurations"].items()):
            # The baseline's own values win; a setting added since (API_DOMAIN after v0) comes from today's
            # configuration, as an operator upgrading that release would have to add it.
            environment = {**CONFIGURATIONS.get(name, {}), **entry["environment"]}
            key = tuple(sorted(environment.items()))
            if key not in cache:
                cache[key] = synth(environment)
            result = compare(baseline=entry["resources"], stack=cache[key])
            summary = (
                "no address changed"
                if not (result.changes or result.failures)
                else f"{len(result.failures)} stateful address(es) lost, {len(result.changes)} other change(s)"
            )
            print(f"{name} vs release {release} ({path.name}, {len(entry['resources'])} addresses): {summary}")
            for change in result.changes:
                print(f"  {change}")
            for failure in result.failures:
                print(f"FAIL {name} vs release {release}: {failure}")
            failures += len(result.failures)
    if failures:
        print(f"upgrade-check: {failures} stateful address(es) would be destroyed and recreated on upgrade")
        return 1
    print(f"upgrade-check: every stateful address of {len(files)} release baseline(s) is kept")
    return 0


def write(*, release: str, directory: Path = BASELINE_DIR, synth: Synthesizer = synthesize) -> Path:
    """Record the current addresses as ``release``'s baseline; refuses to overwrite an existing release."""
    if not RELEASE_NAME.match(release):
        raise AddressError(
            f"release name {release!r} is invalid: 1-32 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (e.g. RELEASE=v1)"
        )
    path = directory / f"addresses-{release}.json"
    if path.exists():
        raise AddressError(
            f"{path} exists: a release's baseline is what its deployments run, so it is never "
            "rewritten. Choose a new release name, or delete the file first if that release was "
            "never deployed"
        )
    stacks = {name: (environ, synth(environ)) for name, environ in CONFIGURATIONS.items()}
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline_document(release=release, stacks=stacks), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare the stack with every committed baseline")
    mode.add_argument("--write", action="store_true", help="record the current addresses as a new release")
    parser.add_argument("--release", help="release name for --write, e.g. v1")
    parser.add_argument("--dir", type=Path, default=BASELINE_DIR, help="baseline folder (default release/)")
    args = parser.parse_args(argv)
    try:
        if args.write:
            if not args.release:
                raise AddressError("--write needs --release NAME (make release-baseline RELEASE=v1)")
            path = write(release=args.release, directory=args.dir)
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: commit it with the release")
            return 0
        return check(baselines=args.dir.glob(BASELINE_GLOB))
    except AddressError as err:
        print(f"tools.release.addresses: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    from lib.runtime import fast_bindings as _fast_bindings

    _fast_bindings.fast_exit(main())
