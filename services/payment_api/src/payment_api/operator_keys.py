"""Operator API keys: a random 32-byte token shown once; only its SHA-256 is stored (``operator_keys``)."""

from __future__ import annotations

import hashlib
import secrets

from psycopg_pool import ConnectionPool

from payment_api.problems import ProblemError

PREFIX = "opk_"


def hash_key(key: str) -> str:
    """SHA-256 (hex) of the key: what the table holds."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh key: ``opk_`` + 43 URL-safe characters (32 random bytes)."""
    return PREFIX + secrets.token_urlsafe(32)


def create(conninfo: str, label: str) -> str:
    """Store a new key's hash as the owner role (the application role can only read the table); returns the key."""
    import psycopg  # pylint: disable=import-outside-toplevel

    key = new_key()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO operator_keys (id, key_hash, label) VALUES (%s, %s, %s)",
            ("opk_" + secrets.token_hex(8), hash_key(key), label),
        )
    return key


def authenticate(pool: ConnectionPool, authorization: str | None) -> None:
    """Raise 401 unless ``Authorization: Bearer <key>`` names a key that is not revoked."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError("unauthorized", "An operator API key is required.", headers={"WWW-Authenticate": "Bearer"})
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_keys WHERE key_hash = %s AND revoked_at IS NULL", (hash_key(token.strip()),)
        ).fetchone()
    if row is None:
        raise ProblemError("unauthorized", "An operator API key is required.", headers={"WWW-Authenticate": "Bearer"})
