"""Settings from the environment (docs/payment-api.md lists every variable) and from systemd credentials.

The variables the stack's runtime parameter sets (``tap_contract.runtime`` declares them: the environment, the
processor, CORS, the database's host, port, name and pool) are read through the contract, which names them and checks
their kind; the rest are the service's own.

Production is strict: the processor must be named (no simulator by accident), TLS must be ``verify-full`` and the
test-only crash hook is refused.

Secrets never come from the environment: the idempotency keys' HMAC secret is a systemd credential, a file in
``$CREDENTIALS_DIRECTORY`` (``LoadCredential=`` on the instances: tmpfs, readable by the unit only; API.md v1.2,
"Operation"). ``idempotency-hmac-current`` is the fleet's one secret, ``idempotency-hmac-previous`` the one before a
rotation (optional). They are read here and kept out of every ``repr``; ``idempotency_secrets()`` refuses a
serving process without the current one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tap_contract.runtime import (
    CORS_ORIGINS,
    DB_HOST,
    DB_NAME,
    DB_POOL_MAX,
    DB_PORT,
    ENVIRONMENT,
    OPERATOR_ROLE_ARN,
    PROCESSOR,
    REQUIRES_ACTION_TIMEOUT,
    REQUIRES_ACTION_TIMEOUT_DEFAULT,
    REQUIRES_ACTION_TIMEOUT_RANGE,
    STRIPE_API_BASE,
    STS_REGION,
    Setting,
    SettingError,
)

ENVIRONMENTS = ("development", "test", "production")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MIN_RETENTION_HOURS = 24
CURRENT_SECRET = "idempotency-hmac-current"
"""The systemd credential holding the fleet's HMAC secret for idempotency keys (required to serve)."""
PREVIOUS_SECRET = "idempotency-hmac-previous"
"""The credential holding the secret before the last rotation (optional): still valid for lookups."""
MIN_SECRET_BYTES = 32
STRIPE_SECRET = "stripe-secret"
"""The systemd credential holding the Stripe processor's secret: JSON ``{"api_key": "sk_...", "webhook_secret":
"whsec_..."}``, the content of the stack's one Secrets Manager secret (required with ``PAYMENT_PROCESSOR=stripe``)."""
DB_LOGIN = "db-login"
"""The systemd credential holding the application's database login: JSON ``{"username": ..., "password": ...}``,
the AWSCURRENT version of the stack's app-login secret, which only the migration host writes (one of two login roles
used in turn, ``payment_api.provision``). When present it is the serving login: ``PAYMENT_DB_USER`` and
``PAYMENT_DB_PASSWORD`` are then ignored (they are for a local database only)."""
STRIPE_API = "https://api.stripe.com"
DEFAULT_STRIPE_TIMEOUT = 20


class ConfigError(ValueError):
    """The environment does not describe a configuration the service may run with."""


