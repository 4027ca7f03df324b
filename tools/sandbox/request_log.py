"""WSGI middleware in front of moto: one line per request served, naming its service, operation and region.

Why. The deploying identity's policy (docs/deployer-policy.json) is tested against what a plan, an apply, a
second plan and a destroy really call, not against a list someone remembered. moto's werkzeug access log only
says ``POST / 200``; this log says ``request ec2 CreateVpc eu-west-1 200 -``.

Line format (space separated, one write per line, in the moto log next to moto's own lines)::

    request <service> <operation> <region> <status> <resource> by=<caller>

* ``service``: the SigV4 signing name of the credential scope (``ec2``, ``elasticloadbalancing``,
  ``monitoring``, ``s3``), ``-`` for an unsigned request (the emulator's own ``/moto-api``).
* ``operation``: the API operation. Query-protocol services name it in the form body (``Action=``), JSON
  services in ``X-Amz-Target``, RPC-v2-CBOR services in the path (``/service/<name>/operation/<op>``);
  REST services (S3, CloudFront, Route 53) by method, path and query, matched against botocore's model of
  the service (``HEAD /{Bucket}`` is ``HeadBucket``, ``PUT /{Bucket}?encryption`` is ``PutBucketEncryption``).
  ``?`` when no operation of the model matches (the method and path follow the resource column then).
* ``region``: the credential scope's region (``-`` unsigned).
* ``status``: the HTTP status answered.
* ``resource``: what the policy's resource scoping needs, ``-`` when not read: for S3 ``<bucket>`` or
  ``<bucket>/<key>``; for IAM ``role/<name>``, ``instance-profile/<name>``, ``policy/<name>`` or
  ``aws-service-role/<service>/<role name>``; for Secrets Manager ``secret:<name>`` (the ``SecretId`` or ``Name``
  the call names; from an ARN with its random suffix).
* ``by=<caller>``: who signed it: ``assumed-role/<role>/<session>`` for a session the emulator's AssumeRole issued
  (an instance's is named by its instance id: ``assumed-role/payment-api-role-sandbox/i-0abc...``), else the access
  key id; ``by=-`` unsigned. So the log tells an instance's reads from the deployer's and the launcher's.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

from tools.sandbox.client_tokens import CREDENTIAL_SCOPE, identify

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Presigned URLs carry the scope in the query string: X-Amz-Credential=<key>/<date>/<region>/<service>/aws4_request.
QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request$")
CBOR_PATH = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")
REST_PROTOCOLS = ("rest-xml", "rest-json")
# The role names AWS gives a service-linked role (IAM User Guide, "AWS services that work with IAM").
SERVICE_LINKED_ROLE_NAMES = {
    "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "rds.amazonaws.com": "AWSServiceRoleForRDS",
}
# Operations a request to this endpoint never is: S3's ListDirectoryBuckets has ListBuckets' URI (GET /) but is
# served by the S3 Express control endpoint.
OTHER_ENDPOINT_OPERATIONS = frozenset({"ListDirectoryBuckets"})
# AddRoleToInstanceProfile names both; IAM authorizes it on the instance profile.
IAM_NAME_PARAMETERS = (("InstanceProfileName", "instance-profile/"), ("RoleName", "role/"))


@dataclass(frozen=True, kw_only=True)
class RestOperation:
    """One REST operation of a botocore model: method, path pattern and the query keys its URI requires."""

    name: str
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # (key, required value or None)
    headers: tuple[str, ...]  # required header members, as WSGI keys (HTTP_X_AMZ_COPY_SOURCE)
    literal_length: int  # longer literal paths win over shorter ones (``/{Bucket}`` vs ``/``)
    x_id: bool  # the model names it with ``x-id``: it shares its URI with another operation, which wins a tie
    deprecated: bool  # an older name for the same URI (GetBucketLifecycle): the current one wins a tie


def _rest_operation(name: str, http: dict[str, str], input_shape: Any, deprecated: bool) -> RestOperation:
    """The operation's URI as a pattern, plus the query keys and headers it requires. ``x-id`` is left out: the
    model names it, the SDKs do not send it."""
    uri = http["requestUri"]
    path, _, query = uri.partition("?")
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            pattern += ".+" if piece.endswith("+}") else "[^/]+"
        else:
            pattern += re.escape(piece)
    keys: list[tuple[str, str | None]] = []
    x_id = False
    for item in filter(None, query.split("&")):
        key, equals, value = item.partition("=")
        if key == "x-id":
            x_id = True
        else:
            keys.append((key, value if equals else None))
    headers = []
    for member in getattr(input_shape, "required_members", []) if input_shape is not None else []:
        shape = input_shape.members[member]
        location, location_name = shape.serialization.get("location"), shape.serialization.get("name", member)
        if location == "querystring":
            keys.append((location_name, None))
        elif location == "header":
            headers.append("HTTP_" + location_name.upper().replace("-", "_"))
    literal = len(re.sub(r"\{[^}]+\}", "", path))
    # A trailing slash is optional both ways: Route 53's model writes ``.../rrset/``, boto3 sends ``.../rrset``.
    return RestOperation(
        name=name,
        method=http["method"],
        path=re.compile(f"^{pattern.removesuffix('/')}/?$"),
        query=tuple(keys),
        headers=tuple(headers),
        literal_length=literal,
        x_id=x_id,
        deprecated=deprecated,
    )


_MODEL_LOCK = threading.Lock()


@cache
def rest_operations(signing_name: str) -> tuple[RestOperation, ...]:
    """The REST operations of the botocore service named like the signing name (empty for other protocols)."""
    import botocore.session  # pylint: disable=import-outside-toplevel  # moto's own dependency
    from botocore.exceptions import UnknownServiceError  # pylint: disable=import-outside-toplevel

    with _MODEL_LOCK:
        try:
            model = botocore.session.get_session().get_service_model(signing_name)
        except UnknownServiceError:
            return ()
    if model.protocol not in REST_PROTOCOLS:
        return ()
    # botocore's operation_names is a cached property (a list), which pylint cannot see.
    names: list[str] = list(model.operation_names)  # pylint: disable=not-an-iterable
    operations = (model.operation_model(name) for name in names if name not in OTHER_ENDPOINT_OPERATIONS)
    return tuple(
        _rest_operation(operation.name, operation.http, operation.input_shape, bool(operation.deprecated))
        for operation in operations
    )


def rest_operation(
    signing_name: str, method: str, path: str, query: dict[str, list[str]], headers: Container[str] = ()
) -> str | None:
    """The REST operation a request is, or None: of the operations whose method, path, required query keys and
    required headers match, the one that requires the most, then the longest literal path, then one the model does
    not mark with ``x-id``, then one not deprecated (``GET /{Bucket}?lifecycle`` is GetBucketLifecycleConfiguration,
    not the deprecated GetBucketLifecycle)."""
    candidates = []
    for operation in rest_operations(signing_name):
        if operation.method != method or not operation.path.match(path):
            continue
        if all(key in query and (value is None or value in query[key]) for key, value in operation.query) and all(
            header in headers for header in operation.headers
        ):
            score = (
                len(operation.query) + len(operation.headers),
                operation.literal_length,
                not operation.x_id,
                not operation.deprecated,
            )
            candidates.append((score, operation.name))
    return max(candidates)[1] if candidates else None


def _scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(region, signing name) from the Authorization header or a presigned URL's X-Amz-Credential."""
    match = CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if match:
        return match.group(1), match.group(2)
    credential = parse_qs(str(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential")
    presigned = QUERY_SCOPE.match(credential[0]) if credential else None
    return (presigned.group(1), presigned.group(2)) if presigned else None


# The access key id of a SigV4 Authorization header, or of a presigned URL's X-Amz-Credential.
ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


def caller(environ: dict[str, Any]) -> str:
    """Who signed the request: the assumed-role session the emulator issued its access key to
    (``assumed-role/<role>/<session>``), else the access key id; ``-`` unsigned."""
    match = ACCESS_KEY.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    credential = parse_qs(str(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential")
    key = match.group(1) if match else credential[0].split("/", 1)[0] if credential else None
    if not key:
        return "-"
    from moto.sts.models import sts_backends  # pylint: disable=import-outside-toplevel  # inside the emulator only

    for account in list(sts_backends):
        for backend in list(sts_backends[account].values()):
            session = backend.get_assumed_role_from_access_key(key)
            if session is not None:
                return str(session.arn).split(":", 5)[5]
    return key


def _iam_resource(operation: str, params: Any) -> str:
    """The IAM resource a query call names (role, instance profile, policy, service-linked role)."""

    def first(key: str) -> str | None:
        values = params.get(key) if isinstance(params, dict) else None
        return str(values[0]) if values else None

    if operation == "CreateServiceLinkedRole":
        service = first("AWSServiceName") or ""
        suffix = first("CustomSuffix")
        name = SERVICE_LINKED_ROLE_NAMES.get(service, "?") + (f"_{suffix}" if suffix else "")
        return f"aws-service-role/{service}/{name}"
    for key, prefix in IAM_NAME_PARAMETERS:
        value = first(key)
        if value:
            return prefix + value
    policy_arn = first("PolicyArn")
    if policy_arn:
        return "policy/" + policy_arn.rsplit("/", 1)[-1]
    return "-"


def _secret_resource(params: Any) -> str:
    """The secret a Secrets Manager (JSON) call names: ``secret:<name>``, ``-`` when it names none
    (GetRandomPassword, ListSecrets)."""
    named = params.get("SecretId") or params.get("Name") if isinstance(params, dict) else None
    if not isinstance(named, str) or not named:
        return "-"
    return "secret:" + (named.split(":secret:", 1)[1] if named.startswith("arn:") else named)


def _call_resource(service: str, operation: str, params: Any) -> str:
    if service == "iam":
        return _iam_resource(operation, params)
    if service == "secretsmanager":
        return _secret_resource(params).replace(" ", "%20")
    return "-"


def describe_request(environ: dict[str, Any]) -> tuple[str, str, str, str]:
    """(service, operation, region, resource) of a request, as the log line shows them."""
    method, path = str(environ.get("REQUEST_METHOD", "")), str(environ.get("PATH_INFO", "")) or "/"
    scope = _scope(environ)
    if scope is None:
        return "-", "?", "-", f"- {method} {path}"
    region, service = scope
    call = identify(environ)
    if call is not None:
        return service, call.operation, region, _call_resource(service, call.operation, call.params)
    cbor = CBOR_PATH.match(path)
    if cbor:
        return service, cbor.group(1), region, "-"
    query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    operation = rest_operation(service, method, path, query, environ)
    resource = "-"
    if service == "s3" and path != "/":
        resource = unquote(path.lstrip("/")).rstrip("/") or "-"
    if operation is None:
        return service, "?", region, f"{resource} {method} {path}"
    return service, operation, region, resource.replace(" ", "%20")


class RequestLog:  # pylint: disable=too-few-public-methods
    """Print ``request <service> <operation> <region> <status> <resource> by=<caller>`` for every request answered."""

    def __init__(self, app: WsgiApp, write: Callable[[str], Any] | None = None) -> None:
        self.app = app
        self.write = write

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, str] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            captured["status"] = status
            return start_response(status, headers, *args)

        try:
            return list(self.app(environ, capture))
        finally:
            service, operation, region, resource = describe_request(environ)
            status = captured.get("status", "none").split(" ", 1)[0]
            line = f"request {service} {operation} {region} {status} {resource} by={caller(environ)}\n"
            if self.write is not None:
                self.write(line)
            else:
                # One write per line: werkzeug's request threads share the log.
                sys.stdout.write(line)
                sys.stdout.flush()
