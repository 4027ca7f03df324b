"""Every input that once slipped through, run through the real command line (``python tap.py``).

For each one: exit code 2, a message that names the variable, the value and the fix, no traceback, and
nothing written or deleted: an earlier synth output (with a sentinel file) is byte-for-byte unchanged and
no staging folder is left next to it. All rows run concurrently once per session (each process stops
before cdktf is imported, well under a second).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from lib.synth_output import MARKER
from tests.conftest import PRODUCTION_ENV, ROOT

DEV = {"ENVIRONMENT_SUFFIX": "clitest"}
PROD = {**PRODUCTION_ENV, "ENVIRONMENT_SUFFIX": "clitest"}
# Special CDKTF_OUTDIR values, filled in per case (they depend on the test's folders).
OUTDIR_DEFAULT = "<earlier output>"
FULLWIDTH_8080 = "\uff18\uff10\uff18\uff10"  # what int() also reads as 8080


@dataclass(frozen=True)
class Case:
    """One bad input and the words its message must contain."""

    id: str
    environ: dict[str, str]
    expect: tuple[str, ...]
    drop: tuple[str, ...] = ()  # variables of the base environment to unset


def prod(case_id: str, expect: tuple[str, ...], drop: tuple[str, ...] = (), **changes: str) -> Case:
    return Case(case_id, {**PROD, **changes}, ("ENVIRONMENT_TYPE='production' refuses", *expect), drop)


CASES = [
    # output safety (CDKTF_OUTDIR values are resolved in _environ)
    Case("outdir-empty", {**DEV, "CDKTF_OUTDIR": ""}, ("CDKTF_OUTDIR is set but empty", "Unset it")),
    Case(
        "outdir-project-root",
        {**DEV, "CDKTF_OUTDIR": "<root>"},
        ("CDKTF_OUTDIR=", "the project itself", "folder of its own"),
    ),
    Case(
        "outdir-parent",
        {**DEV, "CDKTF_OUTDIR": "<parent>"},
        ("a folder that contains the project", "folder of its own"),
    ),
    Case("outdir-home", {**DEV, "CDKTF_OUTDIR": "~"}, ("CDKTF_OUTDIR='~'", "your home folder", "folder of its own")),
    Case("outdir-filesystem-root", {**DEV, "CDKTF_OUTDIR": "/"}, ("CDKTF_OUTDIR='/'", "file-system root")),
    Case(
        "outdir-foreign-folder",
        {**DEV, "CDKTF_OUTDIR": "<foreign>"},
        ("holds files that tap.py did not write", "new or empty folder"),
    ),
    Case(
        "outdir-holds-state",
        {**DEV, "CDKTF_OUTDIR": "<with state>"},
        ("terraform.TapStackclitest.tfstate", "Move state files to the project root"),
    ),
    # set but empty
    Case("suffix-empty", {"ENVIRONMENT_SUFFIX": ""}, ("ENVIRONMENT_SUFFIX=''", "set but empty", "default 'dev'")),
    Case("alarm-email-empty", {**DEV, "ALARM_EMAIL": " "}, ("ALARM_EMAIL=' '", "set but empty", "Unset ALARM_EMAIL")),
    # template injection and AWS tag rules
    Case(
        "owner-template",
        {**DEV, "OWNER": '${file("/etc/hostname")}'},
        ("OWNER='${file(\"/etc/hostname\")}'", "evaluate as a template", "plain text"),
    ),
    Case(
        "repository-directive",
        {**DEV, "REPOSITORY": "%{ for x in [1] }x%{ endfor }"},
        ("REPOSITORY='%{ for x in [1] }x%{ endfor }'", "'%{'", "plain text"),
    ),
    Case("tag-too-long", {**DEV, "OWNER": "o" * 257}, ("OWNER='ooo", "257 characters", "at most 256")),
    Case("tag-newline", {**DEV, "OWNER": "team\nx"}, ("OWNER='team\\nx'", "'\\n'", "plain text")),
    # VPC ranges
    *(
        Case(f"vpc-{cidr}", {**DEV, "VPC_CIDR": cidr}, (f"VPC_CIDR='{cidr}'", "RFC 1918", "10.0.0.0/16"))
        for cidr in ("127.0.0.0/16", "169.254.0.0/16", "0.0.0.0/16", "240.0.0.0/16")
    ),
    Case(
        "vpc-docker-bridge", {**DEV, "VPC_CIDR": "172.17.0.0/16"}, ("VPC_CIDR='172.17.0.0/16'", "Docker", "10.0.0.0/16")
    ),
    # numbers: ASCII digits only
    Case("port-underscore", {**DEV, "API_PORT": "8_080"}, ("API_PORT='8_080'", "digits 0-9", "8080")),
    Case("port-fullwidth", {**DEV, "API_PORT": FULLWIDTH_8080}, (f"API_PORT='{FULLWIDTH_8080}'", "digits 0-9", "8080")),
    # instance types and classes, from data
    Case(
        "instance-arm64-t4g",
        {**DEV, "INSTANCE_TYPE": "t4g.medium"},
        ("INSTANCE_TYPE='t4g.medium'", "arm64", "x86_64", "t3.medium"),
    ),
    Case(
        "instance-arm64-m7g", {**DEV, "INSTANCE_TYPE": "m7g.large"}, ("INSTANCE_TYPE='m7g.large'", "arm64", "m7i.large")
    ),
    Case(
        "instance-typo",
        {**DEV, "INSTANCE_TYPE": "t3.medum"},
        ("INSTANCE_TYPE='t3.medum'", "did you mean t3.medium", "Set INSTANCE_TYPE"),
    ),
    Case(
        "db-class-typo",
        {**DEV, "DB_INSTANCE_CLASS": "db.t3.nonsense"},
        ("DB_INSTANCE_CLASS='db.t3.nonsense'", "no size 'nonsense'", "db.t3.medium"),
    ),
    # S3 bucket names
    Case(
        "bucket-double-dot",
        {**DEV, "ENVIRONMENT_TYPE": "development", "TERRAFORM_STATE_BUCKET": "a..b"},
        ("TERRAFORM_STATE_BUCKET='a..b'", "no '..'", "existing bucket"),
    ),
    Case(
        "bucket-ip",
        {**DEV, "ENVIRONMENT_TYPE": "development", "TERRAFORM_STATE_BUCKET": "192.168.1.1"},
        ("TERRAFORM_STATE_BUCKET='192.168.1.1'", "IP address", "existing bucket"),
    ),
    Case(
        "bucket-region-invented",
        {
            **DEV,
            "ENVIRONMENT_TYPE": "development",
            "TERRAFORM_STATE_BUCKET": "acme-state",
            "TERRAFORM_STATE_BUCKET_REGION": "us-west-9",
        },
        ("TERRAFORM_STATE_BUCKET_REGION='us-west-9'", "not an AWS region name", "region the state bucket"),
    ),
    # the loader switch
    Case(
        "fast-bindings-maybe",
        {**DEV, "TAP_FAST_BINDINGS": "maybe"},
        ("TAP_FAST_BINDINGS='maybe'", "1, true, 0 and false", "TAP_FAST_BINDINGS=0"),
    ),
    # environment types
    Case(
        "type-unknown",
        {**DEV, "ENVIRONMENT_TYPE": "staging"},
        ("ENVIRONMENT_TYPE='staging'", "production and development"),
    ),
    Case(
        "type-missing-with-state-bucket",
        {**DEV, "TERRAFORM_STATE_BUCKET": "acme-state"},
        ("ENVIRONMENT_TYPE is not set", "TERRAFORM_STATE_BUCKET", "Set ENVIRONMENT_TYPE=production"),
    ),
    Case(
        "alarm-opt-out-in-production",
        {**PROD, "ALARM_EMAIL": "none"},
        ("ALARM_EMAIL='none'", "production", "on-call address"),
    ),
    prod(
        "prod-default-cloudfront-certificate",
        ("FRONTEND_DOMAIN", "TLS 1.0", "Fix: set FRONTEND_DOMAIN"),
        drop=("FRONTEND_DOMAIN", "FRONTEND_CERTIFICATE_ARN"),
    ),
    prod("prod-no-api-domain", ("API_DOMAIN", "config.json", "Fix: set API_DOMAIN"), drop=("API_DOMAIN",)),
    prod("prod-no-alarm-target", ("ALARM_EMAIL", "notify nobody", "Fix: set ALARM_EMAIL"), drop=("ALARM_EMAIL",)),
    prod(
        "prod-short-retention",
        ("LOG_RETENTION_DAYS", "1 days is under PCI DSS 10.5.1", "Fix: use 365 or more"),
        LOG_RETENTION_DAYS="1",
    ),
    prod(
        "prod-no-deletion-protection",
        ("DELETION_PROTECTION", "Fix: unset DELETION_PROTECTION"),
        DELETION_PROTECTION="false",
    ),
    prod(
        "prod-local-state",
        ("TERRAFORM_STATE_BUCKET", "local file", "Fix: set TERRAFORM_STATE_BUCKET"),
        drop=("TERRAFORM_STATE_BUCKET", "TERRAFORM_STATE_BUCKET_REGION", "TERRAFORM_STATE_KMS_KEY_ARN"),
    ),
]

# Everything a developer may have exported that would change what a row tests.
CONFIG_VARIABLES = (
    "ENVIRONMENT_SUFFIX",
    "ENVIRONMENT_TYPE",
    "AWS_REGION",
    "TERRAFORM_STATE_BUCKET",
    "TERRAFORM_STATE_BUCKET_REGION",
    "OWNER",
    "REPOSITORY",
    "VPC_CIDR",
    "API_PORT",
    "INSTANCE_TYPE",
    "DB_INSTANCE_CLASS",
    "ALARM_EMAIL",
    "FRONTEND_DOMAIN",
    "FRONTEND_CERTIFICATE_ARN",
    "API_DOMAIN",
    "LOG_RETENTION_DAYS",
    "DELETION_PROTECTION",
    "SANDBOX_ENDPOINT_URL",
    "CDKTF_OUTDIR",
    "TAP_FAST_BINDINGS",
)


def _tree(folder: Path) -> dict[str, str]:
    """Relative path -> content hash of every file below ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass
