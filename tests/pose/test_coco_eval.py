"""The COCO keypoint metric and PCK@0.2 on cases with known answers, and against a loop reference.

The reference below is a line-by-line transcription of pycocotools' COCOeval (computeOks,
evaluateImg, accumulate) for keypoints; kiosk.pose.coco_eval was also cross-checked against
pycocotools 2.0.11 itself (identical AP/AP50/AP75/AR on randomised detections over coco-mini).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.pose.coco_eval import (
    COCO_SIGMAS,
    OKS_THRESHOLDS,
    CocoImage,
    CocoKeypoints,
    Detections,
    GroundTruth,
    evaluate,
    load_coco_keypoints,
    match_image,
    oks,
)

RNG_KP = np.random.default_rng(7).uniform(20, 180, size=(17, 2))


def person(xy: np.ndarray, *, area: float = 10000.0, v: np.ndarray | None = None,
           crowd: bool = False) -> dict:
    v = np.full(17, 2) if v is None else v
    kps = np.concatenate([xy, v[:, None]], axis=1).ravel().tolist()
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return {"keypoints": kps, "bbox": [x0, y0, x1 - x0, y1 - y0], "area": area,
            "iscrowd": int(crowd), "num_keypoints": int((v > 0).sum())}


def crowd_region(x: float, y: float, w: float, h: float) -> dict:
    return {"keypoints": [0] * 51, "bbox": [x, y, w, h], "area": w * h, "iscrowd": 1,
            "num_keypoints": 0}


def dataset(*images: list[dict]) -> CocoKeypoints:
    ims = tuple(CocoImage(i + 1, f"{i + 1}.jpg", 640, 480) for i in range(len(images)))
    return CocoKeypoints(ims, {im.id: GroundTruth.from_annotations(a) for im, a in
                               zip(ims, images, strict=True)})


def dets(*xy_score: tuple[np.ndarray, float]) -> Detections:
    if not xy_score:
        return Detections(np.zeros((0, 17, 2)), np.zeros(0))
    return Detections(np.array([x for x, _ in xy_score], float),
                      np.array([s for _, s in xy_score], float))


def oks_of_shift(shift: float, area: float) -> float:
    var = (2 * COCO_SIGMAS) ** 2
    return float(np.mean(np.exp(-(shift**2) / var / (area + np.spacing(1)) / 2)))


# ---- known answers ---------------------------------------------------------------------------

def test_perfect_detections_score_one() -> None:
    a, b = RNG_KP, RNG_KP + np.array([300, 100])
    ds = dataset([person(a), person(b)], [person(b)])
    r = evaluate(ds, {1: dets((a, 0.9), (b, 0.8)), 2: dets((b, 0.7))})
    assert (r.ap, r.ap50, r.ap75, r.ar, r.pck) == pytest.approx((1.0, 1.0, 1.0, 1.0, 1.0))
    assert (r.images, r.people, r.detections) == (2, 3, 3)


@pytest.mark.parametrize("shift", [0.0, 3.0, 6.0, 9.0, 12.0, 20.0, 40.0])
def test_shifted_detection_has_known_oks_and_ap(shift: float) -> None:
    area = 10000.0
    gt = GroundTruth.from_annotations([person(RNG_KP, area=area)])
    expected = oks_of_shift(shift, area)
    got = oks(RNG_KP[None] + [shift, 0.0], gt)
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected, abs=1e-12)
    # One person, one detection: AP at threshold t is 1 if OKS >= t else 0.
    r = evaluate(dataset([person(RNG_KP, area=area)]), {1: dets((RNG_KP + np.array([shift, 0]), 1.0))})
    assert r.ap == pytest.approx(np.mean(OKS_THRESHOLDS <= expected))
    assert r.ap50 == pytest.approx(float(expected >= 0.5))
    assert r.ap75 == pytest.approx(float(expected >= 0.75))


def test_oks_only_counts_labelled_keypoints() -> None:
    v = np.full(17, 2)
    v[9:] = 0  # wrists to ankles unlabelled
    gt = GroundTruth.from_annotations([person(RNG_KP, v=v)])
    d = RNG_KP.copy()
    d[9:] += 500.0  # far off, but unlabelled
    assert oks(d[None], gt)[0, 0] == pytest.approx(1.0)


def test_missed_person_halves_recall() -> None:
    a, b = RNG_KP, RNG_KP + np.array([300, 100])
    r = evaluate(dataset([person(a), person(b)]), {1: dets((a, 0.9))})
    assert r.ar == pytest.approx(0.5)
    assert r.ap == pytest.approx(51 / 101)  # precision 1 at recall points 0.00 .. 0.50
    assert r.pck == pytest.approx(0.5)


@pytest.mark.parametrize(("fp_score", "ap"), [(0.95, 0.5), (0.5, 1.0)])
def test_false_positive_lowers_precision_when_it_outranks(fp_score: float, ap: float) -> None:
    far = RNG_KP + np.array([400, 250])
    r = evaluate(dataset([person(RNG_KP)]), {1: dets((RNG_KP, 0.9), (far, fp_score))})
    assert r.ap == pytest.approx(ap)
    assert r.ar == 1.0
    assert r.pck == 1.0  # PCK ignores surplus detections


def test_false_positive_on_an_image_without_people() -> None:
    r = evaluate(dataset([person(RNG_KP)], []), {1: dets((RNG_KP, 0.5)), 2: dets((RNG_KP, 0.9))})
    assert r.ap == pytest.approx(0.5)


def test_detections_in_a_crowd_region_are_ignored() -> None:
    crowd = crowd_region(300, 200, 200, 150)
    inside = np.random.default_rng(1).uniform([320, 220], [480, 330], size=(17, 2))
    ds = dataset([person(RNG_KP), crowd])
    # Three high-scoring detections inside the crowd: none is a false positive.
    r = evaluate(ds, {1: dets((inside, 0.99), (inside + 5, 0.98), (inside - 5, 0.97),
                              (RNG_KP, 0.5))})
    assert r.ap == pytest.approx(1.0)
    assert r.people == 1
    m = match_image(ds.gt[1], dets((inside, 0.99), (inside + 5, 0.98), (RNG_KP, 0.5)))
    assert m.matched.all() and m.ignored[:, :2].all() and not m.ignored[:, 2].any()
    # Far outside the crowd's 3x box it is an ordinary false positive.
    r = evaluate(ds, {1: dets((inside + np.array([10000, 0]), 0.99), (RNG_KP, 0.5))})
    assert r.ap == pytest.approx(0.5)


def test_an_unlabelled_non_crowd_person_absorbs_one_detection_only() -> None:
    nobody = crowd_region(300, 200, 200, 150) | {"iscrowd": 0}
    inside = np.random.default_rng(2).uniform([320, 220], [480, 330], size=(17, 2))
    ds = dataset([person(RNG_KP), nobody])
    assert evaluate(ds, {1: dets((inside, 0.99), (RNG_KP, 0.5))}).ap == pytest.approx(1.0)
    # Sorted: ignored, FP (the person is taken), TP -> precision 1/2 at recall 1.
    assert evaluate(ds, {1: dets((inside, 0.99), (inside, 0.98), (RNG_KP, 0.5))}).ap == pytest.approx(0.5)


def test_max_dets_keeps_the_20_best() -> None:
    junk = [(RNG_KP + np.array([1000, 1000]), 0.9)] * 20
    r = evaluate(dataset([person(RNG_KP)]), {1: dets(*junk, (RNG_KP, 0.1))})
    assert r.ap == 0.0 and r.ar == 0.0 and r.detections == 20


@pytest.mark.parametrize(("frac", "correct"), [(0.19, True), (0.21, False)])
def test_pck_threshold_is_a_fifth_of_the_larger_box_side(frac: float, correct: bool) -> None:
    a = person(RNG_KP)
    size = max(a["bbox"][2], a["bbox"][3])
    d = RNG_KP.copy()
    d[0] += [0.0, frac * size]  # only the nose moves
    r = evaluate(dataset([a]), {1: dets((d, 1.0))})
    assert r.pck == pytest.approx((16 + correct) / 17)
    assert r.pck_per_keypoint[0] == float(correct)


def test_no_people_anywhere_gives_nan() -> None:
    r = evaluate(dataset([]), {1: dets((RNG_KP, 0.9))})
    assert np.isnan(r.ap) and np.isnan(r.pck)
    assert r.to_dict()["AP"] is None


# ---- the real annotations ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def coco_mini(shared_dir: Path) -> CocoKeypoints:
    return load_coco_keypoints(shared_dir / "data/coco-mini/person_keypoints_val2017.json")


def test_real_ground_truth_as_detections_scores_one(coco_mini: CocoKeypoints) -> None:
    assert len(coco_mini.images) == 79
    r = evaluate(coco_mini, {i: Detections.from_ground_truth(g) for i, g in coco_mini.gt.items()})
    assert (r.ap, r.ap50, r.ap75, r.ar, r.pck) == pytest.approx((1.0, 1.0, 1.0, 1.0, 1.0))
    assert r.people == 68  # 118 annotations, 50 of them crowd or without keypoints


# ---- against a transcription of pycocotools ---------------------------------------------------

def reference_eval(ds: CocoKeypoints, detections: dict[int, Detections]) -> tuple[float, float]:
    """(AP, AR) computed with pycocotools' loops (computeOks, evaluateImg, accumulate)."""
    sig = COCO_SIGMAS
    var = (sig * 2) ** 2
    evals = []
    for im in ds.images:
        g = ds.gt[im.id]
        gts = [{"kp": g.keypoints[j], "bbox": g.bbox[j], "area": g.area[j], "crowd": g.iscrowd[j],
                "ig": g.ignore[j]} for j in range(len(g))]
        d = detections.get(im.id, dets())
        order = np.argsort(-d.scores, kind="mergesort")[:20]
        dts = [{"xy": d.xy[i], "score": d.scores[i]} for i in order]
        if not gts and not dts:
            continue
        ious = np.zeros((len(dts), len(gts)))
        for j, gt in enumerate(gts):
            xg, yg, vg = gt["kp"][:, 0], gt["kp"][:, 1], gt["kp"][:, 2]
            k1 = np.count_nonzero(vg > 0)
            bb = gt["bbox"]
            x0, x1, y0, y1 = bb[0] - bb[2], bb[0] + bb[2] * 2, bb[1] - bb[3], bb[1] + bb[3] * 2
            for i, dt in enumerate(dts):
                xd, yd = dt["xy"][:, 0], dt["xy"][:, 1]
                if k1 > 0:
                    dx, dy = xd - xg, yd - yg
                else:
                    z = np.zeros(17)
                    dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
                    dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
                e = (dx**2 + dy**2) / var / (gt["area"] + np.spacing(1)) / 2
                if k1 > 0:
                    e = e[vg > 0]
                ious[i, j] = np.sum(np.exp(-e)) / e.shape[0]
        gind = np.argsort([gt["ig"] for gt in gts], kind="mergesort")
        gts = [gts[i] for i in gind]
        ious = ious[:, gind] if len(gts) else ious
        T = len(OKS_THRESHOLDS)
        gtm, dtm, dtig = np.zeros((T, len(gts))), np.zeros((T, len(dts))), np.zeros((T, len(dts)))
        gtig = np.array([gt["ig"] for gt in gts])
        for ti, t in enumerate(OKS_THRESHOLDS):
            for di in range(len(dts)):
                iou, m = min([t, 1 - 1e-10]), -1
                for gi in range(len(gts)):
                    if gtm[ti, gi] > 0 and not gts[gi]["crowd"]:
                        continue
                    if m > -1 and gtig[m] == 0 and gtig[gi] == 1:
                        break
                    if ious[di, gi] < iou:
                        continue
                    iou, m = ious[di, gi], gi
                if m == -1:
                    continue
                dtig[ti, di], dtm[ti, di], gtm[ti, m] = gtig[m], 1, 1
        evals.append(([dt["score"] for dt in dts], dtm, dtig, gtig))
    scores = np.concatenate([e[0] for e in evals])
    inds = np.argsort(-scores, kind="mergesort")
    dtm = np.concatenate([e[1] for e in evals], axis=1)[:, inds]
    dtig = np.concatenate([e[2] for e in evals], axis=1)[:, inds]
    npig = np.count_nonzero(np.concatenate([e[3] for e in evals]) == 0)
    tps = np.cumsum(np.logical_and(dtm, np.logical_not(dtig)), axis=1).astype(float)
    fps = np.cumsum(np.logical_and(np.logical_not(dtm), np.logical_not(dtig)), axis=1).astype(float)
    aps, ars = [], []
    for tp, fp in zip(tps, fps, strict=True):
        nd = len(tp)
        rc, pr = tp / npig, (tp / (fp + tp + np.spacing(1))).tolist()
        q = [0.0] * 101
        ars.append(rc[-1] if nd else 0.0)
        for i in range(nd - 1, 0, -1):
            if pr[i] > pr[i - 1]:
                pr[i - 1] = pr[i]
        inds = np.searchsorted(rc, np.linspace(0, 1, 101), side="left")
        try:
            for ri, pi in enumerate(inds):
                q[ri] = pr[pi]
        except IndexError:
            pass
        aps.append(np.mean(q))
    return float(np.mean(aps)), float(np.mean(ars))


