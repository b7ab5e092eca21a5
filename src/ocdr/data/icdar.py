"""``ocdr data icdar``: normalise an ICDAR-style folder into the detection layout.

Real folders are untidy: gt files named ``gt_<stem>.txt``, ``<stem>.txt`` or ``<image>.txt``;
``.jpg`` files holding PNG data; RGBA, grayscale or 16-bit images. The output is always
``<out>/<split>/img/<stem>.<real ext>`` and ``<out>/<split>/gt/gt_<stem>.txt`` with 8-bit RGB
images (or the original bytes, when they already are 8-bit RGB in their true format).
"""
from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ocdr.data.formats import read_icdar_gt, write_icdar_gt
from ocdr.data.images import IMAGE_EXTENSIONS, decode_image, sniff_format, write_image
from ocdr.errors import BadRecords, DataError, OcdrError
from ocdr.fileio import atomic_write_bytes

__all__ = ["IcdarSpec", "convert_icdar", "find_pairs", "natural_key", "split_names"]

_EXT = {"jpeg": ".jpg", "png": ".png", "bmp": ".bmp", "tiff": ".tif", "webp": ".webp", "gif": ".gif", "ppm": ".ppm"}


@dataclass
class IcdarSpec:
    input_dir: str = field(default="", metadata={"help": "folder with img/ + gt/, or images and gt files together, or train|test/{img,gt}"})
    output_dir: str = field(default="data/icdar", metadata={"help": "where the detection layout is written"})
    split: str = field(default="train", metadata={"help": "split name when not splitting (test_fraction=0)"})
    test_fraction: float = field(default=0.0, metadata={"help": ">0: last fraction of files by natural name order goes to test"})
    image_format: str = field(default="keep", metadata={"help": "keep (true format) | jpg | png"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad images/gt lines (counted) instead of failing"})

    def validate(self) -> None:
        if self.image_format not in ("keep", "jpg", "png"):
            raise OcdrError(f"image_format: '{self.image_format}' is not one of keep, jpg, png")
        if not 0.0 <= self.test_fraction < 1.0:
            raise OcdrError(f"test_fraction must be in [0, 1), got {self.test_fraction}")


def natural_key(name: str) -> list:
    """Sort key that puts img_2 before img_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _gt_candidates(image: Path, gt_dirs: list[Path]) -> list[Path]:
    names = [f"gt_{image.stem}.txt", f"{image.stem}.txt", f"{image.name}.txt", f"gt_{image.name}.txt"]
    return [d / n for d in gt_dirs for n in names]


def find_pairs(folder: Path, bad: BadRecords) -> list[tuple[Path, Path]]:
    """(image, gt) pairs of one folder: images in ``img/`` or the folder itself, gt in ``gt/`` or beside."""
    img_dir = folder / "img" if (folder / "img").is_dir() else folder
    gt_dirs = [d for d in (folder / "gt", img_dir) if d.is_dir()]
    images = sorted((p for p in img_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                    key=lambda p: natural_key(p.name))
    if not images:
        raise DataError(img_dir, "no images found (looked for " + ", ".join(IMAGE_EXTENSIONS) + ")")
    pairs = []
    for image in images:
        gt = next((c for c in _gt_candidates(image, gt_dirs) if c.is_file()), None)
        if gt is None:
            bad.bad(DataError(image, f"no ground truth found (gt_{image.stem}.txt, {image.stem}.txt or {image.name}.txt)"),
                    "image without gt")
            continue
        pairs.append((image, gt))
    return pairs


def split_names(n: int, fraction: float) -> int:
    """How many of ``n`` sorted files go to test for a ``fraction``: at least one when possible."""
    if fraction <= 0 or n < 2:
        return 0
    return min(max(int(round(n * fraction)), 1), n - 1)


def _needs_flattening(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as im:
        return im.mode != "RGB"


def _write_pair(image: Path, gt: Path, out: Path, spec: IcdarSpec, bad: BadRecords, stats: dict) -> None:
    data = image.read_bytes()
    try:
        rgb = decode_image(data, image)
    except DataError as exc:
        bad.bad(exc, "unreadable image")
        return
    regions = read_icdar_gt(gt, bad)
    real = sniff_format(data) or "png"
    ext = _EXT.get(real, ".png") if spec.image_format == "keep" else f".{spec.image_format}"
    if ext != image.suffix.lower() and not (ext == ".jpg" and image.suffix.lower() == ".jpeg"):
        stats["extension_fixed"] += spec.image_format == "keep"
    target = out / "img" / f"{image.stem}{ext}"
    if target.exists():
        raise DataError(image, f"two images share the stem '{image.stem}' in split '{out.name}'")
    if spec.image_format == "keep" and real in _EXT and not _needs_flattening(data):
        atomic_write_bytes(target, data)
    else:
        write_image(target, rgb)
        stats["re_encoded"] += 1
    write_icdar_gt(out / "gt" / f"gt_{image.stem}.txt", regions)
    stats["images"][out.name] = stats["images"].get(out.name, 0) + 1
    stats["regions"] += len(regions)
    stats["dont_care"] += sum(r.ignore for r in regions)


def convert_icdar(spec: IcdarSpec) -> dict:
    if not spec.input_dir:
        raise OcdrError("data icdar: set input_dir=<folder with images and gt files>")
    src = Path(spec.input_dir)
    if not src.is_dir():
        raise DataError(src, "input folder not found")
    out = Path(spec.output_dir)
    bad = BadRecords(skip=spec.skip_bad)
    stats = {"images": {}, "regions": 0, "dont_care": 0, "re_encoded": 0, "extension_fixed": 0}
    presplit = [s for s in ("train", "test") if (src / s).is_dir()]
    jobs: list[tuple[str, list[tuple[Path, Path]]]] = []
    if presplit:
        jobs = [(s, find_pairs(src / s, bad)) for s in presplit]
    else:
        pairs = find_pairs(src, bad)
        n_test = split_names(len(pairs), spec.test_fraction)
        jobs = [("train" if n_test else spec.split, pairs[: len(pairs) - n_test])]
        if n_test:
            jobs.append(("test", pairs[len(pairs) - n_test:]))
    for split, pairs in jobs:
        if (out / split).exists():
            shutil.rmtree(out / split)  # a re-run must not mix with an older conversion
        for image, gt in pairs:
            _write_pair(image, gt, out / split, spec, bad, stats)
    if not any(stats["images"].values()):
        raise DataError(src, "no image could be converted")
    return {"output_dir": str(out), **stats, "skipped": bad.summary()}
