"""The rectifier on hand-built quads: pixels land where they should; bad boxes never raise."""
import cv2
import numpy as np
import pytest

from ocdr.rectify import RectifyConfig, crop_polygon, crop_quad, rectify, rectify_batch, rotate180


def _word_image(angle: float = 0.0, size=(200, 300)):
    """A 120 x 30 'word' whose left half is dark (40) and right half mid-gray (140) on white,
    rotated by ``angle`` degrees about (150, 100); returns the image and its box corners."""
    h, w = size
    img = np.full((h, w, 3), 255, np.uint8)
    img[85:115, 90:150] = 40
    img[85:115, 150:210] = 140
    box = np.array([[90, 85], [210, 85], [210, 115], [90, 115]], np.float64)
    m = cv2.getRotationMatrix2D((150, 100), angle, 1.0)
    img = cv2.warpAffine(img, m, (w, h), borderValue=(255, 255, 255))
    box = np.hstack([box, np.ones((4, 1))]) @ m.T
    return img, box


def _halves(crop):
    gray = crop.mean(axis=2)
    w = gray.shape[1]
    return gray[4:-4, 4: w // 2 - 4].mean(), gray[4:-4, w // 2 + 4: -4].mean()


@pytest.mark.parametrize("angle", [0, 20, -30])
def test_rotated_quad_reads_left_to_right(angle):
    img, box = _word_image(angle)
    crop = crop_quad(img, box[[2, 0, 3, 1]])  # any point order: the rectifier orders the corners
    assert crop.shape == (32, 128, 3)  # 120 x 30 at height 32 -> width 128
    left, right = _halves(crop)
    assert left < 60 and 120 < right < 160


def test_vertical_text_is_turned_to_read_left_to_right():
    """The word rotated 90° clockwise runs top to bottom; its crop is turned back."""
    img, box = _word_image(-90)
    crop = rectify(img, box)
    assert crop.shape == (32, 128, 3)
    left, right = _halves(crop)
    assert left < 60 and 120 < right < 160


def test_upside_down_second_reading():
    img, box = _word_image(180)
    crop = crop_quad(img, box)
    left, right = _halves(crop)
    assert left > right  # upside down: the dark half is now on the right
    left, right = _halves(rotate180(crop))
    assert left < 60 and right > 120


def test_polygon_is_unrolled_along_its_centre_line():
    """An arc-shaped band: its unrolled crop is a straight strip of the band's ink."""
    img = np.full((200, 300, 3), 255, np.uint8)
    xs = np.linspace(40, 260, 6)
    top = np.stack([xs, 60 + 0.004 * (xs - 150) ** 2], 1)
    bottom = top + [0, 30]
    poly = np.concatenate([top, bottom[::-1]])
    cv2.fillPoly(img, [np.round(poly).astype(np.int32)], (30, 30, 30))
    crop = crop_polygon(img, poly)
    assert crop.shape[0] == 32 and crop.shape[1] > 200
    assert crop[4:-4].mean() < 60  # all ink, no paper: the band was followed, not boxed


@pytest.mark.parametrize("points", [
    [[10, 10], [10, 10], [10, 10], [10, 10]],            # repeated points
    [[10, 10], [50, 10], [90, 10], [130, 10]],           # collinear
    [[np.nan, 1], [2, 3], [4, 5], [6, 7]],               # NaN
    [[-50, -50], [-10, -50], [-10, -10], [-50, -10]],    # wholly outside
    [[1000, 10], [1100, 10], [1100, 40], [1000, 40]],    # wholly outside, far
    [[1, 2]],                                            # too few points
    "garbage",
])
def test_degenerate_boxes_never_raise(points):
    img = np.zeros((100, 150, 3), np.uint8)
    out = rectify(img, points)
    assert out is None or (out.ndim == 3 and out.shape[0] == 32 and out.shape[1] >= 1)


def test_partly_outside_falls_back_to_the_clipped_crop():
    img = np.full((100, 150, 3), 200, np.uint8)
    img[20:40, 100:150] = 0
    crop = rectify(img, [[100, 20], [190, 20], [190, 40], [100, 40]])
    assert crop is not None and crop.shape == (32, 80, 3)  # 50 x 20 inside -> 80 x 32
    assert crop.mean() < 20


def test_batch_keeps_the_origin_of_each_crop_and_counts_drops():
    img1, box1 = _word_image(0)
    img2, box2 = _word_image(15)
    crops, where, dropped = rectify_batch([img1, img2], [[box1, [[np.nan] * 2] * 4], [box2, box2 * 0 - 5, box2]],
                                          RectifyConfig(height=16))
    assert where == [(0, 0), (1, 0), (1, 2)] and dropped == 2
    assert all(c.shape[0] == 16 for c in crops)
