"""Unit tests of the numpy PoseNet decoders on synthetic outputs (exact expectations)."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.pose.posenet_decode import (
    EDGES,
    decode_multiple_poses,
    decode_single_pose,
    root_candidates,
)

H, W, STRIDE = 9, 11, 16
LOW = -8.0  # logit far below the 0.2 threshold


def _blank() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.full((H, W, 17), LOW, np.float32),
        np.zeros((H, W, 34), np.float32),
        np.zeros((H, W, 64), np.float32),
    )


def _person(hm: np.ndarray, off: np.ndarray, disp: np.ndarray, cells: np.ndarray, logit: float) -> None:
    """Plant a person whose part k sits exactly at grid cell cells[k] (y, x), with consistent
    mid-range displacements along every edge (forward and backward) at the parent's cell."""
    for k, (y, x) in enumerate(cells):
        hm[y, x, k] = logit
    for e, (p, c) in enumerate(EDGES):
        py, px = cells[p]
        dy, dx = (cells[c] - cells[p]) * STRIDE
        ch = e if e < 16 else e + 16
        disp[py, px, ch] = dy
        disp[py, px, ch + 16] = dx


def _cells(y0: int, x0: int) -> np.ndarray:
    rel = [(0, 1), (0, 1), (0, 1), (0, 0), (0, 2), (1, 0), (1, 2), (2, 0), (2, 2), (3, 0),
           (3, 2), (3, 0), (3, 2), (4, 0), (4, 2), (5, 0), (5, 2)]  # fmt: skip
    return np.array(rel) + np.array([y0, x0])


def test_single_pose_is_argmax_plus_offset() -> None:
    hm, off, _ = _blank()
    rng = np.random.default_rng(0)
    cells = np.stack([rng.integers(0, H, 17), rng.integers(0, W, 17)], axis=1)
    for k, (y, x) in enumerate(cells):
        hm[y, x, k] = 2.0
        off[y, x, k] = 3.5  # y offset
        off[y, x, k + 17] = -1.25  # x offset
    pose = decode_single_pose(hm[None], off[None], stride=STRIDE)
    expected = np.stack([cells[:, 1] * STRIDE - 1.25, cells[:, 0] * STRIDE + 3.5], axis=1)
    np.testing.assert_allclose(pose.xy, expected, atol=1e-5)
    np.testing.assert_allclose(pose.scores, 1 / (1 + np.exp(-2.0)), rtol=1e-6)
    assert pose.score == pytest.approx(float(pose.scores.mean()))


def test_multi_pose_finds_two_people_in_score_order() -> None:
    hm, off, disp = _blank()
    a, b = _cells(1, 1), _cells(2, 6)
    _person(hm, off, disp, a, 3.0)
    _person(hm, off, disp, b, 1.0)
    poses = decode_multiple_poses(hm, off, disp, stride=STRIDE)
    assert len(poses) == 2
    # xy is (x, y) in input pixel index coordinates
    np.testing.assert_allclose(poses[0].xy, a[:, ::-1] * STRIDE, atol=1e-4)
    np.testing.assert_allclose(poses[1].xy, b[:, ::-1] * STRIDE, atol=1e-4)
    assert poses[0].score > poses[1].score
    np.testing.assert_allclose(poses[0].scores, 1 / (1 + np.exp(-3.0)), rtol=1e-5)


def test_multi_pose_respects_threshold_and_max_poses() -> None:
    hm, off, disp = _blank()
    _person(hm, off, disp, _cells(1, 1), 3.0)
    _person(hm, off, disp, _cells(2, 6), 1.0)
    assert len(decode_multiple_poses(hm, off, disp, max_poses=1)) == 1
    # sigmoid(1.0) = 0.73: a 0.8 threshold drops the second person
    assert len(decode_multiple_poses(hm, off, disp, score_threshold=0.8)) == 1
    blank = _blank()
    assert decode_multiple_poses(*blank) == []


def test_walk_follows_displacements_and_short_offsets() -> None:
    """Only the nose is a root; every other part is reached through the mid-range displacements
    and then moved by 5 refinement steps of its short offset (constant fields, exact answer)."""
    hm = np.full((H, W, 17), -12.0, np.float32)  # below logodds(1e-4) = -9.2
    cells = _cells(1, 3)
    hm[cells[0, 0], cells[0, 1], 0] = 3.0
    short = np.array([0.5, -0.25], np.float32)  # (y, x) px, everywhere, every part
    off = np.zeros((H, W, 34), np.float32)
    off[..., :17] = short[0]
    off[..., 17:] = short[1]
    disp = np.zeros((H, W, 64), np.float32)
    for e, (p, c) in enumerate(EDGES):
        ch = e if e < 16 else e + 16
        disp[..., ch], disp[..., ch + 16] = (cells[c] - cells[p]) * STRIDE
    poses = decode_multiple_poses(hm, off, disp, score_threshold=0.0001)
    assert len(poses) == 1
    depth = {0: 0}
    while len(depth) < 17:
        for p, c in EDGES:
            if p in depth and c not in depth:
                depth[c] = depth[p] + 1
    steps = np.array([1 + 5 * depth[k] for k in range(17)], np.float32)[:, None]
    expected_yx = cells * STRIDE + steps * short
    np.testing.assert_allclose(poses[0].xy, expected_yx[:, ::-1], atol=1e-3)


def test_root_candidates_are_local_maxima_by_score() -> None:
    hm, _, _ = _blank()
    hm[4, 4, 0] = 2.0
    hm[4, 5, 0] = 1.0  # neighbour of a higher value: not a local max
    hm[0, 0, 3] = 3.0
    ys, xs, ks, logits = root_candidates(hm, 0.2)
    assert list(zip(ys.tolist(), xs.tolist(), ks.tolist(), strict=True)) == [(0, 0, 3), (4, 4, 0)]
    assert logits.tolist() == [3.0, 2.0]


def test_shapes_are_checked() -> None:
    hm, off, disp = _blank()
    with pytest.raises(ValueError, match="offsets"):
        decode_multiple_poses(hm, off[..., :17], disp)
