"""The payment page's scheduled integrity check (PCI DSS 6.4.3, 11.6.1), packaged as the stack's Lambda function.

``make deploy-frontend`` writes the manifest (``manifest.py``: the sha256 of ``index.html`` and of every script of
the build) beside the build; the function (``handler.py``) reads that manifest from the bucket (never through the
CloudFront it checks), fetches the page, its scripts and ``config.json`` through CloudFront hourly, compares them
(``check.py``, the page's scripts parsed by ``page.py``) with the manifest and with the security headers and
``config.json`` the stack expects (``lib/blocks/web_headers.py``, given to the function by the stack), and publishes
the number of differences as a metric a CloudWatch alarm watches.

Standard library only, relative imports only: ``lib/components/page_watch.py`` zips this directory as the
function's code (boto3, for the metric and the manifest, is the Lambda runtime's own).
"""
