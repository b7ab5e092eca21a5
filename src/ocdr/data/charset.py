"""The character list: one owner for the vocabulary.

File format: UTF-8, one character per line, in index order. A line holding a single space
is the space character (spaces are ordinary characters here, unlike TAO OCRNet); empty lines
are ignored. The recognizer's blank/start/end tokens are not stored in the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ocdr.data.formats import read_text_lines
from ocdr.errors import DataError
from ocdr.fileio import atomic_open

__all__ = ["read_charset", "write_charset", "build_charset"]


def read_charset(path: str | Path) -> list[str]:
    chars: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(read_text_lines(path), start=1):
        if line == "":
            continue
        if len(line) != 1:
            stripped = line.strip()
            if len(stripped) == 1:
                line = stripped  # tolerate trailing whitespace, e.g. "a " or "\ta"
            else:
                raise DataError(path, f"expected one character per line, got {line!r}", lineno)
        if line in seen:
            raise DataError(path, f"character {line!r} repeats line {seen[line]}", lineno)
        seen[line] = lineno
        chars.append(line)
    if not chars:
        raise DataError(path, "character list is empty")
    return chars


def write_charset(path: str | Path, chars: Iterable[str]) -> Path:
    chars = list(chars)
    if len(set(chars)) != len(chars):
        raise ValueError("character list has duplicates")
    with atomic_open(path) as fh:
        for c in chars:
            if len(c) != 1 or c in "\n\r":
                raise ValueError(f"not a single printable character: {c!r}")
            fh.write(c + "\n")
    return Path(path)


def build_charset(labels: Iterable[str], lower: bool = False) -> list[str]:
    """Sorted unique characters of ``labels`` (line breaks and tabs excluded)."""
    found: set[str] = set()
    for label in labels:
        found.update(label.lower() if lower else label)
    found -= {"\n", "\r", "\t"}
    return sorted(found)


# --- ``ocdr data charset`` -------------------------------------------------------------------
from dataclasses import dataclass, field  # noqa: E402


@dataclass
class CharsetSpec:
    inputs: list[str] = field(default_factory=list, metadata={"help": "gt lists (path<TAB>label) and/or ICDAR gt folders or files"})
    output: str = field(default="character_list.txt", metadata={"help": "character list file to write"})
    lower: bool = field(default=False, metadata={"help": "lower-case labels first"})
    skip_bad: bool = field(default=False, metadata={"help": "skip malformed lines (counted) instead of failing"})


def _labels_of(path: Path, bad) -> list[str]:
    from ocdr.data.formats import read_gt_list, read_icdar_gt

    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise DataError(path, "no .txt gt files in this folder")
        return [r.text for f in files for r in read_icdar_gt(f, bad) if not r.ignore]
    if not path.is_file():
        raise DataError(path, "file not found")
    first = next((ln for ln in read_text_lines(path) if ln.strip()), "")
    if "\t" in first:
        return [label for _, label in read_gt_list(path, bad)]
    return [r.text for r in read_icdar_gt(path, bad) if not r.ignore]


def make_charset(spec: CharsetSpec) -> dict:
    from ocdr.errors import BadRecords, OcdrError

    if not spec.inputs:
        raise OcdrError("charset: give at least one input, e.g. 'inputs=[data/train/crops/gt_list.txt]'")
    bad = BadRecords(skip=spec.skip_bad)
    labels = [lab for p in spec.inputs for lab in _labels_of(Path(p), bad)]
    chars = build_charset(labels, lower=spec.lower)
    if not chars:
        raise OcdrError(f"charset: no labels found in {', '.join(spec.inputs)}")
    write_charset(spec.output, chars)
    return {"output": spec.output, "characters": len(chars), "labels": len(labels),
            "has_space": " " in chars, "skipped": bad.summary()}
