"""``ocdr data iam``: the IAM handwriting database to the detection and recognition layouts.

Inputs are what the IAM download gives: ``ascii.tgz`` (holding ``words.txt``) and the form
archives ``formsA-D.tgz``, ``formsE-H.tgz``, ``formsI-Z.tgz`` (``<form>.png`` files), or their
extracted folders. ``words.txt`` lines read (see its own header)::

    a01-000u-00-00 ok 154 1 408 768 27 51 AT A
    word id, segmentation ok|er, graylevel, #components, x y w h, grammatical tag, transcription

Archives are read member by member into memory: nothing is extracted by the names it holds.
"""
from __future__ import annotations

import tarfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator

from ocdr.data.charset import build_charset, write_charset
from ocdr.data.formats import TextRegion, write_gt_list, write_icdar_gt
from ocdr.data.images import decode_image, write_image
from ocdr.data.polygon import quad_from_rect
from ocdr.errors import BadRecords, DataError, OcdrError

__all__ = ["IamSpec", "IamWord", "parse_words", "convert_iam", "split_of"]


@dataclass
class IamSpec:
    ascii: str = field(default="", metadata={"help": "ascii.tgz, words.txt, or a folder holding words.txt"})
    forms: list[str] = field(default_factory=list, metadata={"help": "formsA-D.tgz, formsE-H.tgz, formsI-Z.tgz and/or folders of <form>.png"})
    output_dir: str = field(default="data/iam", metadata={"help": "where the layouts are written"})
    test_letters: list[str] = field(default_factory=list, metadata={"help": "form letters that go to test (default: a-h train, i-z test)"})
    drop_er: bool = field(default=False, metadata={"help": "drop words whose segmentation is flagged 'er'"})
    lower: bool = field(default=False, metadata={"help": "lower-case the labels"})
    clip_boxes: bool = field(default=False, metadata={"help": "clip boxes sticking out of the form instead of skipping the word"})
    crops: bool = field(default=True, metadata={"help": "write word crops and gt_list.txt for recognition"})
    skip_bad: bool = field(default=False, metadata={"help": "skip malformed words.txt lines (counted) instead of failing"})


@dataclass
class IamWord:
    word_id: str
    form: str
    ok: bool
    box: tuple[int, int, int, int]  # x, y, w, h
    text: str
    line: int


def _parse_line(line: str, path: str, lineno: int) -> IamWord:
    parts = line.split(" ")
    if len(parts) < 10:
        raise DataError(path, f"expected at least 10 fields (id flag graylevel components x y w h tag text), got {len(parts)}", lineno)
    word_id, flag = parts[0], parts[1]
    if flag not in ("ok", "er"):
        raise DataError(path, f"segmentation flag must be 'ok' or 'er', got '{flag}'", lineno)
    id_parts = word_id.split("-")
    if len(id_parts) < 4:
        raise DataError(path, f"word id '{word_id}' is not <form>-<line>-<word> (e.g. a01-000u-00-00)", lineno)
    try:
        int(parts[2]), int(parts[3])
        x, y, w, h = (int(v) for v in parts[4:8])
    except ValueError:
        raise DataError(path, f"graylevel, components and x y w h must be integers: {' '.join(parts[2:8])}", lineno) from None
    return IamWord(word_id, "-".join(id_parts[:2]), flag == "ok", (x, y, w, h), " ".join(parts[9:]), lineno)


def parse_words(text: str, path: str, bad: BadRecords) -> list[IamWord]:
    words = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            words.append(_parse_line(line.rstrip("\r"), path, lineno))
        except DataError as exc:
            bad.bad(exc, "malformed line")
    return words


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts


def _read_words_txt(source: Path) -> tuple[str, str]:
    """(text of words.txt, its name for messages) from a .tgz, a words.txt or a folder."""
    if not source.exists():
        raise DataError(source, "not found (give ascii.tgz, words.txt or a folder holding words.txt)")
    if source.is_dir():
        found = sorted(source.rglob("words.txt"))
        if not found:
            raise DataError(source, "no words.txt in this folder")
        source = found[0]
    if tarfile.is_tarfile(source):
        with tarfile.open(source) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and PurePosixPath(m.name).name == "words.txt"
                       and _safe_member(m.name)]
            if not members:
                raise DataError(source, "archive holds no words.txt")
            data = tar.extractfile(members[0]).read()
            name = f"{source}:{members[0].name}"
    else:
        data, name = source.read_bytes(), str(source)
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(name, "not UTF-8 text", line) from None