@dataclass(frozen=True)
class DatabaseSettings:
    """How to reach PostgreSQL as one role (the application role, or the owner role for migrations)."""

    host: str
    port: int
    name: str
    user: str
    password: str
    sslmode: str
    sslrootcert: str | None
    connect_timeout: int = 5

    def conninfo(self) -> str:
        """A libpq connection string (password included: never log it)."""
        parts = {
            "host": self.host,
            "port": str(self.port),
            "dbname": self.name,
            "user": self.user,
            "password": self.password,
            "sslmode": self.sslmode,
            "connect_timeout": str(self.connect_timeout),
            "application_name": "payment-api",
        }
        if self.sslrootcert:
            parts["sslrootcert"] = self.sslrootcert
        return " ".join(f"{key}='{_escape(value)}'" for key, value in parts.items() if value)

    def sqlalchemy_url(self) -> str:
        """The URL Alembic's engine uses (psycopg 3 driver); the password goes through ``connect_args``."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.name}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


@dataclass(frozen=True, kw_only=True)
class IdempotencySecrets:
    """The HMAC-SHA-256 secrets of idempotency keys: ``current`` hashes every new key; ``previous`` (the secret
    before a rotation, @default: none) still finds keys stored under it. Never in a repr or a log."""

    current: bytes = field(repr=False)
    previous: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class StripeSettings:
    """The Stripe processor's settings: the API key and webhook endpoint secret (the ``stripe-secret`` credential;
    never in a repr or a log), the API's base URL (@default: Stripe's; the local emulator's in development and tests)
    and the timeout of one call in seconds (@default: 20; past it the payment answers ``202 processing``)."""

    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_base: str = STRIPE_API
    timeout_seconds: int = DEFAULT_STRIPE_TIMEOUT


ROLE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>[0-9]{12}):role/(?:[!-~]*/)?(?P<name>[\w+=,.@-]+)"
)
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
STS_ENDPOINT = "PAYMENT_OPERATOR_STS_ENDPOINT"


@dataclass(frozen=True, kw_only=True)
class OperatorSettings:
    """How operators prove who they are (``payment_api.operators``): the operator role whose sessions get tokens
    (@default: none, and then no IAM operator is accepted: ``make api`` and the tests use local operators), the region
    and the STS endpoint proofs are forwarded to (in production always ``https://sts.<region>.amazonaws.com``;
    elsewhere ``PAYMENT_OPERATOR_STS_ENDPOINT``, else the SDKs' ``AWS_ENDPOINT_URL_STS`` or ``AWS_ENDPOINT_URL``:
    the emulator's)."""

    role_arn: str
    region: str
    sts_endpoint: str


def sts_host(region: str) -> str:
    """The regional STS endpoint of ``region`` (the only one a production service forwards proofs to)."""
    return f"https://sts.{region}.amazonaws.com"


def read_operator_settings(env: Mapping[str, str], *, production: bool) -> OperatorSettings:
    """The operator settings; ``ConfigError`` naming the variable for a malformed role ARN or region, an STS
    endpoint override in production, or a production service without its role or region."""
    role_arn = _runtime(OPERATOR_ROLE_ARN, env, "")
    region = _runtime(STS_REGION, env, "" if production else env.get("AWS_REGION", "") or "us-east-1")
    if role_arn and not ROLE_ARN.fullmatch(role_arn):
        raise ConfigError(
            f"{OPERATOR_ROLE_ARN.env}={role_arn!r} is not an IAM role ARN: give arn:aws:iam::<account>:role/<name> "
            f"(the stack's output {OPERATOR_ROLE_ARN.key})"
        )
    if not REGION.fullmatch(region):
        raise ConfigError(f"{STS_REGION.env}={region!r} is not an AWS region, e.g. us-east-1 (the stack writes it)")
    override = env.get(STS_ENDPOINT, "").strip()
    if production:
        if override:
            raise ConfigError(
                f"{STS_ENDPOINT} is for the emulator and is refused in production, which forwards operators' proofs "
                f"only to {sts_host(region)}: remove it from the environment"
            )
        if not role_arn:
            raise ConfigError(
                f"{OPERATOR_ROLE_ARN.env} must be set in production (the runtime parameter's {OPERATOR_ROLE_ARN.key}): "
                "without it no operator can refund"
            )
        return OperatorSettings(role_arn=role_arn, region=region, sts_endpoint=sts_host(region))
    endpoint = override or env.get("AWS_ENDPOINT_URL_STS", "") or env.get("AWS_ENDPOINT_URL", "") or sts_host(region)
    endpoint = endpoint.strip().rstrip("/")
    if not ORIGIN.fullmatch(endpoint):
        raise ConfigError(
            f"the operators' STS endpoint {endpoint!r} ({STS_ENDPOINT}, else AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL) "
            "is not a base URL: give scheme://host[:port] without a path, e.g. http://127.0.0.1:5000"
        )
    return OperatorSettings(role_arn=role_arn, region=region, sts_endpoint=endpoint)


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    environment: str
    processor: str
    database: DatabaseSettings
    owner_user: str
    owner_password: str
    pool_max: int
    retention_hours: int
    crash_after_processor: bool
    cors_origins: tuple[str, ...] = ()
    requires_action_timeout_minutes: int = REQUIRES_ACTION_TIMEOUT_DEFAULT
    """How long a payment waits for its customer's 3-D Secure before the reconciler cancels it at Stripe
    (``PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES``, the stack's runtime parameter; @default 30)."""
    hmac_secrets: IdempotencySecrets | None = field(default=None, repr=False)
    """None when ``$CREDENTIALS_DIRECTORY`` holds no ``idempotency-hmac-current`` (the commands that hash no key
    run without it: migrate, purge, reconcile, the operator key and role commands)."""
    stripe: StripeSettings | None = field(default=None, repr=False)
    """None when ``$CREDENTIALS_DIRECTORY`` holds no ``stripe-secret`` (only the Stripe processor needs it)."""
    operators: OperatorSettings = field(
        default=OperatorSettings(role_arn="", region="us-east-1", sts_endpoint="https://sts.us-east-1.amazonaws.com")
    )
    """How operators prove who they are (@default: no operator role, so no IAM operator; local tokens only)."""

    def stripe_settings(self) -> StripeSettings:
        """The Stripe settings, or a ``ConfigError`` saying where the credential comes from (the Stripe processor
        needs it)."""
        if self.stripe is not None:
            return self.stripe
        where = (
            f"in production the stack's Stripe secret (STRIPE_SECRET_KEY_ARN) is delivered to the serving unit by "
            f"systemd LoadCredential={STRIPE_SECRET}:<file>; check that the unit has that line and that the boot step "
            "fetched the secret"
            if self.environment == "production"
            else f"set CREDENTIALS_DIRECTORY to a folder (0700) holding a file {STRIPE_SECRET} with JSON "
            f'{{"api_key": "sk_test_...", "webhook_secret": "whsec_..."}} ({PROCESSOR.env}=stripe make api and the '
            "tests write one for the local emulator: tools/dev/local_stripe)"
        )
        raise ConfigError(f"{PROCESSOR.env}=stripe needs the credential {STRIPE_SECRET}, which is missing: {where}")

    def idempotency_secrets(self) -> IdempotencySecrets:
        """The secrets, or a ``ConfigError`` saying where the current one comes from (serving needs it)."""
        if self.hmac_secrets is not None:
            return self.hmac_secrets
        if self.environment == "production":
            raise ConfigError(
                f"the credential {CURRENT_SECRET} is missing from $CREDENTIALS_DIRECTORY: in production the stack's "
                f"Secrets Manager secret is delivered to the serving unit by systemd LoadCredential={CURRENT_SECRET}:"
                "<file>; check that the unit has that line and that the boot step fetched the secret"
            )
        raise ConfigError(
            f"the credential {CURRENT_SECRET} is missing: set CREDENTIALS_DIRECTORY to a folder (0700) holding a file "
            f"{CURRENT_SECRET} with at least {MIN_SECRET_BYTES} bytes, the same for every process on this database "
            "(make api and the tests make one per database: LocalPostgres.service_env())"
        )

    @property
    def owner_database(self) -> DatabaseSettings:
        """The owner role's connection (migrations, operator keys): same server, same TLS settings."""
        return DatabaseSettings(
            self.database.host,
            self.database.port,
            self.database.name,
            self.owner_user,
            self.owner_password,
            self.database.sslmode,
            self.database.sslrootcert,
        )


_Value = TypeVar("_Value", str, int)


def _runtime(setting: Setting[_Value], env: Mapping[str, str], default: _Value) -> _Value:
    """A runtime setting (the stack's runtime parameter, written into the environment by the boot) through the
    contract's reader, which checks its kind."""
    try:
        return setting.read(env, default)
    except SettingError as error:
        raise ConfigError(str(error)) from error


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError as error:
        raise ConfigError(f"{name} must be an integer") from error


ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?")


def cors_origins(raw: str, *, production: bool) -> tuple[str, ...]:
    """The browser origins allowed to call the API (the checkout's), exact: no wildcard, no path.

    Why exact: a wildcard or a reflected origin would let any page drive payments from a visitor's browser."""
    origins = tuple(origin.strip() for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"{CORS_ORIGINS.env}: {origin!r} is not an origin; give scheme://host[:port] "
                "without a path or wildcard, e.g. https://pay.example.com"
            )
        if production and not origin.startswith("https://"):
            raise ConfigError(f"{CORS_ORIGINS.env}: {origin!r} must use https in production")
    return origins


def _credential(folder: Path, name: str) -> bytes | None:
    """A credential file's secret (one trailing newline stripped), None when the file does not exist."""
    path = folder / name
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(
            f"the credential {name} ({path}) cannot be read ({error.strerror}): it must be readable by the "
            "service's user (systemd LoadCredential= makes it so)"
        ) from None
    secret = secret.removesuffix(b"\n")
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the credential {name} holds {len(secret)} bytes, fewer than {MIN_SECRET_BYTES}: give a random secret of "
            f"at least {MIN_SECRET_BYTES} bytes (for example `openssl rand -hex 32`), the same on every instance"
        )
    return secret


