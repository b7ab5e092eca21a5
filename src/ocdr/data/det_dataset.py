"""The detection dataset (torch): layout folders -> augmented crops + DB targets.

Folders follow the detection layout ``<folder>/img/<stem>.<ext>`` + ``<folder>/gt/gt_<stem>.txt``
(found by :func:`ocdr.data.icdar.find_pairs`). Every image is checked (read far enough to catch
truncation, see :mod:`ocdr.data.checks`) and every gt file parsed when the dataset is built, so a bad
file fails before training or evaluation starts, with one line naming it, not in a worker process
hours later. With ``skip_bad`` it is counted instead: ``skipped_images`` by reason (no gt, unreadable
image or gt file, every gt line bad), with ``len(ds) + sum(skipped_images.values()) == total``, and
``skipped_lines`` for bad gt lines of images that are kept. ``box_problems`` counts regions that
enclose no proper area (:func:`ocdr.data.polygon.shape_defect`); they are kept.

An image that fails later (changed during the run) raises, or with ``skip_bad`` comes out as
``dict(skipped=reason, path=str)``, which :func:`det_collate` drops and counts: never another image.
"""
from __future__ import annotations

import inspect
import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ocdr.data.checks import check_all, check_image_file, is_skipped
from ocdr.data.formats import read_image_gt
from ocdr.data.icdar import find_pairs
from ocdr.data.images import read_image
from ocdr.data.polygon import shape_defect
from ocdr.data.transforms import DetAugSpec, augment, normalize, resize_long_side, resize_pad_square
from ocdr.errors import BadRecords, ConfigError, DataError
from ocdr.data.db_targets import make_db_targets

__all__ = ["DetectionDataset", "det_collate"]
log = logging.getLogger("ocdr.data")

_TARGET_KEYS = [k for k in inspect.signature(make_db_targets).parameters if k not in ("polygons", "ignore",
                                                                                       "height", "width")]


