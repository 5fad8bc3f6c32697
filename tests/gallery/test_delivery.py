"""The model an index needs, installed on a kiosk only when its sha256 matches (real model files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.assets.manifest import load_manifest
from kiosk.core.checksum import sha256_file
from kiosk.gallery.delivery import DeliveryError, find_model, install_model


def test_install_checks_the_sha256_and_cleans_up(models_dir: Path, tmp_path: Path) -> None:
    entry = load_manifest().get("movenet-lightning", "cpu")
    sha = sha256_file(models_dir / entry.load_file)
    kiosk_models = tmp_path / "kiosk-models"
    staged = kiosk_models / ".incoming-model"
    staged.mkdir(parents=True)
    data = bytearray((models_dir / entry.load_file).read_bytes())
    data[len(data) // 2] ^= 0x01
    (staged / entry.load_file).write_bytes(bytes(data))  # corrupted on the way
    with pytest.raises(DeliveryError, match="does not have sha256"):
        install_model("movenet-lightning", sha, staged, kiosk_models)
    assert not staged.exists() and not (kiosk_models / entry.load_file).exists()

    staged.mkdir()
    shutil.copy(models_dir / entry.load_file, staged / entry.load_file)
    found = install_model("movenet-lightning", sha, staged, kiosk_models)
    assert found.files == (entry.load_file,) and not staged.exists()
    assert find_model("movenet-lightning", sha, kiosk_models) == found
    assert find_model("movenet-lightning", "0" * 64, kiosk_models) is None
    with pytest.raises(DeliveryError, match="unknown model"):
        find_model("no-such-model", sha, kiosk_models)
