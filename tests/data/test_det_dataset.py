"""The detection dataset on a tiny hand-built layout."""
import numpy as np
import pytest
from torch.utils.data import DataLoader

from ocdr.data.det_dataset import DetectionDataset, det_collate
from ocdr.data.formats import TextRegion, write_icdar_gt
from ocdr.data.images import write_image
from ocdr.data.polygon import quad_from_rect
from ocdr.data.transforms import DetAugSpec
from ocdr.errors import DataError


def _layout(root):
    for i in range(3):
        img = np.full((80, 120, 3), 255, np.uint8)
        img[20:40, 10:70] = 0
        img[50:70, 80:110] = 0
        write_image(root / "img" / f"p{i}.png", img)
        write_icdar_gt(root / "gt" / f"gt_p{i}.txt", [TextRegion(quad_from_rect(10, 20, 60, 20), "word"),
                                                      TextRegion(quad_from_rect(80, 50, 30, 20), "###")])
    return root


def test_train_items(tmp_path):
    ds = DetectionDataset(str(_layout(tmp_path / "train")), DetAugSpec(crop_size=64, scale_min=1, scale_max=1.2))
    item = ds[0]
    assert item["images"].shape == (3, 64, 64)
    for key in ("shrink_map", "shrink_mask", "threshold_map", "threshold_mask"):
        assert item["targets"][key].shape == (64, 64)


def test_eval_items_keep_original_coordinates_and_mask_dont_care(tmp_path):
    ds = DetectionDataset(str(_layout(tmp_path / "test")), train=False, image_size=64)
    item = ds[1]
    assert item["images"].shape == (3, 64, 64) and item["orig_size"] == (80, 120)
    np.testing.assert_allclose(item["polygons"][0], quad_from_rect(10, 20, 60, 20))
    sx, sy = item["scale"]
    assert sx == pytest.approx(64 / 120) and sy == pytest.approx(32 / 80)  # 120x80 -> 64x32 (x 32)
    t = item["targets"]
    assert t["shrink_map"].sum() > 0
    cx, cy = int(95 * sx), int(60 * sy)  # centre of the ### box, resized
    assert float(t["shrink_mask"][cy, cx]) == 0.0 and float(t["shrink_map"][cy, cx]) == 0.0


def test_loader_batches(tmp_path):
    ds = DetectionDataset(str(_layout(tmp_path / "train")), DetAugSpec(crop_size=64))
    batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=det_collate)))
    assert batch["images"].shape == (2, 3, 64, 64) and batch["targets"]["shrink_map"].shape == (2, 64, 64)
    assert len(batch["polygons"]) == 2


def test_missing_gt_and_empty_folder(tmp_path):
    root = _layout(tmp_path / "train")
    (root / "gt" / "gt_p1.txt").unlink()
    with pytest.raises(DataError, match=r"p1.png: no ground truth found"):
        DetectionDataset(str(root))
    assert len(DetectionDataset(str(root), skip_bad=True)) == 2
    (tmp_path / "empty" / "img").mkdir(parents=True)
    with pytest.raises(DataError, match="no images found"):
        DetectionDataset(str(tmp_path / "empty"))
