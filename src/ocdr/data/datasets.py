"""Recognition datasets (torch): LMDB and gt list, yielding raw RGB images and labels.

Each item is ``dict(image=(H, W, 3) uint8 RGB array, label=str, index=int)`` with ``index`` the
position in the dataset (0-based). Transforms (resize, normalisation, augmentation) are applied
by the recognizer's data module.

Every record is checked when the dataset is built (:mod:`ocdr.data.checks`): a bad one stops the run
there with one line naming the LMDB key or the gt list line, or with ``skip_bad`` is left out of the
index and counted in ``skipped`` by reason, so ``len(ds) + sum(ds.skipped.values()) == ds.total``. A
record that fails later (the file changed during the run) raises, or with ``skip_bad`` comes out as
``dict(skipped=reason, index=int)``, which the collate functions drop and count. No record ever stands
in for another: a metric counts exactly what it read.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from torch.utils.data import Dataset

from ocdr.data.checks import Rejected, check_all, check_image, read_file
from ocdr.data.images import decode_image
from ocdr.data.lmdb_io import decode_label, image_key, iter_lmdb_records, label_key, open_lmdb, \
    read_gt_list_numbered
from ocdr.errors import BadRecords, DataError

__all__ = ["LmdbDataset", "GtListDataset"]
log = logging.getLogger("ocdr.data")


class _CheckedDataset(Dataset):
    """Shared logic: an index of checked records, ``skipped`` and ``total``, and read-time failures."""

    kind: str  # what the source is, for messages
    source: Path
    bad: BadRecords  # the records left out when the dataset was built
    labels: list[str]  # one per record in the index
    sizes: list[tuple[int, int]]  # (width, height) from each image's header, read by the check

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def skipped(self) -> dict[str, int]:
        return self.bad.summary()

    @property
    def total(self) -> int:
        """Records the source holds: the good ones plus those left out."""
        return len(self) + self.bad.total

    def image_size(self, index: int) -> tuple[int, int] | None:
        """(width, height) from the image's header, as read when the record was checked."""
        return self.sizes[index]

    def _keep(self, outcomes: Iterator[tuple[object, object]], record: Callable[[object, object], None]) -> None:
        """Fill the index from ``check_all`` outcomes; ``record(item, result)`` stores one good record."""
        for item, outcome in outcomes:
            if isinstance(outcome, DataError):
                self.bad.bad(outcome, getattr(outcome, "reason", "unreadable image"))
            else:
                record(item, outcome)
        if not self.labels:
            what = f"no readable samples (skipped: {self.skipped})" if self.bad.total else f"{self.kind} holds no samples"
            raise DataError(self.source, what)
        if self.bad.total:
            log.warning("%s: %d of %d records left out: %s", self.source, self.bad.total, self.total, self.skipped)

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
        try:
            image, label = self._load(index)
        except Rejected as exc:
            if not self.bad.skip:
                raise
            log.warning("skipped at read time: %s", exc)
            return {"skipped": exc.reason, "index": index}
        return {"image": image, "label": label, "index": index}


class LmdbDataset(_CheckedDataset):
    """An LMDB in the TAO OCRNet / clovaai layout (see :mod:`ocdr.data.lmdb_io`).

    Checking reads every record once, through a handle closed afterwards; reading opens the environment
    on first use in each process: an LMDB handle must not cross a ``fork`` and cannot be pickled, so
    neither DataLoader start method may carry one to a worker.
    """

    kind = "LMDB"

    def __init__(self, path: str | Path, skip_bad: bool = False):
        self.source = Path(path)
        self.bad = BadRecords(skip=skip_bad)
        self.records: list[int] = []  # 1-based LMDB indices of the good records
        self.labels, self.sizes = [], []
        self.env = None
        self._keep(check_all(iter_lmdb_records(self.source), self._check), self._record)

    def _check(self, raw: tuple[int, bytes | None, bytes | None]) -> tuple[tuple[int, int], str]:
        i, image, label = raw
        key = image_key(i).decode()
        if image is None or label is None:
            missing = key if image is None else label_key(i).decode()
            raise Rejected(self.source, f"record {missing} is missing", reason="missing record")
        try:
            text = decode_label(label, self.source, i)
        except DataError as exc:
            raise Rejected(self.source, exc.what, reason="bad label record") from None
        try:
            return check_image(image, f"{self.source}[{key}]"), text
        except DataError as exc:
            raise Rejected(self.source, f"{key}: {exc.what}") from None

    def _record(self, raw: tuple, checked: tuple[tuple[int, int], str]) -> None:
        self.records.append(raw[0])
        self.sizes.append(checked[0])
        self.labels.append(checked[1])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["env"] = None
        return state

    def _open(self) -> None:
        # open_lmdb hands out this process's handle: a new one after a fork, the same one otherwise.
        self.env = open_lmdb(self.source)

    def _load(self, index: int) -> tuple[np.ndarray, str]:
        i = self.records[index]
        key = image_key(i)
        with self.env.begin() as txn:
            image, label = txn.get(key), txn.get(label_key(i))
            image = None if image is None else bytes(image)
        if image is None:
            raise Rejected(self.source, f"record {key.decode()} is missing", reason="missing record")
        try:
            rgb = decode_image(image, f"{self.source}[{key.decode()}]")
            text = decode_label(label, self.source, i)
        except DataError as exc:
            raise Rejected(self.source, f"{key.decode()}: {exc.what}") from None
        return rgb, text


class GtListDataset(_CheckedDataset):
    """Crops listed in a gt list (``path<TAB>label``), paths relative to ``image_dir``."""

    kind = "gt list"

    def __init__(self, gt_list: str | Path, image_dir: str | Path | None = None, skip_bad: bool = False):
        self.source = Path(gt_list)
        self.base = Path(image_dir) if image_dir else self.source.parent
        self.bad = BadRecords(skip=skip_bad)  # malformed lines and bad images: raise, or skip with skip_bad
        self.samples: list[tuple[str, str]] = []
        self.lines: list[int] = []
        self.labels, self.sizes = [], []
        numbered = read_gt_list_numbered(self.source, self.bad)
        self._keep(check_all(numbered, self._check), self._record)

    def _image(self, rel: str, lineno: int) -> bytes:
        path = self.base / rel
        if not path.is_file():
            raise Rejected(self.source, f"image not found: {path}", lineno, reason="missing file")
        try:
            return read_file(path)
        except DataError as exc:
            raise Rejected(self.source, f"{exc.what}: {path}", lineno, reason="unreadable file") from None

    def _check(self, entry: tuple[str, str, int]) -> tuple[int, int]:
        rel, _, lineno = entry
        data = self._image(rel, lineno)
        try:
            return check_image(data, self.base / rel)
        except DataError as exc:
            raise Rejected(self.source, f"{exc.what}: {self.base / rel}", lineno) from None

    def _record(self, entry: tuple[str, str, int], size: tuple[int, int]) -> None:
        rel, label, lineno = entry
        self.samples.append((rel, label))
        self.lines.append(lineno)
        self.labels.append(label)
        self.sizes.append(size)

    def _load(self, index: int) -> tuple[np.ndarray, str]:
        rel, label = self.samples[index]
        data = self._image(rel, self.lines[index])
        try:
            rgb = decode_image(data, self.base / rel)
        except DataError as exc:
            raise Rejected(self.source, f"{exc.what}: {self.base / rel}", self.lines[index]) from None
        return rgb, label
