"""The CSP report recorder keeps an origin or a browser keyword of the blocked resource, nothing else of it."""

from __future__ import annotations

import pytest
from payment_api.csp_reports import _origin, record  # pylint: disable=protected-access  # the reduction itself
from payment_api.problems import ProblemError


@pytest.mark.parametrize(
    ("blocked", "kept"),
    [
        ("https://cdn.example.com/a.js?token=x", "https://cdn.example.com"),
        ("wss://socket.example:8443/path", "wss://socket.example:8443"),
        ("inline", "inline"),
        ("eval", "eval"),
        ("data", "data"),
        ("https://user:password@host.example/", None),  # credentials in the authority: not an origin to log
        ("javascript:alert(1)", None),
        ("https://[::1", None),
        ("x" * 30, None),
        (5, None),
        (None, None),
    ],
)
def test_the_blocked_resource_is_reduced_to_its_origin(blocked: object, kept: str | None) -> None:
    assert _origin(blocked) == kept


def test_only_csp_violations_count() -> None:
    assert record([{"type": "csp-violation", "body": {}}, {"type": "intervention", "body": {}}]) == 1
    with pytest.raises(ProblemError):
        record({"type": "csp-violation", "body": {}})
