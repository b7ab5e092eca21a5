"""``ocdr data iam``: the IAM handwriting database to the detection and recognition layouts.

Inputs are what the IAM download gives: ``ascii.tgz`` (holding ``words.txt``) and the form
archives ``formsA-D.tgz``, ``formsE-H.tgz``, ``formsI-Z.tgz`` (``<form>.png`` files), or their
extracted folders. ``words.txt`` lines read (see its own header)::

    a01-000u-00-00 ok 154 1 408 768 27 51 AT A
    word id, segmentation ok|er, graylevel, #components, x y w h, grammatical tag, transcription

Archives are read member by member into memory: nothing is extracted by the names it holds.

A word that is not kept as a label but whose box still lies (partly) on the form — flagged
``er`` with ``drop_er``, or sticking out of the page without ``clip_boxes`` — is written to the
detection gt as a ``###`` don't-care region: its ink is on the image, and leaving it
unannotated would teach the detector that handwriting is background.
"""
from __future__ import annotations

import tarfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator

import numpy as np

from ocdr.data.charset import build_charset, write_charset
from ocdr.data.formats import TextRegion, write_gt_list, write_icdar_gt
from ocdr.data.images import decode_image, write_image
from ocdr.data.polygon import is_dont_care, quad_from_rect
from ocdr.errors import BadRecords, ConfigError, DataError, OcdrError

__all__ = ["IamSpec", "IamWord", "parse_words", "read_words_txt", "iter_form_images", "split_of", "place_box",
           "convert_iam"]

Box = tuple[int, int, int, int]  # x, y, w, h in form pixels
_NO_BOX: Box = (-1, -1, -1, -1)
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


@dataclass
class IamSpec:
    ascii: str = field(default="", metadata={"help": "ascii.tgz, words.txt, or a folder holding words.txt"})
    forms: list[str] = field(default_factory=list, metadata={"help": "formsA-D.tgz, formsE-H.tgz, formsI-Z.tgz and/or folders of <form>.png"})
    output_dir: str = field(default="data/iam", metadata={"help": "where the layouts are written"})
    test_letters: list[str] = field(default_factory=list, metadata={"help": "form-id first letters that go to test, e.g. [j,k,l]; empty: a-h train, i-z test"})
    drop_er: bool = field(default=False, metadata={"help": "drop words whose segmentation is flagged 'er' (kept as ### in the detection gt)"})
    lower: bool = field(default=False, metadata={"help": "lower-case the labels"})
    clip_boxes: bool = field(default=False, metadata={"help": "clip boxes sticking out of the form instead of skipping the word"})
    crops: bool = field(default=True, metadata={"help": "write word crops and gt_list.txt for recognition"})
    skip_bad: bool = field(default=False, metadata={"help": "skip malformed or non-UTF-8 words.txt lines (counted) instead of failing"})

    def validate(self) -> None:
        for letter in self.test_letters:
            if len(letter) != 1 or not letter.isascii() or not letter.isalpha():
                raise ConfigError(f"test_letters: '{letter}' is not a single letter a-z (give e.g. [i,j,k])")


@dataclass
class IamWord:
    word_id: str
    form: str
    ok: bool  # segmentation flag: True for 'ok', False for 'er'
    box: Box
    text: str
    line: int


# --- words.txt -------------------------------------------------------------------------------

def _parse_line(line: str, path: str, lineno: int) -> IamWord:
    parts = line.split()
    if len(parts) < 10:
        raise DataError(path, f"expected at least 10 fields (id flag graylevel components x y w h tag text), "
                              f"got {len(parts)}", lineno)
    word_id, flag = parts[0], parts[1]
    if flag not in ("ok", "er"):
        raise DataError(path, f"segmentation flag must be 'ok' or 'er', got '{flag}'", lineno)
    id_parts = word_id.split("-")
    if len(id_parts) != 4 or not all(id_parts):
        raise DataError(path, f"word id '{word_id}' is not <form>-<line>-<word> (e.g. a01-000u-00-00)", lineno)
    try:
        int(parts[2]), int(parts[3])
        x, y, w, h = (int(v) for v in parts[4:8])
    except ValueError:
        raise DataError(path, f"graylevel, components and x y w h must be integers: {' '.join(parts[2:8])}",
                        lineno) from None
    # The transcription is everything after the tag; IAM files other than words.txt hold spaces there.
    return IamWord(word_id, "-".join(id_parts[:2]), flag == "ok", (x, y, w, h), " ".join(parts[9:]), lineno)


def parse_words(text: str, path: str, bad: BadRecords) -> list[IamWord]:
    """The word lines of ``words.txt`` (comments skipped); bad lines raise or are counted by ``bad``."""
    words: list[IamWord] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            word = _parse_line(line, path, lineno)
        except DataError as exc:
            bad.bad(exc, "malformed line")
            continue
        if word.word_id in first_line:
            # Two crops would share a name, and the gt would hold the word twice.
            bad.bad(DataError(path, f"word id '{word.word_id}' repeats line {first_line[word.word_id]}", lineno),
                    "duplicate word id")
            continue
        first_line[word.word_id] = lineno
        words.append(word)
    return words


