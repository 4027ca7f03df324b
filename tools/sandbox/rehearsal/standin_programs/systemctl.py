#!/usr/bin/python3
"""systemctl stand-in for the boot rehearsal, where systemd is not PID 1: starts each unit from its file.

Installed as ``/usr/bin/systemctl`` in the rehearsal's root. Verbs: ``daemon-reload``, ``enable [--now]``,
``disable``, ``start``, ``restart``, ``stop``, ``is-active``, ``show -p PROP [--value]``, ``status``,
``reset-failed``. Units are read from ``/etc/systemd/system`` then ``/usr/lib/systemd/system`` at every call.

Before a unit starts, ``systemd-analyze verify --man=no <file>`` must print nothing at all: its exit code stays 0 on
an unknown key or a typo, only its output tells. Then, as systemd does:

- ``Requires=``/``Wants=`` units start first (a required unit that fails fails the dependent; ``Requires=`` without
  ``After=`` is refused, since systemd would start both at once); ``.target`` units are reached without work;
- ``User=``/``Group=`` (the child drops to the user and its groups), ``UMask=``, ``WorkingDirectory=`` (``-``, ``~``);
- a clean environment (systemd's PATH, ``DefaultEnvironment=`` of ``/etc/systemd/system.conf``, USER/HOME/...),
  then ``Environment=``, then ``EnvironmentFile=`` (systemd's env-file syntax; ``-`` prefix: optional file); an
  assignment systemd would ignore with a warning is an error here;
- ``LoadCredential=ID:PATH`` copied to ``/run/credentials/<unit>/<ID>`` (0400, owned by the unit's user, directory
  0500), ``CREDENTIALS_DIRECTORY`` set; ``RuntimeDirectory=``/``StateDirectory=``/``LogsDirectory=`` created;
- ``ExecStartPre=``, ``ExecStart=``, ``ExecStartPost=``, ``ExecStop=`` with the ``-`` (failure ignored) and ``+``
  (full privileges) prefixes, ``$VAR``/``${VAR}`` expansion and specifiers ``%n %N %p %i %I %t %S %L %C %%``;
- ``Type=oneshot`` runs to completion (non-zero fails; ``RemainAfterExit=yes`` keeps it active); ``Type=simple`` /
  ``exec`` start under a detached supervisor (``setsid``) that outlives systemctl and honours ``Restart=no|always|
  on-failure``, ``RestartSec=`` and the start limit (``StartLimitBurst=`` 5 in ``StartLimitIntervalSec=`` 10 s);
- ``StandardOutput=``/``StandardError=`` ``append:``/``file:``/``truncate:``/``null``/``inherit``/``journal`` (the
  journal is ``/run/standin-systemd/<unit>.journal``);
- ``.timer`` units: verified and marked active; nothing is scheduled, nothing runs;
- ``enable`` creates ``/etc/systemd/system/<target>.wants/<unit>`` symlinks from ``[Install]`` as systemd does.

Accepted but NOT enforced (listed in ``NOT_ENFORCED``, said at every start that uses one): the sandboxing and
hardening directives (ProtectSystem=, ProtectHome=, PrivateTmp=, SystemCallFilter=, IPAddressDeny=, ...), since they
need systemd's namespaces, seccomp and cgroup/BPF machinery. A directive in neither list fails the start, naming it.

State for the harness: ``/run/standin-systemd/<unit>.state`` (active|activating|failed|inactive),
``<unit>.pid`` (main process), ``<unit>.supervisor.pid``, ``<unit>.result`` (why it failed), ``<unit>.journal``.

``STANDIN_ROOT`` (default ``/``) prefixes the unit directories, the state and the credentials; the tests set it.
"""

from __future__ import annotations

import collections
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

PROG = "[standin systemctl]"
UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system")
STATE_DIR = "/run/standin-systemd"
CREDENTIALS_DIR = "/run/credentials"
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
TAIL_LINES = 20

