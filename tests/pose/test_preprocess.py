"""Preprocessing: letterbox (keep aspect) and Coral's stretch, and the transform back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kiosk.pose.movenet_decode import decode_movenet
from kiosk.pose.preprocess import letterbox, nearest_indices, prepare, stretch


@pytest.mark.parametrize(("src", "dst"), [(1920, 1281), (1278, 721), (480, 641), (640, 192), (7, 3)])
def test_nearest_indices_match_pil(src: int, dst: int) -> None:
    ramp = np.tile(np.arange(src, dtype=np.int32), (2, 1))
    pil = np.asarray(Image.fromarray(ramp).resize((dst, 2), Image.NEAREST))[0]
    assert np.array_equal(nearest_indices(src, dst), pil)


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (1280, 720), (100, 1000), (5, 3)])
def test_letterbox_keeps_aspect_and_maps_back(shape: tuple[int, int]) -> None:
    h, w = shape
    rng = np.random.default_rng(1)
    rgb = rng.integers(1, 255, (h, w, 3), dtype=np.uint8)
    for size in [(192, 192), (481, 641)]:
        out, tf = letterbox(rgb, size)
        assert out.shape == (*size, 3) and out.dtype == np.uint8
        assert tf.scale_x == pytest.approx(tf.scale_y, rel=0.02)  # aspect kept (rounding)
        # padding is black, content is not (source has no zero pixels... after averaging)
        content = out[round(tf.offset_y) : round(tf.offset_y + h * tf.scale_y),
                      round(tf.offset_x) : round(tf.offset_x + w * tf.scale_x)]  # fmt: skip
        assert content.min() > 0
        assert out.sum() == out[out > 0].sum()
        corners = np.array([[0.0, 0.0], [w, h], [w / 2, h / 3]], np.float32)
        np.testing.assert_allclose(tf.to_source(tf.to_model(corners)), corners, rtol=1e-5, atol=1e-3)
        # source corners land on the content's edges in the model input
        m = tf.to_model(np.array([[0.0, 0.0], [w, h]], np.float32))
        assert m[0].tolist() == pytest.approx([tf.offset_x, tf.offset_y])
        assert m[1, 0] <= size[1] + 1e-3 and m[1, 1] <= size[0] + 1e-3


def test_letterbox_pixel_content_lands_where_the_transform_says() -> None:
    rgb = np.zeros((400, 200, 3), np.uint8)  # portrait
    rgb[300:320, 50:70] = 255  # a white square centred at (60, 310) (x, y)
    out, tf = letterbox(rgb, (192, 192))
    ys, xs = np.nonzero(out[..., 0] > 128)
    centre = np.array([[xs.mean() + 0.5, ys.mean() + 0.5]])
    np.testing.assert_allclose(tf.to_source(centre)[0], [60, 310], atol=2.5)


def test_movenet_normalised_coordinates_map_to_portrait_source() -> None:
    """MoveNet's (y, x) are normalised to the padded input: undo the padding, not just scale."""
    h, w = 400, 200
    _, tf = letterbox(np.zeros((h, w, 3), np.uint8), (192, 192))
    out = np.zeros((1, 1, 17, 3), np.float32)
    out[0, 0, :, 0] = 0.5  # y: middle
    out[0, 0, :, 1] = 0.25  # x: 48 px into the 192 input = the left edge of the 96-px content
    out[0, 0, 0, 1] = 0.5  # nose in the middle
    out[0, 0, :, 2] = 0.9
    d = decode_movenet(out, (192, 192))
    xy = tf.to_source(d.xy)
    np.testing.assert_allclose(xy[0], [100, 200], atol=1e-3)
    np.testing.assert_allclose(xy[1], [0, 200], atol=1e-3)
    assert d.score == pytest.approx(0.9)


def test_stretch_transform() -> None:
    rgb = np.zeros((300, 500, 3), np.uint8)
    out, tf = stretch(rgb, (481, 641))
    assert out.shape == (481, 641, 3)
    np.testing.assert_allclose(tf.to_source(np.array([[641.0, 481.0]])), [[500, 300]], rtol=1e-6)


def test_prepare_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="preprocess"):
        prepare(np.zeros((4, 4, 3), np.uint8), (8, 8), "bogus")
    with pytest.raises(ValueError, match="RGB"):
        prepare(np.zeros((4, 4), np.uint8), (8, 8))
    with pytest.raises(ValueError, match="uint8"):
        prepare(np.zeros((4, 4, 3), np.float32), (8, 8))


