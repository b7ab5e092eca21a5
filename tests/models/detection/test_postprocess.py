"""DB post-processing on hand-built probability maps.

Unclip arithmetic used below. findContours traces pixel centres, so a block of rows r0..r1 and
columns c0..c1 has the contour (c0, r0)-(c1, r1), a (c1 - c0) x (r1 - r0) rectangle of area A and
perimeter L, grown by d = A * 1.5 / L on every side (the growth is a straight offset along the
sides; the min-area rectangle of the rounded corners is the offset rectangle).
"""
import cv2
import numpy as np
import pytest

from ocdr.models.detection.postprocess import PostProcessConfig, batch_postprocess, db_postprocess


def _map(h=64, w=96):
    return np.zeros((h, w), np.float32)


def _two_words():
    prob = _map()
    prob[10:20, 10:50] = 0.9  # contour (10,10)-(49,19): 39 x 9
    prob[40:50, 60:90] = 0.9  # contour (60,40)-(89,49): 29 x 9
    return prob


def test_two_rectangles_give_two_unclipped_quads():
    """First: A = 351, L = 96, d = 351 * 1.5 / 96 = 5.48 -> x 4.52..54.48, y 4.52..24.48.
    Second: A = 261, L = 76, d = 261 * 1.5 / 76 = 5.15 -> x 54.85..94.15, y 34.85..54.15.
    Quads come clockwise from the top-left corner (ICDAR order)."""
    polys, scores = db_postprocess(_two_words(), PostProcessConfig())
    assert len(polys) == 2 and all(s == pytest.approx(0.9) for s in scores)
    assert all(p.shape == (4, 2) and p.dtype == np.float32 for p in polys)
    first, second = sorted(polys, key=lambda p: p[0, 1])
    np.testing.assert_allclose(first, [[4.52, 4.52], [54.48, 4.52], [54.48, 24.48], [4.52, 24.48]], atol=0.1)
    np.testing.assert_allclose(second, [[54.85, 34.85], [94.15, 34.85], [94.15, 54.15], [54.85, 54.15]], atol=0.1)


def test_score_is_the_mean_inside_the_contour_and_box_thresh_filters():
    """Left half 0.9, right half 0.5 over the same 400 pixels: mean 0.7. A separate all-0.5 blob
    clears thresh 0.3 but its mean 0.5 is below the default box_thresh 0.55 (TAO OCDNet's)."""
    prob = _map()
    prob[10:20, 10:30] = 0.9
    prob[10:20, 30:50] = 0.5
    prob[40:50, 10:50] = 0.5
    polys, scores = db_postprocess(prob, PostProcessConfig(box_thresh=0.69))
    assert len(polys) == 1 and scores[0] == pytest.approx(0.7, abs=1e-5)
    assert db_postprocess(prob, PostProcessConfig(box_thresh=0.71)) == ([], [])
    assert len(db_postprocess(prob, PostProcessConfig(box_thresh=0.4))[0]) == 2
    prob[10:20, 30:50] = 0.9  # now a plain 0.9 word beside the 0.5 blob: the default keeps one
    assert PostProcessConfig().box_thresh == 0.55
    (word,), _ = db_postprocess(prob, PostProcessConfig())
    assert word[:, 1].max() < 30


def test_max_candidates():
    assert len(db_postprocess(_two_words(), PostProcessConfig(max_candidates=1))[0]) == 1
    assert len(db_postprocess(_two_words(), PostProcessConfig(max_candidates=0))[0]) == 0


def test_scaled_to_the_original_size():
    """x scales by orig_w / W and y by orig_h / H: 2x both ways, then 2x in x and 0.5x in y."""
    (small, _), _ = db_postprocess(_two_words(), PostProcessConfig())
    (big, _), _ = db_postprocess(_two_words(), PostProcessConfig(), dest_size=(128, 192))
    np.testing.assert_allclose(big, small * 2, atol=1e-3)
    (wide, _), _ = db_postprocess(_two_words(), PostProcessConfig(), dest_size=(32, 192))
    np.testing.assert_allclose(wide, small * [2, 0.5], atol=1e-3)


def test_boxes_are_clipped_to_the_image():
    """A word touching the top-left corner grows past it; the quad stops at 0 (and at W, H)."""
    prob = _map(32, 32)
    prob[0:10, 0:32] = 0.9
    (quad,), _ = db_postprocess(prob, PostProcessConfig())
    assert quad.min() == 0 and quad[:, 0].max() == 32 and quad[:, 1].max() < 32


def test_rotated_text_gives_a_rotated_quad():
    prob = _map(96, 96)
    box = cv2.boxPoints(((48, 48), (60, 14), 20)).astype(np.int32)
    cv2.fillPoly(prob, [box], 0.9)
    (quad,), _ = db_postprocess(prob, PostProcessConfig())
    top = quad[1] - quad[0]
    assert np.degrees(np.arctan2(top[1], top[0])) == pytest.approx(20, abs=3)
    assert np.linalg.norm(top) > 60  # the long side, grown: ICDAR order starts on the top edge


def test_polygon_mode():
    """An L-shaped word keeps its concave outline (more than 4 points, clockwise from top-left)."""
    prob = _map()
    prob[10:20, 10:50] = 0.9
    prob[20:40, 10:20] = 0.9
    (poly,), _ = db_postprocess(prob, PostProcessConfig(polygon=True))
    assert len(poly) > 4 and poly.dtype == np.float32
    area = 0.5 * (np.dot(poly[:, 0], np.roll(poly[:, 1], -1)) - np.dot(np.roll(poly[:, 0], -1), poly[:, 1]))
    assert area > 0  # positive shoelace = clockwise with y down
    assert np.argmin(poly.sum(1)) == 0
    # the inner corner of the L (around (20, 20)) is not filled in, unlike a quad
    assert cv2.pointPolygonTest(poly.reshape(-1, 1, 2), (35.0, 32.0), False) < 0


def test_empty_map_and_specks():
    assert db_postprocess(_map(), PostProcessConfig()) == ([], [])
    speck = _map()
    speck[30:32, 30:32] = 0.9  # contour 1 x 1 < min_size 3
    assert db_postprocess(speck, PostProcessConfig()) == ([], [])
    assert db_postprocess(speck, PostProcessConfig(polygon=True)) == ([], [])


def test_min_size_after_unclip():
    """min_size 1. Rows 10..11: contour 39 x 1, A = 39, L = 80, d = 0.73, grown short side 2.46 <
    min_size + 2 = 3: dropped. Rows 10..12: 39 x 2, d = 1.43, short side 4.85: kept."""
    prob = _map()
    prob[10:12, 10:50] = 0.9
    assert db_postprocess(prob, PostProcessConfig(min_size=1)) == ([], [])
    prob[12, 10:50] = 0.9
    assert len(db_postprocess(prob, PostProcessConfig(min_size=1))[0]) == 1


def test_batch():
    probs = np.zeros((2, 1, 64, 96), np.float32)
    probs[1, 0] = _two_words()
    out = batch_postprocess(probs, PostProcessConfig(), [(64, 96), (32, 48)])
    assert len(out[0][0]) == 0 and len(out[1][0]) == 2
    assert max(p[:, 0].max() for p in out[1][0]) <= 48
    with pytest.raises(ValueError, match="probability map"):
        db_postprocess(probs[0], PostProcessConfig())
