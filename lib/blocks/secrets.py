"""What the stack's Secrets Manager secrets share: the recovery window Secrets Manager accepts."""

from __future__ import annotations

RECOVERY_WINDOW_DAYS = (0, *range(7, 31))
"""Secrets Manager takes 0 (delete at once) or 7 to 30 days."""


def check_recovery_window(days: int) -> None:
    """Raise ``ValueError`` naming ``days`` and what Secrets Manager takes, unless it is one of those."""
    if days not in RECOVERY_WINDOW_DAYS:
        raise ValueError(
            f"recovery_window_days={days!r} is invalid: Secrets Manager takes 0 (delete at once) or 7 to 30 days. "
            "Pass one of those."
        )
