#!/usr/bin/python3
"""shutdown stand-in for the boot rehearsal: ``shutdown -h now`` (also ``-P``, ``--poweroff``, ``-H``, ``--halt``).

Installed as ``/usr/sbin/shutdown`` in the rehearsal's root, where the host's systemd must not be asked to power
anything off. It records the request in ``/var/lib/rehearsal/shutdown`` (the time and the arguments) and exits 0;
the migration phase (tools/sandbox/migration_phase.py) then terminates the instance in the emulator, which is what
EC2 does for an instance whose ``instance_initiated_shutdown_behavior`` is ``terminate``. Anything other than a
power-off now (a reboot, a delay, a cancel) is refused, exit 1, so a script that asked for one is not taken for a
script that powers off.

``STANDIN_ROOT`` (default ``/``) prefixes the path it writes; the tests set it, the rehearsal does not.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

PROG = "[standin shutdown]"
RECORD = "var/lib/rehearsal/shutdown"
POWER_OFF = {"-h", "-H", "-P", "--halt", "--poweroff"}


def main(argv: list[str]) -> int:
    flags, times = [arg for arg in argv if arg.startswith("-")], [arg for arg in argv if not arg.startswith("-")]
    if not flags or any(flag not in POWER_OFF for flag in flags) or times != ["now"]:
        print(f"{PROG} only a power-off now is rehearsed (shutdown -h now); refused: {' '.join(argv)}", file=sys.stderr)
        return 1
    record = Path(os.environ.get("STANDIN_ROOT", "/")) / RECORD
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} shutdown {' '.join(argv)}\n")
    print(
        f"{PROG} power-off recorded in /{RECORD}: the rehearsal terminates the instance (shutdown behaviour terminate)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
