"""Format 2 indexes: visible profile trees, the stored calibration, the kiosk's threshold;
format 1 indexes still open (calibrated and searched when opened)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery import manifest as mf
from kiosk.gallery.calibrate import DynamicTables, kiosk_threshold, profile_table
from kiosk.gallery.reader import GalleryIndex, IndexLoadError
from kiosk.match.brute import brute_euclidean, brute_weighted
from kiosk.match.metrics import METRICS, PROFILE_METRICS
from kiosk.match.trimmed import brute_trimmed
from kiosk.match.visible import brute_visible
from kiosk.pose.types import Pose


def _rewrite_manifest(root: Path, edit) -> None:
    raw = json.loads((root / mf.MANIFEST).read_text())
    edit(raw)
    raw["manifest_sha256"] = "0" * 64
    text = (json.dumps(raw, indent=1, ensure_ascii=False) + "\n").encode()
    _, digest = mf._self_digest(text)
    (root / mf.MANIFEST).write_bytes(text.replace(b"0" * 64, digest.encode(), 1))


def _query_poses(index: GalleryIndex, n: int = 12) -> list[Pose]:
    """Archive poses disturbed a little, some with their legs unseen (waist-up)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(0, len(index), max(len(index) // n, 1)):
        p = index.entry(i).keypoints
        xy = p.xy + rng.normal(0, 6.0, p.xy.shape)
        sc = p.scores.copy()
        if i % 2:
            sc[13:] = 0.0
        out.append(Pose(xy, sc))
    return out


def test_a_built_index_carries_profiles_and_calibration(built) -> None:
    index = GalleryIndex.open(built.path, verify=True)
    m = index.manifest
    assert m["format_version"] == 2
    assert m["visible"]["profiles"]["full"] > 0
    tables = m["calibration"]["tables"]
    for metric in ("cosine", "weighted"):
        assert len(tables[metric]) == 101
    for metric in PROFILE_METRICS:
        assert "full" in tables[metric] and "upper" in tables[metric]
    assert tables["trimmed"]["full"][20] <= tables["visible"]["full"][20]  # never farther


def _no_trimmed(m: dict) -> None:
    m["calibration"]["tables"].pop("trimmed")
    m["calibration"].pop("distances")


def _older_trimmed(m: dict) -> None:
    m["calibration"]["distances"]["trimmed"] = "trimmed-greedy/v0"
    m["calibration"]["tables"]["trimmed"]["full"] = [0.0] * 101


@pytest.mark.parametrize("edit", [_no_trimmed, _older_trimmed])
def test_an_index_built_before_trimmed_calibrates_it_when_asked(built, tmp_path: Path, edit,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    old = tmp_path / "old"
    shutil.copytree(built.path, old)
    _rewrite_manifest(old, edit)
    legacy, new = GalleryIndex.open(old, verify=True), GalleryIndex.open(built.path)
    with caplog.at_level("INFO"):
        th = kiosk_threshold(legacy, "trimmed", 0.2, 0.1)  # offline tools: computed in the caller
    assert "built before this version of the trimmed metric" in caplog.text
    stored = kiosk_threshold(new, "trimmed", 0.2, 0.1)
    assert th.raw_max_distance() == pytest.approx(stored.raw_max_distance())
    assert th.raw_max_distance("upper") == pytest.approx(stored.raw_max_distance("upper"))


def test_the_live_kiosk_never_waits_for_a_stale_metric(built, tmp_path: Path) -> None:
    """The running kiosk on an index built before trimmed: visible's table stands in until the
    trimmed one, computed in the background, is ready."""
    old = tmp_path / "old"
    shutil.copytree(built.path, old)
    _rewrite_manifest(old, _no_trimmed)
    legacy, new = GalleryIndex.open(old), GalleryIndex.open(built.path)
    release = threading.Event()

    def slow_groups() -> np.ndarray:  # the computation cannot finish until the test says so
        release.wait(30)
        return legacy.groups()

    legacy._dynamic_tables = DynamicTables(legacy.keypoints, slow_groups)
    live = kiosk_threshold(legacy, "trimmed", 0.2, 0.1, wait_for_tables=False)
    visible = kiosk_threshold(new, "visible", 0.2, 0.1).raw_max_distance()
    trimmed = kiosk_threshold(new, "trimmed", 0.2, 0.1).raw_max_distance()
    assert trimmed < visible  # trimmed distances are never larger
    assert live.raw_max_distance() == pytest.approx(visible)  # answered at once, visible's table
    release.set()
    legacy._dynamic_tables.join(60)
    assert live.raw_max_distance() == pytest.approx(trimmed)


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_matches_brute_force(built, metric: str) -> None:
    index = GalleryIndex.open(built.path)
    kp = np.load(built.path / mf.KEYPOINTS)
    from kiosk.match.normalize import pose_vector

    for pose in _query_poses(index):
        got = index.search(pose, k=5, metric=metric).matches
        if metric in PROFILE_METRICS:
            brute = brute_trimmed if metric == "trimmed" else brute_visible
            _, ids, d = brute(kp[:, :, :2], kp[:, :, 2], pose.xy, pose.scores, 5)
        else:
            vec, conf = pose_vector(pose)
            ids, d = (brute_euclidean(index.vectors(), vec, 5) if metric == "cosine"
                      else brute_weighted(index.vectors(), vec, conf, 5))
            ids, d = ids[0], d[0]
        want = [(int(i), float(x)) for i, x in zip(ids, d, strict=True) if i >= 0]
        np.testing.assert_allclose([m.distance for m in got], [x for _, x in want], atol=1e-5)
        assert got[0].entry_id == want[0][0] or abs(want[0][1] - want[1][1]) < 1e-5
        own = index.distance(pose, got[0].entry_id, metric, index.search(pose, 1, metric).profile)
        assert own == pytest.approx(got[0].distance, abs=1e-5)


@pytest.mark.parametrize("metric", METRICS)
def test_the_threshold_is_the_archive_quantile(built, metric: str) -> None:
    index = GalleryIndex.open(built.path)
    th = kiosk_threshold(index, metric, 0.2, 0.1)
    table = (index.manifest["calibration"]["tables"][metric] if metric not in PROFILE_METRICS
             else index.manifest["calibration"]["tables"][metric]["full"])
    assert th.raw_max_distance() == pytest.approx(table[20])
    assert th.to_unit(table[20]) == pytest.approx(0.2)
    assert th.to_unit(th.raw_max_distance() * 0.5) < 0.2 < th.to_unit(th.raw_max_distance() * 2)


def test_a_format_1_index_still_opens_and_answers(built, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(built.path, old)
    shutil.rmtree(old / "visible")

    def downgrade(m: dict) -> None:
        m["format_version"] = 1
        m.pop("calibration")
        m.pop("visible")
        m["files"] = {k: v for k, v in m["files"].items() if not k.startswith("visible/")}
        m["index_id"] = mf.compute_index_id(m["files"])

    _rewrite_manifest(old, downgrade)
    new, legacy = GalleryIndex.open(built.path), GalleryIndex.open(old, verify=True)
    for pose in _query_poses(new, 6):
        for metric in METRICS:
            a = new.search(pose, k=3, metric=metric).matches
            b = legacy.search(pose, k=3, metric=metric).matches
            np.testing.assert_allclose([m.distance for m in a], [m.distance for m in b], atol=1e-5)
    assert len(legacy.calibration()["tables"]["cosine"]) == 101  # calibrated when opened


def test_an_unknown_format_is_refused_with_the_fix(built, tmp_path: Path) -> None:
    future = tmp_path / "future"
    shutil.copytree(built.path, future)
    _rewrite_manifest(future, lambda m: m.update(format_version=99))
    with pytest.raises(IndexLoadError, match=r"format_version 99 .*rebuild the index"):
        GalleryIndex.open(future)


def _archive(n: int = 300, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """n random whole poses (N, 17, 3) with their source numbers (3 entries a source)."""
    rng = np.random.default_rng(seed)
    kp = np.concatenate([rng.uniform(0, 500, (n, 17, 2)), np.ones((n, 17, 1))], axis=2)
    return kp.astype(np.float32), np.arange(n) // 3


DYNAMIC = (0, 5, 6, 7, 9, 11, 12, 13)  # a set no stored profile covers within one keypoint


def test_a_dynamic_table_in_the_caller_is_the_profiles_table() -> None:
    kp, groups = _archive()
    tables = DynamicTables(lambda: kp, lambda: groups)
    assert tables.get(DYNAMIC) == profile_table(kp, groups, DYNAMIC) is not None


def test_the_live_kiosk_never_waits_for_a_dynamic_table() -> None:
    kp, groups = _archive()
    release = threading.Event()

    def slow_groups() -> np.ndarray:  # the computation cannot finish until the test says so
        release.wait(30)
        return groups

    tables = DynamicTables(lambda: kp, slow_groups)
    assert tables.get(DYNAMIC, wait=False) is None  # answered at once: the stored table is used
    assert tables.get(DYNAMIC, wait=False) is None  # still computing, once
    release.set()
    tables.join(30)
    assert tables.get(DYNAMIC, wait=False) == profile_table(kp, groups, DYNAMIC)


def test_a_failed_background_table_leaves_the_stored_one_in_use(caplog: pytest.LogCaptureFixture) -> None:
    kp, _ = _archive()

    def broken() -> np.ndarray:
        raise OSError("the archive went away")

    tables = DynamicTables(lambda: kp, broken)
    assert tables.get(DYNAMIC, wait=False) is None
    tables.join(30)
    assert tables.get(DYNAMIC, wait=False) is None and "calibrating the visible profile" in caplog.text
