"""Augmentation moves polygons with the pixels; inference resizing keeps the aspect ratio."""
import cv2
import numpy as np
import pytest

from ocdr.data.transforms import (
    DetAugSpec, augment, denormalize, normalize, random_crop_keep_text, random_flip, random_rotate, random_scale,
    resize_for_inference,
)

QUADS = [np.array([[10, 10], [50, 10], [50, 26], [10, 26]], float),
         np.array([[60, 50], [110, 56], [108, 76], [58, 70]], float)]


def _page():
    img = np.full((96, 128, 3), 255, np.uint8)
    for q in QUADS:
        cv2.fillPoly(img, [np.round(q).astype(np.int32)], (0, 0, 0))
    return img


def _assert_consistent(image, polys, ignore):
    gray = image.mean(axis=2)
    for p, ign in zip(polys, ignore):
        if ign:
            continue
        inner = np.zeros(gray.shape, np.uint8)
        centre = p.mean(0)
        shrunk = centre + (p - centre) * 0.7  # well inside: no anti-aliased edge pixels
        cv2.fillPoly(inner, [np.round(shrunk).astype(np.int32)], 1)
        if inner.sum() > 0:
            assert gray[inner == 1].mean() < 80
        ring = np.zeros(gray.shape, np.uint8)
        grown = centre + (p - centre) * 1.3 + np.sign(p - centre) * 3
        cv2.fillPoly(ring, [np.round(grown).astype(np.int32)], 1)
        cv2.fillPoly(ring, [np.round(centre + (p - centre) * 1.1 + np.sign(p - centre) * 2).astype(np.int32)], 0)
        if ring.sum() > 0:
            assert gray[ring == 1].mean() > 150


def test_flip_keeps_clockwise_top_left_order():
    rng = np.random.default_rng(0)
    image, polys, ignore = random_flip((_page(), QUADS, [False, False]), rng, prob=1.0)
    np.testing.assert_allclose(polys[0], [[78, 10], [118, 10], [118, 26], [78, 26]])
    _assert_consistent(image, polys, ignore)


@pytest.mark.parametrize("seed", range(4))
def test_each_transform_and_the_chain_keep_boxes_on_the_ink(seed):
    rng = np.random.default_rng(seed)
    sample = (_page(), QUADS, [False, False])
    _assert_consistent(*random_rotate(sample, rng, 10))
    _assert_consistent(*random_scale(sample, rng, 0.8, 1.6))
    crop = random_crop_keep_text(sample, rng, 64)
    _assert_consistent(*crop)
    spec = DetAugSpec(crop_size=96, scale_min=0.8, scale_max=1.5, color_prob=0.0, blur_prob=0.0)
    image, polys, ignore = augment(_page(), QUADS, [False, False], spec, np.random.default_rng(seed))
    assert image.shape == (96, 96, 3)
    _assert_consistent(image, polys, ignore)


def test_crop_never_cuts_a_kept_polygon():
    for seed in range(10):
        image, polys, ignore = random_crop_keep_text((_page(), QUADS, [False, False]), np.random.default_rng(seed), 64)
        for p, ign in zip(polys, ignore):
            if not ign:
                assert (p >= 0).all() and (p <= 64).all()


def test_augment_is_deterministic_for_a_seed():
    spec = DetAugSpec(crop_size=64)
    a = augment(_page(), QUADS, [False, False], spec, np.random.default_rng(3))
    b = augment(_page(), QUADS, [False, False], spec, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and all(np.array_equal(p, q) for p, q in zip(a[1], b[1]))


def test_resize_for_inference_by_hand():
    image = np.zeros((150, 300, 3), np.uint8)
    resized, sx, sy = resize_for_inference(image, 640)
    assert resized.shape == (320, 640, 3) and sx == pytest.approx(640 / 300) and sy == pytest.approx(320 / 150)
    odd = np.zeros((100, 130, 3), np.uint8)
    r, _, _ = resize_for_inference(odd, 736)
    assert r.shape[0] % 32 == 0 and r.shape[1] % 32 == 0
    assert r.shape[1] / r.shape[0] == pytest.approx(1.3, rel=0.06)


def test_normalize_round_trip():
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    chw = normalize(img)
    assert chw.shape == (3, 8, 8) and chw.dtype == np.float32
    assert np.abs(denormalize(chw).astype(int) - img).max() <= 1
