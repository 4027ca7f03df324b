"""Credentials for local service processes, as systemd's ``LoadCredential=`` hands them over: a folder that only
its owner may enter (0700) with one read-only file (0400) per credential, named by ``$CREDENTIALS_DIRECTORY``.

``LocalPostgres`` makes one such folder per throw-away database, with the idempotency keys' HMAC secret generated
once, and passes it to every process it gives an environment to (``service_env()``): every API process on one
database hashes keys alike, as the fleet does with its one secret. A secret per process would make a retry that
reaches another process miss its key, and with a real processor that is a second charge.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from payment_api.config import CURRENT_SECRET, PREVIOUS_SECRET


def new_secret() -> str:
    """A fresh HMAC secret: 64 hex characters (32 random bytes)."""
    return secrets.token_hex(32)


def write_credentials(folder: Path, values: Mapping[str, str]) -> Path:
    """``folder`` (created 0700, or emptied of these names) with one 0400 file per credential, its value and a
    newline (the service strips it); returns ``folder``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for name, value in values.items():
        path = folder / name
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(value + "\n")
    return folder


def idempotency_credentials(folder: Path, current: str, previous: str | None = None) -> Path:
    """A credentials folder with ``idempotency-hmac-current`` and, when given, ``idempotency-hmac-previous``."""
    values = {CURRENT_SECRET: current}
    if previous is not None:
        values[PREVIOUS_SECRET] = previous
    return write_credentials(folder, values)
