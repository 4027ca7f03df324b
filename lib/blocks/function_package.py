"""A Lambda function's code as a zip built at synth, byte for byte the same from the same sources.

Why not Terraform's ``archive_file``: the archive provider is not on the machines' provider mirror. Why fixed
timestamps and modes: the zip's bytes name the asset cdktf copies into the synth output (and the function's
``source_code_hash``); a zip stamped with each checkout's file times would change the synthesized stack on every
clone, and the tests compare synth outputs byte for byte.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

# The earliest time a zip entry can carry (MS-DOS epoch): any fixed value does, this one says "not a real time".
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# -rw-r--r-- for every file, in the upper 16 bits as zip stores Unix modes.
FILE_MODE = 0o100644 << 16


def deterministic_zip(source: Path, target: Path, *, package: str) -> Path:
    """Zip the ``*.py`` files of ``source`` under ``package/`` (sorted, fixed time and mode) into ``target``;
    rewritten only when its bytes would differ. ``target``."""
    files = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
    if not files:
        raise ValueError(f"{source} holds no .py file to package as {package!r}: is the checkout complete?")
    staging = target.with_suffix(".zip.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            entry = zipfile.ZipInfo(f"{package}/{path.relative_to(source).as_posix()}", date_time=FIXED_TIMESTAMP)
            entry.external_attr = FILE_MODE
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    if target.is_file() and target.read_bytes() == staging.read_bytes():
        staging.unlink()
    else:
        staging.replace(target)
    return target
