"""Deploy-time facts that ``terraform validate`` cannot know (docs/requirements.md seed failures 1-3 and 9, and kin).

Each of these passed synth and validate in the seed and then failed against AWS, after other resources
had already been created. Catching them here turns a half-applied stack into a synth error.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from typing import Any

from facts import load_data
from preflight.model import (
    ANY_TOKEN,
    Finding,
    Resource,
    Severity,
    StackView,
    finding,
    rule,
    truthy,
)

RDS_VERSIONS = load_data("rds_engine_versions.json")
FAMILIES = load_data("instance_families.json")
BACKENDS = load_data("terraform_backends.json")

# Launch template user data: AWS limits it to 16 KB; we hold the *encoded* form to that (stricter than the
# raw-form limit of RunInstances, and what CreateLaunchTemplate actually receives).
USER_DATA_MAX_BYTES = 16 * 1024
TEMPLATE_SEQUENCES = ("${", "%{")

WEB_ACL_ARN = re.compile(r"^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]+/[0-9a-f-]+$")

# Windows are UTC; RDS wants hh24:mi-hh24:mi (daily backup) and ddd:hh24:mi-ddd:hh24:mi (weekly maintenance).
BACKUP_WINDOW = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")
MAINTENANCE_WINDOW = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):([0-5][0-9])-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):([0-5][0-9])$",
    re.IGNORECASE,
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MINUTES = 7 * 24 * 60
MIN_WINDOW_GAP_MINUTES = 30
MIN_WINDOW_LENGTH_MINUTES = 30

# S3 keeps at most 10 tags on an object (S3 User Guide, "Categorizing your storage using tags"); the provider's
# default_tags count against it, and an 11th fails PutObject/PutObjectTagging at apply.
S3_OBJECT_TAG_LIMIT = 10
OBJECT_TYPES = ("aws_s3_object", "aws_s3_bucket_object", "aws_s3_object_copy")

# A value no real instance family has: if a variable's validation accepts it, the validation only checks shape.
IMPOSSIBLE_FAMILY_PROBE = "zz99.huge"


# --------------------------------------------------------------------------------------------------- helpers


def _hcl_unescape(literal: str) -> str:
    """The string an HCL quoted literal denotes (``\\\\.`` -> ``\\.``), enough for regex() patterns."""
    escapes = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\t": "\t"}
    return re.sub(r'\\[\\"nt]', lambda m: escapes[m.group(0)], literal)


def variable_regexes(view: StackView, name: str) -> list[str]:
    """Patterns that ``var.<name>``'s validation blocks pass to ``regex()``/``can(regex())``."""
    variable = view.variables.get(name) or {}
    found: list[str] = []
    pattern = re.compile(r'regex\("((?:[^"\\]|\\.)*)",\s*var\.' + re.escape(name) + r"\)")
    for validation in variable.get("validation") or []:
        for match in pattern.finditer(str(validation.get("condition", ""))):
            found.append(_hcl_unescape(match.group(1)))
    return found


def variable_allow_lists(view: StackView, name: str) -> list[list[str]]:
    """Family allow-lists that ``var.<name>``'s validation blocks test with ``contains([...], ...var.<name>...)``."""
    variable = view.variables.get(name) or {}
    lists: list[list[str]] = []
    pattern = re.compile(r"(?<!!)contains\(\[([^\]]*)\],[^)]*var\." + re.escape(name) + r"\b")
    for validation in variable.get("validation") or []:
        for match in pattern.finditer(str(validation.get("condition", ""))):
            lists.append(re.findall(r'"([^"]*)"', match.group(1)))
    return lists


def _rejected_by_allow_list(view: StackView, variable: str, probe: str) -> bool:
    return any(
        not any(probe.startswith(f"{item}.") for item in allowed) for allowed in variable_allow_lists(view, variable)
    )