def _form_images(sources: list[str], wanted: set[str]) -> Iterator[tuple[str, bytes, str]]:
    """(form id, PNG bytes, origin) for each wanted form found in archives or folders."""
    for src in sources:
        path = Path(src)
        if not path.exists():
            raise DataError(path, "forms archive or folder not found")
        if path.is_dir():
            for png in sorted(path.rglob("*.png")):
                if png.stem in wanted:
                    yield png.stem, png.read_bytes(), str(png)
            continue
        if not tarfile.is_tarfile(path):
            raise DataError(path, "not a tar archive nor a folder")
        with tarfile.open(path) as tar:
            for m in tar:
                stem = PurePosixPath(m.name).stem
                if m.isfile() and m.name.endswith(".png") and stem in wanted and _safe_member(m.name):
                    yield stem, tar.extractfile(m).read(), f"{path}:{m.name}"


def split_of(form: str, test_letters: list[str]) -> str:
    letter = form[:1].lower()
    if test_letters:
        return "test" if letter in {t.lower() for t in test_letters} else "train"
    return "train" if "a" <= letter <= "h" else "test"


def _place(word: IamWord, width: int, height: int, clip: bool) -> tuple[int, int, int, int] | str:
    """The box to write, or the reason the word is skipped."""
    x, y, w, h = word.box
    if min(word.box) < 0 or w == 0 or h == 0:
        return "box -1"
    inside = x + w <= width and y + h <= height
    if inside:
        return word.box
    if not clip:
        return "box outside image"
    x2, y2 = min(x + w, width), min(y + h, height)
    if x2 <= x or y2 <= y:
        return "box outside image"
    return x, y, x2 - x, y2 - y


def convert_iam(spec: IamSpec) -> dict:
    if not spec.ascii or not spec.forms:
        raise OcdrError("data iam: set ascii=<ascii.tgz|words.txt> and forms=[<formsA-D.tgz>,...]")
    bad = BadRecords(skip=spec.skip_bad)
    text, name = _read_words_txt(Path(spec.ascii))
    words = parse_words(text, name, bad)
    skipped = Counter(bad.counts)
    if spec.drop_er:
        skipped["segmentation er"] += sum(not w.ok for w in words)
        words = [w for w in words if w.ok]
    by_form: dict[str, list[IamWord]] = defaultdict(list)
    for w in words:
        by_form[w.form].append(w)
    out = Path(spec.output_dir)
    found, samples, labels = set(), defaultdict(list), []
    forms_per_split, words_per_split = Counter(), Counter()
    for form, data, origin in _form_images(spec.forms, set(by_form)):
        if form in found:
            continue
        found.add(form)
        image = decode_image(data, origin)
        split = split_of(form, spec.test_letters)
        regions = []
        for w in sorted(by_form[form], key=lambda w: w.word_id):
            placed = _place(w, image.shape[1], image.shape[0], spec.clip_boxes)
            if isinstance(placed, str):
                skipped[placed] += 1
                continue
            label = w.text.lower() if spec.lower else w.text
            regions.append(TextRegion(quad_from_rect(*placed), label))
            labels.append(label)
            if spec.crops:
                x, y, bw, bh = placed
                crop = image[y:y + bh, x:x + bw]
                write_image(out / split / "crops" / f"{w.word_id}.png", crop)
                samples[split].append((f"{w.word_id}.png", label))
        write_image(out / split / "img" / f"{form}.png", image)
        write_icdar_gt(out / split / "gt" / f"gt_{form}.txt", regions)
        forms_per_split[split] += 1
        words_per_split[split] += len(regions)
    missing = set(by_form) - found
    skipped["form image missing"] += sum(len(by_form[f]) for f in missing)
    if not found:
        raise DataError(spec.forms[0], "none of the forms named in words.txt was found in the forms archives")
    for split, rows in samples.items():
        write_gt_list(out / split / "crops" / "gt_list.txt", sorted(rows))
    chars = build_charset(labels)
    write_charset(out / "character_list.txt", chars)
    return {"output_dir": str(out), "forms": dict(sorted(forms_per_split.items())),
            "words": dict(sorted(words_per_split.items())),
            "skipped": {k: v for k, v in sorted(skipped.items()) if v}, "characters": len(chars),
            "missing_forms": sorted(missing)}
