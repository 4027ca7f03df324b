"""An operator's token from their own AWS session (issue 27; docs/operating.md, "Refunding as an operator").

    python -m tools.operator_token --api https://api.example.com [--profile payment-operator] [--region us-east-1]

The credentials are botocore's usual chain (``--profile``, ``AWS_PROFILE``, the environment): they must be a session of
the stack's operator role (``operator_role_arn`` in the stack's outputs), assumed with MFA and a SourceIdentity equal to
your IAM user name (an AWS CLI profile with ``role_arn``, ``mfa_serial`` and ``source_identity`` does both). It signs an
``sts:GetCallerIdentity`` POST for the region's STS host with SigV4 (botocore: nothing is sent to STS from here), hands
it to the API's ``POST /v1/operator-tokens`` in Vault's AWS-auth form, and prints ``Operator key: <token>`` (one hour;
the identity and the expiry go to stderr). ``--sts-endpoint`` signs for another host: the emulator's, outside
production only (a production API refuses any host but ``sts.<region>.amazonaws.com``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import Session

PROOF_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def sts_endpoint(region: str) -> str:
    """The region's STS endpoint, the only host a production API forwards proofs to."""
    return f"https://sts.{region}.amazonaws.com"


def signed_proof(credentials: Credentials, region: str, endpoint: str | None = None) -> dict[str, str]:
    """A SigV4-signed ``sts:GetCallerIdentity`` POST for ``endpoint`` (@default the region's STS host), in the body
    ``POST /v1/operator-tokens`` takes: the method, and base64 of the URL, the headers (JSON) and the body."""
    url = f"{(endpoint or sts_endpoint(region)).rstrip('/')}/"
    request = AWSRequest(
        method="POST",
        url=url,
        data=PROOF_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": urlsplit(url).netloc},
    )
    SigV4Auth(credentials, "sts", region).add_auth(request)
    headers = {name: str(value) for name, value in request.headers.items()}
    return {
        "iam_http_request_method": "POST",
        "iam_request_url": base64.b64encode(url.encode()).decode(),
        "iam_request_headers": base64.b64encode(json.dumps(headers).encode()).decode(),
        "iam_request_body": base64.b64encode(PROOF_BODY.encode()).decode(),
    }


def request_token(api: str, proof: dict[str, str], timeout: float = 15) -> dict[str, Any]:
    """``POST /v1/operator-tokens`` on ``api``; the answer's JSON, or ``RuntimeError`` with the problem's detail."""
    answer = httpx.post(f"{api.rstrip('/')}/v1/operator-tokens", json=proof, timeout=timeout)
    if answer.status_code != 200:
        detail = answer.json().get("detail") if answer.headers.get("content-type", "").endswith("json") else ""
        raise RuntimeError(f"{api} refused the proof: {answer.status_code} {detail or answer.text[:300]}")
    return dict(answer.json())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", required=True, help="the payment API's base URL, e.g. https://api.example.com")
    parser.add_argument("--profile", help="the AWS profile of your operator-role session (default: botocore's chain)")
    parser.add_argument("--region", help="the stack's region (default: the profile's)")
    parser.add_argument("--sts-endpoint", help="sign for this STS endpoint instead (the emulator; not production)")
    args = parser.parse_args(argv)
    session = Session(profile=args.profile)
    credentials = session.get_credentials()
    region = args.region or session.get_config_variable("region")
    if credentials is None or not region:
        print(
            "operator-token: no AWS credentials or no region: give --profile (a profile of the operator role with "
            "mfa_serial and source_identity) and --region, or set them in the environment",
            file=sys.stderr,
        )
        return 2
    try:
        answer = request_token(args.api, signed_proof(credentials.get_frozen_credentials(), region, args.sts_endpoint))
    except (RuntimeError, httpx.HTTPError) as error:
        print(f"operator-token: {error}", file=sys.stderr)
        return 1
    print(f"operator-token: {answer['operator']} until {answer['expires_at']}", file=sys.stderr)
    print(f"Operator key: {answer['token']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
