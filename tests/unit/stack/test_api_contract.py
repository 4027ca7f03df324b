"""``docs/api.md`` is the payment API's contract as the repository keeps it: a byte-for-byte copy of
``../shared/API.md`` (beside the repository), so the contract travels with the code and drift shows here."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
COPY = ROOT / "docs" / "api.md"
SHARED = ROOT.parent / "shared" / "API.md"


def test_docs_api_md_is_a_byte_for_byte_copy_of_the_shared_contract() -> None:
    if not SHARED.parent.is_dir():
        pytest.skip(f"{SHARED.parent} is absent (a clone without the shared folder beside it): nothing to compare")
    assert SHARED.is_file(), f"{SHARED} is missing while {SHARED.parent} exists"
    assert COPY.read_bytes() == SHARED.read_bytes(), (
        f"{COPY.relative_to(ROOT)} differs from {SHARED}: copy it again (cp {SHARED} {COPY.relative_to(ROOT)})"
    )
