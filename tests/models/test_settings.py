"""Inference settings: defaults of old records, PaddleOCR's resize rule, overrides, and their JSON round trip."""
import numpy as np
import pytest

from ocdr.data.rec_transforms import dynamic_width, to_input_paddle, width_rungs
from ocdr.data.transforms import normalize_with, resize_limited
from ocdr.errors import ConfigError
from ocdr.models.detection.postprocess import PostProcessConfig, db_postprocess
from ocdr.models.recognition.decode import ctc_decode_steps
from ocdr.data.charset import Charset
from ocdr.models.settings import (PPOCR_DET, PPOCR_REC, DetectorSettings, detector_settings_from_json,
                                  detector_settings_of, merge, recognizer_settings_of, to_json, trained_settings)


def test_paddle_min_rule_on_a_1280x720_photo():
    """limit_type=min, 736: ratio 736/720 -> 736 x 1308.4 -> int 1308 -> nearest multiple of 32 = 1312."""
    img = np.zeros((720, 1280, 3), np.uint8)
    assert resize_limited(img, 736, "min").shape[:2] == (736, 1312)
    # max rule: a small image is left alone but rounded (300 x 500 -> 288 x 512); a large one shrinks
    assert resize_limited(np.zeros((300, 500, 3), np.uint8), 960, "max").shape[:2] == (288, 512)
    assert resize_limited(np.zeros((2000, 1000, 3), np.uint8), 960, "max").shape[:2] == (960, 480)
    # max_side_len first shrinks the 4000-px side to 2000 (2000 / 32 = 62.5 rounds to even, 62 -> 1984, as
    # PaddleOCR's Python round does), then min 736 leaves the 992-px short side alone
    assert resize_limited(np.zeros((4000, 2000, 3), np.uint8), 736, "min", max_side_len=2000).shape[:2] == (1984, 992)
    # ocdr's own rule: the long side becomes the limit
    assert resize_limited(img, 736, "long").shape[:2] == (416, 736)


def test_normalize_with_bgr_and_half_mean_std():
    img = np.zeros((1, 1, 3), np.uint8)
    img[0, 0] = (255, 0, 0)  # red
    out = normalize_with(img, [0.5] * 3, [0.5] * 3, "BGR")
    assert out.shape == (3, 1, 1)
    np.testing.assert_allclose(out[:, 0, 0], [-1.0, -1.0, 1.0], atol=1e-6)  # B, G, R


def test_normalize_with_per_channel_mean_std_equals_the_formula_for_every_value():
    """The table look-up covers all 256 values of each channel, on a non-contiguous view too."""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    values = np.arange(256, dtype=np.uint8)
    img = np.stack([values, values[::-1], np.roll(values, 7)], axis=-1)[None].repeat(3, 0)[:, ::2]  # (3, 128, 3)
    out = normalize_with(img, mean, std, "RGB")
    assert out.shape == (3, 3, 128) and out.dtype == np.float32
    expected = (img.astype(np.float64) / 255 - mean) / std
    np.testing.assert_allclose(out.transpose(1, 2, 0), expected, atol=1e-5)
    assert out[0, 0, 0] == np.float32(0 * (1 / (255 * np.float32(0.229))) - np.float32(0.485) / np.float32(0.229))
    bgr = normalize_with(img, mean[::-1], std[::-1], "BGR")
    np.testing.assert_allclose(bgr.transpose(1, 2, 0), expected[:, :, ::-1], atol=1e-5)


def test_dynamic_width_and_paddle_crop_input():
    crops = [np.zeros((10, 20, 3), np.uint8), np.zeros((10, 100, 3), np.uint8)]
    assert dynamic_width(crops[:1], 48, 320, 2048) == 320          # ratio 2 < 320/48: the minimum
    assert dynamic_width(crops, 48, 320, 2048) == 480              # ratio 10 -> 480
    assert dynamic_width(crops, 48, 320, 400) == 400               # capped
    x = to_input_paddle(np.full((10, 20, 3), 255, np.uint8), 48, 320)
    assert x.shape == (3, 48, 320)
    assert np.all(x[:, :, :96] == 1.0) and np.all(x[:, :, 96:] == 0.0)  # ceil(48 * 2) = 96 columns, then zeros


def test_a_width_ladder_rounds_the_batch_width_up_to_its_next_rung():
    # 320, 320 * 1.2 = 384, 460.8 -> 461 -> 464 (multiple of 8), 552.96 -> 553 -> 560, ...
    assert width_rungs(320, 2048, 8, 0.2)[:4] == (320, 384, 464, 560)
    assert width_rungs(320, 400, 8, 0.2) == (320, 384, 400)          # the maximum is the last rung
    assert width_rungs(320, 320, 8, 0.2) == (320,) and width_rungs(400, 320, 8, 0.2) == (320,)
    tiny = width_rungs(320, 2050, 8, 1e-17)                           # too small to move: one multiple a rung
    assert tiny[:3] == (320, 328, 336) and tiny[-2:] == (2048, 2050) and len(set(tiny)) == len(tiny)
    rungs = width_rungs(320, 2048, 1, 0.2)
    assert len(rungs) == 12 and rungs[-1] == 2048 and all(b > a for a, b in zip(rungs, rungs[1:]))
    crops = [np.zeros((10, 20, 3), np.uint8), np.zeros((10, 100, 3), np.uint8)]
    assert dynamic_width(crops, 48, 320, 2048, 8, 0.2) == 560         # 480 -> the rung above
    assert dynamic_width(crops[:1], 48, 320, 2048, 8, 0.2) == 320     # the minimum is a rung
    assert dynamic_width(crops, 48, 320, 400, 8, 0.2) == 400          # capped
    with pytest.raises(ConfigError, match="width_ladder must be >= 0, got -0.1"):
        merge(PPOCR_REC, {"width_ladder": -0.1})


