"""``ocdr data icdar``: normalise an ICDAR-style folder into the detection layout.

Real folders are untidy: gt files named ``gt_<stem>.txt``, ``<stem>.txt`` or ``<image>.txt``;
``.jpg`` files holding PNG data; RGBA, grayscale or 16-bit images. The output is always
``<out>/<split>/img/<stem>.<real ext>`` and ``<out>/<split>/gt/gt_<stem>.txt`` with 8-bit RGB
images: the original bytes when they already are 8-bit RGB in the wanted format, else re-encoded.

With ``skip_bad`` a bad gt line is left out (counted) and its image kept with the other lines; an image
is left out, with its gt, when it is unreadable, has no gt, its gt file is unreadable (not UTF-8), or
every line of its gt is bad: written without boxes it would teach a detector that its text is background.
Regions that enclose no proper area (zero area, collinear, self-intersecting) are kept and counted in
``box_problems``.

Each split is built in a temporary folder beside its target and swapped in when every split is
complete, so a failed run leaves the previous conversion untouched.
"""
from __future__ import annotations

import io
import logging
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ocdr.data.formats import read_image_gt, write_icdar_gt
from ocdr.data.images import IMAGE_EXTENSIONS, decode_image, list_images, natural_key, sniff_format, write_image
from ocdr.data.polygon import shape_defect
from ocdr.errors import BadRecords, ConfigError, DataError
from ocdr.fileio import atomic_write_bytes

__all__ = ["IcdarSpec", "convert_icdar", "find_pairs", "unpaired_gt_files", "split_names"]
log = logging.getLogger("ocdr.data")

# Extensions that honestly name each format (as sniff_format reports it); the first is the one we write.
_EXTENSIONS = {"jpeg": (".jpg", ".jpeg", ".jpe"), "png": (".png",), "bmp": (".bmp",), "tiff": (".tif", ".tiff"),
               "webp": (".webp",), "gif": (".gif",), "ppm": (".ppm", ".pgm", ".pbm")}
# Formats that are re-encoded into their own kind when flattened; the others become PNG (lossless).
_REENCODE_AS = {"jpeg": ".jpg", "png": ".png", "bmp": ".bmp", "tiff": ".tif"}


