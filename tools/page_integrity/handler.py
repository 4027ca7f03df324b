"""The Lambda entry point: check the page, log every difference, publish their number as a metric.

Its environment (set by ``lib/components/page_watch.py``): ``PAGE_URL`` (the page's CloudFront URL),
``EXPECTED_HEADERS`` (JSON: the headers ``lib/blocks/web_headers.py`` gives the page), ``METRIC_NAMESPACE``.
The manifest is read through CloudFront too (``<PAGE_URL>/integrity-manifest.json``): the function needs no access
to the bucket or its key, and only the named deployers may write the object (the bucket policy) while every write
alerts the on-call topic (the object-event rule). A manifest that cannot be read counts as one difference; a
function that stops running publishes nothing, which the alarm treats as breaching.
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


def run(environ: Mapping[str, str], fetcher: Fetch = fetch) -> list[Difference]:
    """The differences of the page named by ``environ`` (``PAGE_URL``, ``EXPECTED_HEADERS``)."""
    base = environ["PAGE_URL"].rstrip("/")
    expected = json.loads(environ["EXPECTED_HEADERS"])
    manifest_url = f"{base}/{MANIFEST_KEY}"
    try:
        answer = fetcher(manifest_url)
        if answer.status != 200:
            raise ManifestError(f"GET answered {answer.status}")
        manifest = Manifest.from_json(answer.body.decode("utf-8", errors="replace"))
    except (OSError, ManifestError) as error:
        return [Difference(kind="manifest", where=manifest_url, detail=str(error))]
    return check_page(base, manifest, expected, fetcher)


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
