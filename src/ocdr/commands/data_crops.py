"""``ocdr data crops``: word crops cut from an ICDAR-style folder by the rectifier, with their gt list.

The recognizer then trains on what the pipeline will feed it: every legible region (``###`` skipped) is
turned upright and cut at the recognizer's height by the same rectifier the pipeline uses. Writes
``<output_dir>/crops/<stem>_<k>.png``, ``<output_dir>/gt_list.txt`` (paths relative to it) and
``<output_dir>/character_list.txt``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ocdr.data.charset import build_charset, write_charset
from ocdr.data.formats import read_icdar_gt, write_gt_list
from ocdr.data.icdar import find_pairs
from ocdr.data.images import read_image, write_image
from ocdr.errors import BadRecords, ConfigError, DataError
from ocdr.rectify import RectifyConfig, rectify

__all__ = ["CropsSpec", "cut_crops"]


@dataclass
class CropsSpec:
    input_dir: str = field(default="", metadata={"help": "ICDAR-style folder: images/ or img/ + gt/ (or both together)"})
    output_dir: str = field(default="data/crops", metadata={"help": "crops/, gt_list.txt and character_list.txt"})
    height: int = field(default=48, metadata={"help": "crop height in pixels (the recognizer's input height)"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad images/gt lines (counted) instead of failing"})

    def validate(self) -> None:
        if not self.input_dir:
            raise ConfigError("data crops: set input_dir=<folder with images and ICDAR gt files>")
        if self.height < 8:
            raise ConfigError(f"height must be at least 8 pixels, got {self.height}")


def cut_crops(spec: CropsSpec) -> dict:
    out, bad = Path(spec.output_dir), BadRecords(skip=spec.skip_bad)
    cfg = RectifyConfig(height=spec.height)
    samples, dropped, dont_care = [], 0, 0
    pairs = find_pairs(Path(spec.input_dir), bad)
    for image_path, gt_path in pairs:
        try:
            image = read_image(image_path)
            regions = read_icdar_gt(gt_path, bad)
        except DataError as exc:
            bad.bad(exc, "unreadable image or gt")
            continue
        for k, region in enumerate(regions):
            if region.ignore or not region.text.strip():
                dont_care += 1
                continue
            crop = rectify(image, region.points, cfg)
            if crop is None:  # nothing of the box lies in the image: counted, never replaced
                dropped += 1
                continue
            rel = f"crops/{image_path.stem}_{k:03d}.png"
            write_image(out / rel, crop)
            samples.append((rel, region.text))
    if not samples:
        raise DataError(spec.input_dir, "no legible regions to crop")
    write_gt_list(out / "gt_list.txt", samples)
    chars = build_charset(label for _, label in samples)
    write_charset(out / "character_list.txt", chars)
    return {"images": len(pairs), "crops": len(samples), "dont_care_skipped": dont_care,
            "boxes_outside_image": dropped, "characters": len(chars), "skipped": bad.summary(),
            "gt_list": str(out / "gt_list.txt")}
