"""Dynamic-width recognition batches: each crop at its own width, padded to the batch's widest."""
from dataclasses import replace

import numpy as np
import torch

from ocdr.data.charset import Charset
from ocdr.data.images import write_image
from ocdr.data.rec_dataset import RecognitionDataset, rec_collate


def _crops(tmp_path, sizes):
    lines = []
    for i, (w, h) in enumerate(sizes):
        write_image(tmp_path / f"c{i}.png", np.full((h, w, 3), 200, np.uint8))
        lines.append(f"c{i}.png\tab\n")
    (tmp_path / "gt.txt").write_text("".join(lines))
    return RecognitionDataset([str(tmp_path / "gt.txt")], Charset(["a", "b"]), height=48, width=320, channels=3,
                              keep_aspect_ratio=True, train=False, pad="zero", dynamic_width=True)


def test_each_crop_keeps_its_width_in_multiples_of_8_between_height_and_width(tmp_path):
    ds = _crops(tmp_path, [(100, 48), (10, 48), (2000, 48), (75, 30)])
    # 100 -> 104; 10 -> at least the height 48; 2000 -> at most 320; 75x30 -> 120 at height 48
    assert ds.widths().tolist() == [104, 48, 320, 120]
    assert [ds[i]["images"].shape[-1] for i in range(4)] == [104, 48, 320, 120]


def test_collate_pads_zero_or_edge_to_the_widest():
    a = torch.full((3, 4, 2), 0.5)
    b = torch.arange(12, dtype=torch.float32).reshape(3, 4, 1)
    out = rec_collate([{"images": a, "label": "x", "pad": "zero"}, {"images": b, "label": "y", "pad": "edge"}])
    assert out["images"].shape == (2, 3, 4, 2) and out["labels"] == ["x", "y"]
    assert torch.equal(out["images"][1, :, :, 1], b[:, :, 0])  # edge: the last column repeated
    c = torch.ones(3, 4, 1)
    zero = rec_collate([{"images": a, "label": "x", "pad": "zero"}, {"images": c, "label": "z", "pad": "zero"}])
    assert torch.equal(zero["images"][1, :, :, 1], torch.zeros(3, 4))


def test_a_model_trained_at_dynamic_width_records_it():
    from ocdr.models.settings import trained_settings

    model = {"input_height": 48, "input_width": 320, "input_channel": 3, "keep_aspect_ratio": True, "pad": "zero",
             "prediction": "CTC", "dynamic_width": True}
    pp = trained_settings("recognizer", "ppocr_rec", {"model": model})
    assert (pp.dynamic_width, pp.width, pp.max_width, pp.channel_order) == (True, 48, 320, "BGR")
    own = trained_settings("recognizer", "crnn_tiny", {"model": {**model, "input_channel": 1, "pad": "edge"}})
    assert (own.dynamic_width, own.width, own.max_width, own.keep_aspect_ratio) == (True, 48, 320, True)
    fixed = trained_settings("recognizer", "crnn_tiny", {"model": {**model, "dynamic_width": False}})
    assert (fixed.dynamic_width, fixed.width) == (False, 320)


def test_a_crop_folder_with_gt_txt_opens_as_a_source(tmp_path):
    from ocdr.data.rec_dataset import open_source

    write_image(tmp_path / "a.png", np.full((10, 20, 3), 255, np.uint8))
    (tmp_path / "gt.txt").write_text("a.png\tab\n")
    ds = open_source(tmp_path)
    assert len(ds) == 1 and ds[0]["label"] == "ab"

def test_a_dynamic_width_model_records_the_batches_its_validation_read():
    """model_best was picked by a validation pass over width-sorted batches of the training batch size,
    each crop rounded up to 8 and padded to the batch's widest: inference records the same reading."""
    from ocdr.models.settings import recognizer_settings_of, trained_settings

    model = {"input_height": 48, "input_width": 320, "input_channel": 3, "keep_aspect_ratio": True, "pad": "zero",
             "prediction": "CTC", "dynamic_width": True}
    spec = {"model": model, "train": {"batch_size": 24}}
    pp = trained_settings("recognizer", "ppocr_rec", spec)
    assert (pp.width_multiple, pp.max_width_spread, pp.batch_size, pp.width_ladder) == (8, 0.0, 24, 0.0)
    fixed = trained_settings("recognizer", "ppocr_rec", {**spec, "model": {**model, "dynamic_width": False}})
    assert (fixed.width_multiple, fixed.max_width_spread, fixed.batch_size, fixed.width_ladder) == (1, 1.1, 0, 0.0)
    # a record saved before these keys existed was trained the same way: it gets them from its spec
    old = {k: v for k, v in vars(pp).items() if k not in ("width_multiple", "max_width_spread", "batch_size")}
    back = recognizer_settings_of({"inference": old, "spec": spec})
    assert (back.width_multiple, back.max_width_spread, back.batch_size) == (8, 0.0, 24)


def test_predictor_rounds_dynamic_width_and_batches_without_a_spread_limit():
    from ocdr.models.settings import PPOCR_REC
    from ocdr.pipeline.recognizer import RecognizerPredictor

    p = RecognizerPredictor.__new__(RecognizerPredictor)
    p.on_torch, p.batch_size, p.streams = True, 3, 1
    p.settings = replace(PPOCR_REC, width=48, max_width=320, width_multiple=8, max_width_spread=0.0, width_ladder=0.0)
    crops = [np.zeros((48, w, 3), np.uint8) for w in (100, 50, 300, 60, 49)]
    # sorted by width: 49, 50, 60 | 100, 300 - no cut where 300 needs far more than 100
    assert [sorted(int(i) for i in g) for g in p.batches(crops)] == [[1, 3, 4], [0, 2]]
    assert p.preprocess([crops[1], crops[3]]).shape == (2, 3, 48, 64)    # widest 60 -> 64
    assert p.preprocess([crops[4]]).shape == (1, 3, 48, 56)              # 49 -> 56
    assert p.preprocess([crops[2], crops[0]]).shape[-1] == 304
    p.settings = replace(p.settings, max_width_spread=1.1)
    assert [sorted(int(i) for i in g) for g in p.batches(crops)] == [[1, 4], [3], [0], [2]]