def _safe_member(member: tarfile.TarInfo) -> bool:
    """A regular file whose name stays inside the archive (no absolute path, no '..')."""
    p = PurePosixPath(member.name)
    return member.isfile() and not p.is_absolute() and ".." not in p.parts


def _decode_text(data: bytes, name: str, bad: BadRecords) -> str:
    """The text; with ``bad.skip`` a line that is not UTF-8 is counted and left blank (line numbers hold)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not bad.skip:
            raise DataError(name, f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                            data[: exc.start].count(b"\n") + 1) from None
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    for lineno, raw in enumerate(lines, start=1):
        try:
            lines[lineno - 1] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.bad(DataError(name, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", lineno), "not UTF-8")
            lines[lineno - 1] = ""
    return "\n".join(lines)


def read_words_txt(source: Path, bad: BadRecords | None = None) -> tuple[str, str]:
    """(text of words.txt, its name for messages) from ascii.tgz, a words.txt or a folder holding it.

    Text that is not UTF-8 raises; with a skipping ``bad`` only its lines are left out, counted."""
    bad = bad or BadRecords()
    if not source.exists():
        raise DataError(source, "not found (give ascii.tgz, words.txt or a folder holding words.txt)")
    if source.is_dir():
        found = sorted(source.rglob("words.txt"), key=lambda p: (len(p.parts), str(p)))
        if not found:
            raise DataError(source, "no words.txt in this folder")
        source = found[0]
    if not tarfile.is_tarfile(source):
        return _decode_text(source.read_bytes(), str(source), bad), str(source)
    try:
        with tarfile.open(source) as tar:
            members = [m for m in tar.getmembers() if _safe_member(m) and PurePosixPath(m.name).name == "words.txt"]
            if not members:
                raise DataError(source, "archive holds no words.txt")
            member = min(members, key=lambda m: (len(PurePosixPath(m.name).parts), m.name))  # the root one first
            data = tar.extractfile(member).read()
    except _ARCHIVE_ERRORS as exc:
        raise DataError(source, f"unreadable archive ({exc})") from None
    name = f"{source}:{member.name}"
    return _decode_text(data, name, bad), name


# --- form images -----------------------------------------------------------------------------

def _forms_in_archive(path: Path, wanted: set[str]) -> Iterator[tuple[str, bytes, str]]:
    if not tarfile.is_tarfile(path):
        raise DataError(path, "neither a tar archive nor a folder")
    try:
        # Streaming mode ("r|*"): the forms archives are large gzip files read once, front to back.
        with tarfile.open(path, "r|*") as tar:
            for m in tar:
                p = PurePosixPath(m.name)
                if _safe_member(m) and p.suffix.lower() == ".png" and p.stem in wanted:
                    yield p.stem, tar.extractfile(m).read(), f"{path}:{m.name}"
    except _ARCHIVE_ERRORS as exc:
        raise DataError(path, f"unreadable archive ({exc})") from None


def iter_form_images(sources: list[str], wanted: set[str]) -> Iterator[tuple[str, bytes, str]]:
    """(form id, image bytes, origin) of each wanted form in the archives/folders, in the order given.

    A form present twice is yielded twice; the caller keeps the first.
    """
    for src in sources:
        path = Path(src)
        if not path.exists():
            raise DataError(path, "forms archive or folder not found")
        if path.is_dir():
            for png in sorted(path.rglob("*")):
                if png.is_file() and png.suffix.lower() == ".png" and png.stem in wanted:
                    yield png.stem, png.read_bytes(), str(png)
        else:
            yield from _forms_in_archive(path, wanted)


# --- placing words ---------------------------------------------------------------------------

def split_of(form: str, test_letters: list[str]) -> str:
    """'train' or 'test' from the form's first letter (IAM's letters group forms by text category)."""
    letter = form[:1].lower()
    if test_letters:
        return "test" if letter in {t.lower() for t in test_letters} else "train"
    return "train" if "a" <= letter <= "h" else "test"


def _clip(box: Box, width: int, height: int) -> Box | None:
    x, y, w, h = box
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    return (x1, y1, x2 - x1, y2 - y1) if x2 > x1 and y2 > y1 else None


def place_box(word: IamWord, width: int, height: int, clip: bool, drop_er: bool) -> tuple[Box | None, str | None]:
    """(box on the form or None, reason the word is not a label or None).

    A box with a reason is still written to the detection gt, as don't-care.
    """
    x, y, w, h = word.box
    if word.box == _NO_BOX:
        return None, "box -1"
    if w <= 0 or h <= 0:
        return None, "box empty"
    inside = _clip(word.box, width, height)
    if inside is None:
        return None, "box outside image"
    if inside != word.box and not clip:
        return inside, "box outside image"
    if drop_er and not word.ok:
        return inside, "segmentation er"
    return inside, None


def _gray_if_gray(image: np.ndarray) -> np.ndarray:
    """One channel when all three agree: IAM forms are grayscale, and RGB PNGs would be 3x larger."""
    if image.ndim == 3 and np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]):
        return image[..., 0]
    return image


# --- conversion ------------------------------------------------------------------------------

@dataclass
class _Tally:
    forms: Counter = field(default_factory=Counter)
    words: Counter = field(default_factory=Counter)
    dont_care: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    empty_forms: int = 0  # forms found but not written: none of their words is a usable label
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    labels: list[str] = field(default_factory=list)


def _convert_form(form: str, image: np.ndarray, words: list[IamWord], spec: IamSpec, tally: _Tally) -> None:
    """Write one form's image, gt and crops; words that are not labels are counted in ``tally``."""
    split = split_of(form, spec.test_letters)
    out = Path(spec.output_dir) / split
    height, width = image.shape[:2]
    regions, crops, reasons = [], [], Counter()
    for word in sorted(words, key=lambda w: w.word_id):
        box, reason = place_box(word, width, height, spec.clip_boxes, spec.drop_er)
        label = word.text.lower() if spec.lower else word.text
        if reason is None and is_dont_care(label):
            reason = "label is a don't-care mark"
        if reason is not None:
            reasons[reason] += 1
            if box is not None:
                regions.append(TextRegion(quad_from_rect(*box), "###"))
            continue
        regions.append(TextRegion(quad_from_rect(*box), label))
        crops.append((word.word_id, box, label))
    tally.skipped.update(reasons)
    if not crops:
        # Handwriting with no label at all would only teach the detector that text is background.
        tally.empty_forms += 1
        return
    write_image(out / "img" / f"{form}.png", _gray_if_gray(image))
    write_icdar_gt(out / "gt" / f"gt_{form}.txt", regions)
    tally.forms[split] += 1
    tally.words[split] += len(crops)
    tally.dont_care[split] += len(regions) - len(crops)
    for word_id, (x, y, w, h), label in crops:
        tally.labels.append(label)
        if spec.crops:
            write_image(out / "crops" / f"{word_id}.png", _gray_if_gray(image[y:y + h, x:x + w]))
            tally.samples[split].append((f"{word_id}.png", label))