def noisy_detections(ds: CocoKeypoints, seed: int) -> dict[int, Detections]:
    """Ground truth jittered, dropped, duplicated, plus junk and crowd hits, with tied scores."""
    rng = np.random.default_rng(seed)
    out = {}
    for im in ds.images:
        gt, xs, ss = ds.gt[im.id], [], []
        for g in range(len(gt)):
            if rng.random() < 0.2:
                continue
            bx, by, bw, bh = gt.bbox[g]
            if gt.ignore[g]:
                xy = rng.uniform([bx - bw, by - bh], [bx + 2 * bw, by + 2 * bh], (17, 2))
            else:
                xy = gt.keypoints[g, :, :2] + rng.normal(0, rng.uniform(0, 0.05) * max(bw, bh),
                                                        (17, 2))
            for _ in range(1 + (rng.random() < 0.2)):
                xs.append(xy + rng.normal(0, 2, (17, 2)))
                ss.append(rng.choice([0.5, rng.random()]))
        for _ in range(rng.integers(0, 3 if rng.random() < 0.9 else 25)):
            xs.append(rng.uniform(0, [im.width, im.height]) + rng.normal(0, 40, (17, 2)))
            ss.append(rng.random() * 0.6)
        if xs:
            out[im.id] = Detections(np.array(xs), np.array(ss))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_matches_the_pycocotools_transcription(coco_mini: CocoKeypoints, seed: int) -> None:
    detections = noisy_detections(coco_mini, seed)
    r = evaluate(coco_mini, detections)
    ap, ar = reference_eval(coco_mini, detections)
    assert 0.05 < ap < 0.95  # a case with something to get wrong
    assert r.ap == pytest.approx(ap, abs=1e-12)
    assert r.ar == pytest.approx(ar, abs=1e-12)