# Hardening and sandboxing: accepted (systemd-analyze verify checks their syntax), not enforced.
NOT_ENFORCED: tuple[str, ...] = tuple(
    """
    AmbientCapabilities CapabilityBoundingSet DevicePolicy DeviceAllow IPAddressAllow IPAddressDeny
    InaccessiblePaths KeyringMode LockPersonality MemoryDenyWriteExecute NoNewPrivileges PrivateDevices PrivateIPC
    PrivateNetwork PrivateTmp PrivateUsers ProcSubset ProtectClock ProtectControlGroups ProtectHome ProtectHostname
    ProtectKernelLogs ProtectKernelModules ProtectKernelTunables ProtectProc ProtectSystem ReadOnlyPaths
    ReadWritePaths RemoveIPC RestrictAddressFamilies RestrictFileSystems RestrictNamespaces RestrictRealtime
    RestrictSUIDSGID SystemCallArchitectures SystemCallErrorNumber SystemCallFilter KillMode KillSignal
    TimeoutStopSec SyslogIdentifier LimitNOFILE Conflicts DefaultDependencies Before
    """.split()
)
HANDLED: dict[str, frozenset[str]] = {
    "Unit": frozenset("Description Documentation Requires Wants After StartLimitIntervalSec StartLimitBurst".split()),
    "Service": frozenset(
        """
        Type RemainAfterExit User Group EnvironmentFile Environment LoadCredential ExecStartPre ExecStart
        ExecStartPost ExecStop ExecReload Restart RestartSec StandardInput StandardOutput StandardError
        WorkingDirectory UMask TimeoutStartSec RuntimeDirectory StateDirectory LogsDirectory
        RuntimeDirectoryMode StateDirectoryMode LogsDirectoryMode
        """.split()
    ),
    "Install": frozenset("WantedBy RequiredBy".split()),
    # A timer is verified and marked active; the stand-in schedules nothing, so every timing key is only accepted.
    "Timer": frozenset(
        """
        OnCalendar OnBootSec OnStartupSec OnActiveSec OnUnitActiveSec OnUnitInactiveSec Persistent
        RandomizedDelaySec AccuracySec Unit FixedRandomDelay
        """.split()
    ),
}
DIRECTORY_ROOTS = {"RuntimeDirectory": "/run", "StateDirectory": "/var/lib", "LogsDirectory": "/var/log"}


class UnitError(Exception):
    """The verb fails (exit 1); the message names the unit and the directive or command that failed."""


def in_root(path: str) -> Path:
    return Path(os.environ.get("STANDIN_ROOT", "/")) / path.lstrip("/")


def say(message: str) -> None:
    print(f"{PROG} {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------- unit files
@dataclass
class Unit:
    """A unit file as systemd reads it: sections of keys, each with its list of values (drop-ins merged)."""

    name: str
    path: str  # as the root sees it (/etc/systemd/system/x.service)
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def values(self, section: str, key: str) -> list[str]:
        return [value for value in self.sections.get(section, {}).get(key, []) if value]

    def value(self, section: str, key: str, default: str = "") -> str:
        found = self.values(section, key)
        return found[-1] if found else default

    def words(self, section: str, key: str) -> list[str]:
        return [word for value in self.values(section, key) for word in value.split()]

    def flag(self, section: str, key: str) -> bool:
        return self.value(section, key, "no").lower() in {"yes", "true", "1", "on"}


def unit_name(name: str) -> str:
    return name if "." in name else f"{name}.service"


def find_unit(name: str) -> Unit | None:
    for directory in UNIT_DIRS:
        candidate = in_root(directory) / name
        if candidate.is_file():
            unit = Unit(name=name, path=f"{directory}/{name}")
            unit.sections = parse_unit_file(candidate.read_text(encoding="utf-8"), unit)
            for drop_in_dir in UNIT_DIRS:
                for drop_in in sorted((in_root(drop_in_dir) / f"{name}.d").glob("*.conf")):
                    merge(unit.sections, parse_unit_file(drop_in.read_text(encoding="utf-8"), unit))
            return unit
    return None


def load_unit(name: str) -> Unit:
    unit = find_unit(name)
    if unit is None:
        raise UnitError(f"Unit {name} not found. (looked in {', '.join(UNIT_DIRS)})")
    return unit


def merge(into: dict[str, dict[str, list[str]]], extra: dict[str, dict[str, list[str]]]) -> None:
    for section, keys in extra.items():
        for key, values in keys.items():
            into.setdefault(section, {}).setdefault(key, [])
            if values[:1] == [""]:  # an empty assignment resets the list, as in systemd
                into[section][key] = []
            into[section][key].extend(v for v in values if v)


def logical_lines(text: str) -> Iterator[str]:
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def parse_unit_file(text: str, unit: Unit) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    section = ""
    for line in logical_lines(text):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        values = sections.setdefault(section, {}).setdefault(key, [])
        if not value:
            values.clear()
            values.append("")
        else:
            values.append(expand_specifiers(value, unit, key))
    return sections


def expand_specifiers(value: str, unit: Unit, key: str) -> str:
    prefix = unit.name.rpartition(".")[0]
    template, _, instance = prefix.partition("@")
    table = {
        "n": unit.name, "N": prefix, "p": template, "i": instance, "I": instance, "t": "/run",
        "S": "/var/lib", "L": "/var/log", "C": "/var/cache", "%": "%",
    }  # fmt: skip

    def one(match: re.Match[str]) -> str:
        letter = match.group(1)
        if letter not in table:
            raise UnitError(
                f"{unit.name}: {key}={value}: specifier %{letter} is not supported by the stand-in "
                f"(supported: {' '.join('%' + k for k in table)})"
            )
        return table[letter]

    return re.sub(r"%(.)", one, value)


def check_directives(unit: Unit) -> list[str]:
    """Fail on a directive the stand-in neither honours nor lists as not enforced; return the not-enforced ones."""
    unenforced = []
    for section, keys in unit.sections.items():
        if section.startswith("X-"):
            continue
        if section not in HANDLED:
            raise UnitError(f"{unit.name}: section [{section}] is not supported by the systemctl stand-in")
        for key in keys:
            if key in NOT_ENFORCED:
                unenforced.append(key)
            elif key not in HANDLED[section]:
                raise UnitError(
                    f"{unit.name}: [{section}] {key}= is not modelled by the systemctl stand-in: implement it there "
                    f"(tools/sandbox/rehearsal/standin_programs/systemctl.py) or list it in NOT_ENFORCED, saying so"
                )
    return unenforced


def verify(unit: Unit) -> None:
    command = ["systemd-analyze", "verify", "--man=no", str(in_root(unit.path))]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=60, env={**os.environ, "SYSTEMD_COLORS": "0"}
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UnitError(f"{unit.name}: cannot run {' '.join(command)}: {err}") from err
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise UnitError(f"{unit.name}: systemd-analyze verify failed (exit {result.returncode}):\n{output}")
    if output:
        raise UnitError(
            f"{unit.name}: systemd-analyze verify printed warnings (exit 0); systemd would run the unit without what "
            f"it ignored, so the rehearsal stops here:\n{output}"
        )


# --------------------------------------------------------------------------------------------------- environment
def parse_env_file(text: str, origin: str) -> dict[str, str]:
    """systemd's EnvironmentFile= syntax: KEY=VALUE lines, # and ; comments, '…' literal, "…" with \\ escapes,
    backslash-newline continuation. An invalid line is an error (systemd would skip it with a warning)."""
    result: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].strip()
        index += 1
        if not line or line[0] in "#;":
            continue
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UnitError(
                f"{origin}:{number}: {line!r} is not a KEY=VALUE assignment systemd accepts "
                f"(systemd would ignore it with a warning; 'export' and spaces in names are not allowed)"
            )
        value, index = _env_value(rest.lstrip(), lines, index, f"{origin}:{number}")
        result[key] = value
    return result


