"""Findings, the rule registry and a read-only view of a synthesized stack.

Why a view: the rules need the same few lookups again and again — every resource of a type (and its
aliases, ``aws_alb`` is ``aws_lb``), the construct path cdktf records under ``"//"``, and what a
``${aws_x.y.attr}`` or ``${var.z}`` token points at. Doing it once here keeps each rule a few readable
lines, and keeps the package free of any cdktf import so it runs in milliseconds on plain JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

# Terraform resource types that are the same resource under two names (the provider keeps both).
TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "aws_lb": ("aws_lb", "aws_alb"),
    "aws_lb_target_group": ("aws_lb_target_group", "aws_alb_target_group"),
    "aws_lb_listener": ("aws_lb_listener", "aws_alb_listener"),
}

# ``${aws_s3_bucket.logs.arn}`` / ``${data.aws_iam_policy_document.x.json}`` — a whole-value reference.
REFERENCE = re.compile(r"^\$\{(?P<data>data\.)?(?P<type>[a-z0-9_]+)\.(?P<name>[A-Za-z0-9_-]+)\.(?P<attr>[a-z0-9_]+)\}$")
VARIABLE = re.compile(r"^\$\{var\.(?P<name>[A-Za-z0-9_-]+)\}$")
ACCOUNT_ID_TOKEN = re.compile(r"\$\{data\.aws_caller_identity\.[A-Za-z0-9_-]+\.account_id\}")
ANY_TOKEN = re.compile(r"\$\{[^}]*\}")


class Severity(StrEnum):
    """``error`` stops synth (and CI); ``warning`` is printed and left to the engineer."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, which resource (construct path and address), what is wrong and the fix."""

    rule_id: str
    severity: Severity
    path: str
    address: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        return f"[{self.severity.value.upper()}] {self.rule_id} {self.path} ({self.address}): {self.message}"


# The PCI DSS v4.0 requirement headings of docs/compliance.md, which a rule may declare it proves. They live here,
# not in tools/docs/compliance_report.py (which holds each heading's title and text and must list exactly these),
# because the preflight may not import tools/ (import-linter contract) and rule() refuses an unknown one at once.
PCI_REQUIREMENTS: tuple[str, ...] = (
    "1.2, 1.3, 1.4",
    "2.2",
    "3.5, 3.6, 3.7",
    "4.2",
    "6.3.2",
    "6.3.3",
    "6.4.1, 6.4.2",
    "6.4.3, 11.6.1",
    "7.2, 8.2, 8.6",
    "8.2.1, 8.3.9, 8.4.2, 10.2.1.2",
    "10.2, 10.3, 10.5",
    "10.3.3, 10.5.1",
    "10.7, 11.5",
)

Check = Callable[["StackView"], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    """A registered check; ``rationale`` is the one line a reader needs to know why it exists.

    ``pci`` names the requirement headings the rule is evidence for: docs/compliance.md lists a rule under a
    requirement only through this declaration, so the mapping sits next to the code that proves it.
    """

    rule_id: str
    rationale: str
    check: Check
    pci: tuple[str, ...] = ()


RULES: dict[str, Rule] = {}


def rule(rule_id: str, rationale: str, *, pci: tuple[str, ...] = ()) -> Callable[[Check], Check]:
    """Register a check under ``rule_id``; ids are stable (tests, docs/compliance.md refer to them).

    ``pci``: the PCI DSS requirement headings (:data:`PCI_REQUIREMENTS`) the rule proves. An unknown one is
    refused here, at import, so a typo cannot silently drop the rule from the compliance map.
    """
    if isinstance(pci, str):
        raise TypeError(
            f"preflight rule {rule_id}: pci={pci!r} must be a tuple of requirement headings, e.g. pci=({pci!r},)"
        )
    unknown = [ref for ref in pci if ref not in PCI_REQUIREMENTS]
    if unknown:
        raise ValueError(
            f"preflight rule {rule_id} declares unknown PCI DSS requirement(s) "
            f"{', '.join(repr(ref) for ref in unknown)}; use one of the docs/compliance.md headings "
            f"{', '.join(repr(ref) for ref in PCI_REQUIREMENTS)} (or add a heading to both "
            "preflight.model.PCI_REQUIREMENTS and tools/docs/compliance_report.REQUIREMENTS)"
        )

    def register(func: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"duplicate preflight rule id {rule_id}")
        RULES[rule_id] = Rule(rule_id, rationale, func, tuple(pci))
        return func

    return register


@dataclass(frozen=True)
class Resource:
    """One resource or data source block of the synthesized JSON."""

    type: str
    name: str
    body: Mapping[str, Any]
    is_data: bool = False

    @property
    def address(self) -> str:
        return f"{'data.' if self.is_data else ''}{self.type}.{self.name}"

    @property
    def path(self) -> str:
        """The construct path (``TapStackdev/compute/alb``), which is what the Python code names."""
        meta = self.body.get("//")
        if isinstance(meta, Mapping):
            path = (meta.get("metadata") or {}).get("path")
            if path:
                return str(path)
        return self.address

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)

    def blocks(self, key: str) -> list[Mapping[str, Any]]:
        """A nested block as a list whatever its JSON shape (cdktf writes single blocks as objects)."""
        value = self.body.get(key)
        if value is None:
            return []
        if isinstance(value, Mapping):
            return [value]
        return [item for item in value if isinstance(item, Mapping)]