def read_idempotency_secrets(env: Mapping[str, str]) -> IdempotencySecrets | None:
    """``idempotency-hmac-current`` and ``-previous`` from ``$CREDENTIALS_DIRECTORY``; None without a current one
    (``Settings.idempotency_secrets()`` refuses to serve then). A previous secret without a current one, or equal
    to it, is a ``ConfigError``."""
    directory = env.get("CREDENTIALS_DIRECTORY", "")
    if not directory:
        return None
    folder = Path(directory)
    current, previous = _credential(folder, CURRENT_SECRET), _credential(folder, PREVIOUS_SECRET)
    if current is None:
        if previous is not None:
            raise ConfigError(
                f"the credential {PREVIOUS_SECRET} is there but {CURRENT_SECRET} is not: a rotation keeps the new "
                f"secret in {CURRENT_SECRET} and the old one in {PREVIOUS_SECRET}; deliver both"
            )
        return None
    if previous == current:
        raise ConfigError(
            f"the credentials {CURRENT_SECRET} and {PREVIOUS_SECRET} hold the same secret: after a rotation "
            f"{PREVIOUS_SECRET} is the old secret; drop it when there is no rotation in progress"
        )
    return IdempotencySecrets(current=current, previous=previous)


def _json_credential(folder: Path, name: str, shape: str) -> dict[str, Any] | None:
    """The credential ``name`` of ``folder`` as a JSON object; None when there is no such file. Errors name the
    credential and the ``shape`` it must have, never a value."""
    path = folder / name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(
            f"the credential {name} ({path}) cannot be read ({error.strerror}): it must be readable by the "
            "service's user (systemd LoadCredential= makes it so)"
        ) from None
    try:
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"the credential {name} is not JSON: it must be {shape}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"the credential {name} must be a JSON object: {shape}")
    return values