def test_enlarging_twice_or_more_interpolates_like_pil_bilinear() -> None:
    """A small photo or a small person's crop enlarged >= ENLARGE_SMOOTH: no flat blocks."""
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    out, tf = letterbox(rgb, (120, 160))  # 4x
    assert tf.scale_x == tf.scale_y == 4.0 and (tf.offset_x, tf.offset_y) == (0.0, 0.0)
    pil = np.asarray(Image.fromarray(rgb).resize((160, 120), Image.BILINEAR))
    assert np.abs(out.astype(int) - pil.astype(int)).max() <= 1
    blocks = out.reshape(30, 4, 40, 4, 3)  # nearest would make each 4x4 block one colour
    assert (blocks.max(axis=(1, 3)) != blocks.min(axis=(1, 3))).mean() > 0.9


@pytest.mark.parametrize(("shape", "size"),
                         [((48, 64), (72, 96)), ((480, 640), (481, 641)), ((60, 80), (119, 159))])
def test_smaller_enlargements_stay_nearest_neighbour(shape: tuple[int, int], size: tuple[int, int]) -> None:
    """Below ENLARGE_SMOOTH (1.5x, a pixel short of the input, just under 2x) pixels are only
    repeated, never blended: a frame barely smaller than the input is not blurred."""
    from kiosk.pose.preprocess import ENLARGE_SMOOTH

    rgb = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    out, tf = letterbox(rgb, size)
    assert tf.scale_x < ENLARGE_SMOOTH
    nh, nw = round(shape[0] * tf.scale_y), round(shape[1] * tf.scale_x)
    ys = ((np.arange(nh) + 0.5) * (shape[0] / nh)).astype(int)
    xs = ((np.arange(nw) + 0.5) * (shape[1] / nw)).astype(int)
    oy, ox = int(tf.offset_y), int(tf.offset_x)
    np.testing.assert_array_equal(out[oy:oy + len(ys), ox:ox + len(xs)], rgb[ys][:, xs])


def test_enlarged_content_lands_where_the_transform_says() -> None:
    rgb = np.zeros((40, 20, 3), np.uint8)  # a small portrait crop, enlarged 4.8x into 192x192
    rgb[30:32, 5:7] = 255  # a white square centred at (6, 31) (x, y)
    out, tf = letterbox(rgb, (192, 192))
    ys, xs = np.nonzero(out[..., 0] > 128)
    centre = np.array([[xs.mean() + 0.5, ys.mean() + 0.5]])
    np.testing.assert_allclose(tf.to_source(centre)[0], [6, 31], atol=0.5)


@pytest.mark.parametrize("shape", [(5, 1200), (1200, 5), (8, 2000), (1, 700)])
def test_a_strip_reduced_more_than_its_short_side_is_fitted(shape: tuple[int, int]) -> None:
    """A banner or a 1-px line: the anti-aliasing blocks never outgrow the short side."""
    rgb = np.full((*shape, 3), 200, np.uint8)
    out, tf = letterbox(rgb, (192, 192))
    (x0, y0), (x1, y1) = np.rint(tf.to_model(np.array([[0.0, 0.0], [shape[1], shape[0]]]))).astype(int)
    assert out.shape == (192, 192, 3) and (out[y0:y1, x0:x1] == 200).all()
    assert out.sum() == 200 * 3 * (y1 - y0) * (x1 - x0)  # the rest is padding


def _content_box(img: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(img.max(axis=2) > 0)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("mode", ["default", "coral"])
@pytest.mark.parametrize("margin", [0.125, 0.25, 0.5])
@pytest.mark.parametrize("shape", [(1080, 1920), (480, 640), (700, 300)])
def test_a_margin_fits_the_frame_as_its_black_canvas_would_be(mode: str, margin: float,
                                                              shape: tuple[int, int]) -> None:
    from kiosk.pose.scales import padded

    rgb = np.full((*shape, 3), 200, np.uint8)
    inp, tf = prepare(rgb, (481, 641), mode, margin)
    via_canvas, tf_canvas = prepare(padded(rgb, margin)[0], (481, 641), mode)
    box, want = _content_box(inp), _content_box(via_canvas)
    assert np.abs(np.subtract(box, want)).max() <= 1  # the frame lands where the canvas put it
    dx, dy = padded(rgb, margin)[1]
    corners = np.array([[0.0, 0.0], [shape[1], shape[0]]])
    on_canvas = corners + np.array([dx, dy])
    np.testing.assert_allclose(tf.to_model(corners), tf_canvas.to_model(on_canvas), atol=1.0)
    np.testing.assert_allclose(tf.to_source(tf.to_model(corners)), corners, atol=1e-3)


@pytest.mark.parametrize("margin", [-0.01, 1.5, float("nan")])
def test_a_margin_out_of_range_is_refused_by_the_fitting(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        prepare(np.zeros((48, 64, 3), np.uint8), (192, 192), "default", margin)


def test_no_margin_is_the_fitting_as_before() -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    for mode in ("default", "coral"):
        a, ta = prepare(rgb, (481, 641), mode)
        b, tb = prepare(rgb, (481, 641), mode, 0.0)
        np.testing.assert_array_equal(a, b)
        assert ta == tb
