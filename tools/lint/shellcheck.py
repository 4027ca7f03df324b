"""``make lint``'s shell step: shellcheck on every shell script the instances or the rehearsal run.

    python -m tools.lint.shellcheck

- the launch templates' user data, rendered by ``lib/blocks/user_data.render_user_data`` (its markers filled with
  values shaped like the stack's), so what is checked is what an instance gets, not the template with its markers;
- the boot stage the artifact carries (``services/payment_api/boot/*.sh``) and the rehearsal's guest
  (``tools/sandbox/rehearsal/guest.sh``).

Any finding fails (shellcheck's default severity, style included); an exception is a ``# shellcheck disable=`` next
to the line, with its reason. Debian's shellcheck is installed when missing (tools/debian.py).
"""

from __future__ import annotations

import base64
import subprocess
import sys
import tempfile
from pathlib import Path

from lib.blocks.user_data import TEMPLATE_DIR, render_user_data
from tools.debian import ensure

ROOT = Path(__file__).resolve().parents[2]
# Values shaped like the synthesized stack's (tests/unit/components/test_api_release.py reads the real ones).
EXAMPLE_VALUES = {
    "API_PORT": "8080",
    "REGION": "eu-west-1",
    "ARTIFACT_KEY": "payment-api/0.1.0/" + "0" * 64 + "/payment-api-0.1.0-production.tar.gz",
    "ARTIFACT_HASH": "0" * 64,
    "RUNTIME_PARAMETER": "/tap/dev/payment-api/runtime",
    "LOG_GROUP": "/tap/tap-dev-api",
    "ASG_NAME": "tap-dev-api-asg",
    "LIFECYCLE_HOOK": "payment-api-boot",
    "OS_LOG_GROUP": "/tap/dev/os-security",
    "RESULT_PARAMETER": "/tap/dev/payment-api/migration/" + "0" * 64,
}
SCRIPTS = (*sorted((ROOT / "services/payment_api/boot").glob("*.sh")), ROOT / "tools/sandbox/rehearsal/guest.sh")


def rendered_templates(folder: Path) -> list[Path]:
    """Each launch template's user data (``*_user_data.sh``: the API's and the migration host's, each with the shared
    ``bootstrap.sh`` it includes), rendered and decoded into ``folder`` under its own name."""
    paths = []
    for template in sorted(TEMPLATE_DIR.glob("*_user_data.sh")):
        path = folder / template.name
        path.write_bytes(base64.b64decode(render_user_data(template.name, EXAMPLE_VALUES)))
        paths.append(path)
    return paths


def main() -> int:
    shellcheck = ensure("shellcheck", "shellcheck")
    with tempfile.TemporaryDirectory(prefix="shellcheck-") as folder:
        rendered = rendered_templates(Path(folder))
        result = subprocess.run(
            [shellcheck, "--shell=bash", "--external-sources", *map(str, rendered), *map(str, SCRIPTS)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        output = result.stdout.replace(folder + "/", "(rendered) lib/blocks/templates/")
    names = [f"(rendered) {path.name}" for path in rendered] + [str(path.relative_to(ROOT)) for path in SCRIPTS]
    if result.returncode != 0:
        print(output + result.stderr, file=sys.stderr)
        print(f"[shellcheck] findings above in: {', '.join(names)}", file=sys.stderr)
        return 1
    print(f"[shellcheck] clean: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