# One state machine over quotes and escapes, as systemd's env-file parser is: splitting it would scatter the states.
def _env_value(rest: str, lines: list[str], index: int, where: str) -> tuple[str, int]:  # pylint: disable=too-many-branches
    out: list[str] = []
    quote = ""
    position = 0
    while True:
        if position >= len(rest):
            if quote:  # a quoted value continues on the next line
                if index >= len(lines):
                    raise UnitError(f"{where}: unterminated {quote} quote")
                out.append("\n")
                rest, position, index = lines[index], 0, index + 1
                continue
            break
        char = rest[position]
        position += 1
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                out.append(char)
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char == "\\" and position < len(rest) and rest[position] in '"\\`$':
                out.append(rest[position])
                position += 1
            elif char == "\\" and position >= len(rest):
                rest, position, index = (lines[index] if index < len(lines) else ""), 0, index + 1
            else:
                out.append(char)
        elif char in "'\"":
            quote = char
        elif char == "\\":
            if position >= len(rest):  # continuation
                rest, position, index = (lines[index] if index < len(lines) else ""), 0, index + 1
            else:
                out.append(rest[position])
                position += 1
        else:
            out.append(char)
    return "".join(out).rstrip() if not quote else "".join(out), index


def default_environment() -> dict[str, str]:
    env = {"PATH": SYSTEMD_PATH}
    for conf in [in_root("/etc/systemd/system.conf"), *sorted(in_root("/etc/systemd/system.conf.d").glob("*.conf"))]:
        if not conf.is_file():
            continue
        section = ""
        for line in logical_lines(conf.read_text(encoding="utf-8")):
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "Manager" and line.startswith("DefaultEnvironment="):
                env.update(assignments(line.partition("=")[2], str(conf)))
    return env


def assignments(value: str, origin: str) -> dict[str, str]:
    found = {}
    for word in shlex.split(value):
        key, sep, val = word.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UnitError(f"{origin}: {word!r} is not a KEY=VALUE assignment")
        found[key] = val
    return found


# ------------------------------------------------------------------------------------------------------ execution
@dataclass
class Context:
    """How a unit's commands run: environment, user, directory, umask, output streams."""

    unit: Unit
    env: dict[str, str]
    user: pwd.struct_passwd | None
    gid: int | None
    groups: list[int]
    cwd: str
    umask: int
    outputs: list[tuple[Path, int]]  # (file, size before the run) for the failure tail
    stdout: str
    stderr: str


def resolve_user(unit: Unit) -> tuple[pwd.struct_passwd | None, int | None, list[int]]:
    name = unit.value("Service", "User")
    if not name:
        return None, None, []
    try:
        user = pwd.getpwnam(name) if not name.isdigit() else pwd.getpwuid(int(name))
    except KeyError as err:
        raise UnitError(f"{unit.name}: User={name}: no such user in this root's /etc/passwd") from err
    gid = user.pw_gid
    if group := unit.value("Service", "Group"):
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError as err:
            raise UnitError(f"{unit.name}: Group={group}: no such group") from err
    return user, gid, os.getgrouplist(user.pw_name, gid)


