"""DB label makers on hand-built polygons."""
import numpy as np
import pytest

from ocdr.models.detection.targets import make_border_map, make_db_targets, make_shrink_map, shrink_distance

RECT = np.array([[20, 20], [60, 20], [60, 40], [20, 40]], float)  # 40 x 20


def test_shrink_distance_by_hand():
    # A = 800, L = 120, r = 0.4: D = 800 * (1 - 0.16) / 120 = 5.6
    assert shrink_distance(RECT, 0.4) == pytest.approx(5.6)


def test_shrink_map_is_the_rectangle_inset_by_d():
    gt, mask = make_shrink_map([RECT], [False], 64, 80)
    ys, xs = np.nonzero(gt)
    # inset by 5.6: x 25.6..54.4, y 25.6..34.4 (pixels filled after rounding, within a pixel)
    assert abs(xs.min() - 25.6) <= 1 and abs(xs.max() - 54.4) <= 1
    assert abs(ys.min() - 25.6) <= 1 and abs(ys.max() - 34.4) <= 1
    assert mask.min() == 1.0  # nothing to ignore


def test_dont_care_and_tiny_text_are_masked_out():
    tiny = np.array([[5, 5], [30, 5], [30, 10], [5, 10]], float)  # 5 px high < min_text_size 8
    gt, mask = make_shrink_map([RECT, tiny], [True, False], 64, 80)
    assert gt.sum() == 0
    assert mask[30, 40] == 0 and mask[7, 15] == 0 and mask[50, 5] == 1


def test_border_map_values():
    thresh, mask = make_border_map([RECT], [False], 64, 80, thresh_min=0.3, thresh_max=0.7)
    assert thresh[20, 40] == pytest.approx(0.7)             # on the top edge
    assert thresh[30, 40] == pytest.approx(0.3)             # centre: 10 px from the edges > D
    assert thresh[17, 40] == pytest.approx(0.3 + 0.4 * (1 - 3 / 5.6), abs=1e-5)  # 3 px outside
    assert thresh[5, 5] == pytest.approx(0.3) and mask[5, 5] == 0
    assert mask[16, 40] == 1 and mask[10, 40] == 0          # dilated by 5.6 px, no further


def test_polygon_cut_by_the_image_border_and_keys():
    poly = np.array([[-10, 5], [30, 5], [30, 25], [-10, 25]], float)
    out = make_db_targets([poly], [False], 32, 32)
    assert set(out) == {"shrink_map", "shrink_mask", "threshold_map", "threshold_mask"}
    assert all(v.shape == (32, 32) and v.dtype == np.float32 for v in out.values())
    assert out["shrink_map"][15, 10] == 1
