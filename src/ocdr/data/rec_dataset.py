"""Recognition training data: LMDB folders and gt lists, filtered and turned into tensors.

Samples whose label is longer than ``max_label_length`` or cannot be encoded with the character
list (under its unknown-character policy) are dropped when the dataset is built, and counted.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from ocdr.data.datasets import GtListDataset, LmdbDataset
from ocdr.data.lmdb_io import read_lmdb_labels
from ocdr.data.rec_transforms import RecAugSpec, augment_crop, to_input
from ocdr.errors import DataError

__all__ = ["open_source", "source_labels", "RecognitionDataset", "rec_collate"]
log = logging.getLogger("ocdr.data")


def open_source(path: str | Path, skip_bad: bool = False) -> Dataset:
    """An LMDB folder, a gt list file, or a folder holding ``gt_list.txt`` (or ``crops/gt_list.txt``)."""
    path = Path(path)
    if (path / "data.mdb").is_file():
        return LmdbDataset(path)
    if path.is_dir():
        for candidate in (path / "gt_list.txt", path / "crops" / "gt_list.txt"):
            if candidate.is_file():
                return GtListDataset(candidate, skip_bad=skip_bad)
        raise DataError(path, "not an LMDB folder and holds no gt_list.txt")
    if path.is_file():
        return GtListDataset(path, skip_bad=skip_bad)
    raise DataError(path, "recognition data not found")


def source_labels(ds: Dataset) -> list[str]:
    """All labels of a source without decoding any image."""
    if isinstance(ds, GtListDataset):
        return [label for _, label in ds.samples]
    return list(read_lmdb_labels(ds.source))


class RecognitionDataset(Dataset):
    def __init__(self, sources: list[str], charset, max_label_length: int = 25, height: int = 32, width: int = 100,
                 channels: int = 1, keep_aspect_ratio: bool = False, aug: RecAugSpec | None = None,
                 train: bool = True, seed: int = 0, skip_bad: bool = False, pad: str = "edge"):
        if not sources:
            raise DataError(None, "no recognition data given")
        parts = [open_source(s, skip_bad) for s in sources]
        self.base = ConcatDataset(parts)
        self.charset = charset
        self.size = (height, width, channels, keep_aspect_ratio, pad)
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
    def num_corrupt(self) -> int:
        return sum(getattr(d, "num_corrupt", 0) for d in self.base.datasets)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        item = self.base[self.indices[index]]
        image = item["image"]
        if self.train:
            image = augment_crop(image, self.aug, np.random.default_rng([self.seed, self.epoch, index]))
        h, w, c, keep, pad = self.size
        return {"images": torch.from_numpy(to_input(image, h, w, c, keep, pad)), "label": item["label"]}


def rec_collate(batch: list[dict]) -> dict:
    return {"images": torch.stack([b["images"] for b in batch]), "labels": [b["label"] for b in batch]}