def test_ctc_confidence_is_the_mean_over_emitted_characters():
    cs = Charset(list("ab"))
    ids = np.array([[0, 1, 1, 0, 2, 2], [0, 0, 0, 0, 0, 0]])
    probs = np.array([[0.9, 0.8, 0.2, 0.9, 0.6, 0.1], [0.9] * 6])
    (t1, c1), (t2, c2) = ctc_decode_steps(ids, probs, cs)
    assert (t1, t2) == ("ab", "")
    assert c1 == pytest.approx((0.8 + 0.6) / 2)  # the first step of each run: 0.8 for a, 0.6 for b
    assert c2 == 0.0


def test_merge_overrides_one_key_and_rejects_unknown_keys():
    out = merge(PPOCR_DET, {"postprocess": {"box_thresh": 0.6, "thresh": None}, "limit_side_len": 960})
    assert out.postprocess.box_thresh == 0.6 and out.postprocess.thresh == 0.3 and out.limit_side_len == 960
    assert out.limit_type == "min" and PPOCR_DET.postprocess.box_thresh == 0.5  # the constant is untouched
    with pytest.raises(ConfigError, match="unknown inference setting 'long_sid'"):
        merge(PPOCR_DET, {"long_sid": 3})
    with pytest.raises(ConfigError, match="unknown post-processing setting 'box'"):
        merge(PPOCR_DET, {"postprocess": {"box": 1}})
    with pytest.raises(ConfigError, match="limit_type"):
        merge(PPOCR_DET, {"limit_type": "widest"})


def test_json_round_trip_and_records_without_settings():
    assert detector_settings_from_json(to_json(PPOCR_DET)) == PPOCR_DET
    old = {"spec": {"postprocess": {"box_thresh": 0.7}, "model": {"input_height": 32, "input_width": 100,
                                                                 "input_channel": 1, "prediction": "CTC"}}}
    det = detector_settings_of(old)
    assert det.limit_type == "long" and det.limit_side_len == 736 and det.postprocess.box_thresh == 0.7
    rec = recognizer_settings_of(old)
    assert (rec.height, rec.width, rec.channels, rec.dynamic_width) == (32, 100, 1, False)


def test_trained_settings_keep_the_family_convention():
    spec = {"postprocess": {"box_thresh": 0.6, "unclip_ratio": None}}
    own = trained_settings("detector", "dbnet_resnet18", spec)
    assert own.channel_order == "RGB" and own.limit_type == "long" and own.postprocess.box_thresh == 0.6
    pp = trained_settings("detector", "ppocr_det", {**spec, "dataset": {"image_size": 640}})
    # a fine-tuned PP-OCR detector keeps PaddleOCR's normalisation but the size it was trained and validated at
    assert pp.channel_order == "BGR" and (pp.limit_type, pp.limit_side_len) == ("long", 640)
    assert pp.postprocess.unclip_ratio == 1.5
    rec = trained_settings("recognizer", "ppocr_rec", {"model": {"input_height": 48, "input_width": 320,
                                                                 "input_channel": 3, "prediction": "CTC"}})
    assert rec.dynamic_width and rec.channel_order == "BGR" and rec.min_confidence == PPOCR_REC.min_confidence


def test_fast_score_and_dilation():
    """A 'C'-shaped blob: its rectangle holds zeros, so the fast (rectangle) score is below the contour's."""
    prob = np.zeros((40, 60), np.float32)
    prob[10:30, 10:50] = 0.9
    prob[15:25, 20:50] = 0.0
    slow = db_postprocess(prob, PostProcessConfig(box_thresh=0.0))[1]
    fast = db_postprocess(prob, PostProcessConfig(box_thresh=0.0, score_mode="fast"))[1]
    assert len(slow) == len(fast) == 1 and fast[0] < slow[0] - 0.1
    # two strokes one pixel apart are two boxes, or one after a 2 x 2 dilation
    two = np.zeros((40, 60), np.float32)
    two[10:30, 5:28] = 0.9
    two[10:30, 29:55] = 0.9
    assert len(db_postprocess(two, PostProcessConfig())[0]) == 2
    assert len(db_postprocess(two, PostProcessConfig(use_dilation=True))[0]) == 1
    with pytest.raises(ConfigError, match="score_mode"):
        DetectorSettings(postprocess=PostProcessConfig(score_mode="quick")).validate()
