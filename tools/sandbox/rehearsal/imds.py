"""The boot rehearsal's instance metadata service: IMDSv2 at 169.254.169.254, inside the rehearsal's network namespace.

    python -m tools.sandbox.rehearsal.imds <settings.json>     # started by the harness with `ip netns exec`

Serves what the user data and the AWS CLI read on an instance: a session token (``PUT /latest/api/token``), then,
only with that token (the launch template sets ``http_tokens = required``), ``meta-data/instance-id``,
``meta-data/placement/region`` and ``availability-zone``, and the instance role's credentials under
``meta-data/iam/security-credentials/<role>`` (assumed from the emulator by the harness). A request without a
valid token gets 401, as on an instance.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

ADDRESS = "169.254.169.254"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"


def metadata_paths(settings: dict[str, Any]) -> dict[str, str]:
    """Path (after ``/latest/``) -> body, from the harness's settings."""
    credentials = json.dumps(
        {
            "Code": "Success",
            "LastUpdated": settings["credentials"]["LastUpdated"],
            "Type": "AWS-HMAC",
            "AccessKeyId": settings["credentials"]["AccessKeyId"],
            "SecretAccessKey": settings["credentials"]["SecretAccessKey"],
            "Token": settings["credentials"]["Token"],
            "Expiration": settings["credentials"]["Expiration"],
        }
    )
    role = settings["role_name"]
    return {
        "meta-data/instance-id": settings["instance_id"],
        "meta-data/placement/region": settings["region"],
        "meta-data/placement/availability-zone": settings["availability_zone"],
        "meta-data/iam/security-credentials/": role,
        f"meta-data/iam/security-credentials/{role}": credentials,
    }


class Handler(BaseHTTPRequestHandler):
    """IMDSv2: tokens by PUT, metadata by GET with a live token."""

    paths: ClassVar[dict[str, str]] = {}
    tokens: ClassVar[dict[str, float]] = {}

    def do_PUT(self) -> None:  # pylint: disable=invalid-name  # http.server's name
        if self.path != "/latest/api/token" or not self.headers.get(TOKEN_TTL_HEADER, "").isdigit():
            self._answer(400, "")
            return
        token = secrets.token_urlsafe(32)
        self.tokens[token] = time.monotonic() + int(self.headers[TOKEN_TTL_HEADER])
        self._answer(200, token)

    def do_GET(self) -> None:  # pylint: disable=invalid-name  # http.server's name
        expiry = self.tokens.get(self.headers.get(TOKEN_HEADER, ""), 0.0)
        if expiry < time.monotonic():
            self._answer(401, "")
            return
        body = self.paths.get(self.path.removeprefix("/latest/"))
        self._answer(404 if body is None else 200, body or "")

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin  # base signature
        sys.stderr.write(f"imds: {self.command} {self.path.split('?')[0]} -> {args[1] if len(args) > 1 else ''}\n")


def main(argv: list[str]) -> int:
    settings = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Handler.paths = metadata_paths(settings)
    server = ThreadingHTTPServer((ADDRESS, 80), Handler)
    print(f"imds: serving {settings['instance_id']} on {ADDRESS}:80", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
