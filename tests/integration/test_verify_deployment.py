"""``make verify-deployment`` on the applied sandbox stack: the real command, then once more with the ALB's web ACL
taken away through the API, which it must report as a failure; the association is then restored exactly as it was
(the drift plan after these tests must stay empty)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WAF_CHECK = "WAF: ALB association"


def _verify_deployment() -> subprocess.CompletedProcess[str]:
    """``make verify-deployment`` with this process's environment (the emulator, the stack's settings)."""
    return subprocess.run(
        ["make", "--no-print-directory", "verify-deployment"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_verify_deployment_passes_then_fails_without_the_alb_web_acl(
    aws: Callable[[str], Any], output: Callable[[str], Any]
) -> None:
    first = _verify_deployment()
    report = first.stdout + first.stderr
    assert first.returncode == 0, report
    assert f"[passed] {WAF_CHECK}" in first.stdout and "[failed]" not in first.stdout, report
    assert "[passed] TLS policy: ALB listener" in first.stdout and "[passed] HSTS: ALB listener" in first.stdout
    assert "[needs a real account] target health" in first.stdout, report

    alb, web_acl = output("alb_arn"), output("waf_web_acl_arn")
    wafv2 = aws("wafv2")
    assert wafv2.get_web_acl_for_resource(ResourceArn=alb)["WebACL"]["ARN"] == web_acl
    wafv2.disassociate_web_acl(ResourceArn=alb)
    try:
        second = _verify_deployment()
    finally:
        wafv2.associate_web_acl(WebACLArn=web_acl, ResourceArn=alb)
    report = second.stdout + second.stderr
    assert second.returncode != 0, report
    assert f"[failed] {WAF_CHECK}: no web ACL protects the ALB" in second.stdout, report
    assert f"associate-web-acl --region {aws('wafv2').meta.region_name} --web-acl-arn {web_acl}" in second.stdout
    assert wafv2.get_web_acl_for_resource(ResourceArn=alb)["WebACL"]["ARN"] == web_acl
