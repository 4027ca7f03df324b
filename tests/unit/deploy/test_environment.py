"""``environments/<name>.env`` and ``.tfvars``: read, merged with the caller's environment, and refused before
anything runs when a value is given twice differently (tools/deploy/environment.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.deploy.environment import ENVIRONMENTS, DeployEnvironmentError, load, parse_env_file

DEVELOPMENT = "ENVIRONMENT_TYPE=development\nAWS_REGION=eu-west-1\n"


def _folder(tmp_path: Path, env: str | None = None, tfvars: str | None = None, name: str = "qa") -> Path:
    if env is not None:
        (tmp_path / f"{name}.env").write_text(env, encoding="utf-8")
    if tfvars is not None:
        (tmp_path / f"{name}.tfvars").write_text(tfvars, encoding="utf-8")
    return tmp_path


def test_the_env_file_sets_the_settings_and_the_name_is_the_suffix(tmp_path: Path) -> None:
    text = (
        "# comment\nexport ENVIRONMENT_TYPE=development\nAWS_REGION='eu-west-1'\n"
        'OWNER="payments team"  # who\nINSTANCE_TYPE=t3.large # inline comment\n'
    )
    environment = load("qa", {}, _folder(tmp_path, text))
    assert environment.stack_name == "TapStackqa"
    assert environment.config.aws_region == "eu-west-1"
    assert environment.config.owner == "payments team"
    assert environment.config.instance_type == "t3.large"
    assert environment.process_env["ENVIRONMENT_SUFFIX"] == "qa"
    assert environment.env_file == tmp_path / "qa.env" and environment.tfvars_file is None


def test_no_file_is_needed_when_the_settings_come_from_the_environment(tmp_path: Path) -> None:
    environment = load("x", {"AWS_REGION": "ap-southeast-2"}, tmp_path)
    assert environment.config.aws_region == "ap-southeast-2"
    assert environment.env_file is None and not environment.tfvars


def test_the_env_file_may_not_set_the_suffix(tmp_path: Path) -> None:
    with pytest.raises(DeployEnvironmentError, match="ENVIRONMENT_SUFFIX may not be set here"):
        load("qa", {}, _folder(tmp_path, DEVELOPMENT + "ENVIRONMENT_SUFFIX=other\n"))


def test_a_suffix_in_the_environment_must_be_the_name(tmp_path: Path) -> None:
    with pytest.raises(DeployEnvironmentError, match="ENVIRONMENT_SUFFIX=prod in your environment"):
        load("qa", {"ENVIRONMENT_SUFFIX": "prod"}, tmp_path)


@pytest.mark.parametrize("name", ["", "Prod", "x" * 13, "-a", "a_b"])
def test_a_name_that_is_not_a_suffix_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(DeployEnvironmentError, match="is not a stack suffix"):
        load(name, {}, tmp_path)


def test_an_unknown_name_in_the_env_file_is_refused_with_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(DeployEnvironmentError, match=r"INSTANCE_TPYE is not a setting.*RDS_CA_BUNDLE"):
        load("qa", {}, _folder(tmp_path, DEVELOPMENT + "INSTANCE_TPYE=t3.large\n"))


@pytest.mark.parametrize("line", ["JUST A SENTENCE", "A='unclosed", "1A=x"])
def test_a_line_that_is_not_name_value_names_its_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "qa.env"
    path.write_text(f"AWS_REGION=eu-west-1\n{line}\n", encoding="utf-8")
    with pytest.raises(DeployEnvironmentError, match=rf"{path}:2"):
        parse_env_file(path)


def test_the_same_variable_in_the_file_and_the_environment_must_agree(tmp_path: Path) -> None:
    folder = _folder(tmp_path, DEVELOPMENT)
    assert load("qa", {"AWS_REGION": "eu-west-1"}, folder).config.aws_region == "eu-west-1"
    with pytest.raises(DeployEnvironmentError, match=r"AWS_REGION='eu-west-1' in qa.env but AWS_REGION='us-east-1'"):
        load("qa", {"AWS_REGION": "us-east-1"}, folder)


def test_a_tunable_in_both_files_with_different_values_is_an_error_before_synth(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        DEVELOPMENT + "ASG_MAX_SIZE=6\nINSTANCE_TYPE=t3.large\n",
        'asg_max_size = 6\ninstance_type = "t3.medium"\n',
    )
    with pytest.raises(DeployEnvironmentError) as caught:
        load("qa", {}, folder)
    message = str(caught.value)
    assert "INSTANCE_TYPE='t3.large' (for synth) but instance_type = 't3.medium' in qa.tfvars" in message
    assert "ASG_MAX_SIZE" not in message  # the same number, given twice, is no conflict


def test_tf_var_in_the_environment_counts_as_a_plan_value(tmp_path: Path) -> None:
    folder = _folder(tmp_path, DEVELOPMENT + "ASG_MIN_SIZE=2\n")
    environment = load("qa", {"TF_VAR_certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x"}, folder)
    assert environment.tfvars == {"certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x"}
    with pytest.raises(DeployEnvironmentError, match=r"ASG_MIN_SIZE='2' \(for synth\) but asg_min_size = '3'"):
        load("qa", {"TF_VAR_asg_min_size": "3"}, folder)


def test_a_setting_synth_refuses_stops_load_and_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DeployEnvironmentError, match=r"(?s)environment qa \(settings from .*qa.env\).*ALARM_EMAIL"):
        load("qa", {}, _folder(tmp_path, "ENVIRONMENT_TYPE=production\nAWS_REGION=eu-west-1\n"))


def test_the_committed_example_is_a_production_configuration_synth_accepts(tmp_path: Path) -> None:
    """environments/example.env as `make deploy ENVIRONMENT=example` reads it, synthesized with the preflight
    (tests/unit/stack/test_variables.py plans environments/example.tfvars against the same stack)."""
    from preflight import errors, run_preflight  # pylint: disable=import-outside-toplevel
    from tests.conftest import synth_stack  # pylint: disable=import-outside-toplevel

    environment = load("example", {}, ENVIRONMENTS)
    assert not errors(run_preflight(synth_stack(tmp_path, environment.process_env)))
    assert environment.config.environment_type == "production"
    assert environment.config.aws_region == "eu-west-1"
    certificate = str(environment.tfvars["certificate_arn"])
    assert certificate.startswith(f"arn:aws:acm:{environment.config.aws_region}:"), (
        "the example's ALB certificate must be in the example's region"
    )
