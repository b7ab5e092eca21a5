"""Text formats: ICDAR ground truth and recognition gt lists.

ICDAR ground truth (one file per image, one region per line)::

    x1,y1,x2,y2,...,xn,yn,transcription

``n >= 4`` points; the transcription may itself contain commas; ``###`` or ``*`` mark a
don't-care region; UTF-8 with or without a byte-order mark.

The coordinates are the leading run of numeric fields, taken in pairs. Two ambiguous cases
are settled the ICDAR 2015 way (4 points, then the transcription): a line of nothing but
numbers is a quadrilateral whose transcription is numeric (``...,y4,1,000``), and an odd
numeric run gives its last number to the transcription (``...,y4,12,30 apples``). A coordinate
must be finite and within ``MAX_COORDINATE`` (see :mod:`ocdr.data.polygon`).

Recognition gt list (one sample per line)::

    relative/path/to/crop.png<TAB>label

The label is everything after the first tab and may contain spaces. :func:`leaves_folder` tells
whether a listed path climbs out of the list's folder (absolute, or ``..`` above it).
"""
from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ocdr.data.polygon import MAX_COORDINATE, is_dont_care
from ocdr.errors import BadRecords, DataError
from ocdr.fileio import atomic_open

__all__ = [
    "TextRegion",
    "read_text_lines",
    "parse_icdar_line",
    "read_icdar_gt",
    "read_image_gt",
    "write_icdar_gt",
    "format_icdar_line",
    "read_gt_list",
    "write_gt_list",
    "leaves_folder",
]

_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_NONFINITE = re.compile(r"^\s*[-+]?(nan|inf|infinity)\s*$", re.IGNORECASE)


@dataclass
class TextRegion:
    """One ground-truth region: an (N, 2) polygon and its transcription."""

    points: np.ndarray
    text: str = ""

    @property
    def ignore(self) -> bool:
        return is_dont_care(self.text)


def read_text_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 text file (BOM allowed); a clear error for missing or non-UTF-8 files."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line) from None
    return text.splitlines()


def parse_icdar_line(line: str, path: str | Path | None = None, lineno: int | None = None) -> TextRegion:
    """Parse one ``x1,y1,...,xn,yn,text`` line; raise :class:`DataError` naming ``path:lineno``."""
    fields = line.split(",")
    n = 0
    while n < len(fields) and (_NUMBER.match(fields[n]) or _NONFINITE.match(fields[n])):
        n += 1
    if n < 8:
        if n < len(fields) and len(fields) > 8:
            raise DataError(path, f"coordinate {n + 1} is not a number: '{fields[n].strip()[:30]}'", lineno)
        raise DataError(path, f"expected at least 8 coordinates (4 points), got {n}", lineno)
    if n == len(fields) and n > 8:
        # Nothing but numbers: a quadrilateral with a numeric transcription ("1,000").
        n = 8
    elif n % 2 == 1:
        # "...,y4,12,30 apples": the lone trailing number begins the transcription.
        n -= 1
    values = [_coordinate(f, i, path, lineno) for i, f in enumerate(fields[:n])]
    text = ",".join(fields[n:]).strip()
    points = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    return TextRegion(points=points, text=text)


def _coordinate(field_: str, i: int, path: str | Path | None, lineno: int | None) -> float:
    value = float(field_)  # '1e400' parses, as inf
    if not math.isfinite(value):
        raise DataError(path, f"coordinate {i + 1} is not finite: '{field_.strip()}'", lineno)
    if abs(value) > MAX_COORDINATE:
        raise DataError(path, f"coordinate {i + 1} is out of range: '{field_.strip()[:30]}' "
                              f"(|value| > {MAX_COORDINATE:g})", lineno)
    return value


def parse_poly_line(line: str, path: str | Path | None = None, lineno: int | None = None) -> TextRegion:
    """Parse one ``word_id<TAB>x1,y1,...,xn,yn<TAB>text`` line (the George Washington ``gt_poly`` files)."""
    _, coords, text = line.split("\t", 2)
    region = parse_icdar_line(coords.strip() + ",", path, lineno)
    if region.text:
        raise DataError(path, f"polygon coordinates must be numbers, found '{region.text[:30]}'", lineno)
    if len(region.points) < 3:
        raise DataError(path, f"a polygon needs at least 3 points, got {len(region.points)}", lineno)
    return TextRegion(points=region.points, text=text.strip())


