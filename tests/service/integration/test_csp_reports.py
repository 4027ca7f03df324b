"""``POST /v1/csp-reports`` (API.md v1.2, Endpoints): the payment page's CSP violation reports, as the Reporting API
sends them (``application/reports+json``), without an Idempotency-Key, answered ``204``; the log keeps the violated
directive and the blocked origin, never a whole URL, the page, a sample or the user agent."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.service.integration.conftest import log_of
from tools.dev.local_api.process import ServiceProcess

REPORTS = "application/reports+json"


def violation(blocked: str, directive: str = "script-src-elem", **extra: Any) -> dict[str, Any]:
    return {
        "type": "csp-violation",
        "age": 10,
        "url": "https://pay.example.com/checkout?order=1042",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Probe/1.0",
        "body": {
            "documentURL": "https://pay.example.com/checkout?order=1042",
            "blockedURL": blocked,
            "effectiveDirective": directive,
            "disposition": "enforce",
            "sample": "console.log('secret sample')",
            "statusCode": 200,
            **extra,
        },
    }


def post(client: httpx.Client, body: Any, media_type: str = REPORTS, **headers: str) -> httpx.Response:
    return client.post(
        "/v1/csp-reports", content=json.dumps(body).encode(), headers={"Content-Type": media_type, **headers}
    )


def csp_lines(server: ServiceProcess) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in log_of(server).splitlines()
        if line.startswith("{") and '"logger":"payment_api.csp"' in line
    ]


def test_a_report_list_is_204_and_only_the_directive_and_origin_are_logged(
    client: httpx.Client, server: ServiceProcess
) -> None:
    marker = uuid.uuid4().hex
    before = len(csp_lines(server))
    answer = post(
        client,
        [
            violation(f"https://evil-{marker}.example:8443/x.js?leak={marker}"),
            violation("inline", "style-src-attr"),
            {"type": "deprecation", "body": {"id": "x"}},  # another report type: accepted, ignored
        ],
    )
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    lines = csp_lines(server)[before:]
    assert [(line["directive"], line["disposition"], line["blocked"]) for line in lines] == [
        ("script-src-elem", "enforce", f"https://evil-{marker}.example:8443"),
        ("style-src-attr", "enforce", "inline"),
    ]
    text = log_of(server)
    for secret in (f"leak={marker}", "secret sample", "Probe/1.0", "order=1042"):
        assert secret not in text


def test_at_most_20_violations_of_a_request_are_logged(client: httpx.Client, server: ServiceProcess) -> None:
    before = len(csp_lines(server))
    assert post(client, [violation("eval")] * 50).status_code == 204
    assert len(csp_lines(server)) - before == 20


def test_what_is_refused(client: httpx.Client) -> None:
    wrong_type = post(client, [violation("inline")], media_type="application/json")
    assert (wrong_type.status_code, wrong_type.json()["errors"][0]["field"]) == (400, "Content-Type")
    bodies: list[Any] = [{"csp-report": {}}, [{"type": "csp-violation"}], [1], "x"]
    for body in bodies:
        refused = post(client, body)
        assert (refused.status_code, refused.json()["code"]) == (400, "validation_failed"), body
    card = post(client, [violation("inline", sample="4242 4242 4242 4242")])
    assert (card.status_code, card.json()["code"]) == (400, "card_data_not_accepted")
    assert "4242" not in card.text
    assert post(client, [violation("x" * 70_000)]).status_code == 413
    not_allowed = client.get("/v1/csp-reports")
    assert (not_allowed.status_code, not_allowed.headers["Allow"]) == (405, "POST")
