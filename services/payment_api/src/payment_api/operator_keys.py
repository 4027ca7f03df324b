"""Operator API keys: a random 32-byte token shown once; only its SHA-256 is stored (``operator_keys``).

Until operator identities arrive (security part one), a key's ``label`` names the operator: ``authenticate`` returns
it, the refund records it (``created_by``) and the request log names it; the token itself is never logged."""

from __future__ import annotations

import hashlib
import re
import secrets

from psycopg_pool import ConnectionPool

from payment_api.carddata import contains_card_number
from payment_api.problems import ProblemError

PREFIX = "opk_"
# A label is shown in refunds (``created_by``) and in log lines: printable ASCII, no edge spaces, at most 64.
LABEL = re.compile(r"[!-~]([ -~]{0,62}[!-~])?")


def check_label(label: str) -> str:
    """``label`` when it may name an operator in refunds and logs; ``ValueError`` saying what is allowed otherwise."""
    if not LABEL.fullmatch(label) or contains_card_number(label):
        raise ValueError(
            "an operator key's label names the operator in refunds (created_by) and in the request log: give 1 to 64 "
            "printable ASCII characters, not beginning or ending with a space and holding no card number, "
            "e.g. --label alice@example.com"
        )
    return label


def hash_key(key: str) -> str:
    """SHA-256 (hex) of the key: what the table holds."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh key: ``opk_`` + 43 URL-safe characters (32 random bytes)."""
    return PREFIX + secrets.token_urlsafe(32)


def create(conninfo: str, label: str) -> str:
    """Store a new key's hash as the owner role (the application role can only read the table); returns the key.
    ``ValueError`` (nothing stored) when the label cannot name an operator (``check_label``)."""
    import psycopg  # pylint: disable=import-outside-toplevel

    check_label(label)
    key = new_key()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO operator_keys (id, key_hash, label) VALUES (%s, %s, %s)",
            ("opk_" + secrets.token_hex(8), hash_key(key), label),
        )
    return key


def authenticate(pool: ConnectionPool, authorization: str | None) -> str:
    """The operator (the key's label) that ``Authorization: Bearer <key>`` names; 401 unless the key exists and is not
    revoked."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError("unauthorized", "An operator API key is required.", headers={"WWW-Authenticate": "Bearer"})
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT label FROM operator_keys WHERE key_hash = %s AND revoked_at IS NULL", (hash_key(token.strip()),)
        ).fetchone()
    if row is None:
        raise ProblemError("unauthorized", "An operator API key is required.", headers={"WWW-Authenticate": "Bearer"})
    return str(row[0])
