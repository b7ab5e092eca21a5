"""Recognition crops: resizing to the network input and augmentation."""
import numpy as np
import pytest

from ocdr.data.rec_transforms import RecAugSpec, augment_crop, resize_crop, to_input


def _word(h=20, w=80):
    img = np.full((h, w, 3), 240, np.uint8)
    img[5:15, 10:70] = 20
    return img


def test_stretch_and_gray():
    out = resize_crop(_word(), 32, 100, channels=1)
    assert out.shape == (32, 100) and out.dtype == np.uint8
    rgb = resize_crop(_word(), 32, 100, channels=3)
    assert rgb.shape == (32, 100, 3)


def test_keep_aspect_ratio_pads_on_the_right():
    """A 20 x 40 crop at height 32 becomes 64 px wide; columns 64..99 repeat its last column."""
    img = np.full((20, 40, 3), 200, np.uint8)
    img[:, :20] = 0
    out = resize_crop(img, 32, 100, channels=1, keep_aspect_ratio=True)
    assert out.shape == (32, 100)
    assert out[:, 5].max() < 30 and out[:, 60].min() > 150
    assert np.array_equal(out[:, 64:], np.repeat(out[:, 63:64], 36, axis=1))
    wide = resize_crop(np.zeros((10, 500, 3), np.uint8), 32, 100, keep_aspect_ratio=True)
    assert wide.shape == (32, 100)  # too wide: squeezed to the full width


def test_zero_padding_is_mid_grey_after_normalisation():
    """PaddleOCR's padding: a 20 x 40 crop at height 48 is 96 px wide; columns 96..319 are exactly 0."""
    img = np.full((20, 40, 3), 255, np.uint8)
    x = to_input(img, 48, 320, channels=3, keep_aspect_ratio=True, pad="zero")
    assert x.shape == (3, 48, 320)
    assert np.allclose(x[:, :, :96], 1.0) and np.all(x[:, :, 96:] == 0.0)
    edge = to_input(img, 48, 320, channels=3, keep_aspect_ratio=True, pad="edge")
    assert np.allclose(edge, 1.0)  # the white last column repeated
    stretched = to_input(img, 48, 320, channels=3, keep_aspect_ratio=False, pad="zero")
    assert np.allclose(stretched, 1.0)  # nothing to pad when stretching
    with pytest.raises(ValueError, match="pad must be edge or zero"):
        to_input(img, 48, 320, channels=3, keep_aspect_ratio=True, pad="white")


def test_to_input_range_and_layout():
    x = to_input(_word(), 32, 100, channels=1)
    assert x.shape == (1, 32, 100) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.7 and x.max() > 0.8
    assert to_input(_word(), 64, 200, channels=3).shape == (3, 64, 200)


def test_augment_keeps_shape_is_seeded_and_can_be_off():
    img = _word()
    spec = RecAugSpec(aug_prob=1.0)
    a = augment_crop(img, spec, np.random.default_rng(1))
    b = augment_crop(img, spec, np.random.default_rng(1))
    assert a.shape == img.shape and np.array_equal(a, b) and not np.array_equal(a, img)
    assert np.array_equal(augment_crop(img, RecAugSpec(aug_prob=0.0), np.random.default_rng(1)), img)


def test_rotation_keeps_the_ink_in_view():
    img = _word()
    spec = RecAugSpec(aug_prob=1.0, invert=False, blur=False, noise=False, perspective=0.0)
    out = augment_crop(img, spec, np.random.default_rng(3))
    assert (out < 100).sum() == pytest.approx((img[..., 0] < 100).sum() * 3, rel=0.25)


def test_shear_widens_the_canvas_and_keeps_every_stroke():
    from ocdr.data.rec_transforms import _shear

    img = np.full((40, 100, 3), 255, np.uint8)
    img[10:30, 20:80] = 0
    out = _shear(img, 20.0, (255, 255, 255))
    assert out.shape == (40, 100 + int(np.ceil(np.tan(np.radians(20)) * 40)), 3)
    assert abs(int((out < 128).sum()) - int((img < 128).sum())) < 0.01 * (img < 128).sum()
    # the top of the block moves left of the bottom for a positive angle (x += tan * (y - h/2))
    top, bottom = np.where(out[10, :, 0] < 128)[0], np.where(out[29, :, 0] < 128)[0]
    assert top[0] < bottom[0]


def test_elastic_and_stroke_width_keep_the_shape_and_are_checked():
    from ocdr.config.augment import RecAugSpec
    from ocdr.data.rec_transforms import _elastic, augment_crop
    from ocdr.errors import ConfigError

    img = np.full((40, 100, 3), 255, np.uint8)
    img[10:30, 20:80] = 0
    out = _elastic(img, 0.05, np.random.default_rng(0), (255, 255, 255))
    assert out.shape == img.shape and not np.array_equal(out, img)
    assert np.abs(out.astype(int) - img).max() > 0 and (out < 128).sum() > 0.8 * (img < 128).sum()
    thick = augment_crop(img, RecAugSpec(aug_prob=1.0, invert=False, rotate_deg=0, blur=False, noise=False,
                                         perspective=0, stroke_width=True), np.random.default_rng(5))
    assert thick.shape == img.shape and (thick < 128).sum() != (img < 128).sum()
    with pytest.raises(ConfigError, match="shear_deg"):
        RecAugSpec(shear_deg=75).validate()
