"""The runtime settings' contract (services/contract, ``tap_contract.runtime``): the one declaration of each setting,
the writer the stack uses, the loader the instance's boot runs and the reader the service uses."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
from typing import Any

import pytest
from tap_contract import runtime

# A parameter as a deployed stack writes it (Terraform has rendered every reference): each setting's example, the
# whole numbers given as numbers (as the stack gives them).
VALUES: dict[runtime.Setting[Any], str | float] = {
    **{setting: setting.example for setting in runtime.SETTINGS},
    runtime.DB_PORT: 5432,
    runtime.DB_POOL_MAX: 10,
}


def parameter(**changes: Any) -> str:
    """The parameter's JSON with keys changed (None removes one)."""
    data = json.loads(runtime.parameter_value(VALUES))
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


def test_the_parameter_holds_every_setting_as_a_string_under_its_key() -> None:
    data = json.loads(runtime.parameter_value(VALUES))
    assert list(data) == sorted(setting.key for setting in runtime.SETTINGS)
    assert data["db_port"] == "5432" and data["db_pool_max"] == "10"
    assert runtime.read_parameter(json.dumps(data)) == data
    assert runtime.example_parameter() == runtime.parameter_value(VALUES)


def test_the_writer_refuses_a_missing_or_unknown_setting_naming_it() -> None:
    partial = {setting: value for setting, value in VALUES.items() if setting is not runtime.DB_NAME}
    with pytest.raises(runtime.SettingError, match=r"missing db_name \(wire it in lib/tap_stack.py\)"):
        runtime.parameter_value(partial)
    stray = runtime.TextSetting(key="not_declared", description="a setting outside SETTINGS", example="x")
    with pytest.raises(runtime.SettingError, match=r"unknown not_declared \(declare it in tap_contract/runtime.py\)"):
        runtime.parameter_value({**VALUES, stray: "x"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ("[]", "not a JSON object"),
        (parameter(db_name=None), r"missing \['db_name'\], unknown none"),
        (parameter(hmac_key="x"), r"missing none, unknown \['hmac_key'\]"),
        (parameter(db_port=5432), r"db_port=5432: the parameter holds every value as a JSON string"),
        (parameter(db_port="54x2"), r"db_port='54x2' must be a whole number"),
        (parameter(db_host='db"; rm -rf /'), r"db_host=.*may not hold a quote, backslash, dollar"),
        (parameter(cors_origins="https://$(id).example"), r"cors_origins=.*may not hold"),
        (parameter(processor="sim\nPAYMENT_ENVIRONMENT=development"), r"processor=.*control character"),
    ],
    ids=["not-json", "not-object", "missing", "unknown", "number", "not-digits", "quote", "dollar", "newline"],
)
def test_the_loader_refuses_a_parameter_that_is_not_the_contract(text: str, message: str) -> None:
    with pytest.raises(runtime.SettingError, match=message):
        runtime.service_environment(text)


def test_the_service_environment_is_every_setting_with_a_variable() -> None:
    environment = runtime.service_environment(parameter())
    assert environment == {setting.env: setting.example for setting in runtime.SERVICE_SETTINGS}
    assert {
        "PAYMENT_ENVIRONMENT": "production",
        "PAYMENT_DB_HOST": "payment-db-prod.c0ffee.us-east-1.rds.amazonaws.com",
        "PAYMENT_DB_PORT": "5432",
        "PAYMENT_DB_POOL_MAX": "10",
    }.items() <= environment.items()
    assert "secretsmanager" not in json.dumps(environment), "the master secret's ARN is the boot's, not the service's"


def test_the_environment_file_reads_back_the_same_in_bash() -> None:
    text = runtime.environment_file(parameter())
    script = f"set -a; {text.replace(chr(10), '; ')} set +a; env -0"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, env={})
    seen = dict(item.split("=", 1) for item in result.stdout.split("\0") if item.startswith("PAYMENT_"))
    assert seen == runtime.service_environment(parameter())


def test_the_boot_variables_are_shell_quoted_and_skip_what_the_user_data_read() -> None:
    text = runtime.boot_variables(parameter())
    names = {line.split("=", 1)[0] for line in text.splitlines()}
    assert {"DB_HOST", "DB_PORT", "DB_SECRET_ARN"} <= names
    assert not names & {"ARTIFACT_BUCKET", "RUNTIME_ENVIRONMENT"}  # the user data's, read before the artifact
    script = f'{text}\nprintf "%s\\n" "$DB_SECRET_ARN" "$DB_PORT"'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [str(VALUES[runtime.DB_MASTER_SECRET_ARN]), "5432"]
    assert f"DB_SECRET_ARN={shlex.quote(str(VALUES[runtime.DB_MASTER_SECRET_ARN]))}" in text


