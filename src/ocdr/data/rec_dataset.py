"""Recognition training data: LMDB folders and gt lists, filtered and turned into tensors.

Samples whose label is longer than ``max_label_length`` or cannot be encoded with the character
list (under its unknown-character policy) are dropped when the dataset is built, and counted in
``dropped``; ``skipped`` adds them to the records the sources left out, so
``len(ds) + sum(ds.skipped.values()) == ds.total``.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from ocdr.data.checks import is_skipped
from ocdr.data.datasets import GtListDataset, LmdbDataset
from ocdr.data.rec_transforms import RecAugSpec, augment_crop, to_input, to_input_paddle
from ocdr.errors import DataError

__all__ = ["open_source", "source_labels", "RecognitionDataset", "rec_collate"]
log = logging.getLogger("ocdr.data")


def open_source(path: str | Path, skip_bad: bool = False) -> Dataset:
    """An LMDB folder, a gt list file, or a folder holding ``gt_list.txt``, ``gt.txt`` (the name the GW and
    names crop folders use) or ``crops/gt_list.txt``."""
    path = Path(path)
    if (path / "data.mdb").is_file():
        return LmdbDataset(path, skip_bad)
    if path.is_dir():
        for candidate in (path / "gt_list.txt", path / "gt.txt", path / "crops" / "gt_list.txt"):
            if candidate.is_file():
                return GtListDataset(candidate, skip_bad=skip_bad)
        raise DataError(path, "not an LMDB folder and holds no gt_list.txt or gt.txt")
    if path.is_file():
        return GtListDataset(path, skip_bad=skip_bad)
    raise DataError(path, "recognition data not found")


def source_labels(ds: Dataset) -> list[str]:
    """The labels of a source's checked records, in its index order."""
    return list(ds.labels)


class RecognitionDataset(Dataset):
    def __init__(self, sources: list[str], charset, max_label_length: int = 25, height: int = 32, width: int = 100,
                 channels: int = 1, keep_aspect_ratio: bool = False, aug: RecAugSpec | None = None,
                 train: bool = True, seed: int = 0, skip_bad: bool = False, pad: str = "edge",
                 dynamic_width: bool = False):
        if not sources:
            raise DataError(None, "no recognition data given")
        parts = [open_source(s, skip_bad) for s in sources]
        self.base = ConcatDataset(parts)
        self.charset = charset
        self.size = (height, width, channels, keep_aspect_ratio, pad)
        # dynamic: each crop keeps its ratio at its own width (a multiple of 8 in [height, width]); the
        # collate pads a batch to its widest crop, and a width-grouping sampler keeps batches similar
        self.dynamic_width = dynamic_width
        self.part_sizes = [len(p) for p in parts]
        self.aug, self.train, self.seed, self.epoch = aug or RecAugSpec(), train, seed, 0
        self.dropped: Counter = Counter()
        self.indices = []
        offset = 0
        for part in parts:
            for i, label in enumerate(source_labels(part)):
                reason = self._reject(label, max_label_length)
                if reason:
                    self.dropped[reason] += 1
                else:
                    self.indices.append(offset + i)
            offset += len(part)
        if self.dropped:
            log.warning("dropped %d samples: %s", sum(self.dropped.values()), dict(self.dropped))
        if not self.indices:
            raise DataError(sources[0], f"no usable samples (dropped: {dict(self.dropped)})")

    def _reject(self, label: str, max_len: int) -> str | None:
        if len(label) > max_len:
            return "label longer than max_label_length"
        try:
            self.charset.encode_ctc(label)
        except ValueError:  # UnknownCharacterError under the "drop" policy; "error" raises through
            return "character not in the character list"
        return None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def total(self) -> int:
        """Records the sources hold, used or not."""
        return sum(d.total for d in self.base.datasets)

    @property
    def skipped(self) -> Counter:
        """Records not in the index, by reason: left out by the sources, or dropped for their label."""
        out = Counter(self.dropped)
        for d in self.base.datasets:
            out.update(d.skipped)
        return out

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        item = self.base[self.indices[index]]
        if is_skipped(item):
            return item
        image = item["image"]
        if self.train:
            image = augment_crop(image, self.aug, np.random.default_rng([self.seed, self.epoch, index]))
        h, w, c, keep, pad = self.size
        if self.dynamic_width:
            w = self.crop_width(image.shape[1], image.shape[0])
            keep = True
        if keep and pad == "zero" and c == 3:
            # PaddleOCR's own resize (bilinear, width rounded up), the one PP-OCR models were trained with and
            # are read with at inference: a fine-tune sees crops exactly as the pipeline will show them
            array = to_input_paddle(image, h, w, "RGB")
        else:
            array = to_input(image, h, w, c, keep, pad)
        return {"images": torch.from_numpy(array), "label": item["label"], "pad": pad}

    def crop_width(self, w: int, h: int) -> int:
        """The input width of a ``w`` x ``h`` crop under ``dynamic_width``: its kept width (rounded up, as
        PaddleOCR's resize rounds) to a multiple of 8, within [height, width]."""
        height, width = self.size[0], self.size[1]
        kept = min(width, int(np.ceil(w * height / max(h, 1))))
        return min(width, max(height, -(-kept // 8) * 8))

    def widths(self) -> np.ndarray:
        """Each sample's input width (from image headers; the full width where a header is unreadable)."""
        out = np.full(len(self.indices), self.size[1], np.float64)
        if not self.dynamic_width:
            return out
        starts = np.concatenate([[0], np.cumsum(self.part_sizes)])
        for k, (i, part) in enumerate(zip(self.indices, self.source_of())):
            size = getattr(self.base.datasets[part], "image_size", lambda _: None)(i - int(starts[part]))
            if size:
                out[k] = self.crop_width(*size)
        return out

    def source_of(self) -> np.ndarray:
        """Each sample's source index (the order of ``sources``)."""
        ends = np.cumsum(self.part_sizes)
        return np.searchsorted(ends, np.asarray(self.indices), side="right")


def rec_collate(batch: list[dict]) -> dict:
    """Stack crops; crops of different widths (dynamic width) are padded to the widest as their ``pad`` says:
    0 (mid-grey after normalisation) for ``zero``, the crop's last column for ``edge``.

    Items that failed at read time are left out and counted in ``skipped`` ({reason: count}); when none is
    left, ``images`` is None and ``labels`` empty."""
    skipped = Counter(b["skipped"] for b in batch if is_skipped(b))
    batch = [b for b in batch if not is_skipped(b)]
    if not batch:
        return {"images": None, "labels": [], "skipped": dict(skipped)}
    width = max(b["images"].shape[-1] for b in batch)
    images = []
    for b in batch:
        img = b["images"]
        if img.shape[-1] < width:
            fill = img[..., -1:].expand(*img.shape[:-1], width - img.shape[-1]) if b.get("pad") == "edge" \
                else img.new_zeros(*img.shape[:-1], width - img.shape[-1])
            img = torch.cat([img, fill], dim=-1)
        images.append(img)
    return {"images": torch.stack(images), "labels": [b["label"] for b in batch], "skipped": dict(skipped)}