@dataclass
class StackView:
    """Lookups over one synthesized ``cdk.tf.json``; rules never mutate it."""

    config: Mapping[str, Any]
    _by_address: dict[str, Resource] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for resource in self._all():
            self._by_address[resource.address] = resource

    def _all(self) -> Iterator[Resource]:
        for block, is_data in (("resource", False), ("data", True)):
            for rtype, instances in (self.config.get(block) or {}).items():
                if not isinstance(instances, Mapping):
                    continue
                for name, body in instances.items():
                    if isinstance(body, Mapping) and name != "//":
                        yield Resource(rtype, name, body, is_data)

    def resources(self, rtype: str) -> list[Resource]:
        """Managed resources of ``rtype`` or any of its aliases."""
        types = TYPE_ALIASES.get(rtype, (rtype,))
        return [r for r in self._by_address.values() if not r.is_data and r.type in types]

    def data_sources(self, rtype: str) -> list[Resource]:
        return [r for r in self._by_address.values() if r.is_data and r.type == rtype]

    def lookup(self, address: str) -> Resource | None:
        return self._by_address.get(address)

    def referenced(self, value: Any) -> tuple[Resource | None, str | None]:
        """For a whole-value reference ``${type.name.attr}``: the resource it names and the attribute."""
        if not isinstance(value, str):
            return None, None
        match = REFERENCE.match(value)
        if not match:
            return None, None
        prefix = "data." if match["data"] else ""
        return self.lookup(f"{prefix}{match['type']}.{match['name']}"), match["attr"]

    @cached_property
    def variables(self) -> Mapping[str, Any]:
        return self.config.get("variable") or {}

    @cached_property
    def environment_type(self) -> str | None:
        """``EnvironmentType`` of the provider's ``default_tags`` (``production``/``development``; lib/config.py),
        which every resource carries; ``None`` when no provider states it."""
        providers = (self.config.get("provider") or {}).get("aws") or []
        for provider in providers if isinstance(providers, list) else [providers]:
            for block in (provider or {}).get("default_tags") or []:
                value = ((block or {}).get("tags") or {}).get("EnvironmentType")
                if value:
                    return str(value)
        return None

    def region_of(self, resource: Resource | None = None) -> str | None:
        """The region ``resource`` is created in: its provider's, whether the default ``aws`` provider or an
        alias it names (``provider = "aws.us_east_1"``); with no resource, the default provider's (the stack's
        home region). ``None`` when that region is not known before plan (an expression, a variable without a
        default, no such provider). Every rule that reads a region asks here, so an aliased resource is judged by
        the region it really lives in."""
        provider = self.provider_of(resource)
        if provider is None:
            return None
        region, _ = self.resolve(provider.get("region"))
        return region if isinstance(region, str) and region else None

    def provider_of(self, resource: Resource | None = None) -> Mapping[str, Any] | None:
        """The ``aws`` provider block ``resource`` is created through (the default one, or the alias it names);
        with no resource, the default provider's. ``None`` when the stack has no such provider."""
        alias = str((resource.get("provider") if resource is not None else None) or "aws").partition(".")[2] or None
        providers = (self.config.get("provider") or {}).get("aws") or []
        for provider in providers if isinstance(providers, list) else [providers]:
            if isinstance(provider, Mapping) and (provider.get("alias") or None) == alias:
                return provider
        return None

    def default_tags(self, resource: Resource | None = None) -> dict[str, Any]:
        """The ``default_tags`` the provider of ``resource`` adds to it (every block merged; empty when none)."""
        tags: dict[str, Any] = {}
        for block in (self.provider_of(resource) or {}).get("default_tags") or []:
            if isinstance(block, Mapping) and isinstance(block.get("tags"), Mapping):
                tags.update(block["tags"])
        return tags

    @property
    def is_production(self) -> bool:
        return self.environment_type == "production"

    def resolve(self, value: Any) -> tuple[Any, str | None]:
        """A literal as is; ``${var.x}`` as the variable's default. Returns (value, variable name or None).

        The value is ``None`` when it cannot be known before plan (another expression, or a variable
        without a default): rules then skip the value check rather than guess.
        """
        if isinstance(value, str):
            match = VARIABLE.match(value)
            if match:
                variable = self.variables.get(match["name"])
                if isinstance(variable, Mapping) and "default" in variable:
                    return variable["default"], match["name"]
                return None, match["name"]
            if "${" in value:
                return None, None
        return value, None

    def references_to(self, target: Resource, attrs: tuple[str, ...] = ("id", "arn", "bucket", "name")) -> set[str]:
        """The reference tokens by which other resources may point at ``target``."""
        prefix = "data." if target.is_data else ""
        return {f"${{{prefix}{target.type}.{target.name}.{attr}}}" for attr in attrs}


def finding(rule_id: str, resource: Resource | None, message: str, severity: Severity = Severity.ERROR) -> Finding:
    """Build a finding for ``resource`` (``None`` for stack-level blocks such as the backend)."""
    if resource is None:
        return Finding(rule_id, severity, "terraform", "terraform", message)
    return Finding(rule_id, severity, resource.path, resource.address, message)


def truthy(value: Any) -> bool | None:
    """Terraform booleans as cdktf writes them (``true`` or ``"true"``); ``None`` when unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.lower() == "true":
            return True
        if value.lower() == "false":
            return False
    return None
