"""The sandbox's release phase (issue 25): a second release over the first, then ``make rollback`` to the first.

It runs after the checks of the applied stack (release A: the artifact ``make deploy`` built into ``dist/``) and
before destroy, as the sandbox's deployer:

1. build release B: the same sources under the version label ``sandbox.b`` (``build_artifact --version-label``:
   another manifest, so other bytes and another sha256), into ``sandbox-logs/release-b/`` (``dist/`` keeps A);
2. ``make deploy`` with ``PAYMENT_API_ARTIFACT`` naming B: its plan may change only the artifact object (an update:
   B becomes a new version of the one key), the launch template (B's sha256 in the user data) and the Auto Scaling
   group (the template version it launches, whose change starts the instance refresh); the boot hook rehearses B's
   user data on the refresh's replacement;
3. ``make rollback RELEASE=<A's version>``: the same plan with A's bytes, and the boot hook rehearses A's user data:
   the instance finds A's version of the key by its sha256 metadata, among B's and A's;
4. the key keeps every release: B is a noncurrent version, A the current one;
5. each release's migration host rotated the application's database login (issue 27): the app-login secret's
   AWSCURRENT names payment_app_a or payment_app_b, the other one after each deploy. The emulator cannot show the
   earlier instance serving on with its login during the refresh (its rehearsal ends with its boot); the migration
   rehearsal (tests/sandbox/test_migration_rehearsal.py) shows both logins valid after a rotation.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tap_contract import runtime
from tap_contract.identity import Output

from lib.artifact import POINTER_VARIABLE, PaymentApiArtifact, load_artifact
from tools.deploy.outputs import stack_outputs
from tools.sandbox.emulator import ROOT, client

LOG_DIR = ROOT / "sandbox-logs"
RELEASE_B = LOG_DIR / "release-b"
RELEASE_B_LABEL = "sandbox.b"
# What a release may change, and how, each exactly once: the object (a new version of the one key), the API's template
# and group, and the migration host's template and run (replaced: a new host migrates to the new release first).
RELEASE_CHANGES = {
    ("aws_s3_object", "api_release_artifact"): "update",
    ("aws_launch_template", "compute_launch_template"): "update",
    ("aws_autoscaling_group", "compute_asg"): "update",
    ("aws_launch_template", "migration_host_launch_template"): "update",
    ("terraform_data", "migration_host_run"): "replace",
}

# (log name, argv, what it is, environment added) -> runs it as the sandbox's deployer, raising when it fails.
Run = Callable[[str, list[str], str, Mapping[str, str]], None]


class ReleasePhaseError(RuntimeError):
    """What a release or the rollback did differs from what it must do (the message says what)."""


def _plan_changes(report: Path) -> dict[str, str]:
    """``{address: action}`` of the plan the last ``make deploy`` (or ``make rollback``) applied."""
    document: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    changed: dict[str, str] = document["plan"]["changed"]
    return changed


def _check_plan(changed: Mapping[str, str], what: str) -> str:
    """Exactly the resources of :data:`RELEASE_CHANGES` (type and logical name without cdktf's hash suffix), each with
    its action, and nothing else."""
    kinds = {
        (address.split(".", 1)[0], address.split(".", 1)[1].rsplit("_", 1)[0]): action
        for address, action in changed.items()
    }
    if len(kinds) != len(changed) or kinds != RELEASE_CHANGES:
        raise ReleasePhaseError(
            f"{what}'s plan changed {json.dumps(changed)}; a release may change only "
            + ", ".join(f"the {kind} {name} ({action})" for (kind, name), action in RELEASE_CHANGES.items())
        )
    return ", ".join(f"{address} {action}" for address, action in changed.items())


def _launched_sha256(endpoint: str, region: str, template_id: str) -> str:
    """The release the launch template's latest version names (``ARTIFACT_SHA256=`` in its user data)."""
    versions = client("ec2", endpoint, region).describe_launch_template_versions(
        LaunchTemplateId=template_id, Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    user_data = base64.b64decode(versions[0]["LaunchTemplateData"]["UserData"]).decode("utf-8")
    line = next(line for line in user_data.splitlines() if line.startswith("ARTIFACT_SHA256="))
    return line.split("=", 1)[1]


def _booted(boot_report: Path, what: str) -> str:
    """The boot hook's rehearsal of the user data ``what`` applied: an instance ran it and completed its hook."""
    steps: list[str] = json.loads(boot_report.read_text(encoding="utf-8")).get("steps", [])
    booted = [step.split(":", 1)[0] for step in steps if step.endswith("completed its hook")]
    if not booted:
        raise ReleasePhaseError(f"no instance booted the user data {what} applied: {steps}")
    return ", ".join(booted)


def serving_login(endpoint: str, region: str, runtime_parameter: str) -> str:
    """The application login the app-login secret's AWSCURRENT version names (its label: DescribeSecret, no value)."""
    parameter = client("ssm", endpoint, region).get_parameter(Name=runtime_parameter, WithDecryption=True)
    arn = runtime.read_parameter(parameter["Parameter"]["Value"])[runtime.APP_LOGIN_SECRET_ARN.key]
    stages = client("secretsmanager", endpoint, region).describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    current = [label for labels in stages.values() if "AWSCURRENT" in labels for label in labels]
    named = [label for label in current if label.startswith("payment_app_")]
    if not named:
        raise ReleasePhaseError(f"the app-login secret's AWSCURRENT names no login (its labels: {current})")
    return named[0]


def _rotated(before: str, after: str, what: str) -> str:
    if before == after:
        raise ReleasePhaseError(f"{what} left the application login at {before}: its migration host did not rotate it")
    return f"{before} -> {after}"


def _key_versions(s3: Any, bucket: str, key: str) -> list[tuple[str, bool]]:
    """``(sha256 metadata, is latest)`` of each version of ``key``, newest first, read with ``s3`` (the deployer's:
    the bucket policy refuses object reads to anyone but the instance role and the named deployers)."""
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [
        (
            s3.head_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Metadata"].get("sha256", ""),
            bool(version["IsLatest"]),
        )
        for version in listed
        if version["Key"] == key
    ]


def _apply(run: Run, command: tuple[str, list[str], str, Mapping[str, str]], files: tuple[Path, Path]) -> str:
    """Run ``make deploy`` or ``make rollback`` (``command``: log name, argv, what, environment added); its plan must
    be a release's; returns the plan's changes and where it booted."""
    run(*command)
    what = command[2]
    return _check_plan(_plan_changes(files[0]), what) + f"; booted on {_booted(files[1], what)}"


def release_cycle(  # pylint: disable=too-many-arguments  # keyword-only: what the runner holds
    run: Run, *, endpoint: str, region: str, stack: str, suffix: str, reports: tuple[Path, Path], deployer_s3: Any
) -> str:
    """Release B over A, ``make rollback`` to A; returns the phase's detail. ``reports``: the deploy report
    (``DEPLOY_REPORT_JSON``) and the boot hook's report, as the last command left them; ``deployer_s3``: an S3 client
    signed as the sandbox's deployer."""
    values = stack_outputs(stack)
    a: PaymentApiArtifact = load_artifact()
    if values[Output.API_ARTIFACT_SHA256] != a.sha256:
        raise ReleasePhaseError(f"the stack runs {values[Output.API_ARTIFACT_SHA256]}, not dist/'s {a.sha256}")
    build = [sys.executable, "-m", "tools.release.build_artifact", "--kind", a.build_kind]
    run("release-build", [*build, "--version-label", RELEASE_B_LABEL, "--out", str(RELEASE_B)], "build release B", {})
    b = load_artifact(RELEASE_B / "payment-api.json")
    make = ["make", "--no-print-directory"]
    logins = [serving_login(endpoint, region, values[Output.API_RUNTIME_PARAMETER_NAME])]
    deployed = _apply(
        run,
        (
            "release-deploy",
            [*make, "deploy", f"ENVIRONMENT={suffix}", "AUTO_APPROVE=1"],
            f"make deploy (release B, {b.version})",
            {POINTER_VARIABLE: str(RELEASE_B / "payment-api.json")},
        ),
        reports,
    )
    logins.append(serving_login(endpoint, region, values[Output.API_RUNTIME_PARAMETER_NAME]))
    template = values[Output.LAUNCH_TEMPLATE_ID]
    if _launched_sha256(endpoint, region, template) != b.sha256:
        raise ReleasePhaseError(f"after make deploy of B the launch template does not name B's sha256 {b.sha256}")
    rolled = _apply(
        run,
        (
            "release-rollback",
            [*make, "rollback", f"ENVIRONMENT={suffix}", f"RELEASE={a.version}", "AUTO_APPROVE=1"],
            f"make rollback RELEASE={a.version}",
            {},
        ),
        reports,
    )
    if _launched_sha256(endpoint, region, template) != a.sha256:
        raise ReleasePhaseError(f"after make rollback the launch template does not name A's sha256 {a.sha256}")
    logins.append(serving_login(endpoint, region, values[Output.API_RUNTIME_PARAMETER_NAME]))
    rotations = f"application login {_rotated(logins[0], logins[1], 'make deploy of B')}, then " + _rotated(
        logins[1], logins[2], "make rollback"
    )
    versions = _key_versions(deployer_s3, values[Output.ARTIFACTS_BUCKET_NAME], values[Output.API_ARTIFACT_KEY])
    if not versions or versions[0] != (a.sha256, True) or (b.sha256, False) not in versions:
        raise ReleasePhaseError(
            f"the key's versions (sha256, latest), newest first, are {versions}: A ({a.sha256[:12]}) must be the "
            f"current one and B ({b.sha256[:12]}) kept as a noncurrent one"
        )
    order = ", ".join(("A" if sha == a.sha256 else "B" if sha == b.sha256 else sha[:12]) for sha, _ in versions)
    return (
        f"release B {b.version} (sha256 {b.sha256[:12]}) over A {a.version} ({a.sha256[:12]}): {deployed}. "
        f"make rollback RELEASE={a.version}: {rolled}. Versions of the key, newest first: {order} (B noncurrent). "
        f"{rotations}"
    )
