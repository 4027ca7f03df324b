"""API paths the stack must know as well as the service: one spelling of each.

- :data:`STRIPE_WEBHOOK` is where Stripe delivers signed events (API.md v1.2, "Processor"): the service serves it,
  and the API's web ACL lets a body over 8 KB through on it alone (``lib/components/waf.py``, ``BodyOver8KB``).
- :data:`CSP_REPORTS` is where browsers send the payment page's CSP violation reports (API.md v1.2, Endpoints): the
  page's CSP names it (``report-to``, ``lib/blocks/web_headers.py``), and the API's web ACL rate-limits it per source
  IP (``lib/components/waf.py``): it takes no Idempotency-Key and no operator, so anyone may post to it.
"""

from __future__ import annotations

STRIPE_WEBHOOK = "/v1/webhooks/stripe"
CSP_REPORTS = "/v1/csp-reports"
