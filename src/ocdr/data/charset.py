"""The character list: one owner for the vocabulary.

File format: UTF-8, one character per line, in index order. A line holding a single space
is the space character (spaces are ordinary characters here, unlike TAO OCRNet); empty lines
are ignored. The recognizer's blank/start/end tokens are not stored in the file.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

from ocdr.data.formats import read_gt_list, read_icdar_gt, read_text_lines
from ocdr.errors import BadRecords, DataError, OcdrError
from ocdr.fileio import atomic_open, atomic_write_text

__all__ = ["read_charset", "write_charset", "build_charset", "make_lexicon"]


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
    extra: str = field(default="", metadata={"help": "characters to add that no training label holds, each one "
                                                      "(e.g. the apostrophe of names like N'DIAYE); a pretrained "
                                                      "recognizer keeps its own row for each"})


def _labels_of(path: Path, bad) -> list[str]:

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

    if not spec.inputs:
        raise OcdrError("charset: give at least one input, e.g. 'inputs=[data/train/crops/gt_list.txt]'")
    bad = BadRecords(skip=spec.skip_bad)
    labels = [lab for p in spec.inputs for lab in _labels_of(Path(p), bad)]
    found = build_charset(labels, lower=spec.lower)
    if not found:
        raise OcdrError(f"charset: no labels found in {', '.join(spec.inputs)}")
    added = sorted(set(build_charset([spec.extra], lower=spec.lower)) - set(found))
    chars = sorted(found + added)  # both are free of duplicates, and of each other's characters
    write_charset(spec.output, chars)
    return {"output": spec.output, "characters": len(chars), "labels": len(labels),
            "has_space": " " in chars, "added": "".join(added), "skipped": bad.summary()}


# --- ``ocdr data lexicon`` -------------------------------------------------------------------
@dataclass
class LexiconFileSpec:
    inputs: list[str] = field(default_factory=list, metadata={"help": "gt lists (path<TAB>label) and/or ICDAR gt folders or files"})
    output: str = field(default="lexicon.txt", metadata={"help": "word list to write, one per line"})
    min_count: int = field(default=1, metadata={"help": "keep words seen at least this often"})
    skip_bad: bool = field(default=False, metadata={"help": "skip malformed lines (counted) instead of failing"})


def make_lexicon(spec: LexiconFileSpec) -> dict:
    """The distinct labels of the inputs, most frequent first, for lexicon decoding (``lexicon.file``)."""
    if not spec.inputs:
        raise OcdrError("lexicon: give at least one input, e.g. 'inputs=[data/names/train/gt_list.txt]'")
    if spec.min_count < 1:
        raise OcdrError(f"lexicon: min_count must be at least 1, got {spec.min_count}")
    bad = BadRecords(skip=spec.skip_bad)
    labels = [lab.strip() for p in spec.inputs for lab in _labels_of(Path(p), bad)]
    counts = Counter(lab for lab in labels if lab)
    words = sorted((w for w, n in counts.items() if n >= spec.min_count), key=lambda w: (-counts[w], w))
    if not words:
        raise OcdrError(f"lexicon: no word seen {spec.min_count} times or more in {', '.join(spec.inputs)}")
    atomic_write_text(spec.output, "".join(w + "\n" for w in words))
    return {"output": spec.output, "words": len(words), "labels": len(labels), "skipped": bad.summary()}


# --- the recognizer's vocabulary -------------------------------------------------------------
import logging  # noqa: E402
from typing import Sequence  # noqa: E402

from ocdr.errors import ConfigError  # noqa: E402

__all__ += ["Charset", "UnknownCharacterError", "remap_rows", "UNK_CHAR"]

_log = logging.getLogger("ocdr.data")

#: What the ``<unk>`` token decodes to. One character (U+FFFD, the Unicode replacement character)
#: rather than the string "<unk>", so that a decoded text has exactly one character per token:
#: per-character probabilities line up with the text and edit distances count an unknown as one
#: error, not five.
UNK_CHAR = "\ufffd"
_POLICIES = ("drop", "unk", "error")


class UnknownCharacterError(ValueError):
    """A label holds a character outside the list (policy ``drop``): the caller drops the sample."""

    def __init__(self, char: str, text: str):
        self.char, self.text = char, text
        super().__init__(f"character {char!r} (U+{ord(char):04X}) of {text!r} is not in the character list")


class Charset:
    """The character list and both index layouts the recognizers use.

    CTC: 0 = blank, characters 1..N in list order, then ``<unk>`` (N+1) under the ``unk`` policy.
    Attention: 0 = ``[GO]``, 1 = ``[EOS]``, characters 2..N+1, then ``<unk>``; an attention id is
    the CTC id plus one. The special tokens never appear in the character file.

    ``unknown`` says what a label character outside the list does: ``drop`` raises
    :class:`UnknownCharacterError` (a ``ValueError``; datasets count and skip the sample), ``unk``
    maps it to the ``<unk>`` token (decoded as :data:`UNK_CHAR`), ``error`` raises
    :class:`ocdr.errors.DataError` and stops. ``case_fold`` lower-cases labels before encoding,
    but only when the list has no upper-case letter: a list that holds upper case can spell
    the label as it is, so folding would only lose information.
    """

    BLANK = 0
    GO = 0
    EOS = 1

    def __init__(self, chars: Sequence[str], case_fold: bool = False, unknown: str = "drop"):
        chars = list(chars)
        if unknown not in _POLICIES:
            raise ConfigError(f"unknown-character policy must be one of {', '.join(_POLICIES)}, got {unknown!r}")
        if not chars:
            raise ValueError("character list is empty")
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"not a single character: {c!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("character list has duplicates")
        if unknown == "unk" and UNK_CHAR in chars:
            raise ValueError(f"{UNK_CHAR!r} is in the list but is also what <unk> decodes to")
        self.chars = chars
        self.case_fold = case_fold
        self.unknown = unknown
        self.folds = case_fold and not any(c.isupper() for c in chars)
        if case_fold and not self.folds:
            _log.warning("case_fold ignored: the character list has upper-case letters")
        self._index = {c: i + 1 for i, c in enumerate(chars)}  # CTC ids
        self._ctc_to_char = ["", *chars] + ([UNK_CHAR] if unknown == "unk" else [])

    @classmethod
    def from_file(cls, path: str | Path, **kw) -> "Charset":
        return cls(read_charset(path), **kw)

    def to_list(self) -> list[str]:
        """The characters as the character file holds them (no special tokens)."""
        return list(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Charset):
            return NotImplemented
        return (self.chars, self.case_fold, self.unknown) == (other.chars, other.case_fold, other.unknown)

    def __hash__(self) -> int:
        return hash((tuple(self.chars), self.case_fold, self.unknown))

    def __repr__(self) -> str:
        return f"Charset({len(self.chars)} chars, case_fold={self.case_fold}, unknown={self.unknown!r})"

    @property
    def unk_index(self) -> int | None:
        """CTC id of ``<unk>``, or None when the policy does not use it."""
        return len(self.chars) + 1 if self.unknown == "unk" else None

    @property
    def num_classes_ctc(self) -> int:
        return len(self._ctc_to_char)

    @property
    def num_classes_attn(self) -> int:
        return len(self._ctc_to_char) + 1

    def encode_ctc(self, text: str) -> list[int]:
        if self.folds:
            text = text.lower()  # lower(), not casefold(): "ß" stays "ß" instead of becoming "ss"
        ids = []
        for c in text:
            i = self._index.get(c)
            if i is None:
                i = self._unknown(c, text)
            ids.append(i)
        return ids

    def _unknown(self, char: str, text: str) -> int:
        if self.unknown == "unk":
            return self.unk_index
        if self.unknown == "drop":
            raise UnknownCharacterError(char, text)
        raise DataError(None, f"character {char!r} (U+{ord(char):04X}) of label {text!r} is not in the character list")

    def decode_ctc_ids(self, ids: Iterable[int]) -> str:
        """Characters of CTC ids, blanks skipped, repeats kept (collapsing is the decoder's job)."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._ctc_to_char):
                raise ValueError(f"CTC id {i} outside 0..{len(self._ctc_to_char) - 1}")
            out.append(self._ctc_to_char[i])
        return "".join(out)

    def encode_attn(self, text: str, max_len: int) -> tuple[list[int], int]:
        """Decoder targets for ``text``: character ids, ``[EOS]``, then ``[EOS]`` padding.

        The list has ``max_len + 1`` entries (room for the ``[EOS]`` after a ``max_len``-character
        label); ``length`` counts the characters plus that ``[EOS]``, as in clovaai's
        ``AttnLabelConverter``. ``[GO]`` is not included: it is the decoder's first input.
        """
        ids = [i + 1 for i in self.encode_ctc(text)]
        if len(ids) > max_len:
            raise ValueError(f"label {text!r} has {len(ids)} characters, more than max_len={max_len}")
        length = len(ids) + 1
        return ids + [self.EOS] * (max_len + 1 - len(ids)), length

    def decode_attn(self, ids: Iterable[int]) -> str:
        """Characters up to the first ``[EOS]``; a stray ``[GO]`` is not a character and is skipped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.EOS:
                break
            if i == self.GO:
                continue
            if not 2 <= i < self.num_classes_attn:
                raise ValueError(f"attention id {i} outside 0..{self.num_classes_attn - 1}")
            out.append(self._ctc_to_char[i - 1])
        return "".join(out)


def remap_rows(old: Charset, new: Charset) -> list[tuple[int, int]]:
    """(old CTC id, new CTC id) of every class both layouts share: the blank, each common character
    and ``<unk>`` when both use it. Fine-tuning copies these rows of the old classifier into the
    new one and leaves the others freshly initialised. (Attention ids are CTC ids plus one.)"""
    pairs = [(Charset.BLANK, Charset.BLANK)]
    pairs += [(old._index[c], new._index[c]) for c in old.chars if c in new._index]
    if old.unk_index is not None and new.unk_index is not None:
        pairs.append((old.unk_index, new.unk_index))
    return pairs