def db_login(folder: Path) -> tuple[str, str] | None:
    """The ``db-login`` credential's user name and password; None when there is no such file. Errors name the
    credential and the field, never a value."""
    shape = '{"username": "payment_app_a", "password": "..."} (the app-login secret as the migration host wrote it)'
    values = _json_credential(folder, DB_LOGIN, shape)
    if values is None:
        return None
    username, password = values.get("username"), values.get("password")
    if not isinstance(username, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", username):
        raise ConfigError(f"the credential {DB_LOGIN}'s username must be a PostgreSQL role name: {shape}")
    if not isinstance(password, str) or not password:
        raise ConfigError(f"the credential {DB_LOGIN}'s password must be a non-empty string: {shape}")
    return username, password


def _stripe_secret(folder: Path) -> tuple[str, str] | None:
    """The API key and webhook secret of the ``stripe-secret`` credential; None when there is no such file. Errors
    name the credential and the field, never a value."""
    shape = '{"api_key": "sk_...", "webhook_secret": "whsec_..."} (the stack\'s Stripe secret, as stored)'
    values = _json_credential(folder, STRIPE_SECRET, shape)
    if values is None:
        return None
    api_key, webhook_secret = values.get("api_key"), values.get("webhook_secret")
    if not isinstance(api_key, str) or not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9]{8,247}", api_key):
        raise ConfigError(
            f"the credential {STRIPE_SECRET}'s api_key must be a Stripe secret or restricted key (sk_test_..., "
            f"sk_live_..., rk_...; never the publishable pk_ key): {shape}"
        )
    if not isinstance(webhook_secret, str) or not re.fullmatch(r"whsec_[A-Za-z0-9]{8,247}", webhook_secret):
        raise ConfigError(
            f"the credential {STRIPE_SECRET}'s webhook_secret must be the webhook endpoint's signing secret "
            f"(whsec_...): {shape}"
        )
    return api_key, webhook_secret


