"""Install the boot rehearsal's stand-ins and Amazon Linux 2023's layout into the rehearsal's root.

    from tools.sandbox.rehearsal.standins import install_standins
    notes = install_standins(upper_dir)   # or the merged root; never the host's /

Stand-ins only where a container cannot do the real thing, none able to pass while checking nothing:

- ``/usr/bin/dnf``: accepts only the names in ``al2023_packages.json`` (each citing an AL2023 packages page of a named
  release), and only if what the package provides exists in the root;
- ``/usr/bin/systemctl``: starts each unit from its file after ``systemd-analyze verify`` printed nothing (see its
  docstring for what it honours; the hardening directives are accepted, not enforced: ``NOT_ENFORCED``);
- ``/usr/sbin/shutdown``: records ``shutdown -h now`` in ``/var/lib/rehearsal/shutdown`` (the migration host powers
  off; the migration phase terminates it in the emulator, as EC2's shutdown behaviour ``terminate`` does);
- ``/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl``: validates the agent configuration against
  ``cloudwatch_agent_schema.json`` and records the agent as running;
- AL2023's layout: ``/etc/sysconfig/``, ``/opt/aws/amazon-cloudwatch-agent/{bin,etc,logs,var}``,
  ``/usr/lib/systemd/system/nftables.service`` as AL2023's nftables package ships it, and ``/usr/sbin/aide`` (a link
  to Debian's ``/usr/bin/aide``: the allow-list names AL2023's path).

The programs are stdlib-only scripts run by the host's ``/usr/bin/python3`` (Debian's 3.11); their data goes to
``/usr/share/rehearsal-standins/``. ``install_standins`` returns one line per path it created or replaced, for the
emulator notes, followed by the notes on what the stand-ins do not enforce.
"""

from __future__ import annotations

from pathlib import Path

from tools.sandbox.rehearsal.standin_programs import systemctl

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "standin_programs"
DATA_DIR = "/usr/share/rehearsal-standins"

# (path in the root, source file, mode, why)
FILES: tuple[tuple[str, Path, int, str], ...] = (
    ("/usr/bin/dnf", PROGRAMS / "dnf.py", 0o755, "dnf stand-in: the AL2023 allow-list, nothing installed"),
    ("/usr/bin/systemctl", PROGRAMS / "systemctl.py", 0o755, "systemctl stand-in: units started from their files"),
    (
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl",
        PROGRAMS / "cloudwatch_agent_ctl.py",
        0o755,
        "CloudWatch agent stand-in: configuration validated, no logs shipped",
    ),
    (
        "/usr/sbin/shutdown",
        PROGRAMS / "shutdown.py",
        0o755,
        "shutdown stand-in: a power-off is recorded, the migration phase terminates the instance",
    ),
    (f"{DATA_DIR}/al2023_packages.json", HERE / "al2023_packages.json", 0o644, "the dnf stand-in's allow-list"),
    (
        "/etc/amazon-linux-release",
        HERE / "al2023_release",
        0o644,
        "AL2023's release file: the boot's security updates pin the AMI's release (dnf --releasever)",
    ),
    (
        f"{DATA_DIR}/cloudwatch_agent_schema.json",
        HERE / "cloudwatch_agent_schema.json",
        0o644,
        "the agent stand-in's schema of the keys we use",
    ),
    (
        "/usr/lib/systemd/system/nftables.service",
        HERE / "al2023_units" / "nftables.service",
        0o644,
        "AL2023's nftables unit (rules in /etc/sysconfig/nftables.conf)",
    ),
)
# AL2023's paths of the packages the host supplies, where Debian puts them elsewhere: (path, Debian's path, why).
LINKS: tuple[tuple[str, str, str], ...] = (
    (
        "/usr/sbin/aide",
        "/usr/bin/aide",
        "AL2023's aide package installs /usr/sbin/aide; Debian's, the host's, /usr/bin/aide",
    ),
)
# AL2023's directories the boot writes into.
DIRECTORIES: tuple[tuple[str, str], ...] = (
    ("/etc/sysconfig", "AL2023's configuration directory (nftables.conf)"),
    ("/etc/systemd/system", "systemd's unit directory"),
    ("/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d", "the agent's configuration directory"),
    ("/opt/aws/amazon-cloudwatch-agent/logs", "the agent's log directory"),
    ("/opt/aws/amazon-cloudwatch-agent/var", "the agent's state directory"),
)


class StandinInstallError(RuntimeError):
    """The root given cannot take the stand-ins (the message says which path and why)."""


def install_standins(root: Path) -> list[str]:
    """Write the stand-ins and AL2023's layout under ``root``; return what changed, one line per path, then notes.

    ``root`` is the directory the rehearsal's ``/`` is made of (the overlay's upper layer, or the merged root); it must
    not be the host's own ``/``, whose systemctl and dnf-less Debian tools the stand-ins would replace.
    """
    root = Path(root)
    if not root.is_dir():
        raise StandinInstallError(f"{root} is not a directory: give the rehearsal root (the overlay's upper layer)")
    if root.resolve() == Path("/"):
        raise StandinInstallError("refusing to install the stand-ins into the host's / (give the rehearsal's root)")
    changes: list[str] = []
    for path, why in DIRECTORIES:
        target = root / path.lstrip("/")
        if not target.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            changes.append(f"created {path}/: {why}")
    for path, source, mode, why in FILES:
        target = root / path.lstrip("/")
        content = source.read_bytes()
        existed = target.exists() or target.is_symlink()
        if existed and not target.is_symlink() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        tmp = target.with_name(f".{target.name}.standin")
        tmp.write_bytes(content)
        tmp.chmod(mode)
        tmp.replace(target)
        changes.append(f"{'replaced' if existed else 'created'} {path}: {why}")
    for path, debian_path, why in LINKS:
        target = root / path.lstrip("/")
        if target.is_symlink() and str(target.readlink()) == debian_path:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.symlink_to(debian_path)
        changes.append(f"created {path} -> {debian_path}: {why}")
    unenforced = ", ".join(f"{key}=" for key in systemctl.NOT_ENFORCED)
    changes.append(f"note: the systemctl stand-in accepts but does not enforce {unenforced}")
    changes.append("note: the CloudWatch agent stand-in validates its configuration and ships no logs")
    changes.append("note: dnf installs nothing; the host supplies each allowed package's commands")
    return changes
