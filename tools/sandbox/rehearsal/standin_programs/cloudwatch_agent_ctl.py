#!/usr/bin/python3
"""CloudWatch agent stand-in for the boot rehearsal: ``amazon-cloudwatch-agent-ctl``.

Installed as ``/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl`` in the rehearsal's root (the agent
is not packaged anywhere the sandbox can install it). Supports what a boot script runs:

    amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 [-s] -c file:/path/config.json
    amazon-cloudwatch-agent-ctl -a status | -a stop

``fetch-config`` validates the configuration against our schema of the keys we use
(``cloudwatch_agent_schema.json``, a closed subset of the agent's own schema): invalid JSON, an unknown key, a wrong
type, a value outside its enum or limits, an unknown ``{placeholder}`` or a ``run_as_user`` that does not exist each
fail (exit 1), every problem named by its JSON path. A valid configuration is copied where the agent keeps it
(``etc/amazon-cloudwatch-agent.d/file_<name>``); with ``-s`` the stand-in records the agent as running in
``/run/standin-cloudwatch-agent`` (first line ``running``, then ``started_at_ns=`` and ``config=``), so the rehearsal
can tell it started before anything else. It ships no logs anywhere.

``STANDIN_ROOT`` (default ``/``) prefixes every path it reads or writes; the tests set it, the rehearsal does not.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import sys
import time
from pathlib import Path
from typing import Any

PROG = "[standin amazon-cloudwatch-agent-ctl]"
SCHEMA = "/usr/share/rehearsal-standins/cloudwatch_agent_schema.json"
AGENT_HOME = "/opt/aws/amazon-cloudwatch-agent"
STATE = "/run/standin-cloudwatch-agent"
ACTIONS = ("fetch-config", "status", "stop")
MODES = ("ec2", "onPremise", "onPrem", "auto")
PLACEHOLDERS = ("{instance_id}", "{hostname}", "{local_hostname}", "{ip_address}")
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "integer": (int,), "boolean": (bool,),
}  # fmt: skip


class AgentError(Exception):
    """Exit 1 with this message."""


def in_root(path: str) -> Path:
    return Path(os.environ.get("STANDIN_ROOT", "/")) / path.lstrip("/")


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema`` (the subset of JSON Schema our schema file uses), by JSON path."""
    expected = schema["type"]
    if not isinstance(value, TYPES[expected]) or (expected == "integer" and isinstance(value, bool)):
        return [f"{path}: expected {expected}, got {type(value).__name__} {json.dumps(value)[:60]}"]
    if isinstance(value, dict):
        return validate_object(value, schema, path)
    if isinstance(value, list):
        return validate_array(value, schema, path)
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {json.dumps(value)} is not one of {json.dumps(schema['enum'])}")
    if expected == "integer" and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        problems.append(f"{path}: {value} is outside {schema.get('minimum')}..{schema.get('maximum')}")
    if expected == "string":
        problems += validate_string(str(value), schema, path)
    return problems


def validate_array(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    problems = []
    if len(value) < schema.get("minItems", 0):
        problems.append(f"{path}: needs at least {schema['minItems']} item(s)")
    if schema.get("uniqueItems") and len({json.dumps(item, sort_keys=True) for item in value}) != len(value):
        problems.append(f"{path}: items must be unique")
    for index, item in enumerate(value):
        problems += validate(item, schema["items"], f"{path}[{index}]")
    return problems


def validate_object(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    problems = []
    properties: dict[str, Any] = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            problems.append(f"{path}.{key}: required key missing")
    for key, item in value.items():
        if key not in properties:
            problems.append(
                f"{path}.{key}: unknown key (allowed here: {', '.join(sorted(properties))}; "
                f"tools/sandbox/rehearsal/cloudwatch_agent_schema.json lists the keys we use)"
            )
        else:
            problems += validate(item, properties[key], f"{path}.{key}")
    return problems


def validate_string(value: str, schema: dict[str, Any], path: str) -> list[str]:
    problems = []
    if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
        problems.append(
            f"{path}: length {len(value)} is outside {schema.get('minLength', 0)}..{schema.get('maxLength')}"
        )
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if schema.get("x-placeholders"):
        for placeholder in re.findall(r"\{[^}]*\}", value):
            if placeholder not in PLACEHOLDERS:
                problems.append(
                    f"{path}: {placeholder} is not a variable the agent substitutes ({', '.join(PLACEHOLDERS)}); "
                    f"it would be sent literally"
                )
    if schema.get("x-user"):
        try:
            pwd.getpwnam(value)
        except KeyError:
            problems.append(f"{path}: user {value!r} does not exist on this instance")
    return problems


def parse_args(argv: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        if arg in {"-a", "-m", "-c"}:
            options[arg] = next(args, "")
        elif arg == "-s":
            options["-s"] = "yes"
        else:
            raise AgentError(
                f"{PROG} unknown argument {arg!r} (the stand-in accepts -a ACTION -m MODE -c file:PATH -s)"
            )
    action = options.get("-a", "")
    if action not in ACTIONS:
        raise AgentError(f"{PROG} -a {action!r}: the stand-in supports {', '.join(ACTIONS)}")
    return options


def fetch_config(options: dict[str, str]) -> None:
    mode, source = options.get("-m", ""), options.get("-c", "")
    if mode not in MODES:
        raise AgentError(f"{PROG} -m {mode!r}: the agent accepts {', '.join(MODES)}")
    if not source.startswith("file:"):
        raise AgentError(f"{PROG} -c {source!r}: the stand-in reads file:/path configurations only (not ssm:, default)")
    path = source.removeprefix("file:")
    try:
        config = json.loads(in_root(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise AgentError(f"{PROG} cannot read {path}: {err}") from err
    except ValueError as err:
        raise AgentError(f"{PROG} {path} is not valid JSON: {err}") from err
    schema = json.loads(in_root(SCHEMA).read_text(encoding="utf-8"))
    if problems := validate(config, schema):
        raise AgentError(f"{PROG} {path}: configuration rejected ({len(problems)} problem(s)):\n" + "\n".join(problems))
    target = in_root(f"{AGENT_HOME}/etc/amazon-cloudwatch-agent.d") / f"file_{Path(path).name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    files = config["logs"]["logs_collected"]["files"]["collect_list"]
    print(f"{PROG} configuration {path} valid: {len(files)} file(s) -> {target}", file=sys.stderr)
    if options.get("-s"):
        state = in_root(STATE)
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(f"running\nstarted_at_ns={time.time_ns()}\nconfig={path}\n", encoding="utf-8")
        print(f"{PROG} agent recorded as running ({STATE}); the stand-in ships no logs", file=sys.stderr)


def status() -> None:
    try:
        lines = in_root(STATE).read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = ["stopped"]
    details = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    configured = "configured" if details.get("config") else "not configured"
    print(json.dumps({"status": lines[0], "configstatus": configured, "version": "standin", **details}, indent=2))


def main(argv: list[str]) -> int:
    try:
        options = parse_args(argv)
        if options["-a"] == "fetch-config":
            fetch_config(options)
        elif options["-a"] == "status":
            status()
        else:
            in_root(STATE).parent.mkdir(parents=True, exist_ok=True)
            in_root(STATE).write_text("stopped\n", encoding="utf-8")
    except AgentError as err:
        print(str(err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