class DetectionDataset(Dataset):
    """Items: ``images`` (3, S, S) float32 normalized, ``targets`` (four (S, S) float maps from
    :func:`make_db_targets`), ``polygons``/``ignore`` lists, ``path`` and ``orig_size`` (H, W).

    Training (``train=True``): random augmentation to an ``aug.crop_size`` square, seeded by
    ``(seed, epoch, index)``; ``polygons`` are in the crop's coordinates. Evaluation: no
    randomness; the image is resized keeping its aspect ratio (long side ``image_size``, sides
    multiples of 32) and padded bottom/right to ``image_size`` square; ``polygons`` stay in
    ORIGINAL coordinates for the metric and ``scale`` (sx, sy) maps them: resized = original * scale.

    ``root`` is one folder or several; with ``split`` the images are in ``<root>/<split>``.
    Target settings come from the keyword arguments, or a ``target_cfg`` dict with the same keys.
    """

    def __init__(self, root: str | Path | Sequence[str | Path], aug: DetAugSpec | None = None, train: bool = True,
                 image_size: int = 640, seed: int = 0, skip_bad: bool = False, *, split: str | None = None,
                 target_cfg: dict | None = None, shrink_ratio: float = 0.4, min_text_size: int = 8,
                 thresh_min: float = 0.3, thresh_max: float = 0.7, gt_folder: str = "gt", pad_square: bool = True):
        roots = [root] if isinstance(root, (str, Path)) else list(root)
        if image_size <= 0 or image_size % 32:
            raise ConfigError(f"image_size: {image_size} is not a positive multiple of 32")
        self.aug = aug if aug is not None else DetAugSpec()
        self.aug.validate()
        self.train, self.image_size, self.seed, self.epoch = train, image_size, seed, 0
        self.pad_square = pad_square
        self.target_cfg = _target_settings(target_cfg, shrink_ratio=shrink_ratio, min_text_size=min_text_size,
                                           thresh_min=thresh_min, thresh_max=thresh_max)
        self.bad = BadRecords(skip=skip_bad)  # images left out
        self.bad_lines = BadRecords(skip=skip_bad)  # gt lines left out of images that are kept
        self.box_problems: Counter = Counter()
        self.gt_folder = gt_folder
        self.folder_sizes: list[int] = []  # images per root, for weighted mixing
        self.samples = self._read_folders([Path(r) / split if split else Path(r) for r in roots])

    def _read_folders(self, folders: list[Path]) -> list[tuple[Path, list[np.ndarray], list[bool]]]:
        samples = []
        for folder in folders:
            if not folder.is_dir():
                raise DataError(folder, "dataset folder not found")
            before = len(samples)
            pairs = find_pairs(folder, self.bad, self.gt_folder)
            for (image_path, gt_path), checked in check_all(pairs, lambda pair: check_image_file(pair[0])):
                if isinstance(checked, DataError):
                    self.bad.bad(checked, "unreadable image")
                    continue
                regions = read_image_gt(gt_path, self.bad, self.bad_lines)
                if regions is None:
                    continue
                self.box_problems.update(filter(None, (shape_defect(r.points) for r in regions)))
                samples.append((image_path, [r.points for r in regions], [r.ignore for r in regions]))
            self.folder_sizes.append(len(samples) - before)
        if not samples:
            where = folders[0] if folders else None
            raise DataError(where, f"no usable images (skipped: {self.bad.summary()})" if self.bad.total
                            else "no images with ground truth")
        if self.bad.total or self.bad_lines.total:
            log.warning("left out %d of %d images %s and %d gt lines %s", self.bad.total, self.bad.total + len(samples),
                        self.bad.summary(), self.bad_lines.total, self.bad_lines.summary())
        return samples

    @property
    def skipped_images(self) -> dict[str, int]:
        """Images left out with ``skip_bad``, by reason."""
        return self.bad.summary()

    @property
    def skipped_lines(self) -> dict[str, int]:
        """Bad gt lines left out of images that are kept, by reason."""
        return self.bad_lines.summary()

    @property
    def skipped(self) -> dict[str, int]:
        """Everything skipped with ``skip_bad``, images and gt lines, by reason."""
        return dict(sorted((Counter(self.bad.counts) + Counter(self.bad_lines.counts)).items()))

    @property
    def total(self) -> int:
        """Images found, used or not."""
        return len(self.samples) + self.bad.total

    def set_epoch(self, epoch: int) -> None:
        """New augmentation draws each epoch, still reproducible."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        try:
            return self._item(index)
        except DataError as exc:
            if not self.bad.skip:
                raise
            log.warning("skipped at read time: %s", exc)
            return {"skipped": "unreadable image", "path": str(self.samples[index][0])}

    def _item(self, index: int) -> dict:
        path, polys, ignore = self.samples[index]
        image = read_image(path)
        extra = {}
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image_t, polys_t, ignore_t = augment(image, polys, ignore, self.aug, rng)
            polys_out, ignore_out = polys_t, ignore_t
        else:
            # pad_square False: the detector predictor's reading (unpadded, one image per batch)
            resize = resize_pad_square if self.pad_square else resize_long_side
            image_t, polys_t, sx, sy = resize(image, polys, self.image_size)
            ignore_t, polys_out, ignore_out = ignore, polys, ignore
            extra["scale"] = (sx, sy)
        targets = make_db_targets(polys_t, ignore_t, *image_t.shape[:2], **self.target_cfg)
        return {"images": torch.from_numpy(normalize(image_t)),
                "targets": {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in targets.items()},
                "polygons": [np.asarray(p, np.float32) for p in polys_out], "ignore": list(ignore_out),
                "path": str(path), "orig_size": tuple(image.shape[:2]), **extra}


def _target_settings(target_cfg: dict | None, **defaults) -> dict:
    """The keyword arguments of make_db_targets; an unknown key fails here, named."""
    cfg = dict(defaults)
    for key, value in (target_cfg or {}).items():
        if key not in _TARGET_KEYS:
            raise ConfigError(f"target_cfg: unknown key '{key}' (known: {', '.join(_TARGET_KEYS)})")
        cfg[key] = value
    return cfg


def det_collate(batch: list[dict]) -> dict:
    """Stack ``images`` and each target map; every other key becomes a list, one entry per item.

    Items that failed at read time are left out and counted in ``skipped`` ({reason: count}); when none is
    left, ``images`` is None and ``path`` empty."""
    skipped = Counter(b["skipped"] for b in batch if is_skipped(b))
    batch = [b for b in batch if not is_skipped(b)]
    if not batch:
        return {"images": None, "targets": {}, "path": [], "skipped": dict(skipped)}
    out = {"images": torch.stack([b["images"] for b in batch]), "skipped": dict(skipped),
           "targets": {k: torch.stack([b["targets"][k] for b in batch]) for k in batch[0]["targets"]}}
    for key in batch[0]:
        if key not in out:
            out[key] = [b[key] for b in batch]
    return out