def _check_variable_validation(
    view: StackView,
    rule_id: str,
    resource: Resource,
    *,
    attribute: str,
    variable: str,
    default: Any,
    probe: str,
    example: str,
) -> Iterator[Finding]:
    """A tunable value is checked at plan time only by its validation block: it must exist, agree with the
    default, and reject an invented family (``probe``), or a typo given with ``-var`` fails only at apply."""
    var_block = view.variables.get(variable) or {}
    if not var_block.get("validation"):
        yield finding(
            rule_id,
            resource,
            f"{attribute} comes from var.{variable}, which has no validation block, so any value given "
            f"at plan time reaches AWS unchecked. Fix: add a validation block to var.{variable}.",
            Severity.WARNING,
        )
        return
    for regex in variable_regexes(view, variable):
        try:
            compiled = re.compile(regex)
        except re.error:
            continue
        if default is not None and not compiled.search(str(default)):
            yield finding(
                rule_id,
                resource,
                f"var.{variable} default {default!r} fails its own validation regex {regex!r}: every plan "
                f"without -var {variable}=... would fail. Fix: make the default and the validation agree.",
            )
    regexes = variable_regexes(view, variable)
    if regexes and all(_accepts(r, probe) for r in regexes) and not _rejected_by_allow_list(view, variable, probe):
        yield finding(
            rule_id,
            resource,
            f"var.{variable}'s validation checks only the shape of the value (it accepts {probe!r}), so a "
            "misspelt family given at plan time fails only at apply. Fix: restrict the regex to the "
            f"families you run, e.g. {example}, or test the family with contains([...], ...).",
            Severity.WARNING,
        )


def _major(version: str) -> str:
    return version.split(".", maxsplit=1)[0]


# ----------------------------------------------------------------------------------------------- RDS version


@rule(
    "PF-RDS-ENGINE-VERSION",
    "RDS rejects versions it does not offer ('Cannot find version 15.5 for postgres') "
    "only at apply time; validate engine_version against an allow-list kept as data.",
    pci=("2.2",),
)
def check_rds_engine_version(view: StackView) -> Iterator[Finding]:
    engines: Mapping[str, Any] = RDS_VERSIONS["engines"]
    retrieved = RDS_VERSIONS["_retrieved"]
    for db in view.resources("aws_db_instance"):
        engine, _ = view.resolve(db.get("engine"))
        version, variable = view.resolve(db.get("engine_version"))
        if engine is None:
            continue
        if engine not in engines:
            yield finding(
                "PF-RDS-ENGINE-VERSION",
                db,
                f"engine {engine!r} is not in the allow-list ({', '.join(sorted(engines))}). "
                'Fix: use engine = "postgres" (or add the engine with its versions to '
                "facts/rds_engine_versions.json).",
            )
            continue
        allowed = engines[engine]
        majors, fulls = allowed["major_versions"], allowed["full_versions"]
        source = f"var.{variable} default " if variable else ""
        if version is None:
            if "engine_version" not in db.body:
                yield finding(
                    "PF-RDS-ENGINE-VERSION",
                    db,
                    "engine_version is not set, so RDS picks its default major version, which changes "
                    f"over time. Fix: set engine_version to a major version ({', '.join(majors)}).",
                    Severity.WARNING,
                )
            continue
        version = str(version)
        if version in majors:
            yield from _check_family(view, db, engine, version, allowed)
            continue
        if version in fulls:
            yield finding(
                "PF-RDS-ENGINE-VERSION",
                db,
                f"engine_version {source}{version!r} pins a minor version; RDS retires minors "
                "(15.5 was withdrawn), after which new environments fail to create. "
                f'Fix: engine_version = "{_major(version)}" lets RDS choose the latest patch.',
                Severity.WARNING,
            )
            yield from _check_family(view, db, engine, _major(version), allowed)
            continue
        offered = [v for v in fulls if _major(v) == _major(version)]
        retired = " (retired by RDS)" if version in allowed.get("retired_full_versions", []) else ""
        hint = (
            f'engine_version = "{_major(version)}" (RDS picks the latest patch) or one of {", ".join(offered)}'
            if _major(version) in majors
            else f"a supported major version: {', '.join(majors)}"
        )
        yield finding(
            "PF-RDS-ENGINE-VERSION",
            db,
            f"engine_version {source}{version!r}{retired} is not a {engine} version RDS offers "
            f"(allow-list retrieved {retrieved}); RDS would answer 'Cannot find version {version} "
            f"for {engine}'. Fix: {hint}.",
        )


