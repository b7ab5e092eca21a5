"""Augmentation moves polygons with the pixels; inference resizing keeps the aspect ratio.

The page is white with two black quads drawn with ``cv2.fillPoly``. After any transform, each
returned polygon must sit on ink (its eroded interior is dark, a ring just outside it is light)
and every dark pixel must lie under some polygon (no text lost or misplaced).
"""
import cv2
import numpy as np
import pytest

from ocdr.data.transforms import (
    DetAugSpec, augment, clip_to_window, color_jitter, denormalize, normalize, random_crop_keep_text, random_flip,
    random_rotate, random_scale, resize_for_inference, resize_pad_square,
)
from ocdr.errors import ConfigError

QUADS = [np.array([[10, 10], [50, 10], [50, 26], [10, 26]], float),   # axis-aligned word
         np.array([[60, 50], [110, 56], [108, 76], [58, 70]], float)]  # slanted word
IGNORE = [False, False]


def _page() -> np.ndarray:
    img = np.full((96, 128, 3), 255, np.uint8)
    for q in QUADS:
        cv2.fillPoly(img, [np.round(q).astype(np.int32)], (0, 0, 0))
    return img


def _mask(shape, poly) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly).astype(np.int32)], 1)
    return m


def _assert_on_ink(image, polys, dark_max=80.0, light_min=170.0, contrast=None, slack=2):
    """Interior (2 px in from the edge) dark, ring 2..4 px outside light, and no ink more than
    ``slack`` px from every polygon.

    With ``contrast`` (colour jitter on) only ``ring - interior > contrast`` is required. A 3x
    upscale widens the drawn edge (fillPoly inks half a pixel beyond the outline, then the
    bilinear ramp), and blur widens it further: hence a larger ``slack`` there.
    """
    gray = image.mean(axis=2)
    covered = np.zeros(gray.shape, np.uint8)
    k = lambda r: np.ones((2 * r + 1, 2 * r + 1), np.uint8)  # noqa: E731
    for p in polys:
        m = _mask(gray.shape, p)
        covered |= cv2.dilate(m, k(slack))
        inner = cv2.erode(m, k(2)).astype(bool)
        ring = (cv2.dilate(m, k(4)) - cv2.dilate(m, k(2))).astype(bool)
        if inner.sum() < 4 or ring.sum() < 4:
            continue  # a sliver clipped at the crop edge: nothing to measure
        if contrast is None:
            assert gray[inner].mean() < dark_max and gray[ring].mean() > light_min
        else:
            assert gray[ring].mean() - gray[inner].mean() > contrast
    ink = gray < (dark_max if contrast is None else gray.max() - contrast)
    assert not (ink & ~covered.astype(bool)).any(), "dark pixels outside every polygon"


def test_flip_by_hand_keeps_clockwise_top_left_order():
    """W = 128, so x -> 127 - x: the box x 10..50 becomes x 77..117, still TL, TR, BR, BL."""
    image, polys, _ = random_flip(_page(), QUADS, IGNORE, np.random.default_rng(0), prob=1.0)
    np.testing.assert_allclose(polys[0], [[77, 10], [117, 10], [117, 26], [77, 26]])
    assert (image[10:27, 77:118] == 0).all() and (image[10:27, 76] == 255).all()
    _assert_on_ink(image, polys)


def test_flip_of_a_six_point_polygon_keeps_top_edge_first():
    """Top edge (10,10)(30,10)(50,10), bottom edge back: mirrored it starts at (77,10) again."""
    six = np.array([[10, 10], [30, 10], [50, 10], [50, 26], [30, 26], [10, 26]], float)
    _, polys, _ = random_flip(_page(), [six], [False], np.random.default_rng(0), prob=1.0)
    np.testing.assert_allclose(polys[0], [[77, 10], [97, 10], [117, 10], [117, 26], [97, 26], [77, 26]])


def test_flip_with_prob_zero_is_identity():
    image, polys, _ = random_flip(_page(), QUADS, IGNORE, np.random.default_rng(0), prob=0.0)
    assert np.array_equal(image, _page()) and np.array_equal(polys[1], QUADS[1])


