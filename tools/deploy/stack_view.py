"""What the account preflight reads off a synthesized stack and its state: the values that will really be applied.

- a resource's region is its provider's (``provider = "aws.us_east_1"`` names an aliased provider block);
- a variable's value is the tfvars file's, else the variable's default in the stack (Terraform's precedence for the
  two sources the deploy path uses);
- a literal resource name is resolved when its only references are variables, the account id
  (``data.aws_caller_identity``) or another resource's literal name; anything else stays unresolved (``None``),
  never guessed;
- the state (``terraform state pull``, format 4) is read as ``{address: attributes}``; :func:`backend_state`
  reads it from the stack's backend before ``terraform init``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# ${var.name}, ${data.aws_caller_identity.<name>.account_id}, ${aws_type.name.attribute}
_TOKEN = re.compile(r"\$\{([^{}]*)\}")
_VARIABLE = re.compile(r"var\.([A-Za-z0-9_-]+)")
_ACCOUNT = re.compile(r"data\.aws_caller_identity\.[A-Za-z0-9_-]+\.account_id")
_RESOURCE = re.compile(r"(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.(id|name|bucket)")


class StackInputError(ValueError):
    """The synthesized stack or the state is not what the preflight can read (bad input, exit 2)."""


@dataclass(kw_only=True)
class StackView:
    """The synthesized stack with the applied variable values, and the state's resources."""

    stack: Mapping[str, Any]
    tfvars: Mapping[str, Any]
    state: Mapping[str, Any] | None
    account_id: Callable[[], str]
    """Called at most once, when a name needs the account id (sts:GetCallerIdentity)."""
    _account: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.stack.get("resource"), Mapping) or not self.providers():
            raise StackInputError(
                "the stack has no `resource` or no `provider.aws` block: give the cdk.tf.json "
                "that synth wrote (cdktf.out/stacks/<stack>/cdk.tf.json)"
            )
        if self.state is not None and not isinstance(self.state.get("resources", []), list):
            raise StackInputError("the state has no `resources` list: give the JSON of `terraform state pull`")

    def account(self) -> str:
        """The caller's account id, asked once."""
        if self._account is None:
            self._account = self.account_id()
        return self._account

    # ------------------------------------------------------------------ stack
    def providers(self) -> list[Mapping[str, Any]]:
        providers = self.stack.get("provider", {}).get("aws", [])
        return list(providers) if isinstance(providers, list) else [providers]

    @property
    def region(self) -> str:
        """The default (unaliased) provider's region: the stack's home region."""
        for provider in self.providers():
            if "alias" not in provider:
                return str(provider["region"])
        raise StackInputError("the stack has no default aws provider (one without an alias)")

    def provider_region(self, body: Mapping[str, Any]) -> str:
        """The region of the provider a resource names (``aws.<alias>``), else the stack's."""
        reference = body.get("provider")
        if not reference:
            return self.region
        alias = str(reference).removeprefix("aws.")
        for provider in self.providers():
            if provider.get("alias") == alias:
                return str(provider["region"])
        raise StackInputError(f"a resource names provider {reference!r}, which the stack does not define")

    def resources(self, rtype: str) -> dict[str, Mapping[str, Any]]:
        """``{logical name: body}`` of one resource type (empty when the stack has none)."""
        return dict(self.stack["resource"].get(rtype, {}))

    def variable(self, name: str) -> Any:
        """The value Terraform will use: the tfvars file's, else the default; None when neither has one."""
        if name in self.tfvars:
            return self.tfvars[name]
        return self.stack.get("variable", {}).get(name, {}).get("default")

    def resolve(self, value: Any) -> str | None:
        """A string attribute with its references replaced, or None when one cannot be known before apply."""
        if not isinstance(value, str):
            return None if value is None else str(value)
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            replacement = self._reference(match.group(1).strip())
            if replacement is None:
                unresolved = True
                return ""
            return replacement

        resolved = _TOKEN.sub(replace, value)
        return None if unresolved else resolved

    def _reference(self, expression: str) -> str | None:
        if (variable := _VARIABLE.fullmatch(expression)) is not None:
            found = self.variable(variable.group(1))
            return None if found is None else str(found)
        if _ACCOUNT.fullmatch(expression):
            return self.account()
        if (resource := _RESOURCE.fullmatch(expression)) is not None:
            rtype, name, _attribute = resource.groups()
            body = self.resources(rtype).get(name)
            # A role's or bucket's id is its name in the provider; other ids are assigned by AWS.
            if body is not None and rtype in ("aws_iam_role", "aws_s3_bucket"):
                return self.resolve(body.get("name", body.get("bucket")))
        return None

    def count(self, body: Mapping[str, Any]) -> int | None:
        """How many instances a resource block makes: 1 without ``count``; None when ``count`` cannot be known."""
        if "for_each" in body:
            return None
        if "count" not in body:
            return 1
        resolved = self.resolve(body["count"])
        try:
            return int(resolved) if resolved is not None else None
        except ValueError:
            return None

    # ------------------------------------------------------------------ state
    def state_instances(self, rtype: str) -> dict[str, Mapping[str, Any]]:
        """``{address: attributes}`` of the managed resources of ``rtype`` in the state (root module only)."""
        found: dict[str, Mapping[str, Any]] = {}
        for resource in (self.state or {}).get("resources", []):
            if resource.get("mode") != "managed" or resource.get("type") != rtype or resource.get("module"):
                continue
            base = f"{rtype}.{resource['name']}"
            for instance in resource.get("instances", []):
                key = instance.get("index_key")
                address = base if key is None else f"{base}[{key}]" if isinstance(key, int) else f'{base}["{key}"]'
                found[address] = instance.get("attributes", {})
        return found


def backend_state(stack: Mapping[str, Any], clients: Callable[[str, str], Any]) -> dict[str, Any] | None:
    """The state the stack's backend holds (what ``terraform state pull`` prints), read without ``terraform init``:
    the local backend's file, or the S3 backend's object (s3:GetObject). None when there is no state yet."""
    backend = stack.get("terraform", {}).get("backend", {})
    if "local" in backend:
        path = Path(str(backend["local"].get("path", "terraform.tfstate")))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StackInputError(f"cannot read the local state {path}: {error.strerror}") from error
        where = str(path)
    elif "s3" in backend:
        s3 = backend["s3"]
        where = f"s3://{s3['bucket']}/{s3['key']}"
        try:
            answer = clients("s3", str(s3.get("region"))).get_object(Bucket=s3["bucket"], Key=s3["key"])
        except BotoCoreError as error:
            raise StackInputError(f"cannot read the state {where}: no answer from AWS ({error})") from error
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StackInputError(
                f"cannot read the state {where}: {error.response.get('Error', {}).get('Code')} "
                "(the deploying principal needs s3:GetObject on it, and kms:Decrypt with its key); "
                "or give --state with the output of `terraform state pull`"
            ) from error
        text = answer["Body"].read().decode("utf-8")
    else:
        raise StackInputError(
            f"the stack's backend ({', '.join(backend) or 'none'}) is not one the preflight reads "
            "(local, s3): give --state with the output of `terraform state pull`"
        )
    if not text.strip():
        return None
    try:
        state = json.loads(text)
    except ValueError as error:
        raise StackInputError(f"the state {where} is not JSON ({error})") from error
    if not isinstance(state, dict):
        raise StackInputError(f"the state {where} is not a JSON object")
    return state
