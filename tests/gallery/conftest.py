"""Gallery fixtures: one real index (MoveNet on the shared photos and recording), built once."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.gallery.builder import BuildOptions, build
from kiosk.gallery.buildsummary import BuildSummary

#: COCO images in the shared index (sorted names; a slice keeps the suite fast).
COCO_SUBSET = 40


@dataclass(frozen=True)
class Built:
    path: Path
    summary: BuildSummary
    cache: Path
    coco: Path


@pytest.fixture(scope="session")
def pose_model(models_dir: Path):
    """MoveNet Lightning on the CPU: the small, fast model."""
    from kiosk.pose.engine import load_pose_model

    return load_pose_model("movenet-lightning", models_dir=models_dir, delegate="cpu")


@pytest.fixture(scope="session")
def coco_subset(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("coco") / "coco"
    dest.mkdir()
    for p in sorted((shared_dir / "data/coco-mini/val2017").glob("*.jpg"))[:COCO_SUBSET]:
        shutil.copy(p, dest / p.name)
    return dest


@pytest.fixture(scope="session")
def built(shared_dir: Path, coco_subset: Path, pose_model, tmp_path_factory) -> Built:
    """The demo photos, a COCO slice and the squats video, default options, fresh cache."""
    root = tmp_path_factory.mktemp("built")
    cache = root / "cache"
    summary = build(
        [
            shared_dir / "data/posenet-demo-images",
            coco_subset,
            shared_dir / "data/recordings/pose_squats.mp4",
        ],
        root / "index",
        BuildOptions(cache_dir=cache),
        model=pose_model,
        progress=False,
    )
    return Built(root / "index", summary, cache, coco_subset)
