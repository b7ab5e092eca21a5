"""``ocdr data stats``: what a dataset holds, before training on it.

Box sizes are the sides of each region's minimum-area rectangle, the long side taken as the
width: the short side is the text-line thickness that detector settings (``min_size``, input
scale) depend on, whatever the text's orientation. Don't-care regions are counted, not measured.

Images are checked as a training run checks them (:mod:`ocdr.data.checks`: truncation is caught),
and images and gt lines are left out under the same rules, so the numbers describe what training
will see. ``box_problems`` counts regions that enclose no proper area (zero area, collinear,
self-intersecting), kept as they are.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ocdr.data.checks import check_all, check_image_file
from ocdr.data.formats import read_gt_list, read_image_gt
from ocdr.data.icdar import find_pairs
from ocdr.data.images import list_images
from ocdr.data.lmdb_io import read_lmdb_labels
from ocdr.data.polygon import shape_defect
from ocdr.errors import BadRecords, ConfigError, DataError

__all__ = ["StatsSpec", "dataset_stats", "detection_stats", "recognition_stats", "label_stats", "describe"]


@dataclass
class StatsSpec:
    path: str = field(default="", metadata={"help": "detection split folder (img/+gt/), dataset root (train/, test/), gt list or LMDB folder"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad records (counted) instead of failing"})
    top_chars: int = field(default=20, metadata={"help": "how many of the most frequent characters to count"})


def describe(values: list[float]) -> dict[str, float]:
    """min / median / max, rounded for printing; zeros for an empty list."""
    if not values:
        return {"min": 0.0, "median": 0.0, "max": 0.0}
    arr = np.asarray(values, dtype=np.float64)
    return {"min": round(float(arr.min()), 2), "median": round(float(np.median(arr)), 2),
            "max": round(float(arr.max()), 2)}


def label_stats(labels: list[str], top: int = 20) -> dict:
    """Label lengths and the characters used, the ``top`` most frequent with their counts."""
    chars = Counter(c for label in labels for c in label)
    return {"label_length": describe([len(s) for s in labels]), "distinct_characters": len(chars),
            "character_counts": dict(chars.most_common(top))}


def region_size(points: np.ndarray) -> tuple[float, float]:
    """(width, height) of a region: its minimum-area rectangle's long and short sides."""
    (_, _), (w, h), _ = cv2.minAreaRect(np.asarray(points, dtype=np.float32).reshape(-1, 2))
    return float(max(w, h)), float(min(w, h))


def detection_stats(folder: Path, bad: BadRecords, top: int = 20) -> dict:
    pairs = find_pairs(folder, bad)
    widths, heights, labels, sizes = [], [], [], []
    regions = dont_care = 0
    problems: Counter = Counter()
    for (image, gt), size in check_all(pairs, lambda pair: check_image_file(pair[0])):
        if isinstance(size, DataError):
            bad.bad(size, "unreadable image")
            continue
        found = read_image_gt(gt, bad, bad)
        if found is None:
            continue
        sizes.append(size)
        problems.update(filter(None, (shape_defect(r.points) for r in found)))
        for r in found:
            regions += 1
            if r.ignore:
                dont_care += 1
                continue
            w, h = region_size(r.points)
            widths.append(w)
            heights.append(h)
            labels.append(r.text)
    return {"kind": "detection", "images": len(sizes), "regions": regions, "dont_care": dont_care,
            "box_problems": dict(sorted(problems.items())),
            "image_width": describe([w for w, _ in sizes]), "image_height": describe([h for _, h in sizes]),
            "box_width": describe(widths), "box_height": describe(heights), **label_stats(labels, top)}


def recognition_stats(path: Path, bad: BadRecords, top: int = 20) -> dict:
    """A gt list file or an LMDB folder; labels only, no image is decoded."""
    if (path / "data.mdb").is_file():

        kind, labels = "lmdb", read_lmdb_labels(path, bad)
    else:
        kind, labels = "gt list", [label for _, label in read_gt_list(path, bad)]
    if not labels:
        raise DataError(path, f"{kind} holds no samples")
    return {"kind": kind, "samples": len(labels), **label_stats(labels, top)}


def _folder_stats(path: Path, bad: BadRecords, top: int) -> dict:
    if path.is_file() or (path / "data.mdb").is_file():
        return recognition_stats(path, bad, top)
    if not path.is_dir():
        raise DataError(path, "not found")
    if (path / "img").is_dir() or list_images(path, allow_empty=True):
        result = detection_stats(path, bad, top)
        if (path / "crops" / "gt_list.txt").is_file():  # a split written by `data synth` or `data iam`
            result["crops"] = recognition_stats(path / "crops" / "gt_list.txt", bad, top)
        return result
    for gt_list in (path / "gt_list.txt", path / "crops" / "gt_list.txt"):
        if gt_list.is_file():
            return recognition_stats(gt_list, bad, top)
    splits = [s for s in ("train", "test") if (path / s).is_dir()]
    if not splits:
        raise DataError(path, "not a dataset: no img/, gt_list.txt, data.mdb or train/ and test/ folders")
    return {"kind": "dataset", **{s: _folder_stats(path / s, bad, top) for s in splits}}


def dataset_stats(spec: StatsSpec) -> dict:
    if not spec.path:
        raise ConfigError("data stats: set path=<dataset folder, gt list or LMDB folder>")
    bad = BadRecords(skip=spec.skip_bad)
    result = _folder_stats(Path(spec.path), bad, spec.top_chars)
    return {"path": spec.path, **result, "skipped": bad.summary()}
