"""Clusters, holes and near-duplicates (numpy), and the reference visitor poses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery.report import holes as hl
from kiosk.gallery.report.reference import (
    PINNED,
    ReferenceError,
    ReferenceSource,
    from_mirror,
    reference_set,
    synthesized,
)
from kiosk.match.synth import synth_vectors


class BruteIndex:
    """The part of GalleryIndex the holes use, answered by brute force (cosine)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self._v = np.asarray(vectors, np.float32)

    def vectors(self) -> np.ndarray:
        return self._v

    def query_vector(self, vec, conf, k=1, metric="cosine", max_distance=float("inf")):
        from kiosk.gallery.reader import Match

        if not len(self._v):
            return []
        d = np.linalg.norm(self._v - vec, axis=1)
        i = int(d.argmin())
        return [Match(i, float(d[i]))]


def test_kmeans_partitions_and_is_seeded() -> None:
    v, _ = synth_vectors(300, seed=1)
    a, b = hl.kmeans(v, 8, seed=3), hl.kmeans(v, 8, seed=3)
    assert sum(c.count for c in a) == 300 and len(a) == 8
    assert [c.count for c in a] == sorted((c.count for c in a), reverse=True)
    assert all(np.array_equal(x.members, y.members) for x, y in zip(a, b, strict=True))
    assert np.concatenate([c.members for c in a]).size == len(set(np.concatenate([c.members for c in a])))
    assert all(any(np.array_equal(c.medoid, v[m]) for m in c.members) for c in a)
    assert hl.kmeans(np.zeros((0, 34)), 4) == [] and len(hl.kmeans(v[:3], 10)) <= 3


@pytest.mark.parametrize(("threshold", "all_holes"), [(0.0, True), (10.0, False)])
def test_holes_follow_the_threshold(threshold: float, all_holes: bool) -> None:
    index = BruteIndex(synth_vectors(50, seed=2)[0])
    found, answered = hl.holes(index, synthesized(200, seed=4), lambda profile: threshold, k=6)
    assert len(found) + len(answered) == 6
    assert (len(answered) == 0) == all_holes and (len(found) == 0) != all_holes
    assert all(h.distance > threshold for h in found) and all(h.distance <= threshold for h in answered)


def test_a_missing_pose_family_is_a_hole() -> None:
    """An archive of arms-down poses cannot answer arms-up visitors: those are the holes."""
    ref = synthesized(400, seed=5)
    wrists_up = ref.vectors[:, 19] < ref.vectors[:, 11]  # left wrist y above the left shoulder y
    index = BruteIndex(ref.vectors[~wrists_up])
    found, _ = hl.holes(index, ref, lambda profile: 0.2, k=10)
    assert found, "no hole found"
    assert np.mean([h.pose[19] < h.pose[11] for h in found]) > 0.5


def test_near_duplicates_across_sources_only() -> None:
    v, _ = synth_vectors(6, seed=7)
    v = np.concatenate([v, v[:2] + 0.001, v[:1]])  # 6, 7 close to 0, 1; 8 equals 0
    sources = np.array([0, 1, 2, 3, 4, 5, 9, 9, 0])
    mirrored = np.zeros(9, bool)
    groups = hl.near_duplicates(v, sources, mirrored)
    assert [0, 6, 8] in groups and [1, 7] in groups and len(groups) == 2
    mirrored[6:] = True
    assert hl.near_duplicates(v, sources, mirrored) == []


def test_reference_set_from_the_mirror(shared_dir: Path) -> None:
    ref = from_mirror(shared_dir)
    squats = len(json.loads((shared_dir / "data/recordings/pose_squats.full.json").read_text()))
    coco = json.loads((shared_dir / "data/coco-mini/person_keypoints_val2017.json").read_text())
    people = sum(1 for a in coco["annotations"] if not a["iscrowd"] and a["num_keypoints"] >= 11)
    assert ref.vectors.shape == (2 * (squats + people), 34) and ref.confidences.shape[1] == 17
    assert np.allclose(np.linalg.norm(ref.vectors, axis=1), 1.0, atol=1e-5)
    assert "pose_squats.full.json" in ref.origin and f"{people} COCO" in ref.origin


def test_reference_source_choice(shared_dir: Path, tmp_path: Path) -> None:
    assert "synthesized" in reference_set(ReferenceSource.AUTO, None).origin
    assert "synthesized" in reference_set(ReferenceSource.SYNTH, shared_dir).origin
    with pytest.raises(ReferenceError, match="KIOSK_ASSET_MIRROR"):
        reference_set(ReferenceSource.MIRROR, None)
    bad = tmp_path / "mirror"
    for rel in PINNED:
        (bad / rel).parent.mkdir(parents=True, exist_ok=True)
        (bad / rel).write_text("[]")
    with pytest.raises(ReferenceError, match="not the pinned"):
        reference_set(ReferenceSource.MIRROR, bad)
    assert "synthesized" in reference_set(ReferenceSource.AUTO, bad).origin  # with a warning