def _is_poly_line(line: str) -> bool:
    parts = line.split("\t")
    return len(parts) >= 3 and bool(parts[1].strip()) and all(_NUMBER.match(v) for v in parts[1].split(","))


def read_icdar_gt(path: str | Path, bad: BadRecords | None = None) -> list[TextRegion]:
    """All regions of one gt file: ICDAR lines (``x1,y1,...,x4,y4,text``, or more points) or polygon lines
    (``id<TAB>x1,y1,...,xn,yn<TAB>text``), told apart line by line. Blank lines are ignored; bad lines raise or
    are skipped."""
    return _parse_gt_lines(read_text_lines(path), path, bad or BadRecords())


def read_image_gt(path: str | Path, images: BadRecords, lines: BadRecords) -> list[TextRegion] | None:
    """The regions of an image's gt file, or None when the image must be left out with it, counted in
    ``images``: the file cannot be read (missing, not UTF-8), or it has lines and every one is bad. Bad lines
    are counted in ``lines`` (the same tally may serve both). An image whose every box was dropped would be
    trained, and scored, as a page without text."""
    try:
        raw = read_text_lines(path)
    except DataError as exc:
        images.bad(exc, "unreadable gt file")
        return None
    before = lines.total
    regions = _parse_gt_lines(raw, path, lines)
    if not regions and lines.total > before:
        images.bad(DataError(path, "every gt line is bad, so its image is left out"), "image with no valid gt line")
        return None
    return regions


def _parse_gt_lines(raw: list[str], path: str | Path, bad: BadRecords) -> list[TextRegion]:
    regions = []
    for lineno, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        try:
            regions.append(parse_poly_line(line, path, lineno) if _is_poly_line(line)
                           else parse_icdar_line(line, path, lineno))
        except DataError as exc:
            bad.bad(exc, "malformed gt line")
    return regions


def _num(v: float) -> str:
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.2f}".rstrip("0").rstrip(".")


def format_icdar_line(points: np.ndarray, text: str = "") -> str:
    pts = np.asarray(points, dtype=np.float64).reshape(-1)
    if pts.size < 8 or pts.size % 2:
        raise ValueError(f"a region needs at least 4 points, got {pts.size / 2:g}")
    if not all(math.isfinite(v) for v in pts):
        raise ValueError("a region has non-finite coordinates")
    if "\n" in text or "\r" in text:
        raise ValueError(f"a transcription cannot contain a line break: {text!r}")
    return ",".join(_num(v) for v in pts) + "," + text


def write_icdar_gt(path: str | Path, regions: Iterable[TextRegion]) -> Path:
    with atomic_open(path) as fh:
        for r in regions:
            fh.write(format_icdar_line(r.points, r.text) + "\n")
    return Path(path)


def read_gt_list(path: str | Path, bad: BadRecords | None = None) -> list[tuple[str, str]]:
    """``(relative path, label)`` pairs of a recognition gt list."""
    bad = bad or BadRecords()
    out = []
    for lineno, line in enumerate(read_text_lines(path), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            bad.bad(DataError(path, "expected '<image path><TAB><label>', found no tab", lineno), "no tab")
            continue
        rel, label = line.split("\t", 1)
        if not rel.strip():
            bad.bad(DataError(path, "empty image path", lineno), "empty image path")
            continue
        if label == "":
            bad.bad(DataError(path, f"empty label for '{rel}'", lineno), "empty label")
            continue
        out.append((rel.strip(), label))
    return out


def write_gt_list(path: str | Path, samples: Sequence[tuple[str, str]]) -> Path:
    with atomic_open(path) as fh:
        for rel, label in samples:
            if "\t" in rel or "\n" in rel or "\n" in label or "\r" in label:
                raise ValueError(f"cannot write sample {rel!r}: tab or line break in path or label")
            fh.write(f"{rel}\t{label}\n")
    return Path(path)


def leaves_folder(rel: str) -> bool:
    """Whether a gt-list path, read as written, leaves the list's folder: absolute (also ``C:\\...``), or
    climbing above it with ``..``. Symbolic links inside the folder are the user's choice and are followed."""
    posix = rel.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return True
    norm = posixpath.normpath(posix)
    return norm == ".." or norm.startswith("../")