@dataclass
class IcdarSpec:
    input_dir: str = field(default="", metadata={"help": "folder with img/ (or images/) + gt/, or images and gt files together, or train|test/{img,gt}"})
    output_dir: str = field(default="data/icdar", metadata={"help": "where the detection layout is written"})
    split: str = field(default="train", metadata={"help": "split name when not splitting (test_fraction=0)"})
    test_fraction: float = field(default=0.0, metadata={"help": ">0: last fraction of files by natural name order goes to test (0.1 = 90/10)"})
    image_format: str = field(default="keep", metadata={"help": "keep (true format, extension fixed) | jpg | png (re-encode)"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad images/gt lines (counted) instead of failing"})

    def validate(self) -> None:
        if not self.input_dir:
            raise ConfigError("data icdar: set input_dir=<folder with images and gt files>")
        if self.image_format not in ("keep", "jpg", "png"):
            raise ConfigError(f"image_format: '{self.image_format}' is not one of keep, jpg, png")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction: must be in [0, 1), got {self.test_fraction}")
        if not self.split or self.split in (".", "..") or "/" in self.split or "\\" in self.split:
            raise ConfigError(f"split: '{self.split}' is not a plain folder name")


def _layout(folder: Path, gt_folder: str = "gt") -> tuple[Path, list[Path]]:
    """Image folder and gt folders of one split folder: ``img/`` (or ``images/``) + ``gt/`` (or the
    annotation folder ``gt_folder`` names, e.g. ``gt_poly``), or everything together."""
    img_dir = next((folder / d for d in ("img", "images") if (folder / d).is_dir()), folder)
    if gt_folder != "gt" and not (folder / gt_folder).is_dir():
        raise DataError(folder, f"no annotation folder '{gt_folder}/' here")
    return img_dir, [d for d in (folder / gt_folder, img_dir) if d.is_dir()]


def _gt_candidates(image: Path, gt_dirs: list[Path]) -> list[Path]:
    names = [f"gt_{image.stem}.txt", f"{image.stem}.txt", f"{image.name}.txt", f"gt_{image.name}.txt"]
    return [d / n for d in gt_dirs for n in names]


def find_pairs(folder: Path, bad: BadRecords, gt_folder: str = "gt") -> list[tuple[Path, Path]]:
    """(image, gt) pairs of one folder in natural name order; an image without gt is a bad record."""
    img_dir, gt_dirs = _layout(folder, gt_folder)
    images = list_images(img_dir, allow_empty=True)
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


def unpaired_gt_files(folder: Path, pairs: list[tuple[Path, Path]]) -> list[Path]:
    """``.txt`` files in the gt folders that no image claimed: usually an image that went missing."""
    _, gt_dirs = _layout(folder)
    used = {gt.resolve() for _, gt in pairs}
    found = {p.resolve() for d in gt_dirs for p in d.glob("*.txt") if p.is_file() and not p.name.startswith(".")}
    return sorted(found - used, key=lambda p: natural_key(p.name))


def split_names(n: int, fraction: float) -> int:
    """How many of ``n`` sorted files go to test for a ``fraction``: at least one, never all."""
    if fraction <= 0 or n < 2:
        return 0
    return min(max(int(round(n * fraction)), 1), n - 1)


def _check_stems(pairs: list[tuple[Path, Path]], split: str) -> None:
    """Two inputs with one stem would write the same gt_<stem>.txt: refuse before writing anything."""
    seen: dict[str, Path] = {}
    for image, _ in pairs:
        if image.stem in seen:
            raise DataError(image, f"same stem as {seen[image.stem].name}: both would become "
                                   f"gt_{image.stem}.txt in split '{split}'; rename one")
        seen[image.stem] = image


def _is_plain_rgb(data: bytes) -> bool:
    """8-bit RGB as stored. PIL opens 16-bit RGB as mode RGB too (and reads it as 8 bits): only how the
    pixels are stored tells that copying the bytes would keep 16 bits."""
    with Image.open(io.BytesIO(data)) as im:
        return im.mode == "RGB" and all(_stored_8_bit(t) for t in im.tile)


def _stored_8_bit(tile) -> bool:
    """A tile's raw mode names 8-bit samples: not PNG's 'RGB;16B', TIFF's 'RGB;16N', nor a PPM whose
    maximum value is above 255."""
    args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
    raw = args[0] if args else None
    if tile.codec_name == "ppm" and len(args) > 1 and args[1] not in (None, 255):
        return False
    return isinstance(raw, str) and ";16" not in raw and ";32" not in raw


def _output_image(data: bytes, image: Path, image_format: str) -> tuple[str, np.ndarray | None, bool]:
    """(output extension, pixels to re-encode or None to copy the bytes, extension lied).

    Raises :class:`DataError` for an unreadable or truncated image.
    """
    rgb = decode_image(data, image)  # decodes fully, so truncated files fail here
    real = sniff_format(data) or ""
    honest = _EXTENSIONS.get(real, ())
    lied = image.suffix.lower() not in honest
    if image_format == "keep":
        if real in _EXTENSIONS and _is_plain_rgb(data):
            return (_EXTENSIONS[real][0] if lied else image.suffix.lower()), None, lied
        return _REENCODE_AS.get(real, ".png"), rgb, lied
    wanted = "jpeg" if image_format == "jpg" else "png"
    if real == wanted and _is_plain_rgb(data):
        return f".{image_format}", None, lied
    return f".{image_format}", rgb, lied


def _convert_pair(image: Path, gt: Path, out: Path, split: str, spec: IcdarSpec, bad: BadRecords, stats: dict) -> None:
    data = image.read_bytes()
    try:
        ext, rgb, lied = _output_image(data, image, spec.image_format)
    except DataError as exc:
        bad.bad(exc, "unreadable image")
        return
    regions = read_image_gt(gt, bad, bad)  # polygons of any point count are kept as they are
    if regions is None:
        return
    target = out / "img" / f"{image.stem}{ext}"
    if rgb is None:
        atomic_write_bytes(target, data)
    else:
        write_image(target, rgb)
        stats["re_encoded"] += 1
    stats["extension_fixed"] += lied
    write_icdar_gt(out / "gt" / f"gt_{image.stem}.txt", regions)
    stats["images"][split] += 1
    stats["regions"] += len(regions)
    stats["dont_care"] += sum(r.ignore for r in regions)
    stats["box_problems"].update(filter(None, (shape_defect(r.points) for r in regions)))


def _input_folders(src: Path, split: str) -> list[tuple[str, Path]]:
    """(split, folder) pairs to read: ``train/`` and ``test/`` when the input is already split."""
    return [(s, src / s) for s in ("train", "test") if (src / s).is_dir()] or [(split, src)]


def _plan(src: Path, spec: IcdarSpec, bad: BadRecords) -> tuple[list[tuple[str, list[tuple[Path, Path]]]], int]:
    """Which pairs go to which split, and how many gt files have no image."""
    folders = _input_folders(src, spec.split)
    presplit = folders[0][1] != src
    if presplit and spec.test_fraction > 0:
        raise ConfigError(f"test_fraction: {src} is already split into train/test; leave test_fraction=0")
    jobs, orphans = [], 0
    for split, folder in folders:
        pairs = find_pairs(folder, bad)
        lonely = unpaired_gt_files(folder, pairs)
        if lonely:
            log.warning("%d gt file(s) without an image in %s, e.g. %s", len(lonely), folder, lonely[0].name)
        orphans += len(lonely)
        _check_stems(pairs, split)
        jobs.append((split, pairs))
    if not presplit:
        pairs = jobs[0][1]
        n_test = split_names(len(pairs), spec.test_fraction)
        if n_test:
            jobs = [("train", pairs[: len(pairs) - n_test]), ("test", pairs[len(pairs) - n_test:])]
    return jobs, orphans


def _check_no_overlap(src: Path, out: Path, splits: list[str]) -> None:
    """Replacing ``<out>/<split>`` must never delete a folder being read."""
    inputs = [folder.resolve() for _, folder in _input_folders(src, "")]
    for split in splits:
        target = (out / split).resolve()
        if any(target == f or target in f.parents for f in inputs):
            raise ConfigError(f"output_dir: writing {out / split} would replace the input folder {src}; "
                              "choose another output_dir")


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new hidden folder in ``parent`` (``mkdir``, unlike ``mkdtemp``, honours the umask)."""
    path = parent / f".{prefix}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def _swap_in(built: dict[str, Path], out: Path) -> None:
    """Move finished split folders into place; the old ones are removed only after the move."""
    for split, tmp in built.items():
        final = out / split
        old = None
        if final.exists():
            old = _fresh_dir(out, f"{split}.old")
            final.rename(old / split)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def convert_icdar(spec: IcdarSpec) -> dict:
    spec.validate()
    src = Path(spec.input_dir)
    if not src.is_dir():
        raise DataError(src, "input folder not found")
    out = Path(spec.output_dir)
    bad = BadRecords(skip=spec.skip_bad)
    jobs, orphans = _plan(src, spec, bad)
    _check_no_overlap(src, out, [s for s, _ in jobs])
    stats = {"images": {s: 0 for s, _ in jobs}, "regions": 0, "dont_care": 0, "re_encoded": 0, "extension_fixed": 0,
             "box_problems": Counter()}
    out.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}
    try:
        for split, pairs in jobs:
            built[split] = _fresh_dir(out, f"{split}.partial")
            (built[split] / "img").mkdir()
            (built[split] / "gt").mkdir()
            for image, gt in pairs:
                _convert_pair(image, gt, built[split], split, spec, bad, stats)
        if not any(stats["images"].values()):
            raise DataError(src, "no image could be converted")
        _swap_in(built, out)
    finally:
        for tmp in built.values():
            shutil.rmtree(tmp, ignore_errors=True)
    stats["box_problems"] = dict(sorted(stats["box_problems"].items()))
    return {"output_dir": str(out), **stats, "gt_without_image": orphans, "skipped": bad.summary()}
