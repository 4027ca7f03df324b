"""API paths the stack must know as well as the service: one spelling of each.

- :data:`STRIPE_WEBHOOK` is where Stripe delivers signed events (API.md v1.2, "Processor"): the service serves it,
  and the API's web ACL lets a body over 8 KB through on it alone (``lib/components/waf.py``, ``BodyOver8KB``).
"""

from __future__ import annotations

STRIPE_WEBHOOK = "/v1/webhooks/stripe"
