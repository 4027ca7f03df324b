"""The idempotency keys' HMAC secrets: read as systemd credentials, checked, kept out of every repr, required to
serve; and the hashes a key is stored, logged and looked up under."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from payment_api.app import create_app
from payment_api.config import ConfigError, IdempotencySecrets, load_settings
from payment_api.idempotency import key_hash, key_hashes

from tools.dev.local_api.credentials import idempotency_credentials, new_secret, write_credentials

S1, S2 = "a" * 32, "b" * 40
NO_DATABASE = {"PAYMENT_DB_PORT": "1", "PAYMENT_DB_SSLMODE": "disable"}


def settings_with(folder: Path, environment: str = "test") -> IdempotencySecrets | None:
    env = {**NO_DATABASE, "PAYMENT_ENVIRONMENT": environment, "CREDENTIALS_DIRECTORY": str(folder)}
    return load_settings(env).hmac_secrets


def test_the_credentials_are_read_with_one_trailing_newline_stripped(tmp_path: Path) -> None:
    assert settings_with(idempotency_credentials(tmp_path / "one", S1)) == IdempotencySecrets(current=S1.encode())
    both = idempotency_credentials(tmp_path / "two", S2, S1)
    assert settings_with(both) == IdempotencySecrets(current=S2.encode(), previous=S1.encode())
    exact = write_credentials(tmp_path / "exact", {})
    (exact / "idempotency-hmac-current").write_bytes(S1.encode() + b"\n\n")
    secrets = settings_with(exact)
    assert secrets is not None and secrets.current == S1.encode() + b"\n", "one newline only"


def test_no_credentials_directory_or_no_current_secret_means_none(tmp_path: Path) -> None:
    assert load_settings(NO_DATABASE).hmac_secrets is None
    assert settings_with(write_credentials(tmp_path / "empty", {})) is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"idempotency-hmac-current": "x" * 31}, "idempotency-hmac-current holds 31 bytes, fewer than 32"),
        ({"idempotency-hmac-current": S1, "idempotency-hmac-previous": "short"}, "idempotency-hmac-previous holds 5"),
        ({"idempotency-hmac-previous": S1}, "idempotency-hmac-previous is there but idempotency-hmac-current is not"),
        ({"idempotency-hmac-current": S1, "idempotency-hmac-previous": S1}, "hold the same secret"),
    ],
)
def test_bad_credentials_are_refused_by_name(tmp_path: Path, values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_with(write_credentials(tmp_path / "credentials", values))


def test_a_short_secret_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="openssl rand -hex 32"):
        settings_with(idempotency_credentials(tmp_path / "c", "short"))


def test_the_secrets_are_in_no_repr(tmp_path: Path) -> None:
    folder = idempotency_credentials(tmp_path / "c", S2, S1)
    settings = load_settings({**NO_DATABASE, "CREDENTIALS_DIRECTORY": str(folder)})
    assert settings.hmac_secrets is not None
    for text in (repr(settings), str(settings), repr(settings.hmac_secrets)):
        assert "aaaa" not in text and "bbbb" not in text
    hashes = key_hashes("4242424242424242", settings.hmac_secrets)
    assert hashlib.sha256(b"4242424242424242").hexdigest() not in repr(hashes)


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_serving_without_the_current_secret_is_refused(environment: str) -> None:
    env = {**NO_DATABASE, "PAYMENT_ENVIRONMENT": environment, "PAYMENT_PROCESSOR": "simulated"}
    if environment == "production":
        env["PAYMENT_DB_SSLMODE"] = "verify-full"
        env["PAYMENT_STS_REGION"] = "us-east-1"  # production names its region and operator role (the stack writes both)
        env["PAYMENT_OPERATOR_ROLE_ARN"] = "arn:aws:iam::123456789012:role/payment-operator-test"
    settings = load_settings(env)
    expected = "LoadCredential=idempotency-hmac-current" if environment == "production" else "CREDENTIALS_DIRECTORY"
    with pytest.raises(ConfigError, match=expected):
        settings.idempotency_secrets()
    with pytest.raises(ConfigError, match="idempotency-hmac-current is missing"):
        create_app(settings)


def test_the_stored_hash_is_the_hmac_under_the_current_secret() -> None:
    secrets = IdempotencySecrets(current=S2.encode(), previous=S1.encode())
    key = "order-4242424242424242"
    hashes = key_hashes(key, secrets)
    assert (
        hashes.stored == hmac.new(S2.encode(), key.encode(), hashlib.sha256).hexdigest() == key_hash(key, S2.encode())
    )
    assert hashes.previous == key_hash(key, S1.encode())
    assert hashes.legacy == hashlib.sha256(key.encode()).hexdigest() != hashes.stored
    assert hashes.logged == hashes.stored[:16]
    assert key_hashes(key, IdempotencySecrets(current=S2.encode())).previous is None


def test_the_local_credentials_are_private(tmp_path: Path) -> None:
    folder = idempotency_credentials(tmp_path / "c", new_secret(), new_secret())
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()} == {
        "idempotency-hmac-current": 0o400,
        "idempotency-hmac-previous": 0o400,
    }
    assert len(new_secret()) == 64
