"""``lib/tunables.py`` is the one source of every setting: the code, the Terraform variables and the documents
agree with it, and a change to it reaches all of them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from lib import config as config_module
from lib import tunables as registry
from lib import variables as variables_module
from lib.config import DESTROY_MODE_VARIABLES, ConfigError, StackConfig
from lib.tunables import BY_ENV, BY_TERRAFORM, CONFIG_TUNABLES, TERRAFORM_TUNABLES, TUNABLES, Tunable
from tools.docs import config_docs

ROOT = Path(__file__).resolve().parents[3]
RANGED = [t for t in CONFIG_TUNABLES if t.low is not None]
NO_REGION_FILE = Path("/nonexistent/AWS_REGION")


class _RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every variable name it was asked about."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _config_with(tunable: Tunable, value: Any) -> StackConfig:
    """A configuration where only ``tunable``'s setting differs from the defaults."""
    return dataclasses.replace(StackConfig(), **{str(tunable.field): value})


def _replaced(env: str, **changes: Any) -> tuple[Tunable, ...]:
    return tuple(dataclasses.replace(t, **changes) if t.env == env else t for t in TUNABLES)


@pytest.mark.parametrize("stack", ["synth_json", "dev_synth_json"])
def test_every_terraform_variable_of_the_stack_has_exactly_one_entry(stack: str, request: pytest.FixtureRequest):
    declared = request.getfixturevalue(stack)["variable"]
    assert sorted(declared) == sorted(str(t.terraform) for t in TERRAFORM_TUNABLES)
    for name, block in declared.items():
        assert block["type"] == BY_TERRAFORM[name].terraform_type, name
        if name != "alarm_email" or stack == "synth_json":  # development adds how to opt out
            assert block["description"] == BY_TERRAFORM[name].description, name


def test_unconfigured_variable_defaults_are_the_registry_defaults(dev_synth_json):
    for name, block in dev_synth_json["variable"].items():
        assert block.get("default") == BY_TERRAFORM[name].default, name


def test_every_ranged_terraform_variable_validates_its_range(synth_json):
    for tunable in TERRAFORM_TUNABLES:
        conditions = [rule["condition"] for rule in synth_json["variable"][tunable.terraform].get("validation", [])]
        if tunable.low is not None:
            var = f"var.{tunable.terraform}"
            assert conditions[0] == f"${{{var} >= {tunable.low} && {var} <= {tunable.high} && floor({var}) == {var}}}"


def test_from_env_reads_exactly_the_registry_variables():
    environ = _RecordingEnviron()
    StackConfig.from_env(environ, region_file=NO_REGION_FILE)
    # Besides the registry: make destroy's mode (DESTROY, SKIP_FINAL_SNAPSHOT), which no environment file sets.
    assert environ.asked == {t.env for t in CONFIG_TUNABLES} | set(DESTROY_MODE_VARIABLES)


@pytest.mark.parametrize("tunable", [t for t in TUNABLES if t.field is None and t.env], ids=lambda t: t.env)
def test_variables_read_elsewhere_are_read_where_the_registry_says(tunable: Tunable):
    assert f'"{tunable.env}"' in (ROOT / tunable.read_by).read_text(encoding="utf-8")


def test_stack_config_field_defaults_are_the_registry_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(StackConfig)}
    for tunable in CONFIG_TUNABLES:
        assert defaults[str(tunable.field)] == tunable.default, tunable.field
    assert StackConfig.from_env({}, region_file=NO_REGION_FILE) == StackConfig()


@pytest.mark.parametrize("tunable", RANGED, ids=lambda t: t.env)
@pytest.mark.parametrize("side", ["below", "above"])
def test_stack_config_refuses_a_value_outside_the_registry_range(tunable: Tunable, side: str):
    assert tunable.low is not None and tunable.high is not None
    value = tunable.low - 1 if side == "below" else tunable.high + 1
    with pytest.raises(ConfigError, match=rf"^{tunable.env}={value} is invalid: .*{tunable.low}-{tunable.high}"):
        _config_with(tunable, value)


@pytest.mark.parametrize("tunable", RANGED, ids=lambda t: t.env)
def test_stack_config_accepts_the_registry_default(tunable: Tunable):
    assert getattr(_config_with(tunable, tunable.default), str(tunable.field)) == tunable.default


def test_a_registry_default_reaches_the_configuration(monkeypatch: pytest.MonkeyPatch):
    changed = tuple(t for t in _replaced("CPU_ALARM_THRESHOLD", default=70) if t.field)
    monkeypatch.setattr(config_module, "CONFIG_TUNABLES", changed)
    assert StackConfig.from_env({}, region_file=NO_REGION_FILE).cpu_alarm_threshold == 70


