"""The detection dataset on a tiny hand-built layout.

Each 120x80 page has a black word box (x 10..70, y 20..40) and a black ``###`` box
(x 80..110, y 50..70) on white.
"""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ocdr.data.det_dataset import DetectionDataset, det_collate
from ocdr.data.formats import TextRegion, write_icdar_gt
from ocdr.data.images import read_image, write_image
from ocdr.data.polygon import quad_from_rect
from ocdr.data.transforms import DetAugSpec, normalize
from ocdr.errors import ConfigError, DataError

WORD = quad_from_rect(10, 20, 60, 20)
DONT_CARE = quad_from_rect(80, 50, 30, 20)
AUG = DetAugSpec(crop_size=64, scale_min=1.0, scale_max=1.2)
MAPS = ("shrink_map", "shrink_mask", "threshold_map", "threshold_mask")


def _layout(folder, n=3):
    for i in range(n):
        img = np.full((80, 120, 3), 255, np.uint8)
        img[20:41, 10:71] = 0
        img[50:71, 80:111] = 0
        write_image(folder / "img" / f"p{i}.png", img)
        write_icdar_gt(folder / "gt" / f"gt_p{i}.txt", [TextRegion(WORD, "word"), TextRegion(DONT_CARE, "###")])
    return folder


def test_train_items_have_shapes_dtypes_and_targets_on_the_text(tmp_path):
    """The word (60x20) fits the 64-px crop, so each crop holds it whole: its centre is text
    (shrink_map 1); any ### part in the crop is masked out (shrink_mask 0)."""
    _layout(tmp_path / "train")
    ds = DetectionDataset(tmp_path, AUG, split="train")
    for index in range(len(ds)):
        item = ds[index]
        assert item["images"].shape == (3, 64, 64) and item["images"].dtype == torch.float32
        assert set(item["targets"]) == set(MAPS)
        for key in MAPS:
            assert item["targets"][key].shape == (64, 64) and item["targets"][key].dtype == torch.float32
        assert item["orig_size"] == (80, 120) and item["path"].endswith(f"p{index}.png")
        t = item["targets"]
        assert not item["ignore"][0]
        cx, cy = np.round(item["polygons"][0].mean(0)).astype(int)
        assert t["shrink_map"][cy, cx] == 1 and t["shrink_mask"][cy, cx] == 1
        assert (t["threshold_mask"] > 0).any()
        for p, ign in zip(item["polygons"], item["ignore"]):
            if ign:
                assert t["shrink_map"][tuple(np.round(p.mean(0)).astype(int)[::-1])] == 0


def test_train_items_are_reproducible_and_change_with_the_epoch(tmp_path):
    ds = DetectionDataset(_layout(tmp_path / "train"), DetAugSpec(crop_size=64), seed=5)
    a, b = ds[1], ds[1]
    assert torch.equal(a["images"], b["images"])
    ds.set_epoch(1)
    assert not torch.equal(a["images"], ds[1]["images"])


def test_eval_items_keep_original_coordinates_and_mask_dont_care(tmp_path):
    """120x80 with image_size 64: width 64 (x 64/120), height 42.7 rounded to 32 (x 32/80)."""
    ds = DetectionDataset(_layout(tmp_path / "test"), train=False, image_size=64)
    item = ds[1]
    assert item["images"].shape == (3, 64, 64) and item["orig_size"] == (80, 120)
    np.testing.assert_allclose(item["polygons"][0], WORD)
    np.testing.assert_allclose(item["polygons"][1], DONT_CARE)
    assert item["ignore"] == [False, True]
    sx, sy = item["scale"]
    assert sx == pytest.approx(64 / 120) and sy == pytest.approx(32 / 80)
    t = item["targets"]
    assert t["shrink_map"][int(30 * sy), int(40 * sx)] == 1  # centre of the word, resized
    cx, cy = int(95 * sx), int(60 * sy)  # centre of the ### box, resized
    assert t["shrink_mask"][cy, cx] == 0 and t["shrink_map"][cy, cx] == 0
    assert t["shrink_map"][40:].sum() == 0 and t["shrink_mask"][40:].min() == 1  # padding is background
    assert torch.equal(item["images"], ds[1]["images"])  # no randomness