def _check_family(
    view: StackView, db: Resource, engine: str, major: str, allowed: Mapping[str, Any]
) -> Iterator[Finding]:
    """The parameter group family must match the engine major version, or RDS refuses the pairing."""
    group, _ = view.referenced(db.get("parameter_group_name"))
    if group is None or group.type != "aws_db_parameter_group":
        return
    family = group.get("family")
    expected = f"{allowed.get('parameter_group_family_prefix', engine)}{major}"
    if isinstance(family, str) and "${" not in family and family != expected:
        yield finding(
            "PF-RDS-ENGINE-VERSION",
            group,
            f"parameter group family {family!r} does not match the instance's engine version {major} "
            f'({db.path}); RDS rejects the pairing. Fix: family = "{expected}".',
        )


# ------------------------------------------------------------------------------------- instance class / type


@rule(
    "PF-RDS-INSTANCE-CLASS",
    "An invented DB instance class family (db.fake.huge) passes validate and the emulator, and fails at apply.",
    pci=("2.2",),
)
def check_rds_instance_class(view: StackView) -> Iterator[Finding]:
    classes: Mapping[str, list[str]] = FAMILIES["rds_classes"]
    for db in view.resources("aws_db_instance"):
        engine, _ = view.resolve(db.get("engine"))
        value, variable = view.resolve(db.get("instance_class"))
        if variable:
            yield from _check_variable_validation(
                view,
                "PF-RDS-INSTANCE-CLASS",
                db,
                attribute="instance_class",
                variable=variable,
                default=value,
                probe=f"db.{IMPOSSIBLE_FAMILY_PROBE}",
                example="^db\\\\.(t3|t4g|m6g|r6g)\\\\.[a-z0-9]+$",
            )
        if value is None or engine not in classes:
            continue
        value = str(value)
        family = ".".join(value.split(".")[:2])
        source = f"var.{variable} default " if variable else ""
        if not value.startswith("db.") or value.count(".") != 2 or family not in classes[engine]:
            yield finding(
                "PF-RDS-INSTANCE-CLASS",
                db,
                f"instance_class {source}{value!r} is not a DB instance class family RDS offers for {engine} "
                f"(known families: {', '.join(classes[engine][:6])}, ...; "
                'facts/instance_families.json). Fix: use e.g. "db.t3.medium" or '
                '"db.r6g.large".',
            )
        elif truthy(db.get("performance_insights_enabled")) and value in FAMILIES.get(
            "rds_classes_without_performance_insights", []
        ):
            yield finding(
                "PF-RDS-INSTANCE-CLASS",
                db,
                f"instance_class {source}{value!r} does not support Performance Insights, which this "
                "instance enables. Fix: use db.t3.medium or larger.",
                Severity.WARNING,
            )


@rule(
    "PF-EC2-INSTANCE-TYPE",
    "An instance type of a family that does not exist is accepted by validate and fails only when the ASG "
    "launches, after the rest of the stack exists.",
    pci=("2.2",),
)
def check_ec2_instance_type(view: StackView) -> Iterator[Finding]:
    families = set(FAMILIES["ec2_families"])
    for resource in view.resources("aws_launch_template") + view.resources("aws_instance"):
        if "instance_type" not in resource.body:
            continue
        value, variable = view.resolve(resource.get("instance_type"))
        if variable:
            yield from _check_variable_validation(
                view,
                "PF-EC2-INSTANCE-TYPE",
                resource,
                attribute="instance_type",
                variable=variable,
                default=value,
                probe=IMPOSSIBLE_FAMILY_PROBE,
                example="^(t3|t3a|m6i|m7i)\\\\.[a-z0-9]+$",
            )
        if value is None:
            continue
        family = str(value).split(".", 1)[0]
        if "." not in str(value) or family not in families:
            source = f"var.{variable} default " if variable else ""
            yield finding(
                "PF-EC2-INSTANCE-TYPE",
                resource,
                f"instance_type {source}{value!r}: family {family!r} is not an EC2 instance family "
                "(facts/instance_families.json). Fix: use an existing type such as "
                '"t3.medium" or "m7i.large".',
            )