def convert_iam(spec: IamSpec) -> dict:
    """Convert IAM words.txt + form images; returns the summary the CLI prints."""
    if not spec.ascii or not spec.forms:
        raise OcdrError("data iam: set ascii=<ascii.tgz|words.txt> and forms=[<formsA-D.tgz>,...]")
    spec.validate()
    bad = BadRecords(skip=spec.skip_bad)
    text, name = read_words_txt(Path(spec.ascii), bad)
    by_form: dict[str, list[IamWord]] = defaultdict(list)
    for word in parse_words(text, name, bad):
        by_form[word.form].append(word)
    if not by_form:
        raise DataError(name, "no word lines (every line is a comment or was skipped)")
    for src in spec.forms:  # a wrong path fails now, not after converting the archives before it
        if not Path(src).exists():
            raise DataError(src, "forms archive or folder not found")

    tally = _Tally(skipped=Counter(bad.counts))
    found: set[str] = set()
    for form, data, origin in iter_form_images(spec.forms, set(by_form)):
        if form not in found:
            found.add(form)
            _convert_form(form, decode_image(data, origin), by_form[form], spec, tally)
    if not found:
        raise DataError(spec.forms[0], "none of the forms named in words.txt is in the given forms archives/folders")
    missing = sorted(set(by_form) - found)
    tally.skipped["form image missing"] += sum(len(by_form[f]) for f in missing)
    return _write_lists(spec, tally, missing)


def _write_lists(spec: IamSpec, tally: _Tally, missing: list[str]) -> dict:
    out = Path(spec.output_dir)
    gt_lists = {}
    for split, rows in sorted(tally.samples.items()):
        gt_lists[split] = str(write_gt_list(out / split / "crops" / "gt_list.txt", sorted(rows)))
    chars = build_charset(tally.labels)
    charset = write_charset(out / "character_list.txt", chars)
    return {
        "output_dir": str(out),
        "splits": {s: str(out / s) for s in sorted(tally.forms)},
        "gt_lists": gt_lists,
        "character_list": str(charset),
        "forms": dict(sorted(tally.forms.items())),
        "words": dict(sorted(tally.words.items())),
        "dont_care_regions": {k: v for k, v in sorted(tally.dont_care.items()) if v},
        "skipped": {k: v for k, v in sorted(tally.skipped.items()) if v},
        "characters": len(chars),
        "forms_without_labels": tally.empty_forms,
        "missing_forms": len(missing),
        "missing_form_examples": missing[:10],
    }
