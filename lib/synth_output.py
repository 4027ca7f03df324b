"""Where ``python tap.py`` may write, what it may replace, and what it keeps.

A wrong ``CDKTF_OUTDIR`` (empty, ``.``, ``~``) must not let synth touch a checkout, a home folder or anything else,
so synth writes only into a folder it can prove it wrote: the marker file it leaves in every output, or (for
outputs written before the marker existed) cdktf's own layout and nothing else. The marker lists every file the
synth wrote; the next synth replaces exactly those and removes those it no longer writes. Every other file in the
folder (a saved plan, a tfvars file, notes, ``.terraform/`` after ``terraform init``) is the operator's: it stays
where it is and synth names it. Terraform state there (the old relative local-backend path) stops synth with the
command that moves it to safety: state must not live in a folder that synth rewrites.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from lib.config import PROJECT_ROOT

MARKER = ".tap-synth-output"
MARKER_NOTE = (
    "Written by tap.py: this folder is synth output. The next synth replaces the files listed here and "
    "keeps every other file (plans, tfvars, notes)."
)
CDKTF_LAYOUT = frozenset({"manifest.json", "stacks"})
# State of live resources: refused in an output folder (it belongs in the project root or an S3 backend).
STATE_FILE_PATTERNS = ("*.tfstate", "*.tfstate.backup")
# What a synth wrote before the marker listed its files: cdktf's manifest, each stack's JSON, assets and provider lock.
LEGACY_WRITTEN = ("manifest.json", "stacks/*/cdk.tf.json", "stacks/*/.terraform.lock.hcl", "stacks/*/assets/**/*")


# The output folder when CDKTF_OUTDIR is not set, relative to the folder synth runs in (cdktf's own default).
DEFAULT_OUTPUT_DIR = "cdktf.out"
# Where cdktf puts one stack inside the output folder, and the JSON it synthesizes there.
STACKS_FOLDER = "stacks"
STACK_FILE = "cdk.tf.json"


def output_dir(environ: Mapping[str, str], root: Path) -> Path:
    """The output folder a synth run with ``environ`` in ``root`` writes: ``$CDKTF_OUTDIR`` (relative to ``root``),
    else ``root/cdktf.out``."""
    outdir = Path(environ.get("CDKTF_OUTDIR") or root / DEFAULT_OUTPUT_DIR)
    return outdir if outdir.is_absolute() else root / outdir


def stack_dir(outdir: Path | str, stack_name: str) -> Path:
    """The folder synth writes stack ``stack_name`` to inside ``outdir``: ``<outdir>/stacks/<stack name>``, where
    Terraform runs (``terraform -chdir=...``). Every tool builds the path here, so it is spelled once."""
    return Path(outdir) / STACKS_FOLDER / stack_name


def stack_file(outdir: Path | str, stack_name: str) -> Path:
    """The synthesized Terraform JSON of ``stack_name`` in ``outdir``: ``<outdir>/stacks/<stack name>/cdk.tf.json``."""
    return stack_dir(outdir, stack_name) / STACK_FILE


class OutputDirError(ValueError):
    """The output folder is one synth must not replace; the message says why and what to do."""


def resolve_output_dir(raw: str | None) -> Path:
    """The output folder named by ``CDKTF_OUTDIR`` (default ``cdktf.out``), refused when replacing it could
    destroy something: an empty value, ``/``, the home folder, the project or any folder above it."""
    if raw is None:
        return Path(DEFAULT_OUTPUT_DIR).resolve()  # like cdktf: relative to the folder synth runs in
    if not raw.strip():
        raise OutputDirError(
            "CDKTF_OUTDIR is set but empty, which would name the current folder. Unset it to "
            "use cdktf.out, or set it to a folder of its own, e.g. CDKTF_OUTDIR=cdktf.out."
        )
    outdir = Path(raw).expanduser().resolve()
    protected = {parent: "a folder that contains the project" for parent in PROJECT_ROOT.parents}
    protected.update(
        {
            Path("/"): "the file-system root",
            Path.home().resolve(): "your home folder",
            PROJECT_ROOT: "the project itself",
        }
    )
    if outdir in protected:
        raise OutputDirError(
            f"CDKTF_OUTDIR={raw!r} is {protected[outdir]} ({outdir}); synth replaces its output "
            "folder as a whole. Set CDKTF_OUTDIR to a folder of its own, e.g. cdktf.out."
        )
    return outdir


def _looks_like_earlier_cdktf_output(outdir: Path) -> bool:
    names = {entry.name for entry in outdir.iterdir()}
    if not names <= CDKTF_LAYOUT | {MARKER} or not CDKTF_LAYOUT <= names:
        return False
    try:
        manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "stacks" in manifest and "version" in manifest


def _relative_files(folder: Path) -> list[str]:
    """Every file (or symlink) below ``folder``, as POSIX paths relative to it."""
    return sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file() or path.is_symlink()
    )


def _inside(relative: str) -> bool:
    """``relative`` names a path below the output (a marker edited to name ``../x`` cannot make synth delete it)."""
    path = Path(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts and relative != MARKER


def written_files(outdir: Path) -> set[str]:
    """The files the last synth wrote in ``outdir`` (relative POSIX paths): the marker's list; for an output written
    before the marker listed them, cdktf's manifest and each stack's ``cdk.tf.json`` and provider lock."""
    try:
        listed = json.loads((outdir / MARKER).read_text(encoding="utf-8"))["files"]
        if isinstance(listed, list) and all(isinstance(item, str) for item in listed):
            return {item for item in listed if _inside(item)}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {
        path.relative_to(outdir).as_posix()
        for pattern in LEGACY_WRITTEN
        for path in outdir.glob(pattern)
        if path.is_file()
    }


def kept_files(outdir: Path) -> list[str]:
    """The files in ``outdir`` that synth did not write and keeps: plans, tfvars, notes. A ``.terraform/`` folder
    (``terraform init``'s cache) is named once, not file by file."""
    if not outdir.is_dir():
        return []
    written = written_files(outdir) | {MARKER}
    kept = set()
    for relative in _relative_files(outdir):
        if relative not in written:
            parts = Path(relative).parts
            kept.add("/".join(parts[: parts.index(".terraform") + 1]) + "/" if ".terraform" in parts[:-1] else relative)
    return sorted(kept)


def state_files(outdir: Path) -> list[Path]:
    """Terraform state inside an earlier output (``.terraform/``'s backend cache excluded)."""
    found = {path for pattern in STATE_FILE_PATTERNS for path in outdir.rglob(pattern)}
    return sorted(path for path in found if ".terraform" not in path.relative_to(outdir).parts[:-1])


def check_replaceable(outdir: Path) -> None:
    """Raise :class:`OutputDirError` unless synth may write into ``outdir``: missing, empty, or an earlier synth
    output (marker, or cdktf's layout) that holds no Terraform state."""
    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise OutputDirError(
            f"{outdir} is a file, not a folder; synth would replace it. Set CDKTF_OUTDIR to a folder of its own."
        )
    if not any(path.is_file() or path.is_symlink() for path in outdir.rglob("*")):
        return  # nothing but empty folders (the cdktf CLI leaves cdktf.out/stacks/ behind): nothing to lose
    if not (outdir / MARKER).is_file() and not _looks_like_earlier_cdktf_output(outdir):
        raise OutputDirError(
            f"{outdir} holds files that tap.py did not write (it has no {MARKER} marker and is "
            "not a cdktf output); synth writes only into its own output. Set CDKTF_OUTDIR to a new "
            "or empty folder, or move the files away."
        )
    state = state_files(outdir)
    if state:
        listing = "\n".join(f"  {path}" for path in state)
        raise OutputDirError(
            f"{outdir} is an earlier synth output, but it holds Terraform state:\n{listing}\n"
            f"Move state files to the project root ({PROJECT_ROOT}), where the local backend now keeps them, then "
            "synthesize again: state must not live in a folder that synth rewrites."
        )


def _occupied(outdir: Path, relative: str) -> bool:
    """Something already sits at ``relative`` in ``outdir``, or a file sits where one of its folders would be."""
    target = outdir / relative
    return (
        target.exists()
        or target.is_symlink()
        or any(
            (parent.exists() or parent.is_symlink()) and not parent.is_dir()
            for parent in target.parents
            if outdir in parent.parents
        )
    )


def mark(outdir: Path, files: list[str]) -> None:
    """Write the marker that lists the files synth wrote in ``outdir`` (and lets a later synth write there)."""
    text = json.dumps({"note": MARKER_NOTE, "files": sorted(files)}, indent=1) + "\n"
    (outdir / MARKER).write_text(text, encoding="utf-8")


def replace_output(staging: Path, outdir: Path) -> list[str]:
    """Put the synth output of ``staging`` into ``outdir`` and return what was kept (:func:`kept_files`).

    Only files the last synth wrote are replaced or removed; every other file stays where it is. A file of the
    operator's at a path synth now writes stops synth with its name, before anything changed. The marker lists the
    union of old and new files while files move, so an interrupted synth leaves a folder the next one still cleans.
    """
    check_replaceable(outdir)
    new = [relative for relative in _relative_files(staging) if relative != MARKER]
    old = written_files(outdir) if outdir.is_dir() else set()
    in_the_way = [
        relative
        for relative in new
        if (relative not in old and _occupied(outdir, relative)) or (outdir / relative).is_dir()
    ]
    if in_the_way:
        raise OutputDirError(
            f"{outdir} holds files of yours where synth now writes: {', '.join(sorted(in_the_way))}. "
            "Move them away (plans to plans/, tfvars to environments/), then synthesize again."
        )
    outdir.mkdir(parents=True, exist_ok=True)
    mark(outdir, sorted(old | set(new)))
    for relative in sorted(old - set(new)):
        path = outdir / relative
        if path.is_file() or path.is_symlink():
            path.unlink()
        for parent in path.parents:  # the folders synth emptied (a stack of another suffix), not the output
            if parent == outdir or outdir not in parent.parents or any(parent.iterdir()):
                break
            parent.rmdir()
    for relative in new:
        (outdir / relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, outdir / relative)
    mark(outdir, new)
    return kept_files(outdir)


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.synth_output FOLDER...``: exit 2 naming what is in the way when a folder may not be
    deleted as a whole (``make clean`` asks before it deletes ``cdktf.out``): not a synth output, state, or any
    file synth did not write (a saved plan, tfvars, notes)."""
    import sys  # pylint: disable=import-outside-toplevel

    problems = []
    for folder in argv if argv is not None else sys.argv[1:]:
        outdir = Path(folder).resolve()
        try:
            check_replaceable(outdir)
        except OutputDirError as err:
            problems.append(str(err))
            continue
        kept = kept_files(outdir)
        if kept:
            problems.append(
                f"{outdir} holds files synth did not write, which deleting it would lose: "
                f"{', '.join(kept)}. Move them out first (plans to plans/, tfvars to environments/), "
                "or delete them yourself."
            )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
