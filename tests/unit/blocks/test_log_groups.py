"""Every log group of the stack (``lib/blocks/log_groups.py``; docs/requirements.md#monitoring): an explicit
retention and a customer key."""

import pytest


@pytest.mark.pci("3.5, 3.6, 3.7", "10.2, 10.3, 10.5")
def test_every_log_group_has_retention_and_kms(resources):
    for name, group in resources["aws_cloudwatch_log_group"].items():
        assert group["retention_in_days"] == "${var.log_retention_days}", name
        # The CloudFront web ACL's group lives in us-east-1, under the logs key of that region.
        key = "encryption_edge_logs_key" if group.get("provider") == "aws.us_east_1" else "encryption_logs_key_"
        assert f"aws_kms_key.{key}" in group["kms_key_id"], name