def build_context(unit: Unit) -> Context:
    user, gid, groups = resolve_user(unit)
    env = default_environment()
    env["INVOCATION_ID"] = os.urandom(16).hex()
    if user is not None:
        env.update(USER=user.pw_name, LOGNAME=user.pw_name, HOME=user.pw_dir, SHELL=user.pw_shell)
    env.update(setup_directories(unit, user, gid))
    if credentials := setup_credentials(unit, user, gid):
        env["CREDENTIALS_DIRECTORY"] = str(in_root(credentials))
    for value in unit.values("Service", "Environment"):
        env.update(assignments(value, f"{unit.name}: Environment="))
    for entry in unit.values("Service", "EnvironmentFile"):
        optional, path = entry.startswith("-"), entry.lstrip("-")
        target = in_root(path)
        if not target.is_file():
            if optional:
                continue
            raise UnitError(f"{unit.name}: EnvironmentFile={path}: no such file (prefix it with - if optional)")
        env.update(parse_env_file(target.read_text(encoding="utf-8"), path))
    cwd = unit.value("Service", "WorkingDirectory", "/")
    if cwd.lstrip("-") == "~":
        cwd = user.pw_dir if user else "/root"
    elif cwd.startswith("-"):
        cwd = cwd[1:] if in_root(cwd[1:]).is_dir() else "/"
    umask = int(unit.value("Service", "UMask", "0022"), 8)
    if unit.value("Service", "StandardInput", "null") != "null":
        raise UnitError(f"{unit.name}: StandardInput={unit.value('Service', 'StandardInput')}: only null is supported")
    return Context(
        unit=unit, env=env, user=user, gid=gid, groups=groups, cwd=cwd, umask=umask, outputs=[],
        stdout=unit.value("Service", "StandardOutput", "journal"),
        stderr=unit.value("Service", "StandardError", "inherit"),
    )  # fmt: skip


def setup_directories(unit: Unit, user: pwd.struct_passwd | None, gid: int | None) -> dict[str, str]:
    env = {}
    for key, base in DIRECTORY_ROOTS.items():
        names = unit.words("Service", key)
        mode = int(unit.value("Service", f"{key}Mode", "0755"), 8)
        for name in names:
            target = in_root(f"{base}/{name}")
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(mode)
            if user is not None:
                os.chown(target, user.pw_uid, gid if gid is not None else user.pw_gid)
        if names:
            env[key.upper().replace("DIRECTORY", "_DIRECTORY")] = ":".join(str(in_root(f"{base}/{n}")) for n in names)
    return env


def setup_credentials(unit: Unit, user: pwd.struct_passwd | None, gid: int | None) -> str:
    entries = unit.values("Service", "LoadCredential")
    if not entries:
        return ""
    directory = in_root(f"{CREDENTIALS_DIR}/{unit.name}")
    if directory.exists():
        shutil.rmtree(directory)
    # systemd's /run/credentials is 0755 (each unit's folder below it is the unit's alone); made under the caller's
    # umask (the user data's 077) it would keep every unit's user out of its own folder.
    in_root(CREDENTIALS_DIR).mkdir(parents=True, exist_ok=True)
    in_root(CREDENTIALS_DIR).chmod(0o755)
    directory.mkdir(mode=0o700)
    uid = user.pw_uid if user else 0
    owner_gid = gid if gid is not None else (user.pw_gid if user else 0)
    for entry in entries:
        credential, sep, source = entry.partition(":")
        if not sep or not source.startswith("/") or "/" in credential:
            raise UnitError(
                f"{unit.name}: LoadCredential={entry}: the stand-in supports ID:/absolute/path only "
                f"(no credential store search)"
            )
        origin = in_root(source)
        if not origin.is_file():
            raise UnitError(f"{unit.name}: LoadCredential={entry}: {source} is not a readable file")
        target = directory / credential
        target.write_bytes(origin.read_bytes())
        os.chown(target, uid, owner_gid)
        target.chmod(0o400)
    os.chown(directory, uid, owner_gid)
    directory.chmod(0o500)
    return f"{CREDENTIALS_DIR}/{unit.name}"


def parse_command(line: str, unit: Unit, directive: str, env: dict[str, str]) -> tuple[str, list[str]]:
    prefixes = re.match(r"^[-+@:!]*", line)
    flags = prefixes.group(0) if prefixes else ""
    if set(flags) - {"-", "+"}:
        raise UnitError(f"{unit.name}: {directive}={line}: prefixes other than - and + are not supported")
    words = shlex.split(line[len(flags) :])
    if not words:
        raise UnitError(f"{unit.name}: {directive}= is empty")
    argv: list[str] = []
    for word in words:
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):  # $VAR alone: split on whitespace
            argv.extend(env.get(word[1:], "").split())
        else:
            argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
    return flags, argv


