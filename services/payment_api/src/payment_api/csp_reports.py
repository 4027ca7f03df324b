"""``POST /v1/csp-reports``: the payment page's Content-Security-Policy violation reports (API.md v1.2, Endpoints).

The browser sends them with the Reporting API (``application/reports+json``: a JSON array of reports, each
``{"type", "age", "url", "user_agent", "body"}``); there is no Idempotency-Key (a report changes nothing) and the
answer is ``204``. The body passes the same checks as every other (64 KiB, the JSON limits, card data first).

What is kept: one log line (``payment_api.csp``) per ``csp-violation`` report, at most ``MAX_LOGGED`` per request,
with the violated directive, the disposition and the blocked resource reduced to its origin (or the keyword a
browser gives for inline code, ``eval`` and the like). Never a whole URL (a path or query may hold anything), the
page's URL, the script sample or the user agent: a report is untrusted input written by anyone who can post.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from payment_api.problems import ProblemError

LOG = logging.getLogger("payment_api.csp")
MEDIA_TYPE = "application/reports+json"
MAX_LOGGED = 20
_DIRECTIVE = re.compile(r"[a-z][a-z-]{0,39}")
_KEYWORD = re.compile(r"[a-z][a-z-]{0,19}")  # "inline", "eval", "wasm-eval", "trusted-types-policy", ...
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,19}")
_DISPOSITION = re.compile(r"enforce|report")


class Report(BaseModel):
    """One report of the Reporting API; only ``csp-violation`` reports are read, other types are accepted and
    ignored (a browser may send several types to the same endpoint)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="The report type; `csp-violation` reports are logged, others ignored.")
    body: dict[str, Any] = Field(description="The report's body (for a CSP violation: effectiveDirective, ...).")


def request_schema() -> dict[str, Any]:
    """The OpenAPI schema of the body: an array of ``Report`` objects (at most what 64 KiB can hold)."""
    return {"type": "array", "items": Report.model_json_schema()}


def _origin(value: Any) -> str | None:
    """The blocked resource as its origin (``https://cdn.example``) or a browser keyword (``inline``); None for
    anything else, which is then not logged."""
    if not isinstance(value, str):
        return None
    if _KEYWORD.fullmatch(value):
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if _SCHEME.fullmatch(parts.scheme) and _HOST.fullmatch(parts.netloc):
        return f"{parts.scheme}://{parts.netloc}"
    return None


def _field(body: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def record(body: Any) -> int:
    """Log the CSP violations of a parsed body (card data already refused by the caller); returns how many were
    logged. ``400 validation_failed`` when the body is not an array of reports."""
    if not isinstance(body, list) or not all(
        isinstance(report, dict) and isinstance(report.get("type"), str) and isinstance(report.get("body"), dict)
        for report in body
    ):
        raise ProblemError(
            "validation_failed",
            "The body must be a Reporting API report list.",
            [{"field": "body", "message": 'must be a JSON array of {"type": <string>, "body": <object>, ...}'}],
        )
    violations = [report["body"] for report in body if report["type"] == "csp-violation"]
    for violation in violations[:MAX_LOGGED]:
        LOG.info(
            "csp violation",
            extra={
                "fields": {
                    "directive": _field(violation, "effectiveDirective", _DIRECTIVE),
                    "disposition": _field(violation, "disposition", _DISPOSITION),
                    "blocked": _origin(violation.get("blockedURL")),
                }
            },
        )
    return min(len(violations), MAX_LOGGED)
