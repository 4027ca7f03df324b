"""Render the launch template's user data from ``lib/blocks/templates`` (docs/requirements.md seed failure 2).

Launch templates take user data base64-encoded (EC2 answers ``InvalidUserData.Malformed`` otherwise), and
a literal ``${`` or ``%{`` inside it would be parsed by Terraform as interpolation. Rendering refuses both
problems here, at synth time, with the template's name in the message.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from tap_contract.runtime import user_data_reads

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
EC2_MAX_ENCODED_BYTES = 16 * 1024  # EC2 limit on user data, counted after base64 encoding
# The user data stays a bootstrap that verifies and installs the artifact: half of EC2's limit, so what grows (units,
# timers, helper scripts) goes into the artifact (services/payment_api/boot/), where the boot rehearsal runs it too.
MAX_ENCODED_BYTES = EC2_MAX_ENCODED_BYTES // 2
RUNTIME_READS = "RUNTIME_READS"
_MARKER = re.compile(r"@@([A-Z_]+)@@")
# ``@@INCLUDE <file>@@``: the text of another template of TEMPLATE_DIR, in place (the shared bootstrap.sh), before the
# markers are substituted, so its markers are the including template's.
_INCLUDE = re.compile(r"^@@INCLUDE ([a-z0-9_]+\.sh)@@$", re.MULTILINE)
_TERRAFORM_SEQUENCES = ("${", "%{")


def _included(name: str) -> str:
    """An included template's code without its comment lines: the source keeps them (read it there), the user data
    keeps the budget (both launch templates carry the shared bootstrap)."""
    lines = (TEMPLATE_DIR / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


class UserDataError(ValueError):
    """The template cannot become valid launch-template user data."""


def render_user_data(template: str, values: dict[str, str]) -> str:
    """Substitute ``@@NAME@@`` markers in ``lib/blocks/templates/<template>`` and return the base64 text.

    ``@@INCLUDE <file>@@`` lines become that template's text first (``bootstrap.sh``, shared by the API's and the
    migration host's). ``@@RUNTIME_READS@@`` needs no value: it is the contract's shell read of the runtime settings
    the boot needs before the artifact is installed (``tap_contract.runtime.user_data_reads``)."""
    text = _INCLUDE.sub(lambda match: _included(match.group(1)), (TEMPLATE_DIR / template).read_text(encoding="utf-8"))
    values = {RUNTIME_READS: user_data_reads(), **values}
    missing = sorted(set(_MARKER.findall(text)) - set(values))
    if missing:
        raise UserDataError(f"{template}: no value for marker(s) {', '.join(missing)}")
    rendered = _MARKER.sub(lambda match: values[match.group(1)], text)
    for sequence in _TERRAFORM_SEQUENCES:
        if sequence in rendered:
            line = next(n for n, content in enumerate(rendered.splitlines(), 1) if sequence in content)
            raise UserDataError(
                f"{template} line {line} contains {sequence!r}, which Terraform would parse as interpolation; "
                "write shell variables as $NAME and avoid JavaScript template literals."
            )
    encoded = base64.b64encode(rendered.encode("utf-8")).decode("ascii")
    if len(encoded) > MAX_ENCODED_BYTES:
        raise UserDataError(
            f"{template}: {len(encoded)} bytes after base64, over this project's budget of {MAX_ENCODED_BYTES} "
            f"(half of EC2's {EC2_MAX_ENCODED_BYTES}): move units, timers and helper scripts into "
            "services/payment_api/boot/, which the artifact carries"
        )
    return encoded