def read_stripe_settings(env: Mapping[str, str], *, production: bool) -> StripeSettings | None:
    """The Stripe settings: the ``stripe-secret`` credential from ``$CREDENTIALS_DIRECTORY`` (None without it),
    the runtime setting ``STRIPE_API_BASE`` (refused in production: the emulator's address only) and
    ``PAYMENT_STRIPE_TIMEOUT_SECONDS``."""
    base = _runtime(STRIPE_API_BASE, env, "").strip()
    if base and production:
        raise ConfigError(
            f"{STRIPE_API_BASE.env} is for the local Stripe emulator and is refused in production, which talks to "
            f"{STRIPE_API}: remove it from the environment"
        )
    if base and not ORIGIN.fullmatch(base):
        raise ConfigError(
            f"{STRIPE_API_BASE.env} {base!r} is not a base URL: give scheme://host:port without a path, e.g. "
            "http://127.0.0.1:8420 (the emulator make api starts)"
        )
    timeout = _int(env, "PAYMENT_STRIPE_TIMEOUT_SECONDS", DEFAULT_STRIPE_TIMEOUT)
    if not 1 <= timeout <= 80:
        raise ConfigError("PAYMENT_STRIPE_TIMEOUT_SECONDS must be from 1 to 80 (Stripe's own client waits 80 s)")
    directory = env.get("CREDENTIALS_DIRECTORY", "")
    secret = _stripe_secret(Path(directory)) if directory else None
    if secret is None:
        return None
    return StripeSettings(
        api_key=secret[0], webhook_secret=secret[1], api_base=base or STRIPE_API, timeout_seconds=timeout
    )


def requires_action_timeout(env: Mapping[str, str]) -> int:
    """``PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES`` within Stripe Checkout's bounds for a waiting payment."""
    minutes = _runtime(REQUIRES_ACTION_TIMEOUT, env, REQUIRES_ACTION_TIMEOUT_DEFAULT)
    low, high = REQUIRES_ACTION_TIMEOUT_RANGE
    if not low <= minutes <= high:
        raise ConfigError(
            f"{REQUIRES_ACTION_TIMEOUT.env}={minutes} is outside {low} to {high} minutes (Stripe Checkout's bounds for "
            "a payment waiting for its customer): set it in that range, or leave it unset for "
            f"{REQUIRES_ACTION_TIMEOUT_DEFAULT}"
        )
    return minutes


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings; raises ``ConfigError`` naming the variable at fault."""
    env = os.environ if env is None else env
    environment = _runtime(ENVIRONMENT, env, "development")
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"{ENVIRONMENT.env} must be one of {', '.join(ENVIRONMENTS)}")
    production = environment == "production"
    processor = _runtime(PROCESSOR, env, "" if production else "simulated")
    if not processor:
        raise ConfigError(f"{PROCESSOR.env} must be set in production (no default processor there)")
    sslmode = env.get("PAYMENT_DB_SSLMODE", "verify-full")
    if sslmode not in SSL_MODES:
        raise ConfigError(f"PAYMENT_DB_SSLMODE must be one of {', '.join(SSL_MODES)}")
    if production and sslmode != "verify-full":
        raise ConfigError("PAYMENT_DB_SSLMODE must be verify-full in production")
    crash = env.get("PAYMENT_TEST_CRASH_AFTER_PROCESSOR", "") == "1"
    if crash and production:
        raise ConfigError("PAYMENT_TEST_CRASH_AFTER_PROCESSOR is a test hook, refused in production")
    retention = _int(env, "PAYMENT_IDEMPOTENCY_RETENTION_HOURS", MIN_RETENTION_HOURS)
    if retention < MIN_RETENTION_HOURS:
        raise ConfigError(f"PAYMENT_IDEMPOTENCY_RETENTION_HOURS must be at least {MIN_RETENTION_HOURS}")
    directory = env.get("CREDENTIALS_DIRECTORY", "")
    login = db_login(Path(directory)) if directory else None
    database = DatabaseSettings(
        host=_runtime(DB_HOST, env, "127.0.0.1"),
        port=_runtime(DB_PORT, env, 5432),
        name=_runtime(DB_NAME, env, "payments"),
        user=login[0] if login else env.get("PAYMENT_DB_USER", "payment_app"),
        password=login[1] if login else env.get("PAYMENT_DB_PASSWORD", ""),
        sslmode=sslmode,
        sslrootcert=env.get("PAYMENT_DB_SSLROOTCERT") or None,
    )
    return Settings(
        environment=environment,
        processor=processor,
        database=database,
        owner_user=env.get("PAYMENT_DB_OWNER_USER", "payment_owner"),
        owner_password=env.get("PAYMENT_DB_OWNER_PASSWORD", ""),
        pool_max=_runtime(DB_POOL_MAX, env, 10),
        retention_hours=retention,
        crash_after_processor=crash,
        cors_origins=cors_origins(_runtime(CORS_ORIGINS, env, ""), production=production),
        requires_action_timeout_minutes=requires_action_timeout(env),
        hmac_secrets=read_idempotency_secrets(env),
        stripe=read_stripe_settings(env, production=production),
        operators=read_operator_settings(env, production=production),
    )
