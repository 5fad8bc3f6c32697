"""`kiosk bench build` builds the same sources once per configuration and reports frames/s and
whether every configuration made the same index (local engine here; the Ray engine's runs are
tested in tests/gallery/test_cluster.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.cli.main import main


def test_bench_build_reports_each_configuration(shared_dir: Path, models_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    photos = [str(shared_dir / "data/posenet-demo-images" / p) for p in ("backpackman.jpg", "frisbee.jpg")]
    rc = main(["bench", "build", *photos, "--model", "movenet-lightning", "--models-dir", str(models_dir),
               "--configs", "local:1,local:2", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["same_index_id"] is True
    assert [(r["engine"], r["workers"]) for r in doc["results"]] == [("local", 1), ("local", 2)]
    for r in doc["results"]:
        assert r["frames"] == 2 and r["frames_per_s"] > 0 and len(r["index_id"]) == 16


def test_bench_build_table(shared_dir: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(shared_dir / "data/posenet-demo-images/backpackman.jpg")
    assert main(["bench", "build", photo, "--model", "movenet-lightning", "--models-dir", str(models_dir),
                 "--configs", "local:1"]) == 0
    out = capsys.readouterr().out
    assert "| engine | workers/CPUs | frames |" in out and "| local | 1 | 1 |" in out
