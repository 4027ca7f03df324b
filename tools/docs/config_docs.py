"""The configuration documents, generated from ``lib/tunables.py`` (``make docs``, checked by ``make docs-check``).

The two configuration tables of docs/deploying.md and ``environments/example.tfvars`` used to repeat every default and
range by hand; now they are rendered from the registry the code reads, so they change when it changes.
Every function takes the registry as an argument, so a test can render a modified one; ``tools/docs/generate.py``
places the results (this module does not import it, so the two stay free of an import cycle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from lib.config import PCI_MIN_LOG_RETENTION_DAYS
from lib.tunables import BOOLEAN, TUNABLES, Tunable

GUIDE = "docs/deploying.md"  # the operator reads the settings where deploying is explained
EXAMPLE_TFVARS = "environments/example.tfvars"
# A closed list longer than this is shown by its ends (CloudWatch's retention values are 22).
LISTED_VALUES = 6

TFVARS_HEADER = f"""\
# Generated from lib/tunables.py by `make docs`; do not edit here. Per-environment values: copy to
# environments/<suffix>.tfvars, adjust, and pass it to every plan:
#   terraform -chdir=cdktf.out/stacks/TapStack<suffix> plan -var-file=$PWD/environments/<suffix>.tfvars
# It lives outside cdktf.out, where synth writes. Every value is checked by its variable's validation
# block at plan time (a production stack also refuses an empty alarm_email and log_retention_days < \
{PCI_MIN_LOG_RETENTION_DAYS}).
"""


def _code(value: object) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return '`""` (empty)'
    return f"`{value}`"


def _cell(text: str) -> str:
    """Table cells may not hold a bare pipe."""
    return text.replace("|", "\\|")


def allowed_text(tunable: Tunable) -> str:
    """What values the setting takes: its range, its closed list and its other rules, in one cell."""
    parts = []
    if tunable.low is not None:
        parts.append(f"{tunable.low} to {tunable.high}")
    values = tunable.allowed
    if values:
        shown = values if len(values) <= LISTED_VALUES else (*values[:2], "...", values[-1])
        parts.append(", ".join(value if value == "..." else f"`{value}`" for value in shown))
    if tunable.kind == BOOLEAN and not values:
        parts.append("`true`/`false` (also 1/0, yes/no, on/off)")
    if tunable.rule:
        parts.append(tunable.rule)
    return "; ".join(parts) or "any"


def env_default_text(tunable: Tunable) -> str:
    """The environment variable's default as the guide shows it."""
    if tunable.default_doc is not None:
        return tunable.default_doc
    return "unset" if tunable.default is None else _code(tunable.default)


def terraform_default_text(tunable: Tunable) -> str:
    """The Terraform variable's default: the registry's, which the environment variable replaces at synth."""
    if tunable.default is None:
        return tunable.default_doc or "**required**"
    synth = f", or `{tunable.env}` at synth" if tunable.env else ""
    return _code(tunable.default) + synth


def env_table(tunables: Sequence[Tunable] = TUNABLES) -> str:
    """The guide's table of environment variables."""
    rows = ["| variable | default | allowed | meaning | PCI DSS |", "|---|---|---|---|---|"]
    for tunable in tunables:
        if tunable.env is None:
            continue
        meaning = tunable.line
        if tunable.terraform:
            meaning = f"{meaning.rstrip('.')} (default of the Terraform variable `{tunable.terraform}`)"
        if tunable.read_by != "lib/config.py":
            meaning += f" (read by `{tunable.read_by}`)"
        cells = (f"`{tunable.env}`", env_default_text(tunable), allowed_text(tunable), meaning, tunable.pci)
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def terraform_table(tunables: Sequence[Tunable] = TUNABLES) -> str:
    """The guide's table of Terraform input variables."""
    rows = ["| variable | type | default | allowed | meaning | PCI DSS |", "|---|---|---|---|---|---|"]
    for tunable in _required_first(tunables):
        cells = (
            f"`{tunable.terraform}`",
            tunable.terraform_type,
            terraform_default_text(tunable),
            allowed_text(tunable),
            tunable.description,
            tunable.pci,
        )
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def _required_first(tunables: Sequence[Tunable]) -> list[Tunable]:
    """The Terraform variables, those without a default (which every plan must be given) first."""
    variables = [t for t in tunables if t.terraform is not None]
    return [t for t in variables if t.default is None] + [t for t in variables if t.default is not None]


def _hcl(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def _aligned(tunables: Iterable[Tunable]) -> list[str]:
    entries = [(str(t.terraform), _hcl(t.default if t.example is None else t.example)) for t in tunables]
    width = max(len(name) for name, _ in entries)
    return [f"{name.ljust(width)} = {value}" for name, value in entries]


def example_tfvars(tunables: Sequence[Tunable] = TUNABLES) -> str:
    """``environments/example.tfvars``: every Terraform variable at its default (or its example when the default
    cannot plan in production), required ones first, then one aligned block per group."""
    variables = _required_first(tunables)
    blocks = [f"# Required: {t.description}\n{t.terraform} = {_hcl(t.example)}" for t in variables if t.default is None]
    groups: dict[str, list[Tunable]] = {}
    for tunable in variables:
        if tunable.default is not None:
            groups.setdefault(tunable.group, []).append(tunable)
    blocks += ["\n".join(_aligned(members)) for members in groups.values()]
    return TFVARS_HEADER + "\n" + "\n\n".join(blocks) + "\n"


def quota_line(tunables: Sequence[Tunable] = TUNABLES) -> str:
    """The guide's vCPU quota at the default sizes (the project keeps no vCPU table, so it stays a multiple)."""
    by_terraform = {t.terraform: t for t in tunables if t.terraform}
    most, instance_type = by_terraform["asg_max_size"].default, by_terraform["instance_type"].default
    return (
        f"With the defaults (`asg_max_size` = {most}, `instance_type` = `{instance_type}`) that is {2 * most} "
        f"\N{MULTIPLICATION SIGN} the vCPUs of one {instance_type}.\n"
    )


def configuration_documents(tunables: Sequence[Tunable] = TUNABLES) -> list[tuple[str, str, str | None]]:
    """Every document rendered from the registry: ``(path, content, region or None for the whole file)``."""
    return [
        (GUIDE, env_table(tunables), "config-env"),
        (GUIDE, terraform_table(tunables), "config-tfvars"),
        (GUIDE, quota_line(tunables), "config-quota"),
        (EXAMPLE_TFVARS, example_tfvars(tunables), None),
    ]
