"""``ocdr data split``: a fixed validation split by file name, written as links and lists (no copies).

Every ``every``-th item in natural file-name order is validation, the rest training: the rule of
``bench/real.py``, so a model trained on ``train/`` never sees the images its benchmark figures come from.
A detection folder (``images/`` or ``img/`` + ``gt/`` and any sibling annotation folder such as ``gt_poly/``)
becomes ``<out>/train|val/images/`` and ``.../<gt folder>/`` of symbolic links; a crop folder (``gt.txt`` or
``gt_list.txt``) becomes ``<out>/train|val/gt_list.txt`` listing the original crops by absolute path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ocdr.data.formats import read_gt_list, write_gt_list
from ocdr.data.icdar import find_pairs
from ocdr.data.images import natural_key
from ocdr.errors import BadRecords, ConfigError, DataError

__all__ = ["SplitSpec", "every_nth", "split_folder", "ANNOTATION_FOLDERS"]

ANNOTATION_FOLDERS = ("gt", "gt_poly")


@dataclass
class SplitSpec:
    input_dir: str = field(default="", metadata={"help": "a detection folder (images/ + gt/) or a crop folder (gt.txt)"})
    output_dir: str = field(default="", metadata={"help": "train/ and val/ are written here"})
    every: int = field(default=10, metadata={"help": "every N-th item in natural name order is validation"})

    def validate(self) -> None:
        if not self.input_dir or not self.output_dir:
            raise ConfigError("data split: set input_dir=<folder> output_dir=<folder>")
        if self.every < 2:
            raise ConfigError(f"every must be >= 2, got {self.every}")


def every_nth(items: list, every: int = 10, key=lambda x: x) -> tuple[list, list]:
    """(train, validation): items sorted by the natural order of ``key``; every ``every``-th is validation."""
    ordered = sorted(items, key=lambda x: natural_key(str(key(x))))
    return [x for i, x in enumerate(ordered) if i % every], ordered[::every]


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def _crop_list(folder: Path) -> Path | None:
    for name in ("gt.txt", "gt_list.txt"):
        if (folder / name).is_file():
            return folder / name
    return None


def split_folder(spec: SplitSpec) -> dict:
    src, out = Path(spec.input_dir), Path(spec.output_dir)
    if not src.is_dir():
        raise DataError(src, "input folder not found")
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise ConfigError(f"output_dir {out} must lie outside input_dir {src}")
    gt_list = _crop_list(src)
    if gt_list is not None:
        samples = [(str((src / rel).resolve()), label) for rel, label in read_gt_list(gt_list)]
        train, val = every_nth(samples, spec.every, key=lambda s: Path(s[0]).relative_to(src.resolve()))
        for name, part in (("train", train), ("val", val)):
            (out / name).mkdir(parents=True, exist_ok=True)
            write_gt_list(out / name / "gt_list.txt", part)
        return {"kind": "crops", "train": len(train), "val": len(val), "output_dir": str(out)}
    pairs = find_pairs(src, BadRecords(skip=True))
    train, val = every_nth(pairs, spec.every, key=lambda p: p[0].name)
    folders = [d for d in ANNOTATION_FOLDERS if (src / d).is_dir()]
    for name, part in (("train", train), ("val", val)):
        for image, gt in part:
            _link(image, out / name / "images" / image.name)
            for d in folders or [None]:
                ann = src / d / gt.name if d else gt
                if ann.is_file():
                    _link(ann, out / name / (d or "gt") / ann.name)
    return {"kind": "pages", "train": len(train), "val": len(val), "annotations": folders or ["gt"],
            "output_dir": str(out)}
