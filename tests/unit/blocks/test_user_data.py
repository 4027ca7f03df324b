"""Launch template user data at its source (``lib/blocks/user_data.py``): rendering refuses Terraform
interpolation sequences and returns base64."""

import base64

import pytest

from lib.blocks import user_data
from lib.blocks.user_data import UserDataError, render_user_data


@pytest.mark.seed(2)
def test_renders_markers_and_encodes():
    values = {
        "API_PORT": "9000",
        "REGION": "eu-west-1",
        "ARTIFACT_KEY": "k",
        "ARTIFACT_HASH": "0" * 64,
        "RUNTIME_PARAMETER": "/p",
        "LOG_GROUP": "/g",
        "ASG_NAME": "tap-dev-api-asg",
        "LIFECYCLE_HOOK": "payment-api-boot",
        "OS_LOG_GROUP": "/o",
    }
    encoded = render_user_data("payment_api_user_data.sh", values)
    script = base64.b64decode(encoded, validate=True).decode()
    assert "API_PORT=9000" in script and "@@" not in script


@pytest.mark.seed(2)
@pytest.mark.parametrize("sequence", ["${port}", "%{ if x }"])
def test_refuses_terraform_interpolation(tmp_path, monkeypatch, sequence):
    (tmp_path / "bad.sh").write_text(f"#!/bin/bash\necho line\nconsole.log(`listening on {sequence}`)\n")
    monkeypatch.setattr(user_data, "TEMPLATE_DIR", tmp_path)
    with pytest.raises(UserDataError, match=r"bad.sh line 3 contains"):
        render_user_data("bad.sh", {})


def test_refuses_missing_marker_values():
    with pytest.raises(UserDataError, match="API_PORT"):
        render_user_data("payment_api_user_data.sh", {"REGION": "x", "LOG_GROUP": "e"})


def test_refuses_oversized_user_data(tmp_path, monkeypatch):
    """Half of EC2's 16 KB: 6,200 bytes become 8,268 after base64, over the bootstrap's budget of 8,192."""
    (tmp_path / "big.sh").write_text("#" * 6200)
    monkeypatch.setattr(user_data, "TEMPLATE_DIR", tmp_path)
    with pytest.raises(UserDataError, match=r"8268 bytes after base64, over this project's budget of 8192 \(half "):
        render_user_data("big.sh", {})
    (tmp_path / "big.sh").write_text("#" * 6144)  # 8,192 after base64: within the budget
    assert len(render_user_data("big.sh", {})) == 8192
