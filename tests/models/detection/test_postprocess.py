"""DB post-processing on hand-built probability maps."""
import cv2
import numpy as np
import pytest

from ocdr.models.detection.postprocess import PostProcessConfig, batch_postprocess, db_postprocess


def _map(h=64, w=96):
    return np.zeros((h, w), np.float32)


def test_two_rectangles_give_two_unclipped_quads():
    """A 40 x 10 px block has the pixel-centre contour (10,10)-(49,19): a 39 x 9 rectangle, A = 351,
    L = 96, so unclip grows it by 351 * 1.5 / 96 = 5.48 px on each side: x 4.5..54.5, y 4.5..24.5."""
    prob = _map()
    prob[10:20, 10:50] = 0.9
    prob[40:50, 60:90] = 0.9
    polys, scores = db_postprocess(prob, PostProcessConfig())
    assert len(polys) == 2 and all(s == pytest.approx(0.9) for s in scores)
    first = min(polys, key=lambda p: p[0, 1])
    np.testing.assert_allclose(first, [[4.5, 4.5], [54.5, 4.5], [54.5, 24.5], [4.5, 24.5]], atol=1.0)


def test_box_thresh_and_max_candidates():
    prob = _map()
    prob[10:20, 10:50] = 0.9
    prob[40:50, 10:50] = 0.5  # above thresh 0.3 but its mean 0.5 < box_thresh 0.7
    assert len(db_postprocess(prob, PostProcessConfig(box_thresh=0.7))[0]) == 1
    assert len(db_postprocess(prob, PostProcessConfig(box_thresh=0.4))[0]) == 2
    assert len(db_postprocess(prob, PostProcessConfig(box_thresh=0.4, max_candidates=1))[0]) == 1


def test_scaled_to_the_original_size():
    prob = _map()
    prob[10:20, 10:50] = 0.9
    (small,), _ = db_postprocess(prob, PostProcessConfig())
    (big,), _ = db_postprocess(prob, PostProcessConfig(), dest_size=(128, 192))
    np.testing.assert_allclose(big, small * 2, atol=1e-3)


def test_rotated_text_gives_a_rotated_quad():
    prob = _map(96, 96)
    box = cv2.boxPoints(((48, 48), (60, 14), 20)).astype(np.int32)
    cv2.fillPoly(prob, [box], 0.9)
    (quad,), _ = db_postprocess(prob, PostProcessConfig())
    top = quad[1] - quad[0]
    angle = np.degrees(np.arctan2(top[1], top[0]))
    assert angle == pytest.approx(20, abs=3)


def test_polygon_mode_empty_map_and_specks():
    prob = _map()
    prob[10:20, 10:50] = 0.9
    polys, _ = db_postprocess(prob, PostProcessConfig(polygon=True))
    assert len(polys) == 1 and len(polys[0]) >= 4
    assert db_postprocess(_map(), PostProcessConfig()) == ([], [])
    speck = _map()
    speck[30:32, 30:32] = 0.9
    assert db_postprocess(speck, PostProcessConfig())[0] == []


def test_batch():
    probs = np.zeros((2, 1, 64, 96), np.float32)
    probs[1, 0, 10:20, 10:50] = 0.9
    out = batch_postprocess(probs, PostProcessConfig(), [(64, 96), (32, 48)])
    assert len(out[0][0]) == 0 and len(out[1][0]) == 1 and out[1][0][0][:, 0].max() <= 48