class Outcome:
    """What one run did."""

    returncode: int
    stderr: str
    before: dict[str, str]
    after: dict[str, str]
    workspace_before: list[str]  # the test's folder, then the project root
    workspace_after: list[str]


def _prepare(workspace: Path) -> dict[str, Path]:
    """An earlier synth output (marker + sentinel), a foreign folder, and an old output holding state."""
    earlier = workspace / "cdktf.out"
    (earlier / "stacks" / "TapStackclitest").mkdir(parents=True)
    (earlier / MARKER).write_text("marker\n", encoding="utf-8")
    (earlier / "stacks" / "TapStackclitest" / "cdk.tf.json").write_text("{}\n", encoding="utf-8")
    foreign = workspace / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n", encoding="utf-8")
    with_state = workspace / "old-output"
    shutil.copytree(earlier, with_state)
    (with_state / "stacks" / "TapStackclitest" / "terraform.TapStackclitest.tfstate").write_text("{}", encoding="utf-8")
    home = workspace / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# mine\n", encoding="utf-8")
    return {"<earlier output>": earlier, "<foreign>": foreign, "<with state>": with_state, "<home>": home}


def _run(case: Case, workspace: Path, places: dict[str, Path]) -> Outcome:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES and k not in case.drop}
    env.update({k: v for k, v in case.environ.items() if k not in case.drop})
    env["HOME"] = str(places["<home>"])
    outdir = env.get("CDKTF_OUTDIR", OUTDIR_DEFAULT)
    replacements = {**{k: str(v) for k, v in places.items()}, "<root>": str(ROOT), "<parent>": str(ROOT.parent)}
    env["CDKTF_OUTDIR"] = replacements.get(outdir, outdir)
    watched = places.get(outdir, places[OUTDIR_DEFAULT])
    if outdir == "~":
        watched = places["<home>"]
    before, workspace_before = _tree(watched), sorted(p.name for p in workspace.iterdir())
    root_before = sorted(p.name for p in ROOT.iterdir())
    result = subprocess.run(
        [sys.executable, str(ROOT / "tap.py")],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return Outcome(
        result.returncode,
        result.stderr,
        before,
        _tree(watched),
        workspace_before + root_before,
        sorted(p.name for p in workspace.iterdir()) + sorted(p.name for p in ROOT.iterdir()),
    )


@pytest.fixture(scope="module", name="outcomes")
def fixture_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Run every case once, four at a time, each in a workspace of its own."""
    # mktemp is not thread-safe: make every folder first
    workspaces = {case.id: tmp_path_factory.mktemp(case.id.replace("/", "_")) for case in CASES}

    def run(case: Case) -> tuple[str, Outcome]:
        workspace = workspaces[case.id]
        return case.id, _run(case, workspace, _prepare(workspace))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_with_its_fix_and_changes_nothing(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    assert outcome.returncode == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert outcome.stderr.startswith("Configuration error: ")
    for expected in case.expect:
        assert expected in outcome.stderr, f"{expected!r} missing from: {outcome.stderr}"
    assert outcome.after == outcome.before, "files were changed or deleted"
    assert outcome.workspace_after == outcome.workspace_before, "something was written next to the output"