@pytest.mark.parametrize("seed", range(4))
def test_rotate_scale_crop_keep_boxes_on_the_ink(seed):
    rng = np.random.default_rng(seed)
    image, polys, _ = random_rotate(_page(), QUADS, IGNORE, rng, 25)
    assert image.shape[0] > 96 and image.shape[1] > 128  # expanded, nothing cut
    _assert_on_ink(image, polys)
    image, polys, _ = random_scale(_page(), QUADS, IGNORE, rng, 0.6, 2.0)
    _assert_on_ink(image, polys)
    image, polys, ignore = random_crop_keep_text(_page(), QUADS, IGNORE, rng, 64)
    assert image.shape == (64, 64, 3)
    _assert_on_ink(image, polys)


@pytest.mark.parametrize("seed", range(6))
def test_augment_keeps_boxes_on_the_ink(seed):
    geometric = DetAugSpec(crop_size=96, rotate_deg=15, color_prob=0.0, blur_prob=0.0)
    image, polys, ignore = augment(_page(), QUADS, IGNORE, geometric, np.random.default_rng(seed))
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8 and len(polys) == len(ignore)
    _assert_on_ink(image, polys, slack=3)
    colour = DetAugSpec(crop_size=64, color_prob=1.0, blur_prob=0.5)
    image, polys, _ = augment(_page(), QUADS, IGNORE, colour, np.random.default_rng(seed))
    assert image.shape == (64, 64, 3)
    _assert_on_ink(image, polys, contrast=80, slack=4)


def test_crop_prefers_a_window_that_holds_a_whole_word():
    """Both words fit in 64 px and clean windows exist, so the crop must contain one of them
    untouched (a pure translate) and cut nothing."""
    for seed in range(10):
        _, polys, ignore = random_crop_keep_text(_page(), QUADS, IGNORE, np.random.default_rng(seed), 64)
        assert not any(ignore)
        whole = [p for p in polys if len(p) == 4 and any(np.allclose(p - p[0], q - q[0]) for q in QUADS)]
        assert whole and len(whole) == len(polys)


def test_crop_never_leaves_a_kept_point_outside():
    """Upscaled 3x, the words no longer fit in 64 px: they get cut, and what is kept is clipped."""
    big = cv2.resize(_page(), (384, 288), interpolation=cv2.INTER_NEAREST)
    quads = [(q + 0.5) * 3 - 0.5 for q in QUADS]  # where a 3x resize puts pixel centres
    for seed in range(10):
        image, polys, ignore = random_crop_keep_text(big, quads, IGNORE, np.random.default_rng(seed), 64)
        for p in polys:
            assert (p >= 0).all() and (p <= 63).all()
        _assert_on_ink(image, polys)


def test_clip_to_window_by_hand():
    """Window x, y in 0..63. A: inside, unchanged. B: x 50..70, 13/20 = 65% inside -> clipped at
    x = 63 and kept. C: x 56..86, 7/30 = 23% inside -> don't-care. D: x 70..90 -> removed."""
    rect = lambda x0, x1: np.array([[x0, 10], [x1, 10], [x1, 20], [x0, 20]], float)  # noqa: E731
    polys, ignore = clip_to_window([rect(5, 40), rect(50, 70), rect(56, 86), rect(70, 90)], [False] * 4, 0, 0, 64, 64)
    assert ignore == [False, False, True]
    np.testing.assert_allclose(polys[0], rect(5, 40))
    np.testing.assert_allclose(polys[1], rect(50, 63))
    np.testing.assert_allclose(polys[2], rect(56, 63))


def test_augment_is_deterministic_for_a_seed():
    spec = DetAugSpec(crop_size=64, color_prob=1.0, blur_prob=0.5)
    a = augment(_page(), QUADS, IGNORE, spec, np.random.default_rng(3))
    b = augment(_page(), QUADS, IGNORE, spec, np.random.default_rng(3))
    c = augment(_page(), QUADS, IGNORE, spec, np.random.default_rng(4))
    assert np.array_equal(a[0], b[0]) and all(np.array_equal(p, q) for p, q in zip(a[1], b[1]))
    assert not np.array_equal(a[0], c[0])


def test_augment_disabled_only_resizes_and_pads():
    """128x96 into 96: width 96 (x 0.75), height 72 rounded to 64 (x 2/3), white padding below."""
    image, polys, ignore = augment(_page(), QUADS, IGNORE, DetAugSpec(enable=False, crop_size=96),
                                   np.random.default_rng(0))
    assert image.shape == (96, 96, 3) and (image[64:] == 255).all() and ignore == IGNORE
    np.testing.assert_allclose(polys[0], (QUADS[0] + 0.5) * [0.75, 2 / 3] - 0.5)
    _assert_on_ink(image, polys, dark_max=100, light_min=150)


