"""Factories for the matching tests: random unit vectors, synthetic poses, real COCO poses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kiosk.match import normalize_xy
from kiosk.match.synth import synth_vectors

COCO_JSON = Path("data/coco-mini/person_keypoints_val2017.json")


def unit_vectors(n: int, seed: int = 0, dims: int = 34, positive: bool = True) -> np.ndarray:
    """(n, dims) float32 random unit vectors (non-negative like pose vectors by default)."""
    v = np.random.default_rng(seed).standard_normal((n, dims))
    if positive:
        v = np.abs(v)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def synth(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 34) synthetic pose vectors and (n, 17) confidences."""
    return synth_vectors(n, seed)


@pytest.fixture(params=["numba", "numpy"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with the compiled kernels and again with the pure-numpy fallback."""
    monkeypatch.setenv("KIOSK_NO_NUMBA", "1" if request.param == "numpy" else "0")
    yield request.param


@pytest.fixture(scope="session")
def coco_poses(shared_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Real human poses: COCO val2017 ground truth (labelled keypoints; visible 1.0,
    labelled-but-hidden 0.5, unlabelled 0.0), as (P, 17, 2) xy and (P, 17) scores."""
    data = json.loads((shared_dir / COCO_JSON).read_text())
    xy, sc = [], []
    for ann in data["annotations"]:
        if ann.get("num_keypoints", 0) < 5:
            continue
        k = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        xy.append(k[:, :2])
        sc.append(np.select([k[:, 2] == 2, k[:, 2] == 1], [1.0, 0.5], 0.0))
    assert len(xy) >= 40, "expected dozens of annotated people in coco-mini"
    return np.asarray(xy, dtype=np.float32), np.asarray(sc, dtype=np.float32)


@pytest.fixture(scope="session")
def coco_vectors(coco_poses: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    xy, sc = coco_poses
    return normalize_xy(xy, sc), sc
