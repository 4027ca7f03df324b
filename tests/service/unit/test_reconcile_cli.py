"""``payment-api reconcile``'s duration arguments."""

from __future__ import annotations

import argparse

import pytest
from payment_api.cli import duration


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60.0), ("60", 60.0), ("2m", 120.0), ("500ms", 0.5), ("0s", 0)])
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1h", "-5s", "1.5s", "s", "60 s", "\uff11\uff10s"])
def test_a_bad_duration_names_the_value_and_the_allowed_form(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"not a duration: give a whole number .* ms, s or m"):
        duration(text)
