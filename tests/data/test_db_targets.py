"""DB label makers on hand-built polygons.

The running example is a 40 x 20 rectangle from (20, 20) to (60, 40): A = 800, L = 120, so with
r = 0.4 the offset is D = 800 * (1 - 0.16) / 120 = 5.6 px. Filled polygons have their vertices
rounded to whole pixels, hence the 1-pixel tolerances.
"""
import numpy as np
import pytest

from ocdr.data.db_targets import (make_border_map, make_db_targets, make_shrink_map, offset_polygon,
                                           shrink_distance)

RECT = np.array([[20, 20], [60, 20], [60, 40], [20, 40]], float)  # 40 x 20
D = 5.6


def _extent(binary):
    ys, xs = np.nonzero(binary)
    return xs.min(), xs.max(), ys.min(), ys.max()


def test_shrink_distance_by_hand():
    assert shrink_distance(RECT, 0.4) == pytest.approx(D)


def test_offset_keeps_sub_pixel_precision():
    """pyclipper truncates floats to integers; the scaled offset keeps the inset at 25.6, not 25 or 26."""
    (inner,) = offset_polygon(RECT, -D)
    np.testing.assert_allclose(np.sort(np.unique(inner[:, 0])), [25.6, 54.4], atol=0.01)
    np.testing.assert_allclose(np.sort(np.unique(inner[:, 1])), [25.6, 34.4], atol=0.01)


def test_shrink_map_is_the_rectangle_inset_by_d():
    gt, mask = make_shrink_map([RECT], [False], 64, 80)
    x0, x1, y0, y1 = _extent(gt)
    # inset by 5.6: x 25.6..54.4, y 25.6..34.4
    assert abs(x0 - 25.6) <= 1 and abs(x1 - 54.4) <= 1
    assert abs(y0 - 25.6) <= 1 and abs(y1 - 34.4) <= 1
    assert gt[30, 40] == 1 and gt[22, 40] == 0  # centre is text, the outer 5.6 px band is not
    assert mask.min() == 1.0  # nothing to ignore: all pixels count, text or background


def test_dont_care_and_tiny_text_are_masked_out():
    """The ### rectangle and a 5-px-high word (< min_text_size 8) are masked, not taught as text."""
    tiny = np.array([[5, 5], [30, 5], [30, 10], [5, 10]], float)
    gt, mask = make_shrink_map([RECT, tiny], [True, False], 64, 80)
    assert gt.sum() == 0
    assert mask[30, 40] == 0 and mask[21, 21] == 0  # inside the ### polygon, edge included
    assert mask[7, 15] == 0                          # inside the tiny word
    assert mask[50, 5] == 1 and mask[30, 70] == 1    # background still counts
    gt, mask = make_shrink_map([tiny], [False], 64, 80, min_text_size=4)
    assert gt.sum() > 0 and mask.min() == 1          # 5 px is enough when the minimum is 4


def test_text_that_shrinks_to_nothing_is_masked():
    """A convex polygon never shrinks to nothing (D = A (1 - r^2) / L stays below its inradius), but a
    degenerate one does: four points on the line y = 10 have A = 0, D = 0 and no offset polygon.
    With the size check off (min_text_size 0) it reaches the shrink and must be masked, not dropped."""
    line = np.array([[10, 10], [30, 10], [50, 10], [20, 10]], float)
    gt, mask = make_shrink_map([line], [False], 32, 64, min_text_size=0)
    assert gt.sum() == 0
    assert mask[10, 10:51].max() == 0 and mask[11, 30] == 1


def test_polygon_cut_by_the_image_border():
    """x from -10 to 30 in a 32 x 32 map: the visible part is x 0..30 (31 columns: the frame is
    pixel centres 0..31), y 5..25, a 30 x 20 box: D = 600 * 0.84 / 100 = 5.04, shrink x 5..25, y 10..20.
    (Shrinking the whole 40 x 20 polygon would have given x -4.4..24.4 instead.)"""
    poly = np.array([[-10, 5], [30, 5], [30, 25], [-10, 25]], float)
    out = make_db_targets([poly], [False], 32, 32)
    assert set(out) == {"shrink_map", "shrink_mask", "threshold_map", "threshold_mask"}
    assert all(v.shape == (32, 32) and v.dtype == np.float32 for v in out.values())
    x0, x1, y0, y1 = _extent(out["shrink_map"])
    assert abs(x0 - 5.04) <= 1 and abs(x1 - 24.96) <= 1 and abs(y0 - 10.04) <= 1 and abs(y1 - 19.96) <= 1
    # the border map uses the whole polygon: its left edge lies outside, so column 0 is inside text
    assert out["threshold_map"][15, 0] == pytest.approx(0.3) and out["threshold_map"][5, 10] == pytest.approx(0.7)
    # a sliver of a word 3 px inside the image is too small to teach: masked
    sliver = np.array([[-40, 5], [2, 5], [2, 25], [-40, 25]], float)
    gt, mask = make_shrink_map([sliver], [False], 32, 32)
    assert gt.sum() == 0 and mask[15, 1] == 0 and mask[15, 5] == 1
    # wholly outside, or degenerate and cut: nothing drawn, nothing raised
    out = make_db_targets([poly - [50, 0], np.array([[-5, 3], [25, 3], [10, 3], [0, 3]], float)], [False, False], 32, 32)
    assert out["shrink_map"].sum() == 0 and out["threshold_mask"].sum() == 0


def test_border_map_values():
    """Value 1 - d / D scaled into [0.3, 0.7]: 0.7 on the edge, 0.3 at D = 5.6 px or more from it."""
    thresh, mask = make_border_map([RECT], [False], 64, 80, thresh_min=0.3, thresh_max=0.7)
    assert thresh[20, 40] == pytest.approx(0.7)                                   # on the top edge
    assert thresh[40, 20] == pytest.approx(0.7)                                   # on a corner
    assert thresh[17, 40] == pytest.approx(0.3 + 0.4 * (1 - 3 / D), abs=1e-5)     # 3 px outside
    assert thresh[23, 40] == pytest.approx(0.3 + 0.4 * (1 - 3 / D), abs=1e-5)     # 3 px inside
    assert thresh[14, 40] == pytest.approx(0.3)                                   # 6 px > D outside
    assert thresh[30, 40] == pytest.approx(0.3)                                   # centre, 10 px in
    assert thresh[5, 5] == pytest.approx(0.3) and mask[5, 5] == 0                 # far away
    # the mask is the rectangle dilated by 5.6 px (round corners): x 14.4..65.6, y 14.4..45.6
    x0, x1, y0, y1 = _extent(mask)
    assert abs(x0 - 14.4) <= 1 and abs(x1 - 65.6) <= 1 and abs(y0 - 14.4) <= 1 and abs(y1 - 45.6) <= 1
    assert mask[30, 40] == 1 and mask[15, 15] == 0  # inside; beyond the rounded corner (6.4 px away)


def test_border_map_keeps_the_max_and_skips_dont_care():
    """Two rectangles 4 px apart: between them each pixel takes the larger of the two values."""
    right = RECT + [44, 0]  # x 64..104
    thresh, _ = make_border_map([RECT, right], [False, False], 64, 112)
    # x = 61 is 1 px from the first and 3 px from the second: the first wins
    assert thresh[30, 61] == pytest.approx(0.3 + 0.4 * (1 - 1 / D), abs=1e-5)
    thresh, mask = make_border_map([RECT, right], [False, True], 64, 112)
    assert mask[30, 80] == 0 and thresh[20, 80] == pytest.approx(0.3)