def test_eval_items_unpadded_are_what_the_predictor_reads(tmp_path):
    """pad_square=False: the predictor's resize (long side 64, sides multiples of 32), no padding."""
    from ocdr.data.transforms import resize_for_inference

    ds = DetectionDataset(_layout(tmp_path / "test"), train=False, image_size=64, pad_square=False)
    item = ds[1]
    assert item["images"].shape == (3, 32, 64) and item["orig_size"] == (80, 120)
    assert all(item["targets"][k].shape == (32, 64) for k in MAPS)
    image = read_image(ds.samples[1][0])
    np.testing.assert_allclose(item["images"].numpy(), normalize(resize_for_inference(image, 64)[0]))
    sx, sy = item["scale"]
    assert item["targets"]["shrink_map"][int(30 * sy), int(40 * sx)] == 1


def test_loader_batches(tmp_path):
    ds = DetectionDataset(_layout(tmp_path / "train"), DetAugSpec(crop_size=64))
    batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=det_collate, num_workers=0)))
    assert batch["images"].shape == (2, 3, 64, 64)
    assert all(batch["targets"][k].shape == (2, 64, 64) for k in MAPS)
    assert len(batch["polygons"]) == len(batch["ignore"]) == len(batch["path"]) == 2
    eval_ds = DetectionDataset(_layout(tmp_path / "test"), train=False, image_size=64)
    batch = next(iter(DataLoader(eval_ds, batch_size=3, collate_fn=det_collate)))
    assert batch["images"].shape == (3, 3, 64, 64) and len(batch["scale"]) == 3


def test_missing_gt_names_the_image_and_can_be_skipped(tmp_path):
    root = _layout(tmp_path / "train")
    (root / "gt" / "gt_p1.txt").unlink()
    with pytest.raises(DataError, match=r"p1\.png: no ground truth found"):
        DetectionDataset(root)
    ds = DetectionDataset(root, skip_bad=True)
    assert len(ds) == 2 and ds.skipped == {"image without gt": 1}


def test_malformed_gt_fails_when_the_dataset_is_built(tmp_path):
    root = _layout(tmp_path / "train")
    (root / "gt" / "gt_p2.txt").write_text("1,2,3,word\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"gt_p2\.txt:1:"):
        DetectionDataset(root)


def test_empty_or_missing_folder(tmp_path):
    (tmp_path / "empty" / "img").mkdir(parents=True)
    with pytest.raises(DataError, match="no images found"):
        DetectionDataset(tmp_path / "empty")
    with pytest.raises(DataError, match="dataset folder not found"):
        DetectionDataset(tmp_path, split="test")


def test_bad_settings_fail_early(tmp_path):
    root = _layout(tmp_path / "train", n=1)
    with pytest.raises(ConfigError, match="shrink_ration"):
        DetectionDataset(root, target_cfg={"shrink_ration": 0.5})
    with pytest.raises(ConfigError, match="image_size"):
        DetectionDataset(root, train=False, image_size=100)
    ds = DetectionDataset(root, AUG, target_cfg={"min_text_size": 30})  # the 20-px word is now too small
    assert ds[0]["targets"]["shrink_map"].sum() == 0


def test_word_polygons_from_gt_poly_and_a_missing_folder_named(tmp_path):
    import numpy as np

    from ocdr.data.images import write_image
    from ocdr.errors import DataError

    root = tmp_path / "pages"
    write_image(root / "images" / "p1.png", np.full((64, 64, 3), 255, np.uint8))
    (root / "gt").mkdir()
    (root / "gt" / "p1.txt").write_text("4,4,40,4,40,20,4,20,quad\n")
    (root / "gt_poly").mkdir()
    (root / "gt_poly" / "p1.txt").write_text("p1-01\t4,4,20,2,40,4,40,20,20,24,4,20\tpoly\n")
    quads = DetectionDataset([root], train=False, image_size=64)
    polys = DetectionDataset([root], train=False, image_size=64, gt_folder="gt_poly")
    assert quads.samples[0][1][0].shape == (4, 2) and polys.samples[0][1][0].shape == (6, 2)
    item = polys[0]
    assert item["polygons"][0].shape == (6, 2) and float(item["targets"]["shrink_map"].sum()) > 0
    with pytest.raises(DataError, match="gt_other"):
        DetectionDataset([root], train=False, image_size=64, gt_folder="gt_other")
