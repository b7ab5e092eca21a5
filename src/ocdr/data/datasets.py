"""Recognition datasets (torch): LMDB and gt list, yielding raw RGB images and labels.

Each item is ``dict(image=(H, W, 3) uint8 RGB array, label=str, index=int)`` with ``index`` the
position in the dataset (0-based). Transforms (resize, normalisation, augmentation) are applied
by the recognizer's data module.

A corrupt sample must not stop a long training run: it is logged (naming the LMDB key or the gt
list line), counted in ``num_corrupt`` and replaced by the next readable sample. Only when no
sample at all can be read does a :class:`DataError` stop the run.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from ocdr.data.images import decode_image
from ocdr.data.lmdb_io import decode_label, image_key, label_key, lmdb_num_samples, open_lmdb, read_gt_list_numbered
from ocdr.errors import BadRecords, DataError

__all__ = ["LmdbDataset", "GtListDataset"]
log = logging.getLogger("ocdr.data")


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from an encoded image's header without decoding its pixels."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return w, h


class _SkippingDataset(Dataset):
    """Shared logic: a bad record is reported once, remembered, and replaced by the next good one."""

    source: Path

    def __init__(self) -> None:
        self.corrupt: set[int] = set()  # per process: each DataLoader worker keeps its own

    @property
    def num_corrupt(self) -> int:
        return len(self.corrupt)

    def _open(self) -> None:
        """Acquire what reading needs; its failure is the source's, not one record's, so it raises."""

    def _load(self, index: int) -> tuple[np.ndarray, str]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        index %= n
        self._open()
        for step in range(n):
            i = (index + step) % n
            if i in self.corrupt:
                continue
            try:
                image, label = self._load(i)
            except DataError as exc:
                self.corrupt.add(i)
                log.warning("skipping corrupt sample: %s", exc)
                continue
            return {"image": image, "label": label, "index": i}
        raise DataError(self.source, f"all {n} samples are unreadable")


class LmdbDataset(_SkippingDataset):
    """An LMDB in the TAO OCRNet / clovaai layout (see :mod:`ocdr.data.lmdb_io`).

    The environment is opened on first use in each process: an LMDB handle must not cross a
    ``fork`` and cannot be pickled, so neither DataLoader start method may carry one to a worker.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.source = Path(path)
        self.n = lmdb_num_samples(self.source)
        if self.n == 0:
            raise DataError(self.source, "LMDB holds no samples")
        self.env = None

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["env"] = None
        return state

    def _open(self) -> None:
        # open_lmdb hands out this process's handle: a new one after a fork, the same one otherwise.
        self.env = open_lmdb(self.source)

    def image_size(self, index: int) -> tuple[int, int] | None:
        """(width, height) from the stored image's header, None when unreadable."""
        self._open()
        with self.env.begin() as txn:
            data = txn.get(image_key(index + 1))
            data = None if data is None else bytes(data)
        return _header_size(data) if data is not None else None

    def _load(self, index: int) -> tuple[np.ndarray, str]:
        key = image_key(index + 1)
        with self.env.begin() as txn:
            image, label = txn.get(key), txn.get(label_key(index + 1))
            image = None if image is None else bytes(image)
        if image is None:
            raise DataError(self.source, f"record {key.decode()} is missing")
        try:
            rgb = decode_image(image, f"{self.source}[{key.decode()}]")
        except DataError as exc:
            raise DataError(self.source, f"{key.decode()}: {exc.what}") from None
        return rgb, decode_label(label, self.source, index + 1)


class GtListDataset(_SkippingDataset):
    """Crops listed in a gt list (``path<TAB>label``), paths relative to ``image_dir``."""

    def __init__(self, gt_list: str | Path, image_dir: str | Path | None = None, skip_bad: bool = False):
        super().__init__()
        self.source = Path(gt_list)
        self.base = Path(image_dir) if image_dir else self.source.parent
        self.bad = BadRecords(skip=skip_bad)  # malformed lines: raise, or skip with skip_bad
        numbered = read_gt_list_numbered(self.source, self.bad)
        if not numbered:
            raise DataError(self.source, "gt list holds no samples")
        self.samples = [(rel, label) for rel, label, _ in numbered]
        self.lines = [lineno for _, _, lineno in numbered]

    def __len__(self) -> int:
        return len(self.samples)

    def image_size(self, index: int) -> tuple[int, int] | None:
        """(width, height) from the image file's header, None when unreadable."""
        path = self.base / self.samples[index][0]
        if not path.is_file():
            return None
        with open(path, "rb") as fh:  # the header only: widths of a whole crop folder are read at start-up
            return _header_size(fh.read(65536))

    def _load(self, index: int) -> tuple[np.ndarray, str]:
        rel, label = self.samples[index]
        path = self.base / rel
        if not path.is_file():
            raise DataError(self.source, f"image not found: {path}", self.lines[index])
        try:
            rgb = decode_image(path.read_bytes(), path)
        except DataError as exc:
            raise DataError(self.source, f"{exc.what}: {path}", self.lines[index]) from None
        return rgb, label
