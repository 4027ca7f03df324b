"""Every failure of the seed analysis (docs/requirements.md, "Seed failures"), reintroduced, and the check that
catches it with the message a user sees. Each test carries ``@pytest.mark.seed(n)``, n the failure's number there:

- 1, engine_version "15.5": preflight PF-RDS-ENGINE-VERSION
- 2, user data not base64 or with ``${``: preflight PF-USER-DATA, and terraform validate
- 3, WAF association by id: preflight PF-WAF-ASSOCIATION-ARN
- 4, positional construct arguments: TypeError from our constructs, pylint R0917
- 5, ``deregistration_delay=30``: typeguard TypeError in the bindings
- 6, double-wrapped default_tags: jsii deserialization error at construction
- 7, line over 120 characters: pylint C0301 (ruff E501 exempts the seed's one-token line)
- 8, duplicated assume-role policies: the duplicate check preflight.source_checks
- 9, use_lockfile: the seed's claim is out of date; terraform 1.11 accepts it, and its absence is a preflight
  PF-BACKEND error
- 10-12, binding classes that do not exist: ImportError from the typed bindings

Mutations of the synthesized JSON work on a deep copy of the session's ``synth_json``; code-level ones run
in this process, where the provider bindings are already loaded, except pylint (one subprocess per module).
"""

from __future__ import annotations

import base64
import copy
import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from preflight import Finding, errors, run_preflight
from preflight.source_checks import find_inline_assume_role

if TYPE_CHECKING:  # typing only: the tests that need constructs import it (and the jsii runtime) lazily
    from constructs import Construct

ROOT = Path(__file__).resolve().parents[3]
SEED_USER_DATA = """#!/bin/bash
cat > /opt/app/server.js <<'EOF'
const port = process.env.PORT || 8080;
app.listen(port, () => {
  console.log(`Payment API listening on port ${port}`);
});
EOF
"""


