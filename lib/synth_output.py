"""Where ``python tap.py`` may write, and what it may replace.

Synth replaces its output folder as a whole. A wrong ``CDKTF_OUTDIR`` (empty, ``.``, ``~``) would then
delete a checkout, a home folder or anything else, so a folder is replaced only when ``tap.py`` can
prove it wrote it: the marker file it leaves in every output, or (for outputs written before the
marker existed) cdktf's own layout and nothing else. Files an operator owns that may sit in an earlier
output (Terraform state from the old relative local-backend path, tfvars files copied there by an
earlier README) stop synth with the command that moves them to safety, instead of being deleted.
"""

from __future__ import annotations

import json
from pathlib import Path

from lib.config import PROJECT_ROOT

MARKER = ".tap-synth-output"
MARKER_TEXT = "Written by tap.py: this folder is synth output and is replaced by the next synth.\n"
CDKTF_LAYOUT = frozenset({"manifest.json", "stacks"})
# Files that hold what only the operator has: state of live resources and per-environment values. (Plan
# files and .terraform/ are derived: the next plan or init makes them again.)
OPERATOR_FILE_PATTERNS = ("*.tfstate", "*.tfstate.backup", "*.tfvars", "*.tfvars.json")


class OutputDirError(ValueError):
    """The output folder is one synth must not replace; the message says why and what to do."""


def resolve_output_dir(raw: str | None) -> Path:
    """The output folder named by ``CDKTF_OUTDIR`` (default ``cdktf.out``), refused when replacing it could
    destroy something: an empty value, ``/``, the home folder, the project or any folder above it."""
    if raw is None:
        return Path("cdktf.out").resolve()  # like cdktf: relative to the folder synth runs in
    if not raw.strip():
        raise OutputDirError("CDKTF_OUTDIR is set but empty, which would name the current folder. Unset it to "
                             "use cdktf.out, or set it to a folder of its own, e.g. CDKTF_OUTDIR=cdktf.out.")
    outdir = Path(raw).expanduser().resolve()
    protected = {parent: "a folder that contains the project" for parent in PROJECT_ROOT.parents}
    protected.update({Path("/"): "the file-system root", Path.home().resolve(): "your home folder",
                      PROJECT_ROOT: "the project itself"})
    if outdir in protected:
        raise OutputDirError(f"CDKTF_OUTDIR={raw!r} is {protected[outdir]} ({outdir}); synth replaces its output "
                             "folder as a whole. Set CDKTF_OUTDIR to a folder of its own, e.g. cdktf.out.")
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


def operator_files(outdir: Path) -> list[Path]:
    """State, tfvars and plan files inside an earlier output (``.terraform/`` caches excluded)."""
    found = {path for pattern in OPERATOR_FILE_PATTERNS for path in outdir.rglob(pattern)}
    return sorted(path for path in found if ".terraform" not in path.relative_to(outdir).parts[:-1])


def check_replaceable(outdir: Path) -> None:
    """Raise :class:`OutputDirError` unless ``outdir`` is missing, empty, or an earlier synth output that holds
    no operator files."""
    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise OutputDirError(f"{outdir} is a file, not a folder; synth would replace it. Set CDKTF_OUTDIR to a "
                             "folder of its own.")
    if not any(path.is_file() or path.is_symlink() for path in outdir.rglob("*")):
        return  # nothing but empty folders (the cdktf CLI leaves cdktf.out/stacks/ behind): nothing to lose
    if not (outdir / MARKER).is_file() and not _looks_like_earlier_cdktf_output(outdir):
        raise OutputDirError(f"{outdir} holds files that tap.py did not write (it has no {MARKER} marker and is "
                             "not a cdktf output); synth would delete them. Set CDKTF_OUTDIR to a new or empty "
                             "folder, or move the files away.")
    kept = operator_files(outdir)
    if kept:
        listing = "\n".join(f"  {path}" for path in kept)
        raise OutputDirError(
            f"{outdir} is an earlier synth output, but it holds files synth would delete:\n{listing}\n"
            f"Move state files to the project root ({PROJECT_ROOT}), where the local backend now keeps them, "
            f"and tfvars files to {PROJECT_ROOT / 'environments'}/, then synthesize again.")


def mark(outdir: Path) -> None:
    """Leave the marker that lets a later synth replace ``outdir``."""
    (outdir / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.synth_output FOLDER...``: exit 2 naming what is in the way when a folder may not be
    replaced (``make clean`` asks before it deletes ``cdktf.out``)."""
    import sys  # pylint: disable=import-outside-toplevel

    problems = []
    for folder in argv if argv is not None else sys.argv[1:]:
        try:
            check_replaceable(Path(folder).resolve())
        except OutputDirError as err:
            problems.append(str(err))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
