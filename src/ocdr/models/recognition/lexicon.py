"""Lexicon decoding for CTC recognizers: a reading close to a word of a known list becomes that word when the
network finds the word about as likely as its own reading.

Fields with a closed vocabulary (first names, part numbers of a catalogue, the words of a form's labels)
are read better with their list than without: a handwritten "PAULINE" read "MAULINE" is one letter from
the list's "PAULINE", and the network gives that spelling almost the same probability. The rule, per crop:

1. the greedy reading is kept when it is in the lexicon, or when no lexicon word is within ``max_edits``
   (Levenshtein) of it: words outside the list are still read (an open vocabulary);
2. otherwise each lexicon word within ``max_edits`` is scored by its CTC log-likelihood (every alignment
   summed, :func:`ctc_log_likelihood`), and so is the greedy reading;
3. the best word replaces the reading when its log-likelihood plus ``bonus`` is at least the reading's:
   ``bonus`` is the log prior odds of a list word, 0 for none, larger to trust the list more.

Everything here is numpy, on the ``(T, C)`` class probabilities of one crop (blank at index 0).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from ocdr.data.charset import Charset
from ocdr.data.formats import read_text_lines
from ocdr.errors import ConfigError, DataError

__all__ = ["Lexicon", "ctc_log_likelihood", "edit_distance", "lexicon_decode"]


def ctc_log_likelihood(logp: np.ndarray, label: list[int], blank: int = 0) -> float:
    """Natural log of p(label | x) under CTC: the forward algorithm over ``(T, C)`` log-probabilities,
    summed over every alignment. ``-inf`` when the label cannot fit in T steps."""
    T = logp.shape[0]
    ext = [blank]
    for c in label:
        ext += [c, blank]
    S = len(ext)
    ext_arr = np.array(ext)
    # a step may skip the blank between two different characters, never between repeats
    skip = np.zeros(S, bool)
    skip[2:] = (ext_arr[2:] != blank) & (ext_arr[2:] != ext_arr[:-2])
    alpha = np.full(S, -np.inf)
    alpha[0] = logp[0, blank]
    if S > 1:
        alpha[1] = logp[0, ext[1]]
    for t in range(1, T):
        step = np.concatenate([[-np.inf], alpha[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], alpha])[:S], -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, step), jump) + logp[t, ext_arr]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if S > 1 else alpha[-1])


def edit_distance(a: Sequence, b: Sequence, limit: int | None = None) -> int:
    """Levenshtein distance between two strings (or two lists of words; the recognition metrics use it too);
    with ``limit``, any value above it may be returned as ``limit + 1``."""
    if limit is not None and abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


class Lexicon:
    """A word list, indexed by length; words the character list cannot spell (a character outside it, under
    any unknown-character policy) are left out and counted in ``skipped``, as the recognizer could never
    emit them. Under a case-folding character list the words are lower-cased, as the recognizer reads."""

    def __init__(self, words, charset: Charset, source: str = "<list>"):
        self.source = source
        self.skipped = 0
        self.ids: dict[str, list[int]] = {}
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for word in dict.fromkeys(w.strip().lower() if charset.folds else w.strip() for w in words):
            if not word:
                continue
            try:
                ids = charset.encode_ctc(word)
            except (ValueError, DataError):  # a character outside the list, policy drop or error
                ids = None
            if ids is None or charset.unk_index in ids:  # ... or unk
                self.skipped += 1
                continue
            self.ids[word] = ids
            self._by_length[len(word)].append(word)
        if not self.ids:
            raise ConfigError(f"{source}: the lexicon has no word the recognizer's character list can spell "
                              f"({self.skipped} skipped)")

    @classmethod
    def from_file(cls, path: str | Path, charset: Charset) -> "Lexicon":
        """One word per line (UTF-8); blank lines ignored."""
        if not Path(path).is_file():
            raise DataError(path, "lexicon file not found")
        return cls(read_text_lines(path), charset, str(path))  # UTF-8, a byte-order mark allowed

    @property
    def words(self) -> list[str]:
        """The words kept, in list order."""
        return list(self.ids)

    def __contains__(self, word: str) -> bool:
        return word in self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def near(self, text: str, max_edits: int) -> list[str]:
        """The words within ``max_edits`` of ``text``."""
        out = []
        for n in range(max(1, len(text) - max_edits), len(text) + max_edits + 1):
            out += [w for w in self._by_length.get(n, ()) if edit_distance(text, w, max_edits) <= max_edits]
        return out


def lexicon_decode(probs: np.ndarray, text: str, confidence: float, lexicon: Lexicon, charset: Charset,
                   max_edits: int = 2, bonus: float = 0.0) -> tuple[str, float]:
    """``(text, confidence)`` of one crop after the lexicon (module docstring); ``probs``: its ``(T, C)``
    class probabilities, ``text``/``confidence``: its greedy reading. A replaced reading keeps the reading's
    confidence, so ``min_confidence`` keeps or drops the crop as it would without the lexicon."""
    if not text or text in lexicon:
        return text, confidence
    words = lexicon.near(text, max_edits)
    if not words:
        return text, confidence
    with np.errstate(divide="ignore"):
        logp = np.log(np.asarray(probs, np.float64))
    try:
        own = ctc_log_likelihood(logp, charset.encode_ctc(text))
    except (ValueError, DataError):  # an <unk> in the reading: nothing to compare it with
        own = -np.inf
    scored = [(ctc_log_likelihood(logp, lexicon.ids[w]), w) for w in words]
    best_ll, best = max(scored)
    return (best if best_ll + bonus >= own and np.isfinite(best_ll) else text), confidence
