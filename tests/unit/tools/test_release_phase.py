"""The sandbox's release phase's judgement of a release's plan (tools/sandbox/release_phase.py); the phase itself
runs in ``make sandbox``."""

from __future__ import annotations

import pytest

from tools.sandbox.release_phase import ReleasePhaseError, _check_plan

RELEASE = {
    "aws_s3_object.api_release_artifact_0A1B2C3D": "update",
    "aws_launch_template.compute_launch_template_4E5F6A7B": "update",
    "aws_autoscaling_group.compute_asg_8C9D0E1F": "update",
    "aws_launch_template.migration_host_launch_template_3142EB50": "update",
    "terraform_data.migration_host_run_B4DED9A9": "replace",
}


def test_a_release_updates_the_object_the_template_and_the_group() -> None:
    assert _check_plan(RELEASE, "make deploy").startswith("aws_s3_object.api_release_artifact_0A1B2C3D update, ")


@pytest.mark.parametrize(
    "changed",
    [
        {**RELEASE, "aws_s3_object.api_release_artifact_0A1B2C3D": "replace"},  # the old key's behaviour
        {**RELEASE, "aws_ssm_parameter.api_release_runtime_parameter_1": "update"},
        {k: v for k, v in RELEASE.items() if not k.startswith("aws_autoscaling_group")},
        {**RELEASE, "aws_s3_object.frontend_config_2": "update"},  # two objects
        {**RELEASE, "terraform_data.migration_host_run_B4DED9A9": "update"},  # no new host
        {k: v for k, v in RELEASE.items() if not k.startswith("terraform_data")},  # no migration
    ],
)
def test_anything_else_is_refused_naming_the_plan(changed: dict[str, str]) -> None:
    refused = r"a release may change only the aws_s3_object api_release_artifact \(update\)"
    with pytest.raises(ReleasePhaseError, match=refused):
        _check_plan(changed, "make deploy")