def test_the_user_data_reads_are_generated_from_the_settings_read_before_the_artifact() -> None:
    reads = runtime.user_data_reads().splitlines()
    assert reads[:2] == ["ARTIFACT_BUCKET=$(setting artifact_bucket)", "RUNTIME_ENVIRONMENT=$(setting environment)"]
    assert len(reads) == sum(setting.before_artifact for setting in runtime.SETTINGS)


def test_the_service_reads_a_variable_through_its_setting() -> None:
    assert runtime.DB_PORT.read({"PAYMENT_DB_PORT": "6432"}, 5432) == 6432
    assert runtime.DB_PORT.read({}, 5432) == 5432 and runtime.DB_PORT.read({"PAYMENT_DB_PORT": ""}, 5432) == 5432
    with pytest.raises(runtime.SettingError, match=r"PAYMENT_DB_PORT='x' must be a whole number"):
        runtime.DB_PORT.read({"PAYMENT_DB_PORT": "x"}, 5432)
    with pytest.raises(runtime.SettingError, match="db_master_secret_arn does not reach the service's environment"):
        runtime.DB_MASTER_SECRET_ARN.read({}, "")


def test_a_new_setting_reaches_every_derived_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """Declaring a setting is the whole of the contract's part: the parameter, the loader's environment file, the
    boot's variables and the user data's early reads follow from the declaration (docs/developing.md, "A runtime
    setting"); the stack must wire it, or synth names it."""
    secret = runtime.TextSetting(
        key="hmac_secret_arn",
        description="a new setting",
        example="arn:aws:secretsmanager:us-east-1:123456789012:secret:hmac-AbCdEf",
        env="PAYMENT_HMAC_SECRET_ARN",
        boot_variable="HMAC_SECRET_ARN",
    )
    early = runtime.TextSetting(
        key="early", description="read before the artifact", example="x", boot_variable="EARLY", before_artifact=True
    )
    wired = {setting: setting.example for setting in runtime.SETTINGS}
    monkeypatch.setattr(runtime, "SETTINGS", (*runtime.SETTINGS, secret, early))
    text = runtime.example_parameter()
    assert json.loads(text)["hmac_secret_arn"] == secret.example
    assert runtime.service_environment(text)["PAYMENT_HMAC_SECRET_ARN"] == secret.example
    assert f'PAYMENT_HMAC_SECRET_ARN="{secret.example}"' in runtime.environment_file(text)
    assert f"HMAC_SECRET_ARN={secret.example}" in runtime.boot_variables(text)
    assert "EARLY=$(setting early)" in runtime.user_data_reads() and "EARLY" not in runtime.boot_variables(text)
    assert secret.read({"PAYMENT_HMAC_SECRET_ARN": secret.example}, "") == secret.example
    with pytest.raises(runtime.SettingError, match=r"missing hmac_secret_arn, early \(wire it in lib/tap_stack.py\)"):
        runtime.parameter_value(wired)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"key": "DbHost"}, "use lowercase letters"),
        ({"key": "x", "env": "DB_HOST"}, "must be a PAYMENT_"),
        ({"key": "x", "boot_variable": "db host"}, "is no shell name"),
        ({"key": "x", "before_artifact": True}, "needs a boot_variable"),
    ],
)
def test_a_malformed_declaration_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        runtime.TextSetting(description="test", example="x", **fields)


@pytest.mark.parametrize(
    ("argv", "stdin", "status", "out", "err"),
    [
        (["environment-file"], parameter(), 0, 'PAYMENT_DB_PORT="5432"\n', ""),
        (["boot-variables"], parameter(), 0, "DB_PORT=5432\n", ""),
        (["environment-file"], parameter(db_name=None), 2, "", "runtime parameter: the runtime parameter does not"),
        (["env"], parameter(), 2, "", "usage: python -m tap_contract.runtime environment-file|boot-variables"),
    ],
)
def test_the_command_the_boot_runs(
    monkeypatch: pytest.MonkeyPatch, *, argv: list[str], stdin: str, status: int, out: str, err: str
) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert runtime.main(argv) == status
    assert out in stdout.getvalue() and err in stderr.getvalue()
    if status:
        assert stdout.getvalue() == ""