def _accepts(regex: str, value: str) -> bool:
    try:
        return re.search(regex, value) is not None
    except re.error:
        return False


# --------------------------------------------------------------------------------------------------- user data


@rule(
    "PF-USER-DATA",
    "Launch templates need base64 user data ('Invalid BASE64 encoding of user data'), at most "
    "16 KB, and free of ${ / %{ sequences that Terraform would try to interpolate.",
    pci=("2.2",),
)
def check_user_data(view: StackView) -> Iterator[Finding]:
    for template in view.resources("aws_launch_template"):
        if "user_data" not in template.body:
            continue
        raw = template.get("user_data")
        value, _ = view.resolve(raw)
        if value is None:
            if isinstance(raw, str) and ANY_TOKEN.fullmatch(raw):
                yield finding(
                    "PF-USER-DATA",
                    template,
                    f"user_data is the expression {raw[:80]!r}, which cannot be checked before plan. "
                    "Fix: render and base64-encode the script in Python (lib/blocks/user_data.py) so it is "
                    "checked here.",
                    Severity.WARNING,
                )
                continue
            yield finding(
                "PF-USER-DATA",
                template,
                f"user_data mixes text with Terraform interpolation ({_snippet(str(raw), '${')}); a launch "
                "template needs plain base64 and Terraform would try to resolve the ${...}. "
                "Fix: base64-encode the finished script in Python and pass only the encoded string.",
            )
            continue
        text = str(value)
        if len(text.encode()) > USER_DATA_MAX_BYTES:
            yield finding(
                "PF-USER-DATA",
                template,
                f"user_data is {len(text.encode())} bytes base64-encoded; AWS allows {USER_DATA_MAX_BYTES}. "
                "Fix: move the payload to S3 or an AMI and keep user data a short bootstrap script.",
            )
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            yield finding(
                "PF-USER-DATA",
                template,
                f"user_data is not valid base64 (starts {text[:40]!r}); AWS answers 'Invalid BASE64 "
                "encoding of user data'. Fix: pass base64.b64encode(script.encode()).decode().",
            )
            continue
        try:
            script = decoded.decode("utf-8")
        except UnicodeDecodeError:
            continue  # gzip or other binary payload: nothing to interpolate
        for sequence in TEMPLATE_SEQUENCES:
            if sequence in script:
                yield finding(
                    "PF-USER-DATA",
                    template,
                    f"decoded user_data contains the template sequence {sequence!r} "
                    f"({_snippet(script, sequence)}); it is a Terraform interpolation/directive and an "
                    "unrendered placeholder in the script. Fix: write shell variables as $NAME and build "
                    "strings by concatenation (see lib/blocks/user_data.py).",
                )


def _snippet(text: str, needle: str, width: int = 30) -> str:
    index = text.find(needle)
    return repr(text[max(0, index - 10) : index + width]) if index >= 0 else repr(text[:width])


# ------------------------------------------------------------------------------------------------ WAF by ARN


