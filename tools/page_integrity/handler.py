"""The Lambda entry point: check the page, log every difference, publish their number as a metric.

Its environment (set by ``lib/components/page_watch.py``): ``PAGE_URL`` (the page's CloudFront URL),
``FRONTEND_BUCKET`` (the page's bucket), ``EXPECTED_HEADERS`` (JSON: the headers ``lib/blocks/web_headers.py`` gives
the page), ``EXPECTED_CONFIG`` (the ``config.json`` the stack writes), ``METRIC_NAMESPACE``.

What it trusts: the manifest is read from the bucket itself (``s3:GetObject`` on that one key, the frontend key's
``kms:Decrypt`` through S3 only), never through CloudFront. Whoever can change what CloudFront serves without writing
the bucket (the distribution's origin, an edge function) could serve a skimmer with a manifest written for it; only
the named deployers may write the bucket's objects (its policy) and every write alerts the on-call topic (the
object-event rule). The page, its scripts and ``config.json`` are fetched through CloudFront, as a browser gets them.
A manifest that cannot be read counts as one difference; a function that stops running publishes nothing, which the
alarm treats as breaching.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from .check import Difference, Fetch, check_page, fetch
from .manifest import MANIFEST_KEY, Manifest, ManifestError

METRIC_NAME = "PageDifferences"

Publish = Callable[[str, int], None]
ReadObject = Callable[[str, str], bytes]
"""``(bucket, key) -> bytes``; raises ``ManifestError`` when the object cannot be read."""


def read_s3_object(bucket: str, key: str) -> bytes:
    """The object's bytes, read with the function's own role (boto3 is the Lambda runtime's)."""
    # pylint: disable-next=import-outside-toplevel  # the Lambda runtime's; nothing else of the package needs it
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError  # pylint: disable=import-outside-toplevel

    try:
        return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except (BotoCoreError, ClientError) as error:
        raise ManifestError(
            f"cannot be read ({error}). Fix: run `make deploy-frontend`, which writes it; if it is there, the "
            "function's role needs s3:GetObject on it and kms:Decrypt on the frontend key "
            "(lib/components/page_watch.py)"
        ) from error


def run(
    environ: Mapping[str, str], fetcher: Fetch = fetch, read_object: ReadObject = read_s3_object
) -> list[Difference]:
    """The differences of the page named by ``environ`` (``PAGE_URL``, ``FRONTEND_BUCKET``, ``EXPECTED_HEADERS``,
    ``EXPECTED_CONFIG``)."""
    bucket = environ["FRONTEND_BUCKET"]
    expected = json.loads(environ["EXPECTED_HEADERS"])
    try:
        manifest = Manifest.from_json(read_object(bucket, MANIFEST_KEY).decode("utf-8", errors="replace"))
    except ManifestError as error:
        return [Difference(kind="manifest", where=f"s3://{bucket}/{MANIFEST_KEY}", detail=str(error))]
    return check_page(
        environ["PAGE_URL"], manifest, expected, expected_config=environ["EXPECTED_CONFIG"], fetcher=fetcher
    )


def _cloudwatch_publish(namespace: str, value: int) -> None:
    import boto3  # pylint: disable=import-outside-toplevel  # the Lambda runtime's; the tests pass their own

    boto3.client("cloudwatch").put_metric_data(
        Namespace=namespace, MetricData=[{"MetricName": METRIC_NAME, "Value": value, "Unit": "Count"}]
    )


def main(environ: Mapping[str, str], fetcher: Fetch = fetch, publish: Publish = _cloudwatch_publish) -> dict[str, Any]:
    """Check, print each difference (the function's log group keeps them), publish their number."""
    differences = run(environ, fetcher)
    for difference in differences:
        print(f"page-integrity difference: {difference}")
    publish(environ["METRIC_NAMESPACE"], len(differences))
    return {"differences": [str(d) for d in differences]}


def handler(event: object, context: object) -> dict[str, Any]:
    """What Lambda calls (``page_integrity.handler.handler``); the scheduled event carries nothing needed."""
    del event, context
    return main(os.environ)
