"""Integration tests: the deployed stack, checked through the AWS API.

They run against the sandbox emulator that ``make sandbox`` starts (``python -m tools.sandbox``), which
applies the stack, writes ``cfn-outputs/flat-outputs.json`` and then runs this folder with:

* ``SANDBOX_ENDPOINT_URL`` - the emulator; every boto3 client here is pointed at it with test keys;
* ``SANDBOX_OUTPUTS_FILE`` - the outputs file (default ``cfn-outputs/flat-outputs.json``);
* ``ENVIRONMENT_SUFFIX`` - the stack suffix (the outputs file is keyed ``TapStack<suffix>``);
* ``SANDBOX_CERTIFICATE_ARN`` - the certificate the runner imported for the HTTPS listener;
* ``SANDBOX_INTEGRATION_REQUIRED=1`` - fail instead of skipping when something is missing.

The outputs file only tells the tests *which* resources to look at; every property is read back from
the API. Without a running sandbox (``pytest tests/`` on a developer machine or in CI) every test here
is skipped with the reason, so the suite stays green.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from lib.config import StackConfig  # no cdktf import: cheap
from tools.sandbox.deployer_roles import SandboxRole, session_environment
from tools.sandbox.emulator import client, is_reachable

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUTS_FILE = ROOT / "cfn-outputs" / "flat-outputs.json"

ClientFactory = Callable[[str], Any]


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail when the sandbox runner asked for the tests to really run."""
    if os.environ.get("SANDBOX_INTEGRATION_REQUIRED") == "1":
        pytest.fail(f"integration tests required but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def endpoint() -> str:
    """The running emulator's endpoint; skips the test when there is none."""
    url = os.environ.get("SANDBOX_ENDPOINT_URL", "").strip()
    if not url:
        _unavailable("no sandbox running: SANDBOX_ENDPOINT_URL is not set (`make sandbox` runs these tests)")
    if not is_reachable(url):
        _unavailable(f"no sandbox running: nothing answers at SANDBOX_ENDPOINT_URL={url}")
    return url


@pytest.fixture(scope="session")
def expected() -> StackConfig:
    """The configuration the stack was synthesized with (same environment as the runner's synth)."""
    return StackConfig.from_env()


@pytest.fixture(scope="session")
def stack_outputs(endpoint: str, expected: StackConfig) -> dict[str, Any]:
    """This stack's outputs from the outputs file (``{"TapStack<suffix>": {...}}``)."""
    del endpoint  # only ordering: no outputs are trusted without a live sandbox
    path = Path(os.environ.get("SANDBOX_OUTPUTS_FILE") or DEFAULT_OUTPUTS_FILE)
    if not path.is_file():
        _unavailable(f"no outputs file at {path} (written by `make sandbox` after apply)")
    document = json.loads(path.read_text(encoding="utf-8"))
    if expected.stack_name not in document:
        _unavailable(f"{path} has no outputs for {expected.stack_name} (it has: {', '.join(document) or 'none'})")
    return dict(document[expected.stack_name])


@pytest.fixture(scope="session")
def aws(endpoint: str, expected: StackConfig) -> ClientFactory:
    """``aws("ec2")`` -> a cached boto3 client on the emulator in the stack's region."""
    cache: dict[str, Any] = {}

    def factory(service: str) -> Any:
        if service not in cache:
            cache[service] = client(service, endpoint, expected.aws_region)
        return cache[service]

    return factory


@pytest.fixture(scope="session")
def output(stack_outputs: dict[str, Any]) -> Callable[[str], Any]:
    """``output("vpc_id")`` -> the value, failing with the list of known outputs when it is missing."""

    def get(name: str) -> Any:
        if name not in stack_outputs:
            pytest.fail(f"output {name!r} missing; outputs are: {', '.join(sorted(stack_outputs))}")
        return stack_outputs[name]

    return get


@pytest.fixture(scope="session")
def as_role(endpoint: str, expected: StackConfig) -> Callable[[SandboxRole, str], Any]:
    """``as_role(DEPLOYER, "s3")`` -> a boto3 client on the emulator signing as a new session of that sandbox role
    (``tools/sandbox/deployer_roles.py``); ``aws`` signs with the emulator's static test key, which is no deployer."""
    import boto3  # pylint: disable=import-outside-toplevel

    def factory(role: SandboxRole, service: str) -> Any:
        credentials = session_environment(client("sts", endpoint, expected.aws_region), role, "integration-test")
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=expected.aws_region,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
        )

    return factory