@rule(
    "PF-WAF-ASSOCIATION-ARN",
    "An ALB association needs the web ACL's ARN; given its id, AWS answers 'invalid ARN' and the ALB stays "
    "unprotected.",
    pci=("6.4.1, 6.4.2",),
)
def check_waf_association(view: StackView) -> Iterator[Finding]:
    for association in view.resources("aws_wafv2_web_acl_association"):
        raw = association.get("web_acl_arn")
        target, attr = view.referenced(raw)
        if target is not None:
            if target.type != "aws_wafv2_web_acl" or attr != "arn":
                yield finding(
                    "PF-WAF-ASSOCIATION-ARN",
                    association,
                    f"web_acl_arn is {raw!r}, the {attr!r} of {target.type} {target.path}; the association "
                    "needs a web ACL's ARN. Fix: pass web_acl.arn (the aws_wafv2_web_acl's .arn), not .id.",
                )
            elif str(target.get("scope", "")).upper() != "REGIONAL":
                yield finding(
                    "PF-WAF-ASSOCIATION-ARN",
                    association,
                    f"web ACL {target.path} has scope {target.get('scope')!r}; an ALB can only be associated "
                    'with a REGIONAL web ACL. Fix: scope = "REGIONAL".',
                )
        else:
            value, variable = view.resolve(raw)
            if value is None and variable is None:
                yield finding(
                    "PF-WAF-ASSOCIATION-ARN",
                    association,
                    f"web_acl_arn is the expression {raw!r}, not a reference to an aws_wafv2_web_acl's .arn; "
                    "it cannot be checked before apply. Fix: reference the web ACL resource's .arn.",
                )
            elif value is not None and not WEB_ACL_ARN.match(str(value)):
                yield finding(
                    "PF-WAF-ASSOCIATION-ARN",
                    association,
                    f"web_acl_arn {value!r} is not a regional WAFv2 web ACL ARN "
                    "(arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>). Fix: pass the ARN, "
                    "not the id.",
                )
        resource, _ = view.referenced(association.get("resource_arn"))
        if resource is not None and resource.type == "aws_cloudfront_distribution":
            yield finding(
                "PF-WAF-ASSOCIATION-ARN",
                association,
                "resource_arn points at a CloudFront distribution; CloudFront takes its (CLOUDFRONT-scope) "
                "web ACL through the distribution's web_acl_id, not an association. Fix: associate the ALB.",
            )


# ----------------------------------------------------------------------------------------------------- backend


@rule(
    "PF-BACKEND",
    "Backend keys are checked only at `terraform init`; keys Terraform 1.11 does not accept, or an S3 backend "
    "without use_lockfile/encrypt, must fail synth instead.",
    pci=("2.2",),
)
def check_backend(view: StackView) -> Iterator[Finding]:
    terraform = view.config.get("terraform") or {}
    backends = terraform.get("backend") or {}
    if len(backends) > 1:
        yield finding(
            "PF-BACKEND",
            None,
            f"several backends configured ({', '.join(backends)}); Terraform allows "
            "one. Fix: configure exactly one backend.",
        )
    known: Mapping[str, Any] = BACKENDS["backends"]
    for kind, raw_settings in backends.items():
        settings: Mapping[str, Any] = raw_settings or {}
        if kind not in known:
            yield finding(
                "PF-BACKEND",
                None,
                f"backend {kind!r} is not one this project checks (s3, local); its keys were not verified.",
                Severity.WARNING,
            )
            continue
        yield from _check_backend_keys(kind, settings, known[kind])
        if kind == "s3":
            yield from _check_s3_backend(settings)