def open_stream(ctx: Context, spec: str, name: str) -> int | IO[bytes]:
    kind, _, path = spec.partition(":")
    if kind in {"journal", "journal+console", "syslog", "kmsg"}:
        kind, path = "append", f"{STATE_DIR}/{ctx.unit.name}.journal"
    if kind == "null":
        return subprocess.DEVNULL
    if kind not in {"append", "file", "truncate"} or not path.startswith("/"):
        raise UnitError(f"{ctx.unit.name}: {name}={spec} is not supported by the stand-in")
    target = in_root(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if kind == "append" else 0)
    flags |= os.O_TRUNC if kind == "truncate" else 0
    descriptor = os.open(target, flags, 0o666 & ~ctx.umask)
    ctx.outputs.append((target, 0 if kind == "truncate" else os.fstat(descriptor).st_size))
    return os.fdopen(descriptor, "wb")


def streams(ctx: Context) -> tuple[int | IO[bytes], int | IO[bytes]]:
    stdout_spec = "null" if ctx.stdout == "inherit" else ctx.stdout  # inherits StandardInput=null
    stdout = open_stream(ctx, stdout_spec, "StandardOutput")
    stderr = stdout if ctx.stderr == "inherit" else open_stream(ctx, ctx.stderr, "StandardError")
    return stdout, stderr


def tail(ctx: Context) -> str:
    chunks = []
    for path, start in ctx.outputs:
        with path.open("rb") as handle:
            handle.seek(start)
            lines = handle.read().decode("utf-8", "replace").splitlines()[-TAIL_LINES:]
        chunks.append(f"last {len(lines)} lines of {ctx.unit.name}'s output ({path}):\n" + "\n".join(lines))
    return "\n".join(chunks) or f"{ctx.unit.name} wrote no output"


def popen_options(ctx: Context, privileged: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"env": ctx.env, "cwd": str(in_root(ctx.cwd)), "umask": ctx.umask}
    options["stdin"] = subprocess.DEVNULL
    if ctx.user is not None and not privileged:
        options.update(user=ctx.user.pw_uid, group=ctx.gid, extra_groups=ctx.groups)
    return options


def run_sync(ctx: Context, directive: str, line: str, timeout: float | None) -> None:
    flags, argv = parse_command(line, ctx.unit, directive, ctx.env)
    ctx.outputs = []  # the tail shows this command's output
    stdout, stderr = streams(ctx)
    say(f"{ctx.unit.name}: {directive}={' '.join(argv)}")
    try:
        result = subprocess.run(
            argv, stdout=stdout, stderr=stderr, timeout=timeout, check=False, **popen_options(ctx, "+" in flags)
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise UnitError(f"{ctx.unit.name}: {directive}={line}: could not run: {err}\n{tail(ctx)}") from err
    finally:
        for stream in {id(s): s for s in (stdout, stderr)}.values():
            if not isinstance(stream, int):
                stream.close()
    if result.returncode != 0 and "-" not in flags:
        raise UnitError(
            f"{ctx.unit.name}: {directive}={' '.join(argv)} exited with status {result.returncode}\n{tail(ctx)}"
        )


def timespan(value: str, what: str) -> float:
    """systemd time spans: '2', '2s', '500ms', '1min 30s'; 'infinity'."""
    if value == "infinity":
        return float("inf")
    units = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "us": 1e-6, "m": 60.0, "min": 60.0, "h": 3600.0}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        if unit not in units:
            raise UnitError(f"{what}={value}: unit {unit!r} is not supported by the stand-in")
        total += float(number) * units[unit]
    return total


# ---------------------------------------------------------------------------------------------------------- state
def state_file(name: str, suffix: str) -> Path:
    return in_root(STATE_DIR) / f"{name}.{suffix}"


def write_state(name: str, state: str, result: str = "") -> None:
    in_root(STATE_DIR).mkdir(parents=True, exist_ok=True)
    state_file(name, "state").write_text(state + "\n", encoding="utf-8")
    if result:
        state_file(name, "result").write_text(result + "\n", encoding="utf-8")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    except (OSError, IndexError):
        return False


