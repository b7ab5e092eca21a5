"""The detection dataset (torch): layout folders -> augmented crops + DB targets."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ocdr.data.formats import read_icdar_gt
from ocdr.data.icdar import find_pairs
from ocdr.data.images import read_image
from ocdr.data.transforms import DetAugSpec, augment, normalize, resize_for_inference
from ocdr.errors import BadRecords, DataError
from ocdr.models.detection.targets import make_db_targets

__all__ = ["DetectionDataset", "det_collate"]


class DetectionDataset(Dataset):
    """Items: ``images`` (3, S, S) float, ``targets`` (four (S, S) maps), and for evaluation the
    ``polygons``/``ignore`` in original image coordinates with the ``scale`` used.

    Training: random augmentation and an ``aug.crop_size`` square crop. Evaluation: resize keeping
    the aspect ratio (long side ``image_size``, multiples of 32), padded to ``image_size`` square.
    """

    def __init__(self, roots: list[str] | str, aug: DetAugSpec | None = None, train: bool = True,
                 image_size: int = 640, seed: int = 0, skip_bad: bool = False, shrink_ratio: float = 0.4,
                 min_text_size: int = 8, thresh_min: float = 0.3, thresh_max: float = 0.7):
        roots = [roots] if isinstance(roots, (str, Path)) else list(roots)
        self.bad = BadRecords(skip=skip_bad)
        self.items: list[tuple[Path, Path]] = []
        for root in roots:
            path = Path(root)
            if not path.is_dir():
                raise DataError(path, "dataset folder not found")
            self.items += find_pairs(path, self.bad)
        if not self.items:
            raise DataError(roots[0], "no images with ground truth")
        self.aug = aug or DetAugSpec()
        self.train = train
        self.image_size = image_size
        self.seed = seed
        self.epoch = 0
        self.target_cfg = dict(shrink_ratio=shrink_ratio, min_text_size=min_text_size,
                               thresh_min=thresh_min, thresh_max=thresh_max)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> tuple[np.ndarray, list[np.ndarray], list[bool], Path]:
        image_path, gt_path = self.items[index]
        regions = read_icdar_gt(gt_path, self.bad)
        return read_image(image_path), [r.points for r in regions], [r.ignore for r in regions], image_path

    def __getitem__(self, index: int) -> dict:
        image, polys, ignore, path = self.load(index)
        orig_h, orig_w = image.shape[:2]
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            img, polys_t, ignore_t = augment(image, polys, ignore, self.aug, rng)
            scale = (1.0, 1.0)
        else:
            resized, sx, sy = resize_for_inference(image, self.image_size)
            size = self.image_size
            img = np.zeros((size, size, 3), np.uint8)
            img[: resized.shape[0], : resized.shape[1]] = resized[:size, :size]
            polys_t, ignore_t = [p * [sx, sy] for p in polys], list(ignore)
            scale = (sx, sy)
        h, w = img.shape[:2]
        targets = make_db_targets(polys_t, ignore_t, h, w, **self.target_cfg)
        return {"images": torch.from_numpy(normalize(img)),
                "targets": {k: torch.from_numpy(v) for k, v in targets.items()},
                "polygons": [np.asarray(p, np.float32) for p in polys], "ignore": list(ignore),
                "scale": scale, "orig_size": (orig_h, orig_w), "path": str(path)}


def det_collate(batch: list[dict]) -> dict:
    return {"images": torch.stack([b["images"] for b in batch]),
            "targets": {k: torch.stack([b["targets"][k] for b in batch]) for k in batch[0]["targets"]},
            **{k: [b[k] for b in batch] for k in ("polygons", "ignore", "scale", "orig_size", "path")}}