def _check_backend_keys(kind: str, settings: Mapping[str, Any], spec: Mapping[str, Any]) -> Iterator[Finding]:
    version = BACKENDS["terraform_version"]
    for key in settings:
        if key == "//":
            continue
        if key in spec["removed"]:
            yield finding(
                "PF-BACKEND",
                None,
                f'backend "{kind}" key {key!r} was removed before Terraform '
                f"{version} ('No argument or block type is named \"{key}\"' at "
                f"init). Fix: {spec['removed'][key]}.",
            )
        elif key == "dynamodb_table":
            yield finding(
                "PF-BACKEND",
                None,
                f"backend \"{kind}\" key 'dynamodb_table' ({settings[key]!r}) is "
                "deprecated; this project locks with S3 (use_lockfile), no DynamoDB. "
                "Fix: remove dynamodb_table; keep use_lockfile = true.",
            )
        elif key in spec["deprecated"]:
            yield finding(
                "PF-BACKEND",
                None,
                f'backend "{kind}" key {key!r} is deprecated in Terraform {version}. Fix: {spec["deprecated"][key]}.',
                Severity.WARNING,
            )
        elif key not in spec["supported"]:
            yield finding(
                "PF-BACKEND",
                None,
                f'backend "{kind}" key {key!r} is not accepted by Terraform '
                f"{version} ('No argument or block type is named \"{key}\"' at "
                f"init). Fix: remove it; accepted keys: "
                f"{', '.join(spec['supported'])}.",
            )
    for key in spec["required"]:
        if key not in settings:
            yield finding(
                "PF-BACKEND",
                None,
                f'backend "{kind}" has no {key!r}. Fix: set {key} (TERRAFORM_STATE_BUCKET configures the s3 backend).',
            )


def _check_s3_backend(settings: Mapping[str, Any]) -> Iterator[Finding]:
    """S3-native locking (Terraform >= 1.10) and encrypted state are this project's baseline."""
    if truthy(settings.get("use_lockfile")) is not True:
        yield finding(
            "PF-BACKEND",
            None,
            'backend "s3" has no use_lockfile = true: two concurrent applies '
            "could corrupt state. S3-native locking is valid since Terraform "
            "1.10 (the seed's claim that the key is invalid is out of date). "
            "Fix: set use_lockfile = true; do not add a DynamoDB table.",
        )
    if truthy(settings.get("encrypt")) is not True:
        yield finding(
            "PF-BACKEND",
            None,
            'backend "s3" has no encrypt = true; state holds resource '
            "attributes of a PCI environment. Fix: set encrypt = true.",
        )


# ------------------------------------------------------------------------------------------------- RDS windows


@rule(
    "PF-RDS-WINDOWS",
    "RDS rejects a backup window that overlaps the maintenance window (the emulator also rejects touching ones); "
    "keep them at least 30 minutes apart and each at least 30 minutes long.",
    pci=("2.2",),
)
def check_rds_windows(view: StackView) -> Iterator[Finding]:
    for db in view.resources("aws_db_instance"):
        backup, _ = view.resolve(db.get("backup_window"))
        maintenance, _ = view.resolve(db.get("maintenance_window"))
        parsed_backup = _parse_backup(backup) if isinstance(backup, str) else None
        parsed_maint = _parse_maintenance(maintenance) if isinstance(maintenance, str) else None
        if isinstance(backup, str) and parsed_backup is None:
            yield finding(
                "PF-RDS-WINDOWS", db, f'backup_window {backup!r} is not hh24:mi-hh24:mi (UTC). Fix: e.g. "03:00-04:00".'
            )
        if isinstance(maintenance, str) and parsed_maint is None:
            yield finding(
                "PF-RDS-WINDOWS",
                db,
                f"maintenance_window {maintenance!r} is not ddd:hh24:mi-ddd:hh24:mi "
                '(UTC). Fix: e.g. "sun:06:00-sun:07:00".',
            )
        for label, window, parsed in (
            ("backup_window", backup, parsed_backup),
            ("maintenance_window", maintenance, parsed_maint),
        ):
            if parsed is not None and parsed[1] - parsed[0] < MIN_WINDOW_LENGTH_MINUTES:
                yield finding(
                    "PF-RDS-WINDOWS",
                    db,
                    f"{label} {window!r} is shorter than "
                    f"{MIN_WINDOW_LENGTH_MINUTES} minutes, which RDS rejects. "
                    "Fix: make it at least 30 minutes long.",
                )
        if (backup is None) != (maintenance is None):
            yield finding(
                "PF-RDS-WINDOWS",
                db,
                "only one of backup_window and maintenance_window is set; RDS picks "
                "the other at random and may place it next to the first. Fix: set "
                "both, at least 30 minutes apart.",
                Severity.WARNING,
            )
        if parsed_backup is None or parsed_maint is None:
            continue
        gap = _gap(parsed_backup, parsed_maint)
        if gap < MIN_WINDOW_GAP_MINUTES:
            relation = "overlaps" if gap < 0 else ("touches" if gap == 0 else f"is only {gap} minutes from")
            yield finding(
                "PF-RDS-WINDOWS",
                db,
                f"backup_window {backup!r} {relation} maintenance_window {maintenance!r} (the daily backup "
                "window recurs on the maintenance day). RDS rejects overlapping windows and the emulator "
                f"touching ones. Fix: keep them at least {MIN_WINDOW_GAP_MINUTES} minutes apart, e.g. "
                'backup "03:00-04:00" and maintenance "sun:06:00-sun:07:00".',
            )


