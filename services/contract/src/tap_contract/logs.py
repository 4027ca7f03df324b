"""Service log lines the stack watches: one spelling of each logger and event the security alerts' metric filters
match (``lib/components/security_alerts.py``). Every service log line is one JSON object with ``logger`` and
``message`` (``payment_api.logs.JsonFormatter``).

- :data:`ACCESS_LOGGER` writes one line per request, with the answer's ``status`` as a number: the ``401`` burst
  alert counts the lines whose status is :data:`UNAUTHENTICATED_STATUS`.
- :data:`REFUNDS_LOGGER` writes :data:`REFUND_CREATED` once per refund the service reserves (its row is created),
  never for an idempotent replay of the same request; the line holds the refund's and the payment's ids only (no
  amount, reason, body or token). The refunds-per-hour alert counts these lines.
"""

from __future__ import annotations

ACCESS_LOGGER = "payment_api.access"
UNAUTHENTICATED_STATUS = 401
REFUNDS_LOGGER = "payment_api.refunds"
REFUND_CREATED = "refund created"
