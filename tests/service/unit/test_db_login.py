"""The ``db-login`` credential (issue 27): the serving login comes from ``$CREDENTIALS_DIRECTORY``, written there by
systemd's ``LoadCredential=`` from the app-login secret, never from an environment file; and the two application
logins a release alternates between."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from payment_api import provision
from payment_api.config import DB_LOGIN, ConfigError, load_settings

BASE = {"PAYMENT_ENVIRONMENT": "development", "PAYMENT_PROCESSOR": "simulated"}


def credentials(folder: Path, value: object) -> dict[str, str]:
    (folder / DB_LOGIN).write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return {**BASE, "CREDENTIALS_DIRECTORY": str(folder)}


def test_the_credential_is_the_serving_login_and_the_environment_cannot_override_it(tmp_path: Path) -> None:
    env = credentials(tmp_path, {"username": "payment_app_b", "password": "s3cret-value"})
    settings = load_settings({**env, "PAYMENT_DB_USER": "payment_owner", "PAYMENT_DB_PASSWORD": "other"})
    assert (settings.database.user, settings.database.password) == ("payment_app_b", "s3cret-value")


def test_without_the_credential_a_local_database_login_comes_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings({**BASE, "CREDENTIALS_DIRECTORY": str(tmp_path), "PAYMENT_DB_PASSWORD": "local"})
    assert (settings.database.user, settings.database.password) == ("payment_app", "local")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("not json", "is not JSON"),
        (["payment_app_a"], "must be a JSON object"),
        ({"username": "Robert'); DROP", "password": "x"}, "username must be a PostgreSQL role name"),
        ({"username": "payment_app_a"}, "password must be a non-empty string"),
        ({"username": "payment_app_a", "password": ""}, "password must be a non-empty string"),
    ],
)
def test_a_malformed_credential_is_refused_naming_the_field_never_the_value(
    tmp_path: Path, value: object, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as refused:
        load_settings(credentials(tmp_path, value))
    assert DB_LOGIN in str(refused.value) and "DROP" not in str(refused.value)


@pytest.mark.parametrize(
    ("current", "expected"),
    [("", "payment_app_a"), ("payment_app_a", "payment_app_b"), ("payment_app_b", "payment_app_a")],
)
def test_a_release_sets_the_login_the_secret_does_not_name(current: str, expected: str) -> None:
    assert provision.next_app_login(current) == expected


def test_a_secret_naming_another_role_stops_the_release() -> None:
    with pytest.raises(ValueError, match="not one of payment_app_a, payment_app_b"):
        provision.next_app_login("payment_owner")
