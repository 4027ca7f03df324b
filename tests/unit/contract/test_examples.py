"""The example configurations (``tap_contract.examples``) are the ones the tests, the address baselines, the
compliance report and the example environment use, and each is a configuration synth accepts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from tap_contract import examples

from lib.config import ConfigError, StackConfig
from lib.tunables import BY_ENV, CONFIG_TUNABLES, Tunable
from tests.conftest import DEVELOPMENT_ENV, PRODUCTION_ENV, ROOT
from tools.deploy.environment import parse_env_file
from tools.docs.compliance_report import REPORT_CONFIGURATION
from tools.release.addresses import CONFIGURATIONS


def test_every_user_takes_the_contract_s_examples() -> None:
    assert DEVELOPMENT_ENV == dict(examples.DEVELOPMENT) and PRODUCTION_ENV == dict(examples.PRODUCTION)
    assert CONFIGURATIONS == {"development": dict(examples.DEVELOPMENT), "production": dict(examples.PRODUCTION)}
    assert REPORT_CONFIGURATION == dict(examples.REPORT)
    assert BY_ENV["ALARM_EMAIL"].example == examples.PRODUCTION["ALARM_EMAIL"]  # example.tfvars shows the same


@pytest.mark.parametrize("example", [examples.DEVELOPMENT, examples.PRODUCTION, examples.REPORT])
def test_each_example_is_a_configuration_synth_accepts(example: Mapping[str, str]) -> None:
    config = StackConfig.from_env(dict(example), region_file=Path("/nonexistent"))
    assert config.environment_suffix == example["ENVIRONMENT_SUFFIX"]


def test_the_example_environment_sets_every_variable_the_production_example_sets() -> None:
    """environments/example.env (the deploy guide's) names what production requires, as the production example does;
    the suffix is the file's name there."""
    example_env = parse_env_file(ROOT / "environments" / "example.env")
    assert set(examples.PRODUCTION) - {"ENVIRONMENT_SUFFIX"} <= set(example_env)
    for name in ("FRONTEND_DOMAIN", "API_DOMAIN", "ALARM_EMAIL", "PAYMENT_PROCESSOR"):
        assert example_env[name] == examples.PRODUCTION[name], name


@pytest.mark.parametrize("setting", [t for t in CONFIG_TUNABLES if t.production_requires], ids=lambda t: t.name)
def test_every_setting_production_requires_has_its_example_and_is_a_gap_without_it(setting: Tunable) -> None:
    assert examples.PRODUCTION.get(setting.name), f"{setting.name}: production requires it; add its example value"
    assert setting.production_requires is not None
    what, fix = setting.production_requires
    development = StackConfig.from_env(dict(examples.DEVELOPMENT), region_file=Path("/nonexistent"))
    assert f"development stack: {what} ({setting.name}); production requires: {fix}" in development.warnings
    without = {name: value for name, value in examples.PRODUCTION.items() if name != setting.name}
    if setting.name == "TERRAFORM_STATE_BUCKET":  # its region alone is refused first, naming the bucket too
        without.pop("TERRAFORM_STATE_BUCKET_REGION")
    with pytest.raises(ConfigError, match=setting.name):
        StackConfig.from_env(without, region_file=Path("/nonexistent"))
