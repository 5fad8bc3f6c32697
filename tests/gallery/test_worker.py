"""The builder's per-source worker: what its pose cache is keyed by."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.core.enums import Views
from kiosk.gallery.extract import Filters
from kiosk.gallery.rendition import RenditionSpec
from kiosk.gallery.worker import WorkerConfig, pose_cache


def _cfg(views: Views, tmp_path: Path) -> WorkerConfig:
    return WorkerConfig(fps=2.0, every_person=True, mirror=False, filters=Filters(), spec=RenditionSpec(),
                        cache_dir=tmp_path, model_name="posenet-481x641", model_sha256="0" * 64, views=views)


@pytest.mark.parametrize(("kind", "same"), [("image", False), ("video", True)])
def test_a_photos_poses_are_cached_per_views_a_videos_are_not(tmp_path: Path, kind: str, same: bool) -> None:
    keys = {views: pose_cache(_cfg(views, tmp_path), kind).settings_key for views in Views}
    assert (keys[Views.PHOTO] == keys[Views.CROPS]) is same