def read_pid(name: str, suffix: str) -> int | None:
    try:
        return int(state_file(name, suffix).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def active_state(name: str) -> str:
    try:
        state = state_file(name, "state").read_text(encoding="utf-8").strip()
    except OSError:
        return "inactive"
    supervisor = read_pid(name, "supervisor.pid")
    if state in {"active", "activating"} and supervisor is not None and not alive(supervisor):
        return "failed"  # the supervisor died without saying so (killed)
    return state


# ---------------------------------------------------------------------------------------------------------- start
def start(name: str, chain: tuple[str, ...] = ()) -> None:
    name = unit_name(name)
    if name in chain:
        raise UnitError(f"{name}: dependency cycle: {' -> '.join((*chain, name))}")
    if active_state(name) == "active":
        say(f"{name}: already active")
        return
    unit = load_unit(name)
    if unit.kind == "target":
        write_state(name, "active")
        say(f"{name}: target reached")
        return
    if unit.kind not in {"service", "timer"}:
        raise UnitError(f"{name}: .{unit.kind} units are not supported by the systemctl stand-in")
    verify(unit)  # first: systemd's own verdict on a typo is the clearest
    unenforced = check_directives(unit)
    try:
        start_dependencies(unit, (*chain, name))
        if unenforced:
            say(f"{name}: accepted, NOT enforced by the stand-in: {', '.join(sorted(set(unenforced)))}")
        write_state(name, "activating")
        if unit.kind == "timer":
            start_timer(unit)
        elif unit.value("Service", "Type", "simple") == "oneshot":
            start_oneshot(unit)
        else:
            start_simple(unit)
    except UnitError as err:
        write_state(name, "failed", str(err))
        raise


def start_dependencies(unit: Unit, chain: tuple[str, ...]) -> None:
    after = set(unit.words("Unit", "After"))
    for required in unit.words("Unit", "Requires"):
        if required not in after and not required.endswith(".target"):
            raise UnitError(
                f"{unit.name}: Requires={required} without After={required}: systemd starts both at once, so "
                f"{unit.name} could run before {required} has finished; add After={required}"
            )
        try:
            start(required, chain)
        except UnitError as err:
            raise UnitError(
                f"A dependency job for {unit.name} failed. See 'journalctl -xe' for details.\n"
                f"{PROG} {unit.name}: Requires={required}, which failed:\n{err}"
            ) from err
    for wanted in unit.words("Unit", "Wants"):
        try:
            start(wanted, chain)
        except UnitError as err:
            say(f"{unit.name}: Wants={wanted} failed to start (ignored, as systemd does): {err}")


def start_timer(unit: Unit) -> None:
    service = unit.value("Timer", "Unit", unit.name.rsplit(".", 1)[0] + ".service")
    load_unit(service)
    schedule = "; ".join(f"{k}={v}" for k, vs in unit.sections.get("Timer", {}).items() for v in vs)
    write_state(unit.name, "active")
    say(f"{unit.name}: active, triggers {service} ({schedule}); the stand-in schedules nothing, nothing runs")


def start_oneshot(unit: Unit) -> None:
    ctx = build_context(unit)
    limit = unit.value("Service", "TimeoutStartSec")
    timeout = timespan(limit, "TimeoutStartSec") if limit else None  # oneshot: no start timeout by default
    timeout = None if timeout == float("inf") else timeout
    if not unit.values("Service", "ExecStart"):
        raise UnitError(f"{unit.name}: Type=oneshot without ExecStart=")
    for directive in ("ExecStartPre", "ExecStart", "ExecStartPost"):
        for line in unit.values("Service", directive):
            try:
                run_sync(ctx, directive, line, timeout)
            except UnitError as err:
                raise UnitError(
                    f"Job for {unit.name} failed because the control process exited with error code.\n{PROG} {err}"
                ) from err
    remain = unit.flag("Service", "RemainAfterExit")
    write_state(unit.name, "active" if remain else "inactive")
    say(f"{unit.name}: finished{' (active: RemainAfterExit=yes)' if remain else ''}")


def start_simple(unit: Unit) -> None:
    kind = unit.value("Service", "Type", "simple")
    if kind not in {"simple", "exec"}:
        raise UnitError(f"{unit.name}: Type={kind} is not supported by the stand-in (simple, exec, oneshot)")
    lines = unit.values("Service", "ExecStart")
    if len(lines) != 1:
        raise UnitError(f"{unit.name}: Type={kind} needs exactly one ExecStart= (has {len(lines)})")
    restart = unit.value("Service", "Restart", "no")
    if restart not in {"no", "always", "on-failure"}:
        raise UnitError(f"{unit.name}: Restart={restart} is not supported by the stand-in (no, always, on-failure)")
    ctx = build_context(unit)
    for line in unit.values("Service", "ExecStartPre"):
        try:
            run_sync(ctx, "ExecStartPre", line, 90.0)
        except UnitError as err:
            raise UnitError(
                f"Job for {unit.name} failed because the control process exited with error code.\n{PROG} {err}"
            ) from err
    flags, argv = parse_command(lines[0], unit, "ExecStart", ctx.env)
    spec = {
        "unit": unit.name, "argv": argv, "options": popen_options(ctx, "+" in flags), "stdout": ctx.stdout,
        "stderr": ctx.stderr, "restart": restart,
        "restart_sec": timespan(unit.value("Service", "RestartSec", "100ms"), "RestartSec"),
        "burst": int(unit.value("Unit", "StartLimitBurst", "5")),
        "interval": timespan(unit.value("Unit", "StartLimitIntervalSec", "10s"), "StartLimitIntervalSec"),
    }  # fmt: skip
    journal = open_stream(ctx, "journal", "journal")
    supervisor = subprocess.Popen(  # pylint: disable=consider-using-with  # it outlives us, detached on purpose
        [sys.executable, os.path.abspath(__file__), "__supervise", unit.name],
        stdin=subprocess.PIPE, stdout=journal, stderr=journal, start_new_session=True, close_fds=True,
    )  # fmt: skip
    assert supervisor.stdin is not None
    supervisor.stdin.write(json.dumps(spec).encode())
    supervisor.stdin.close()
    state_file(unit.name, "supervisor.pid").write_text(f"{supervisor.pid}\n", encoding="utf-8")
    deadline = time.monotonic() + 10
    while (state := active_state(unit.name)) == "activating" and time.monotonic() < deadline:
        time.sleep(0.05)
    if state != "active":
        result = state_file(unit.name, "result")
        why = result.read_text(encoding="utf-8").strip() if result.exists() else state
        raise UnitError(f"Job for {unit.name} failed: ExecStart={' '.join(argv)} did not start: {why}\n{tail(ctx)}")
    for line in unit.values("Service", "ExecStartPost"):
        run_sync(ctx, "ExecStartPost", line, 90.0)
    say(f"{unit.name}: started, main pid {read_pid(unit.name, 'pid')} (supervisor {supervisor.pid})")


def supervise(name: str) -> int:
    """The detached supervisor of a simple service: starts it, restarts it per Restart=, records its state."""
    spec = json.loads(sys.stdin.buffer.read())
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    starts: collections.deque[float] = collections.deque()
    unit = load_unit(name)
    ctx = build_context_for_streams(unit, spec)
    while True:
        now = time.monotonic()
        starts.append(now)
        while starts and now - starts[0] > spec["interval"]:
            starts.popleft()
        if len(starts) > spec["burst"]:
            write_state(name, "failed", f"{name}: start request repeated too quickly ({spec['burst']} starts)")
            return 1
        stdout, stderr = streams(ctx)
        try:
            # Not a with-block: the supervisor waits on it below, and signals its process group on stop.
            child = subprocess.Popen(  # pylint: disable=consider-using-with
                spec["argv"], stdout=stdout, stderr=stderr, process_group=0, **spec["options"]
            )
        except OSError as err:
            write_state(name, "failed", f"{name}: ExecStart={' '.join(spec['argv'])}: {err}")
            return 1
        finally:
            for stream in {id(s): s for s in (stdout, stderr)}.values():
                if not isinstance(stream, int):
                    stream.close()
        state_file(name, "pid").write_text(f"{child.pid}\n", encoding="utf-8")
        write_state(name, "active")
        code = wait_child(child)
        if stopping:
            write_state(name, "inactive")
            return 0
        print(f"{PROG} {name}: main process exited, status {code}", flush=True)
        if spec["restart"] == "always" or (spec["restart"] == "on-failure" and code != 0):
            write_state(name, "activating")
            time.sleep(spec["restart_sec"])
            continue
        write_state(name, "failed" if code else "inactive", f"{name}: main process exited with status {code}")
        return 0


def wait_child(child: subprocess.Popen[bytes]) -> int:
    while True:
        try:
            return child.wait()
        except InterruptedError:
            continue


def build_context_for_streams(unit: Unit, spec: dict[str, Any]) -> Context:
    return Context(
        unit=unit, env={}, user=None, gid=None, groups=[], cwd="/", umask=spec["options"]["umask"], outputs=[],
        stdout=spec["stdout"], stderr=spec["stderr"],
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ the other verbs
def stop(name: str) -> None:
    name = unit_name(name)
    unit = find_unit(name)
    if unit is not None and unit.values("Service", "ExecStop") and active_state(name) == "active":
        ctx = build_context(unit)
        for line in unit.values("Service", "ExecStop"):
            run_sync(ctx, "ExecStop", line, 90.0)
    supervisor = read_pid(name, "supervisor.pid")
    if supervisor is not None and alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(supervisor):
            main_pid = read_pid(name, "pid")
            for pid in (main_pid, supervisor):
                if pid is not None:
                    os.killpg(pid, signal.SIGKILL)
    for suffix in ("pid", "supervisor.pid"):
        state_file(name, suffix).unlink(missing_ok=True)
    shutil.rmtree(in_root(f"{CREDENTIALS_DIR}/{name}"), ignore_errors=True)
    if state_file(name, "state").exists():
        write_state(name, "inactive")
    say(f"{name}: stopped")


def enable(names: list[str], now: bool) -> None:
    for raw in names:
        name = unit_name(raw)
        unit = load_unit(name)
        targets = [("wants", t) for t in unit.words("Install", "WantedBy")]
        targets += [("requires", t) for t in unit.words("Install", "RequiredBy")]
        if not targets:
            say(
                f"The unit files have no installation config (WantedBy=, RequiredBy=, Also=, Alias= settings in the "
                f"[Install] section) for {name}: nothing to enable"
            )
        for relation, target in targets:
            link = in_root(f"/etc/systemd/system/{target}.{relation}") / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() and os.readlink(link) == unit.path:
                continue
            link.unlink(missing_ok=True)
            link.symlink_to(unit.path)
            print(f"Created symlink /etc/systemd/system/{target}.{relation}/{name} → {unit.path}.", file=sys.stderr)
    if now:
        for raw in names:
            start(raw)


def disable(names: list[str], now: bool) -> None:
    for raw in names:
        name = unit_name(raw)
        for link in in_root("/etc/systemd/system").glob(f"*.*/{name}"):
            if link.is_symlink():
                link.unlink()
                print(f"Removed {link}.", file=sys.stderr)
        if now:
            stop(name)


SHOW_PROPERTIES = ("ActiveState", "SubState", "MainPID", "Type", "User", "FragmentPath", "Result")


def show(names: list[str], properties: list[str], value_only: bool) -> None:
    for prop in properties:
        if prop not in SHOW_PROPERTIES:
            raise UnitError(f"show -p {prop}: the stand-in knows only {', '.join(SHOW_PROPERTIES)}")
    for raw in names:
        name = unit_name(raw)
        unit = find_unit(name)
        state = active_state(name)
        pid = read_pid(name, "pid")
        values = {
            "ActiveState": state,
            "SubState": {"active": "running" if pid else "exited", "failed": "failed"}.get(state, "dead"),
            "MainPID": str(pid if pid and alive(pid) else 0),
            "Type": unit.value("Service", "Type", "simple") if unit else "",
            "User": unit.value("Service", "User") if unit else "",
            "FragmentPath": unit.path if unit else "",
            "Result": "success" if state != "failed" else "exit-code",
        }
        for prop in properties or list(SHOW_PROPERTIES):
            print(values[prop] if value_only else f"{prop}={values[prop]}")


def status(name: str) -> int:
    name = unit_name(name)
    state = active_state(name)
    unit = find_unit(name)
    print(f"● {name} - {unit.value('Unit', 'Description') if unit else '(not found)'}")
    print(f"     Loaded: {unit.path if unit else 'not-found'} (stand-in)")
    print(f"     Active: {state}")
    if (result := state_file(name, "result")).exists():
        print(f"     Result: {result.read_text(encoding='utf-8').strip()}")
    return 0 if state == "active" else 3


VERBS = ("daemon-reload", "enable", "disable", "start", "restart", "stop", "is-active", "show", "status",
         "reset-failed")  # fmt: skip
OPTIONS = {"--now", "--no-block", "--quiet", "-q", "--no-pager", "--value", "--system"}


def parse(argv: list[str]) -> tuple[str, list[str], set[str], list[str]]:
    verb = ""
    names: list[str] = []
    options: set[str] = set()
    properties: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in {"-p", "--property"}:
            properties.extend(next(args, "").split(","))
        elif arg.startswith("--property="):
            properties.extend(arg.partition("=")[2].split(","))
        elif arg.startswith("-"):
            if arg not in OPTIONS:
                raise UnitError(f"unrecognized option '{arg}' (the stand-in accepts {', '.join(sorted(OPTIONS))})")
            options.add(arg)
        elif not verb:
            verb = arg
        else:
            names.append(arg)
    if verb not in VERBS:
        raise UnitError(f"Unknown command verb '{verb}'. The systemctl stand-in supports: {', '.join(VERBS)}")
    return verb, names, options, properties


def restart_all(names: list[str]) -> None:
    for name in names:
        stop(name)
        start(name)


def start_all(names: list[str]) -> None:
    for name in names:
        start(name)


def is_active(names: list[str], quiet: bool) -> int:
    states = [active_state(unit_name(name)) for name in names]
    if not quiet:
        print("\n".join(states))
    return 0 if all(state == "active" for state in states) else 3


def stop_all(names: list[str]) -> None:
    for name in names:
        stop(name)


def reset_failed(names: list[str]) -> None:
    for name in map(unit_name, names):
        if active_state(name) == "failed":
            write_state(name, "inactive")


def dispatch(verb: str, names: list[str], options: set[str], properties: list[str]) -> int:
    if verb not in {"daemon-reload", "show"} and not names:
        raise UnitError(f"Too few arguments: {verb} needs a unit name")
    now = "--now" in options
    handlers: dict[str, Callable[[], int | None]] = {
        "daemon-reload": lambda: say("daemon-reload: units are read from their files at every call (nothing cached)"),
        "enable": lambda: enable(names, now),
        "disable": lambda: disable(names, now),
        "start": lambda: start_all(names),
        "restart": lambda: restart_all(names),
        "stop": lambda: stop_all(names),
        "is-active": lambda: is_active(names, bool(options & {"--quiet", "-q"})),
        "show": lambda: show(names, properties, "--value" in options),
        "status": lambda: max(status(name) for name in names),
        "reset-failed": lambda: reset_failed(names),
    }
    return handlers[verb]() or 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["__supervise"]:
        return supervise(argv[1])
    try:
        return dispatch(*parse(argv))
    except UnitError as err:
        print(str(err), file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
