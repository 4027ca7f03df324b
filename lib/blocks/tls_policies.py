"""The TLS settings the stack's two public endpoints enforce, as plain data.

Written once because two readers must agree: ``lib/components/compute.py`` (the ALB's HTTPS listener) and
``lib/components/frontend.py`` (the distribution's viewer certificate) set them, and ``make verify-deployment``
(``tools/deploy/verify.py``) reads them back from the deployed stack. No cdktf import: tools read it without a
jsii kernel.
"""

from __future__ import annotations

# The ALB listener's policy: TLS 1.3 and 1.2, AEAD suites only (GCM, ChaCha20): no CBC (PCI DSS 4.2.1).
ALB_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
# Strict-Transport-Security on every ALB response (PCI DSS 4.2.1): browsers refuse plain HTTP to the API's name for a
# year. No preload: adding a domain to the browsers' preload list is the domain owner's decision.
ALB_HSTS_HEADER = "max-age=31536000; includeSubDomains"
# The listener attribute that carries it (DescribeListenerAttributes).
ALB_HSTS_ATTRIBUTE = "routing.http.response.strict_transport_security.header_value"
# The distribution's minimum viewer protocol with the operator's certificate (FRONTEND_DOMAIN): TLS 1.2, and only
# the 2021 policy's strong ciphers. CloudFront's default *.cloudfront.net certificate cannot pin it (TLS 1.0).
CLOUDFRONT_MINIMUM_PROTOCOL = "TLSv1.2_2021"
