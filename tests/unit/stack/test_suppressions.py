"""``lib/suppressions.py``: a checkov suppression is a validated record (check id and reason) written into the
resource's JSON, read back per resource, and refused when malformed or orphaned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lib.suppressions import Suppression, read_suppressions, validate
from tests.unit.preflight.builders import res, stack


def test_suppression_validation() -> None:
    validate("CKV2_AWS_62", "no consumer for S3 event notifications")
    with pytest.raises(ValueError, match="malformed"):
        validate("AWS_62", "a long enough reason")
    with pytest.raises(ValueError, match="needs a reason"):
        validate("CKV_AWS_18", "   ")
    with pytest.raises(ValueError, match="too short"):
        validate("CKV_AWS_18", "n/a")


def test_suppress_writes_a_record_into_the_resource_json(tmp_path: Path) -> None:
    import cdktf  # pylint: disable=import-outside-toplevel

    from lib.suppressions import suppress  # pylint: disable=import-outside-toplevel

    app = cdktf.App(outdir=str(tmp_path))
    tf_stack = cdktf.TerraformStack(app, "Stack")
    topic = cdktf.TerraformResource(tf_stack, "topic", terraform_resource_type="aws_sns_topic")
    suppress(topic, "CKV_AWS_26", "alarm topic fed by CloudWatch only")
    suppress(topic, "CKV2_AWS_99", "second check on the same resource")
    with pytest.raises(ValueError, match="already suppressed"):
        suppress(topic, "CKV_AWS_26", "a duplicate suppression")
    with pytest.raises(ValueError):
        suppress(topic, "CKV_AWS_1", "")
    zones = cdktf.TerraformDataSource(tf_stack, "azs", terraform_resource_type="aws_availability_zones")
    suppress(zones, "CKV_AWS_394", "zones are looked up by design, first az_count by index")
    app.synth()
    config = json.loads((tmp_path / "stacks" / "Stack" / "cdk.tf.json").read_text(encoding="utf-8"))
    assert config["data"]["aws_availability_zones"]["azs"]["//"]["checkov"]["skip"][0]["id"] == "CKV_AWS_394"
    body = config["resource"]["aws_sns_topic"]["topic"]
    assert body["//"]["metadata"]["path"] == "Stack/topic"  # cdktf's own metadata is kept
    assert body["//"]["checkov"]["skip"] == [
        {"id": "CKV_AWS_26", "comment": "alarm topic fed by CloudWatch only"},
        {"id": "CKV2_AWS_99", "comment": "second check on the same resource"},
    ]
    assert read_suppressions(config) == [
        Suppression("aws_sns_topic.topic", "Stack/topic", "CKV_AWS_26", "alarm topic fed by CloudWatch only"),
        Suppression("aws_sns_topic.topic", "Stack/topic", "CKV2_AWS_99", "second check on the same resource"),
        Suppression(
            "data.aws_availability_zones.azs",
            "Stack/azs",
            "CKV_AWS_394",
            "zones are looked up by design, first az_count by index",
        ),
    ]


def test_suppression_on_an_orphan_block_is_refused() -> None:
    orphan = {
        "data": {
            "aws_availability_zones": {
                "old_id": {
                    "//": {"checkov": {"skip": [{"id": "CKV_AWS_394", "comment": "zones are looked up by design"}]}}
                }
            }
        }
    }
    with pytest.raises(ValueError, match="override_logical_id"):
        read_suppressions(orphan)


def test_hand_edited_suppression_without_reason_is_refused() -> None:
    config = stack(("aws_sns_topic", *res("t", name="t")))
    config["resource"]["aws_sns_topic"]["t"]["//"]["checkov"] = {"skip": [{"id": "CKV_AWS_26", "comment": ""}]}
    with pytest.raises(ValueError, match="Stack/t"):
        read_suppressions(config)


def test_real_stack_suppressions_are_well_formed(synth_json: dict[str, Any]) -> None:
    for suppression in read_suppressions(synth_json):
        assert suppression.construct_path.startswith("TapStack")
