"""``make upgrade-check``: a stateful resource whose Terraform address changes without a moved block fails the
check; every other address change is printed; the committed baseline still holds for today's stack."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEVELOPMENT_ENV, PRODUCTION_ENV
from tests.unit.helpers import by_path
from tools.release import addresses

BASELINE = addresses.BASELINE_DIR / "addresses-v0.json"


def renamed(
    stack: dict[str, Any], rtype: str, path_end: str, new_name: str, *, moved: bool = False
) -> tuple[dict[str, Any], str]:
    """A copy of ``stack`` with one resource under a new logical name (as a construct move does): (copy, old)."""
    stack = copy.deepcopy(stack)
    old_name, body = by_path(stack["resource"], rtype, path_end)
    del stack["resource"][rtype][old_name]
    stack["resource"][rtype][new_name] = body
    if moved:
        stack.setdefault("moved", []).append({"from": f"{rtype}.{old_name}", "to": f"{rtype}.{new_name}"})
    return stack, f"{rtype}.{old_name}"


def baseline_of(stack: dict[str, Any]) -> dict[str, str]:
    return addresses.resource_addresses(stack)


def test_the_committed_baseline_upgrades_to_the_current_stack_in_both_configurations(
    synth_json: dict[str, Any], dev_synth_json: dict[str, Any]
) -> None:
    """Release v0 is what deployments run, so its file is never rewritten (README "Release step"): the current
    stack keeps every stateful address of it (or a moved block maps it), and otherwise differs from it only by
    additions and non-stateful removals (v0's instance role had the managed-policy attachment compute/ssm_core,
    since replaced by the inline policy compute/session_manager)."""
    document = json.loads(BASELINE.read_text(encoding="utf-8"))
    assert document["release"] == "v0"
    assert set(document["configurations"]) == {"production", "development"}
    for name, stack, environ in (
        ("production", synth_json, PRODUCTION_ENV),
        ("development", dev_synth_json, DEVELOPMENT_ENV),
    ):
        entry = document["configurations"][name]
        assert environ == addresses.CONFIGURATIONS[name]
        # v0 predates API_DOMAIN: the check adds settings introduced since, and changes none of v0's.
        assert entry["environment"].items() <= environ.items()
        result = addresses.compare(baseline=entry["resources"], stack=stack)
        assert not result.failures, f"{name}: {result.failures}; run `make upgrade-check`"
        assert all(
            change.startswith(("added ", "moved ")) or "not stateful" in change or ": intended, " in change
            for change in result.changes
        ), result.changes
        intended = [change for change in result.changes if ": intended, " in change]
        # The development default has no processor egress since issue 29: v0's three NAT addresses go, as intended.
        assert len(intended) == (3 if name == "development" else 0), intended
        assert all("networking/nat_eip_" in change and "no NAT gateway now" in change for change in intended)


def test_a_nat_address_is_an_intended_removal_only_when_no_nat_gateway_is_left(synth_json: dict[str, Any]) -> None:
    """The production stack (processor egress) keeps its NAT gateways: losing one of their addresses there is a lost
    address, reported as a failure; once no NAT gateway is left, it is the intended no-egress shape."""
    baseline = addresses.resource_addresses(synth_json)
    (eip,) = [address for address in baseline if address.startswith("aws_eip.") and address.endswith("0_F479F70E")]
    renamed = json.loads(json.dumps(synth_json))
    body = renamed["resource"]["aws_eip"].pop(eip.split(".", 1)[1])
    renamed["resource"]["aws_eip"]["networking_nat_eip_0_RENAMED"] = body
    assert [failure.split(" ", 1)[0] for failure in addresses.compare(baseline=baseline, stack=renamed).failures] == [
        eip
    ]
    without_nat = json.loads(json.dumps(synth_json))
    del without_nat["resource"]["aws_nat_gateway"], without_nat["resource"]["aws_eip"]
    result = addresses.compare(baseline=baseline, stack=without_nat)
    assert not result.failures and sum(": intended, " in change for change in result.changes) == 3


def test_a_renamed_database_fails_and_the_message_names_it_why_and_the_fix(synth_json: dict[str, Any]) -> None:
    stack, old = renamed(synth_json, "aws_db_instance", "/database/instance", "data_instance_0BADCAFE")
    result = addresses.compare(baseline=baseline_of(synth_json), stack=stack)
    assert len(result.failures) == 1
    failure = result.failures[0]
    assert failure.startswith(f"{old} (construct database/instance) is gone")
    assert "destroy it and create an empty one (data loss" in failure
    assert f'move_from_id("{old}")' in failure
    assert f'"moved": [{{"from": "{old}", "to": "aws_db_instance.data_instance_0BADCAFE"}}]' in failure
    assert result.changes == ["added    aws_db_instance.data_instance_0BADCAFE (construct database/instance)"]


def test_the_same_rename_with_a_moved_block_passes_and_is_printed(synth_json: dict[str, Any]) -> None:
    stack, old = renamed(synth_json, "aws_db_instance", "/database/instance", "data_instance_0BADCAFE", moved=True)
    result = addresses.compare(baseline=baseline_of(synth_json), stack=stack)
    assert not result.failures
    assert result.changes == [
        f"moved    {old} -> aws_db_instance.data_instance_0BADCAFE (construct database/instance -> database/instance)"
    ]


def test_a_chain_of_moved_blocks_is_followed(synth_json: dict[str, Any]) -> None:
    stack, old = renamed(synth_json, "aws_kms_key", "/encryption/data_key", "keys_data_key_2", moved=False)
    stack["moved"] = [
        {"from": old, "to": "aws_kms_key.keys_data_key_1"},
        {"from": "aws_kms_key.keys_data_key_1", "to": "aws_kms_key.keys_data_key_2"},
    ]
    assert not addresses.compare(baseline=baseline_of(synth_json), stack=stack).failures


def test_a_move_into_a_counted_instance_is_understood(synth_json: dict[str, Any]) -> None:
    stack, old = renamed(synth_json, "aws_ssm_parameter", "/database/connection_string", "parameters_1")
    stack["moved"] = [{"from": old, "to": "aws_ssm_parameter.parameters_1[0]"}]
    result = addresses.compare(baseline=baseline_of(synth_json), stack=stack)
    assert not result.failures
    assert result.changes == [
        f"moved    {old} -> aws_ssm_parameter.parameters_1[0] "
        "(construct database/connection_string -> database/connection_string)"
    ]


def test_a_moved_block_to_an_undeclared_address_still_fails(synth_json: dict[str, Any]) -> None:
    stack, old = renamed(synth_json, "aws_s3_bucket", "/log_archive/bucket", "logs_bucket_1")
    stack["moved"] = [{"from": old, "to": "aws_s3_bucket.typo"}]
    failures = addresses.compare(baseline=baseline_of(synth_json), stack=stack).failures
    assert len(failures) == 1
    assert "its moved block points at aws_s3_bucket.typo, which the stack does not declare" in failures[0]


@pytest.mark.parametrize(
    ("rtype", "path_end"),
    [
        ("aws_route_table_association", "/networking/app_rta_0"),
        ("aws_security_group_rule", "/security_groups/db_from_app_in"),
    ],
)
def test_a_renamed_stateless_resource_passes_but_is_printed(
    synth_json: dict[str, Any], rtype: str, path_end: str
) -> None:
    stack, old = renamed(synth_json, rtype, path_end, "renamed_1")
    result = addresses.compare(baseline=baseline_of(synth_json), stack=stack)
    assert not result.failures
    assert len(result.changes) == 2
    assert result.changes[0].startswith(f"removed  {old} (construct {path_end[1:]}): not stateful")
    assert result.changes[1].startswith(f"added    {rtype}.renamed_1")


def test_every_stateful_type_of_the_issue_is_listed_with_a_reason() -> None:
    for rtype in (
        "aws_db_instance",
        "aws_s3_bucket",
        "aws_kms_key",
        "aws_cloudwatch_log_group",
        "aws_secretsmanager_secret",
        "aws_ssm_parameter",
        "aws_cloudfront_distribution",
        "aws_lb",
        "aws_alb",
    ):
        assert addresses.STATEFUL[rtype]


def test_the_moved_blocks_cdktf_writes_are_the_ones_read(synth_json: dict[str, Any]) -> None:
    """move_from_id is the fix the failure message shows: its synthesized JSON must be what the check reads."""
    del synth_json  # the session's synth loaded cdktf through the fast bindings already
    from cdktf import App, TerraformStack  # pylint: disable=import-outside-toplevel
    from cdktf_cdktf_provider_aws.provider import AwsProvider  # pylint: disable=import-outside-toplevel
    from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket  # pylint: disable=import-outside-toplevel

    with tempfile.TemporaryDirectory() as outdir:
        app = App(outdir=outdir)
        stack = TerraformStack(app, "MoveProbe")
        AwsProvider(stack, "aws", region="us-east-1")
        S3Bucket(stack, "new_bucket").move_from_id("aws_s3_bucket.old_bucket_1234")
        app.synth()
        synthesized = json.loads((Path(outdir) / "stacks" / "MoveProbe" / "cdk.tf.json").read_text(encoding="utf-8"))
    assert addresses.moved_blocks(synthesized) == {"aws_s3_bucket.old_bucket_1234": "aws_s3_bucket.new_bucket"}
    result = addresses.compare(baseline={"aws_s3_bucket.old_bucket_1234": "old_bucket"}, stack=synthesized)
    assert not result.failures


def test_check_exits_1_and_prints_the_failure(
    tmp_path: Path, synth_json: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, old = renamed(synth_json, "aws_cloudfront_distribution", "/frontend/distribution", "cdn_1")
    path = addresses.write(release="v9", directory=tmp_path, synth=lambda environ: synth_json)
    assert addresses.check(baselines=[path], synth=lambda environ: stack) == 1
    out = capsys.readouterr().out
    assert f"FAIL development vs release v9: {old}" in out
    assert f"FAIL production vs release v9: {old}" in out
    assert "new *.cloudfront.net domain name" in out
    assert addresses.check(baselines=[path], synth=lambda environ: synth_json) == 0
    assert "every stateful address of 1 release baseline(s) is kept" in capsys.readouterr().out


def test_a_release_baseline_is_never_rewritten_and_its_name_is_checked(
    tmp_path: Path, synth_json: dict[str, Any]
) -> None:
    addresses.write(release="v1", directory=tmp_path, synth=lambda environ: synth_json)
    with pytest.raises(addresses.AddressError, match=r"addresses-v1\.json exists: .* never rewritten"):
        addresses.write(release="v1", directory=tmp_path, synth=lambda environ: synth_json)
    with pytest.raises(addresses.AddressError, match=r"release name '../v2' is invalid"):
        addresses.write(release="../v2", directory=tmp_path, synth=lambda environ: synth_json)


def test_no_baseline_and_a_broken_one_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(addresses.AddressError, match=r"no baseline .* `make release-baseline RELEASE=v0`"):
        addresses.check(baselines=[], synth=lambda environ: {})
    broken = tmp_path / "addresses-v0.json"
    broken.write_text("{}", encoding="utf-8")
    with pytest.raises(addresses.AddressError, match=r"addresses-v0\.json is not a baseline .* restore it from git"):
        addresses.check(baselines=[broken], synth=lambda environ: {})
