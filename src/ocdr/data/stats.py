"""``ocdr data stats``: what a dataset holds, before training on it."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ocdr.data.formats import read_gt_list, read_icdar_gt
from ocdr.data.icdar import find_pairs
from ocdr.errors import BadRecords, DataError, OcdrError

__all__ = ["StatsSpec", "dataset_stats", "detection_stats", "label_stats"]


@dataclass
class StatsSpec:
    path: str = field(default="", metadata={"help": "detection split folder (img/+gt/), dataset root (train/, test/), gt list or LMDB folder"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad records (counted) instead of failing"})
    top_chars: int = field(default=20, metadata={"help": "how many of the most frequent characters to list"})


def _describe(values: list[float]) -> dict:
    if not values:
        return {"min": 0, "median": 0, "max": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {"min": round(float(arr.min()), 2), "median": round(float(np.median(arr)), 2), "max": round(float(arr.max()), 2)}


def label_stats(labels: list[str], top: int = 20) -> dict:
    chars = Counter(c for label in labels for c in label)
    return {"labels": len(labels), "label_length": _describe([len(s) for s in labels]),
            "distinct_characters": len(chars), "top_characters": "".join(c for c, _ in chars.most_common(top))}


def _quad_size(points: np.ndarray) -> tuple[float, float]:
    """(width, height) of a region: the sides of its minimum-area rectangle, long side as width."""
    import cv2

    (_, _), (w, h), _ = cv2.minAreaRect(points.astype(np.float32))
    return max(w, h), min(w, h)


def detection_stats(folder: Path, bad: BadRecords, top: int = 20) -> dict:
    pairs = find_pairs(folder, bad)
    widths, heights, labels, dont_care, regions = [], [], [], 0, 0
    for _, gt in pairs:
        for r in read_icdar_gt(gt, bad):
            regions += 1
            if r.ignore:
                dont_care += 1
                continue
            w, h = _quad_size(r.points)
            widths.append(w)
            heights.append(h)
            labels.append(r.text)
    return {"images": len(pairs), "regions": regions, "dont_care": dont_care,
            "box_width": _describe(widths), "box_height": _describe(heights), **label_stats(labels, top)}


def dataset_stats(spec: StatsSpec) -> dict:
    if not spec.path:
        raise OcdrError("data stats: set path=<dataset folder, gt list or LMDB>")
    path = Path(spec.path)
    bad = BadRecords(skip=spec.skip_bad)
    if path.is_file():
        labels = [label for _, label in read_gt_list(path, bad)]
        if not labels:
            raise DataError(path, "gt list holds no samples")
        return {"path": str(path), "kind": "gt list", **label_stats(labels, spec.top_chars), "skipped": bad.summary()}
    if not path.is_dir():
        raise DataError(path, "not found")
    if (path / "data.mdb").is_file():
        from ocdr.data.lmdb_io import read_lmdb

        labels = [label for _, _, label in read_lmdb(path)]
        return {"path": str(path), "kind": "lmdb", **label_stats(labels, spec.top_chars)}
    splits = [s for s in ("train", "test") if (path / s).is_dir()]
    if splits:
        return {"path": str(path), "kind": "detection dataset",
                **{s: detection_stats(path / s, bad, spec.top_chars) for s in splits}, "skipped": bad.summary()}
    return {"path": str(path), "kind": "detection split", **detection_stats(path, bad, spec.top_chars),
            "skipped": bad.summary()}