def mutated(synth_json: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(synth_json)


def first(config: dict[str, Any], rtype: str) -> tuple[str, dict[str, Any]]:
    name, body = next(iter(config["resource"][rtype].items()))
    return name, body


def caught(config: dict[str, Any], rule_id: str, *fragments: str) -> Finding:
    """The error finding of ``rule_id`` holding ``fragments``; printed as the user would see it."""
    findings = errors(run_preflight(config))
    matching = [f for f in findings if f.rule_id == rule_id and all(x in str(f) for x in fragments)]
    assert matching, f"{rule_id} did not report {fragments}: {[str(f) for f in run_preflight(config)]}"
    print(matching[0])
    return matching[0]


# ------------------------------------------------------------------------------------- deployment failures


@pytest.mark.seed(1)
def test_unavailable_postgres_version_is_caught(synth_json: dict[str, Any]) -> None:
    config = mutated(synth_json)
    _, database = first(config, "aws_db_instance")
    assert database["engine_version"] == "15"  # the fixed form, as the seed's IDEAL_RESPONSE
    database["engine_version"] = "15.5"
    found = caught(
        config, "PF-RDS-ENGINE-VERSION", "'15.5'", "Cannot find version 15.5 for postgres", 'engine_version = "15"'
    )
    assert found.path.endswith("/database/instance")


@pytest.mark.seed(2)
def test_plain_text_user_data_is_caught(synth_json: dict[str, Any]) -> None:
    config = mutated(synth_json)
    _, launch_template = first(config, "aws_launch_template")
    launch_template["user_data"] = SEED_USER_DATA.replace("${port}", "' + port + '")  # escaped, but not base64
    caught(config, "PF-USER-DATA", "not valid base64", "base64.b64encode")


@pytest.mark.seed(2)
def test_template_literal_in_user_data_is_caught(synth_json: dict[str, Any]) -> None:
    config = mutated(synth_json)
    _, launch_template = first(config, "aws_launch_template")
    launch_template["user_data"] = SEED_USER_DATA  # the seed's exact mistake: raw, with ${port}
    caught(config, "PF-USER-DATA", "mixes text with Terraform interpolation", "${port}")
    launch_template["user_data"] = base64.b64encode(SEED_USER_DATA.encode()).decode()  # encoded, still ${port}
    caught(config, "PF-USER-DATA", "template sequence '${'", "$NAME")


@pytest.mark.seed(2)
def test_terraform_validate_also_rejects_the_raw_template_literal(synth_json: dict[str, Any], tmp_path: Path) -> None:
    """Second line of defence: Terraform parses ``${port}`` in the JSON as a reference ('Invalid reference')."""
    from tools.deploy import tfcli  # pylint: disable=import-outside-toplevel

    if shutil.which("terraform") is None or tfcli.find_mirror() is None:
        pytest.skip("terraform or the offline provider mirror is not available")
    config = mutated(synth_json)
    _, launch_template = first(config, "aws_launch_template")
    launch_template["user_data"] = SEED_USER_DATA
    config["terraform"].pop("backend", None)
    (tmp_path / "cdk.tf.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(tfcli.TerraformError, match="Invalid reference"):
        tfcli.validate(tmp_path)


@pytest.mark.seed(3)
def test_waf_association_by_id_is_caught(synth_json: dict[str, Any]) -> None:
    config = mutated(synth_json)
    _, association = first(config, "aws_wafv2_web_acl_association")
    assert association["web_acl_arn"].endswith(".arn}")
    association["web_acl_arn"] = association["web_acl_arn"].replace(".arn}", ".id}")
    caught(config, "PF-WAF-ASSOCIATION-ARN", "the 'id' of aws_wafv2_web_acl", "not .id")


def s3_backend_config(synth_json: dict[str, Any], **settings: Any) -> dict[str, Any]:
    config = mutated(synth_json)
    backend = {"bucket": "tf-state", "key": "dev/TapStackdev.tfstate", "region": "us-east-1", "encrypt": True}
    backend.update(settings)
    config["terraform"]["backend"] = {"s3": backend}
    return config


@pytest.mark.seed(9)
def test_use_lockfile_is_the_correct_behaviour(synth_json: dict[str, Any]) -> None:
    """The seed removed use_lockfile ('S3 backend doesn't support it'); that is out of date since Terraform 1.10."""
    with_lockfile = s3_backend_config(synth_json, use_lockfile=True)
    assert not [f for f in run_preflight(with_lockfile) if f.rule_id == "PF-BACKEND"]
    caught(s3_backend_config(synth_json), "PF-BACKEND", "no use_lockfile = true", "out of date")
    caught(s3_backend_config(synth_json, use_lockfile=True, dynamodb_table="locks"), "PF-BACKEND", "'dynamodb_table'")


@pytest.mark.seed(9)
@pytest.mark.parametrize(("key", "accepted"), [("use_lockfile", True), ("lock_table", False)])
def test_terraform_init_accepts_use_lockfile(tmp_path: Path, key: str, accepted: bool) -> None:
    """Terraform itself: ``use_lockfile`` passes backend configuration; a removed key does not."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    backend = {
        "bucket": "b",
        "key": "k",
        "region": "us-east-1",
        "encrypt": True,
        key: True,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
        "use_path_style": True,
        "endpoints": {"s3": "http://127.0.0.1:1"},
        "access_key": "test",
        "secret_key": "test",
        "max_retries": 0,
    }
    (tmp_path / "main.tf.json").write_text(json.dumps({"terraform": {"backend": {"s3": backend}}}), encoding="utf-8")
    result = subprocess.run(
        ["terraform", "init", "-input=false", "-no-color"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            "PATH": str(Path(shutil.which("terraform") or "").parent),
            "HOME": str(tmp_path),
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": "/dev/null",
        },
    )
    output = result.stdout + result.stderr
    rejected = f'No argument or block type is named "{key}"' in output
    assert rejected is not accepted, output
    if accepted:  # configuration was accepted; init then fails only on the unreachable bucket
        assert "Unable to list objects in S3 bucket" in output or "Error" not in output, output


# -------------------------------------------------------------------------------------- synthesis failures


@pytest.mark.parametrize(
    ("module", "missing", "correct"),
    [
        pytest.param("wafv2_web_acl", "Wafv2WebAclRuleStatement", "Wafv2WebAclRule", marks=pytest.mark.seed(10)),
        pytest.param(
            "wafv2_web_acl",
            "Wafv2WebAclRuleStatementManagedRuleGroupStatement",
            "Wafv2WebAclRule",
            marks=pytest.mark.seed(10),
        ),
        pytest.param(
            "s3_bucket_server_side_encryption_configuration",
            "S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefault",
            "S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA",
            marks=pytest.mark.seed(11),
        ),
        pytest.param(
            "cloudfront_distribution",
            "CloudfrontDistributionDefaultRootObject",
            "CloudfrontDistribution",
            marks=pytest.mark.seed(12),
        ),
    ],
)
def test_nonexistent_binding_classes_fail_to_import(module: str, missing: str, correct: str) -> None:
    qualified = f"cdktf_cdktf_provider_aws.{module}"
    bindings = importlib.import_module(qualified)
    with pytest.raises(ImportError, match=f"cannot import name '{missing}' from '{qualified}'"):
        exec(f"from {qualified} import {missing}", {})  # pylint: disable=exec-used
    assert hasattr(bindings, correct)
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "lib").rglob("*.py"))
    assert f"{missing}\n" not in sources and f"{missing}," not in sources and f"{missing})" not in sources


@pytest.mark.seed(10)
@pytest.mark.seed(12)
def test_waf_statement_and_root_object_take_plain_values() -> None:
    """The fixed forms: ``statement`` is an untyped dict, ``default_root_object`` a plain string argument."""
    # pylint: disable=import-outside-toplevel
    from cdktf_cdktf_provider_aws.cloudfront_distribution import CloudfrontDistribution
    from cdktf_cdktf_provider_aws.wafv2_web_acl import Wafv2WebAclRule

    assert "statement" in inspect.signature(Wafv2WebAclRule.__init__).parameters
    assert "default_root_object" in inspect.signature(CloudfrontDistribution.__init__).parameters


# ------------------------------------------------------------------------------------------- seed 4, 5, 6


def component_classes() -> list[type[Construct]]:
    """Every construct class defined in lib/ (imports the stack, which imports every component)."""
    import constructs  # pylint: disable=import-outside-toplevel

    importlib.import_module("lib.tap_stack")
    found = []
    for name in sorted(m for m in sys.modules if m.startswith("lib.") and not m.startswith("preflight")):
        for _, cls in inspect.getmembers(sys.modules[name], inspect.isclass):
            if cls.__module__ == name and issubclass(cls, constructs.Construct):
                found.append(cls)
    return found


@pytest.mark.seed(4)
def test_constructs_take_configuration_keyword_only() -> None:
    classes = component_classes()
    assert len(classes) >= 5, classes
    for cls in classes:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # drop self
        positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert positional == ["scope", "construct_id"], f"{cls.__name__} takes {positional} positionally"


@pytest.mark.seed(4)
def test_positional_configuration_is_a_type_error() -> None:
    import cdktf  # pylint: disable=import-outside-toplevel

    component = next(c for c in component_classes() if c.__name__ != "TapStack")
    scope = cdktf.TerraformStack(cdktf.App(), "PositionalProbe")
    with pytest.raises(TypeError, match="positional argument"):
        component(scope, "probe", "dev")  # type: ignore[call-arg]  # the positional call under test


@pytest.mark.seed(5)
def test_integer_deregistration_delay_is_a_type_error() -> None:
    import cdktf  # pylint: disable=import-outside-toplevel
    from cdktf_cdktf_provider_aws.alb_target_group import AlbTargetGroup  # pylint: disable=import-outside-toplevel
    from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup  # pylint: disable=import-outside-toplevel

    scope = cdktf.TerraformStack(cdktf.App(), "TypeguardProbe")
    for binding in (AlbTargetGroup, LbTargetGroup):
        with pytest.raises(TypeError, match=r"deregistration_delay must be one of .*str.*got int instead"):
            binding(scope, f"tg_{binding.__name__}", deregistration_delay=30)


@pytest.mark.seed(5)
def test_stack_passes_deregistration_delay_as_string(synth_json: dict[str, Any]) -> None:
    target_groups = {
        **synth_json["resource"].get("aws_lb_target_group", {}),
        **synth_json["resource"].get("aws_alb_target_group", {}),
    }
    assert target_groups and all(isinstance(tg["deregistration_delay"], str) for tg in target_groups.values())


@pytest.mark.seed(6)
def test_double_wrapped_default_tags_fail_jsii_serialization() -> None:
    import cdktf  # pylint: disable=import-outside-toplevel
    from cdktf_cdktf_provider_aws.provider import AwsProvider  # pylint: disable=import-outside-toplevel

    default_tags = [{"tags": {"Environment": "dev"}}]  # tap.py's form: already a list
    scope = cdktf.TerraformStack(cdktf.App(), "DefaultTagsProbe")
    with pytest.raises(Exception, match="Unable to deserialize value") as error:  # jsii raises RuntimeError
        AwsProvider(scope, "aws", region="us-east-1", default_tags=[default_tags])  # the seed's [default_tags]
    print(str(error.value)[:400])


@pytest.mark.seed(6)
def test_stack_default_tags_are_one_block(synth_json: dict[str, Any]) -> None:
    provider = synth_json["provider"]["aws"][0]
    assert isinstance(provider["default_tags"], list) and len(provider["default_tags"]) == 1
    assert {"Environment", "Project"} <= set(provider["default_tags"][0]["tags"])


# -------------------------------------------------------------------------------------------- lint (4, 7)


SEED_SNIPPETS = {
    "positional.py": '''"""Seed failure 4: configuration passed positionally."""


class NetworkingStack:
    """Stand-in for a construct."""

    def __init__(self, scope, construct_id, environment_suffix, vpc_cidr, az_count, region):
        self.values = (scope, construct_id, environment_suffix, vpc_cidr, az_count, region)
''',
    "long_line.py": '''"""Seed failure 7: a line over 120 characters."""

RULE = dict(
    apply_server_side_encryption_by_default=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
'''
    + f'MESSAGE = "{"an ordinary long statement " * 5}"\n',
}


@pytest.fixture(scope="module")
def lint_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """pylint (the project's .pylintrc) and ruff (pyproject.toml) over the seed snippets, one run each."""
    folder = tmp_path_factory.mktemp("seed_lint")
    for name, text in SEED_SNIPPETS.items():
        (folder / name).write_text(text, encoding="utf-8")
    files = [str(folder / name) for name in SEED_SNIPPETS]
    pylint = subprocess.run(
        [sys.executable, "-m", "pylint", f"--rcfile={ROOT / '.pylintrc'}", *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=ROOT,
    )
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )
    return {"pylint": pylint.stdout + pylint.stderr, "ruff": ruff.stdout + ruff.stderr}


@pytest.mark.seed(4)
def test_pylint_reports_too_many_positional_arguments(lint_output: dict[str, str]) -> None:
    assert re.search(
        r"positional\.py:7:4: R0917: Too many positional arguments \(\d+/5\) "
        r"\(too-many-positional-arguments\)",
        lint_output["pylint"],
    ), lint_output["pylint"]
    assert "PLR0917 Too many positional arguments" in lint_output["ruff"], lint_output["ruff"]


@pytest.mark.seed(7)
def test_long_line_fails_pylint(lint_output: dict[str, str]) -> None:
    """pylint C0301 catches the seed's exact line. ruff's E501 exempts a line that is one unbroken token after
    its indentation (as this one is), so it flags only the second, ordinary long line: pylint is the guard."""
    assert "long_line.py:4:0: C0301: Line too long (125/120) (line-too-long)" in lint_output["pylint"], lint_output[
        "pylint"
    ]
    assert "long_line.py:6:0: C0301: Line too long" in lint_output["pylint"], lint_output["pylint"]
    assert "long_line.py:4:" not in lint_output["ruff"].split("E501")[-1]
    assert re.search(r"E501 Line too long \(\d+ > 120\)\n\s+--> .*long_line\.py:6:", lint_output["ruff"]), lint_output[
        "ruff"
    ]


# ------------------------------------------------------------------------------------------------- seed 8


@pytest.mark.seed(8)
def test_duplicate_assume_role_policy_is_caught(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "blocks").mkdir(parents=True)
    shutil.copy(ROOT / "lib" / "blocks" / "iam.py", lib / "blocks" / "iam.py")
    (lib / "networking.py").write_text(
        'import json\n\nPOLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]})\n',
        encoding="utf-8",
    )
    findings = find_inline_assume_role(lib)
    assert [(f.path.name, f.line) for f in findings] == [("networking.py", 3)]
    assert "use lib.blocks.iam.assume_role_policy(service)" in str(findings[0])
    print(findings[0])


@pytest.mark.seed(8)
def test_project_has_one_assume_role_builder() -> None:
    assert not find_inline_assume_role(ROOT / "lib")


@pytest.mark.seed(8)
def test_every_role_trust_policy_comes_from_the_helper(synth_json: dict[str, Any]) -> None:
    from lib.blocks.iam import (  # pylint: disable=import-outside-toplevel
        assume_role_policy,
        person_assume_role_policy,
    )

    roles = synth_json["resource"]["aws_iam_role"]
    assert roles
    for name, role in roles.items():
        statement = json.loads(role["assume_role_policy"])["Statement"][0]
        if "AWS" in statement["Principal"]:  # a role people assume (the operator role): the helper for those
            account = statement["Principal"]["AWS"].removeprefix("arn:aws:iam::").removesuffix(":root")
            assert role["assume_role_policy"] == person_assume_role_policy(account), f"{name}: not lib.blocks.iam's"
            continue
        account = (statement.get("Condition") or {}).get("StringEquals", {}).get("aws:SourceAccount")
        source_arn = (statement.get("Condition") or {}).get("ArnLike", {}).get("aws:SourceArn")
        rebuilt = assume_role_policy(statement["Principal"]["Service"], source_account=account, source_arn=source_arn)
        assert role["assume_role_policy"] == rebuilt, f"{name}: trust policy not built by lib.blocks.iam"