def _parse_backup(value: str) -> tuple[int, int] | None:
    match = BACKUP_WINDOW.match(value)
    if not match:
        return None
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if end <= start:
        end += 24 * 60
    return start, end


def _parse_maintenance(value: str) -> tuple[int, int] | None:
    match = MAINTENANCE_WINDOW.match(value)
    if not match:
        return None
    start = DAYS.index(match[1].lower()) * 1440 + int(match[2]) * 60 + int(match[3])
    end = DAYS.index(match[4].lower()) * 1440 + int(match[5]) * 60 + int(match[6])
    if end <= start:
        end += WEEK_MINUTES
    return start, end


def _gap(backup: tuple[int, int], maintenance: tuple[int, int]) -> int:
    """Smallest distance in minutes between the maintenance window and any daily backup window (< 0: overlap)."""
    best = WEEK_MINUTES
    m_start, m_end = maintenance
    for day in range(-1, 9):  # every occurrence of the daily window around the (possibly wrapping) week
        b_start, b_end = backup[0] + day * 1440, backup[1] + day * 1440
        for shift in (-WEEK_MINUTES, 0, WEEK_MINUTES):
            s, e = m_start + shift, m_end + shift
            if b_start < e and s < b_end:
                best = min(best, -min(e, b_end) + max(s, b_start))  # negative overlap length
            else:
                best = min(best, max(s - b_end, b_start - e))
    return best


@rule(
    "PF-S3-OBJECT-TAGS",
    "S3 allows 10 tags on an object, and the provider's default tags count: an object near the limit fails the apply "
    "that adds one more default tag. Objects carry no Name tag (the key names them), so the defaults have room.",
)
def check_s3_object_tags(view: StackView) -> Iterator[Finding]:
    for rtype in OBJECT_TYPES:
        for obj in view.resources(rtype):
            own = obj.get("tags") or {}
            if not isinstance(own, Mapping):
                continue  # an expression: its keys are not known before plan
            defaults = view.default_tags(obj)
            keys = set(defaults) | set(own)
            if "Name" in own:
                yield finding(
                    "PF-S3-OBJECT-TAGS",
                    obj,
                    f"the object carries a Name tag ({own['Name']!r}): it spends one of S3's "
                    f"{S3_OBJECT_TAG_LIMIT} object tags on what the key already says. Fix: drop Name from its tags "
                    "(do not pass Naming.tags to an S3 object).",
                )
            if len(keys) > S3_OBJECT_TAG_LIMIT:
                yield finding(
                    "PF-S3-OBJECT-TAGS",
                    obj,
                    f"{len(keys)} tags ({len(defaults)} default tags of its provider + "
                    f"{len(set(own) - set(defaults))} of its own: {', '.join(sorted(keys))}); S3 allows "
                    f"{S3_OBJECT_TAG_LIMIT} on an object and the apply fails. Fix: drop tags from the object, or "
                    "default tags from the provider (lib/config.py default_tags).",
                )