def test_colour_jitter_leaves_geometry_alone():
    image, polys, _ = color_jitter(_page(), QUADS, IGNORE, np.random.default_rng(0), prob=1.0)
    assert image.shape == (96, 128, 3) and image.dtype == np.uint8 and not np.array_equal(image, _page())
    assert all(np.array_equal(p, q) for p, q in zip(polys, QUADS))


def test_spec_rejects_crop_not_multiple_of_32():
    with pytest.raises(ConfigError, match="crop_size"):
        augment(_page(), QUADS, IGNORE, DetAugSpec(crop_size=100), np.random.default_rng(0))


def test_resize_for_inference_by_hand():
    """300x150 with long side 640: x 640/300, short side 150 * 640/300 = 320, both multiples of 32."""
    resized, sx, sy = resize_for_inference(np.zeros((150, 300, 3), np.uint8), 640)
    assert resized.shape == (320, 640, 3) and sx == pytest.approx(640 / 300) and sy == pytest.approx(320 / 150)
    # fitted into (640, 640): 500x300 scaled by 1.28 -> 640x384
    r, sx, sy = resize_for_inference(np.zeros((300, 500, 3), np.uint8), target_size=(640, 640))
    assert r.shape == (384, 640, 3) and sx == pytest.approx(1.28) and sy == pytest.approx(1.28)
    # no target: 130x100 rounded to 128x96
    r, _, _ = resize_for_inference(np.zeros((100, 130, 3), np.uint8))
    assert r.shape == (96, 128, 3)
    r, _, _ = resize_for_inference(np.zeros((100, 130, 3), np.uint8), 736)
    assert r.shape[0] % 32 == 0 and r.shape[1] == 736 and r.shape[1] / r.shape[0] == pytest.approx(1.3, rel=0.06)


def test_resize_pad_square_maps_points_with_the_pixels():
    """128x96 into 128: no resize needed (both sides multiples of 32), 32 rows of padding."""
    image, polys, sx, sy = resize_pad_square(_page(), QUADS, 128)
    assert image.shape == (128, 128, 3) and (sx, sy) == (1.0, 1.0) and (image[96:] == 255).all()
    np.testing.assert_allclose(polys[1], QUADS[1])
    image, polys, sx, sy = resize_pad_square(_page(), QUADS, 64)  # 64 x 48 -> 64 x 64 (48/32 rounds up)
    assert image.shape == (64, 64, 3) and (sx, sy) == (0.5, 64 / 96)
    _assert_on_ink(image, polys, dark_max=100, light_min=150)


def test_normalize_round_trip():
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    chw = normalize(img)
    assert chw.shape == (3, 8, 8) and chw.dtype == np.float32
    assert np.abs(chw.mean(axis=(1, 2))).max() < 1.0  # roughly centred by the ImageNet mean/std
    assert np.array_equal(denormalize(chw), img)


def test_scale_long_side_scales_every_image_to_the_size_it_is_read_at():
    """scale 1 of long side 256: the 128-wide page doubles, and so does every point (pixel centres); a
    page half as large comes out the same size, so small and large images train at one text size."""
    spec = DetAugSpec(crop_size=512, rotate_deg=0, flip_prob=0, scale_min=1, scale_max=1, scale_long_side=256,
                      color_prob=0, blur_prob=0)
    image, polys, _ = augment(_page(), QUADS, IGNORE, spec, np.random.default_rng(0))
    assert image.shape == (512, 512, 3)
    for got, q in zip(polys, QUADS):
        np.testing.assert_allclose(got, 2 * q + 0.5, atol=1e-6)
    _assert_on_ink(image, polys, slack=3)
    small = cv2.resize(_page(), (64, 48), interpolation=cv2.INTER_AREA)
    image_small, polys_small, _ = augment(small, [q / 2 for q in QUADS], IGNORE, spec, np.random.default_rng(0))
    ink = lambda im: np.argwhere(im.mean(axis=2) < 128)  # noqa: E731
    assert np.abs(ink(image_small).max(0) - ink(image).max(0)).max() <= 4  # the ink reaches as far
    with pytest.raises(ConfigError, match="scale_long_side: -1 is negative"):
        DetAugSpec(scale_long_side=-1).validate()
