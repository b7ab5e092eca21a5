"""Recognition datasets (torch): LMDB and gt list, yielding raw RGB images and labels.

Transforms (resize, normalisation, augmentation) are applied by the recognizer's data module.
The LMDB environment is opened lazily in each process, since an open environment cannot cross
a fork or a pickle (DataLoader workers).
"""
from __future__ import annotations

import logging
from pathlib import Path

from torch.utils.data import Dataset

from ocdr.data.formats import read_gt_list, read_text_lines
from ocdr.data.images import decode_image
from ocdr.data.lmdb_io import image_key, label_key, lmdb_num_samples, open_lmdb
from ocdr.errors import BadRecords, DataError

__all__ = ["LmdbDataset", "GtListDataset"]
log = logging.getLogger("ocdr.data")


class _SkippingDataset(Dataset):
    """Shared logic: a bad record is reported, counted, and replaced by the next good one."""

    num_corrupt = 0

    def _load(self, index: int) -> dict:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        n = len(self)
        for step in range(n):
            i = (index + step) % n
            try:
                return self._load(i)
            except DataError as exc:
                self.num_corrupt += 1
                log.warning("skipping corrupt sample: %s", exc)
        raise DataError(getattr(self, "source", None), "every sample is unreadable")


class LmdbDataset(_SkippingDataset):
    def __init__(self, path: str | Path):
        self.source = Path(path)
        self.n = lmdb_num_samples(self.source)
        if self.n == 0:
            raise DataError(self.source, "LMDB holds no samples")
        self.env = None
        self.num_corrupt = 0

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["env"] = None
        return state

    def _load(self, index: int) -> dict:
        if self.env is None:
            self.env = open_lmdb(self.source)
        key = image_key(index + 1)
        with self.env.begin() as txn:
            image, label = txn.get(key), txn.get(label_key(index + 1))
        if image is None or label is None:
            raise DataError(self.source, f"record {key.decode()} is missing")
        try:
            rgb = decode_image(bytes(image), f"{self.source}[{key.decode()}]")
        except DataError as exc:
            raise DataError(self.source, f"{key.decode()}: {exc.what}") from None
        return {"image": rgb, "label": label.decode("utf-8"), "index": index + 1}


class GtListDataset(_SkippingDataset):
    def __init__(self, gt_list: str | Path, image_dir: str | Path | None = None, skip_bad: bool = False):
        self.source = Path(gt_list)
        self.base = Path(image_dir) if image_dir else self.source.parent
        self.bad = BadRecords(skip=skip_bad)
        self.samples = read_gt_list(self.source, self.bad)
        if not self.samples:
            raise DataError(self.source, "gt list holds no samples")
        lines = {}
        for lineno, line in enumerate(read_text_lines(self.source), start=1):
            lines.setdefault(line.split("\t", 1)[0].strip(), lineno)
        self.lines = lines
        self.num_corrupt = 0

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, index: int) -> dict:
        rel, label = self.samples[index]
        path = self.base / rel
        if not path.is_file():
            raise DataError(self.source, f"image not found: {path}", self.lines.get(rel))
        try:
            rgb = decode_image(path.read_bytes(), path)
        except DataError as exc:
            raise DataError(self.source, f"{exc.what}: {path}", self.lines.get(rel)) from None
        return {"image": rgb, "label": label, "index": index}