def test_a_registry_range_reaches_the_configuration(monkeypatch: pytest.MonkeyPatch):
    changed = tuple(t for t in _replaced("CPU_ALARM_THRESHOLD", low=90, high=99) if t.field)
    monkeypatch.setattr(config_module, "CONFIG_TUNABLES", changed)
    with pytest.raises(ConfigError, match=r"CPU_ALARM_THRESHOLD=80 is invalid: allowed range is 90-99"):
        StackConfig()


def test_a_registry_entry_reaches_the_terraform_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from cdktf import App, TerraformStack  # pylint: disable=import-outside-toplevel

    changed = {
        t.terraform: t for t in _replaced("CPU_ALARM_THRESHOLD", low=10, high=90, description="Changed.") if t.terraform
    }
    monkeypatch.setattr(variables_module, "BY_TERRAFORM", changed)
    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "Variables")
    variables_module.define_variables(stack, StackConfig(cpu_alarm_threshold=70))
    app.synth()
    block = json.loads((tmp_path / "stacks" / "Variables" / "cdk.tf.json").read_text())["variable"][
        "cpu_alarm_threshold"
    ]
    assert block["default"] == 70 and block["description"] == "Changed."
    assert block["validation"][0]["error_message"] == "cpu_alarm_threshold must be a whole number from 10 to 90."


def test_a_registry_change_reaches_every_generated_document():
    changed = _replaced("DB_BACKUP_RETENTION_DAYS", default=14, low=10, high=30)
    tfvars = config_docs.example_tfvars(changed)
    assert "db_backup_retention_days = 14" in tfvars and "db_backup_retention_days = 7" not in tfvars
    assert "| `DB_BACKUP_RETENTION_DAYS` | `14` | 10 to 30 |" in config_docs.env_table(changed)
    assert (
        "| `db_backup_retention_days` | number | `14`, or `DB_BACKUP_RETENTION_DAYS` at synth | 10 to 30 |"
        in config_docs.terraform_table(changed)
    )
    bigger = config_docs.quota_line(_replaced("ASG_MAX_SIZE", default=10))
    assert "`asg_max_size` = 10" in bigger and "that is 20 " in bigger


def test_the_example_holds_every_terraform_variable_once():
    names = [
        line.split("=")[0].strip()
        for line in config_docs.example_tfvars().splitlines()
        if line and not line.startswith("#")
    ]
    assert sorted(names) == sorted(str(t.terraform) for t in TERRAFORM_TUNABLES)


def test_every_setting_is_named_once_and_documented():
    assert len(BY_ENV) == len([t for t in TUNABLES if t.env])
    for tunable in TUNABLES:
        assert tunable.line, tunable.name
        if tunable.default is None and tunable.terraform is not None:
            assert tunable.example is not None, f"{tunable.name}: a required variable needs an example value"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"low": 1}, "give both low and high"),
        ({"kind": "float"}, "kind='float' is invalid"),
        ({"terraform": "x", "description": ""}, "a Terraform variable needs its description"),
    ],
)
def test_a_malformed_entry_is_refused(changes: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        Tunable(**{"env": "X", "kind": registry.TEXT, "meaning": "m", **changes})


def test_a_table_field_names_itself():
    with pytest.raises(ValueError, match=r"X: a field's name is its attribute name; drop field='x'"):
        registry.setting(env="X", field="x", kind=registry.TEXT, meaning="m")


def test_every_table_field_is_a_config_field_with_its_entry():
    config_fields = {f.name: f for f in dataclasses.fields(StackConfig)}
    assert [t.field for t in CONFIG_TUNABLES] == [f.name for f in dataclasses.fields(registry.TunableValues)]
    for tunable in CONFIG_TUNABLES:
        assert config_fields[str(tunable.field)].metadata["tunable"] == dataclasses.replace(tunable, field=None)


def test_the_stack_s_variables_are_terraform_references_or_the_validated_values(tmp_path: Path):
    from cdktf import App, TerraformStack, Token  # pylint: disable=import-outside-toplevel

    config = StackConfig(asg_max_size=4, single_nat_gateway=True)
    variables = variables_module.define_variables(TerraformStack(App(outdir=str(tmp_path)), "Variables"), config)
    for tunable in CONFIG_TUNABLES:
        value = getattr(variables, str(tunable.field))
        if tunable.terraform is None:
            assert value == getattr(config, str(tunable.field)), tunable.field
        else:
            assert Token.is_unresolved(value), tunable.field
    assert Token.is_unresolved(variables.certificate_arn)
