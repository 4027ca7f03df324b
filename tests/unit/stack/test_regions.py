"""Issue 20, regions: the stack synthesizes and passes the preflight outside us-east-1, production and development.

Every other unit test synthesizes us-east-1, where the stack's home region and the ``us_east_1`` provider alias (the
CloudFront WAF, its log group and that group's key) coincide, so a rule that judged an aliased resource by the home
region went unnoticed. Here both environment types are synthesized in two other regions (one in Europe, one in
Asia Pacific), and the JSON is checked for what depends on the region: the providers, each key's CloudWatch Logs
principal (the region the key lives in), each log group's key in the group's own region. ``make regions`` does the
same through ``python tap.py``'s path for every supported region.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tap_contract import examples

from preflight import errors, run_preflight
from preflight.model import StackView
from tests.conftest import DEVELOPMENT_ENV, PRODUCTION_ENV, synth_stack

REGIONS = ("eu-west-1", "ap-southeast-2")
ENVIRONMENTS = {"production": PRODUCTION_ENV, "development": DEVELOPMENT_ENV}


@pytest.fixture(
    name="stack",
    scope="module",
    params=[(r, e) for r in REGIONS for e in ENVIRONMENTS],
    ids=[f"{r}-{e}" for r in REGIONS for e in ENVIRONMENTS],
)
def fixture_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, Any]]:
    region, environment = request.param
    environ = examples.in_region(ENVIRONMENTS[environment], region)
    return region, synth_stack(tmp_path_factory.mktemp(f"{region}-{environment}"), environ)


def _logs_principals(key: dict[str, Any]) -> set[str]:
    return {
        str(s["Principal"]["Service"])
        for s in json.loads(key["policy"])["Statement"]
        if s.get("Sid") == "CloudWatchLogsInThisAccount"
    }


def test_the_providers_are_the_home_region_and_the_us_east_1_alias(stack: tuple[str, dict[str, Any]]) -> None:
    region, config = stack
    assert {(p.get("alias"), p["region"]) for p in config["provider"]["aws"]} == {
        (None, region),
        ("us_east_1", "us-east-1"),
    }


def test_each_logs_key_admits_cloudwatch_logs_of_its_own_region(stack: tuple[str, dict[str, Any]]) -> None:
    region, config = stack
    keys = config["resource"]["aws_kms_key"]
    principals = {name: _logs_principals(key) for name, key in keys.items() if _logs_principals(key)}
    edge = {name for name in principals if keys[name].get("provider") == "aws.us_east_1"}
    assert len(edge) == 1 and len(principals) == 2, principals
    for name, found in principals.items():
        wanted = "us-east-1" if name in edge else region
        assert found == {f"logs.{wanted}.amazonaws.com"}, (name, found)


def test_each_log_group_is_encrypted_by_a_key_of_its_own_region(stack: tuple[str, dict[str, Any]]) -> None:
    _, config = stack
    view = StackView(config)
    for group in view.resources("aws_cloudwatch_log_group"):
        key, _ = view.referenced(group.get("kms_key_id"))
        assert key is not None and view.region_of(key) == view.region_of(group), group.address


def test_the_stack_passes_the_preflight(stack: tuple[str, dict[str, Any]]) -> None:
    region, config = stack
    findings = run_preflight(config)
    assert not errors(findings), f"{region}:\n" + "\n".join(map(str, errors(findings)))


def test_the_production_stack_keeps_its_state_bucket_region_and_its_us_east_1_cloudfront_certificate(
    stack: tuple[str, dict[str, Any]],
) -> None:
    region, config = stack
    if "s3" not in config["terraform"]["backend"]:
        pytest.skip("development: local state")
    assert config["terraform"]["backend"]["s3"]["region"] == PRODUCTION_ENV["TERRAFORM_STATE_BUCKET_REGION"]
    distribution = next(iter(config["resource"]["aws_cloudfront_distribution"].values()))
    certificate = distribution["viewer_certificate"]
    certificate = certificate[0] if isinstance(certificate, list) else certificate
    assert certificate["acm_certificate_arn"].startswith("arn:aws:acm:us-east-1:"), region


def test_the_region_of_a_resource_is_its_providers() -> None:
    view = StackView(
        {
            "provider": {
                "aws": [
                    {"region": "eu-west-1"},
                    {"alias": "us_east_1", "region": "us-east-1"},
                    {"alias": "var", "region": "${var.region}"},
                ]
            },
            "variable": {"region": {"default": "ap-southeast-2"}},
            "resource": {
                "aws_x": {
                    "home": {},
                    "edge": {"provider": "aws.us_east_1"},
                    "other": {"provider": "aws.var"},
                    "lost": {"provider": "aws.nope"},
                }
            },
        }
    )
    assert view.region_of() == "eu-west-1"
    assert [view.region_of(view.lookup(f"aws_x.{name}")) for name in ("home", "edge", "other", "lost")] == [
        "eu-west-1",
        "us-east-1",
        "ap-southeast-2",
        None,
    ]


def test_no_rule_reads_the_default_providers_region_on_its_own() -> None:
    """One helper (StackView.region_of) answers "which region": no rule walks the provider blocks itself."""
    sources = (Path(__file__).resolve().parents[3] / "preflight").glob("rules_*.py")
    assert not [path.name for path in sources if '.get("provider")' in path.read_text(encoding="utf-8")]


def test_an_aliased_log_groups_key_is_judged_by_the_aliass_region(stack: tuple[str, dict[str, Any]]) -> None:
    """The bug of issue 20 both ways: the edge key admitting the home region's Logs instead of us-east-1's is an
    error; a log group moved off the alias while its key stays in us-east-1 is an error too."""
    region, config = stack
    broken = copy.deepcopy(config)
    edge_key = next(k for k in broken["resource"]["aws_kms_key"].values() if k.get("provider") == "aws.us_east_1")
    edge_key["policy"] = edge_key["policy"].replace("logs.us-east-1.amazonaws.com", f"logs.{region}.amazonaws.com")
    found = [str(f) for f in run_preflight(broken, only={"PF-KEY-SERVICE-ACCESS"})]
    assert any("logs.us-east-1.amazonaws.com" in f and "waf_log_group" in f for f in found), found
    moved = copy.deepcopy(config)
    group = next(
        g for g in moved["resource"]["aws_cloudwatch_log_group"].values() if g.get("provider") == "aws.us_east_1"
    )
    group.pop("provider")
    found = [str(f) for f in run_preflight(moved, only={"PF-KEY-SERVICE-ACCESS"})]
    assert any(f"is created in us-east-1 but this resource in {region}" in f for f in found), found
