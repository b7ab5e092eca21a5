"""Recognition metrics: word accuracies (TAO's exact match and MMOCR's relaxed ones), CER, WER, 1-NED.

Edit distances are plain Levenshtein (insert, delete, substitute, each cost 1) in pure Python
(:func:`ocdr.models.recognition.lexicon.edit_distance`, which lexicon decoding uses too); labels are
short, so the quadratic table costs nothing next to the network.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ocdr.models.recognition.lexicon import edit_distance

__all__ = ["edit_distance", "normalized_edit_distance", "alnum_lower", "RecognitionMetric"]

# MMOCR's WordMetric (mode 'ignore_case_symbol') lower-cases, then deletes every character that
# its pattern '[^A-Z^a-z^0-9^\u4e00-\u9fa5]' does not keep: ASCII letters and digits and CJK
# ideographs U+4E00-U+9FA5. (Its pattern also keeps a literal '^', an artefact of writing
# '^' between ranges; we do not copy that.) Accented letters are removed, so this accuracy is
# meant for the English benchmarks.
_NOT_ALNUM = re.compile("[^0-9a-z\u4e00-\u9fa5]")


def normalized_edit_distance(pred: str, label: str) -> float:
    """distance / max(len(pred), len(label)), in [0, 1]; 0 for two empty strings."""
    longest = max(len(pred), len(label))
    return edit_distance(pred, label) / longest if longest else 0.0


def alnum_lower(text: str) -> str:
    """MMOCR's 'ignore_case_symbol' normalisation: lower-case, keep [0-9a-z] (and CJK)."""
    return _NOT_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class _Sample:
    pred: str
    label: str
    name: str | None
    char_edits: int
    word_edits: int
    label_words: int
    ned: float


class RecognitionMetric:
    """Accumulates (prediction, label) pairs; ``compute()`` scores all of them.

    * ``accuracy``: exact string match (TAO OCRNet's accuracy);
    * ``accuracy_case_insensitive``: match after lower-casing both;
    * ``accuracy_alnum_case_insensitive``: match after :func:`alnum_lower` (MMOCR's default,
      ``word_acc_ignore_case_symbol``);
    * ``cer``: total character edits / total label characters (a corpus ratio, so long labels
      weigh more; it can exceed 1 when predictions are longer than labels);
    * ``wer``: the same over whitespace-separated words;
    * ``one_minus_ned``: mean over samples of 1 - normalized edit distance (ICDAR 2019's
      score; two empty strings count as a perfect 1).
    """

    def __init__(self) -> None:
        self.samples: list[_Sample] = []

    def reset(self) -> None:
        self.samples.clear()

    def update(self, preds: Sequence[str], labels: Sequence[str], names: Sequence[str] | None = None) -> None:
        """Add a batch; ``names`` (e.g. image paths) only label the samples in :meth:`worst`."""
        if len(preds) != len(labels) or (names is not None and len(names) != len(labels)):
            raise ValueError(f"{len(preds)} predictions for {len(labels)} labels"
                             + ("" if names is None else f" and {len(names)} names"))
        for k, (pred, label) in enumerate(zip(preds, labels)):
            label_words = label.split()
            self.samples.append(_Sample(
                pred=pred, label=label, name=None if names is None else names[k],
                char_edits=edit_distance(pred, label), word_edits=edit_distance(pred.split(), label_words),
                label_words=len(label_words), ned=normalized_edit_distance(pred, label)))

    def counts(self) -> dict[str, float]:
        """Sums that add up across batches and processes (DDP): ``from_counts`` turns them into metrics."""
        s = self.samples
        return {
            "num_samples": float(len(s)),
            "exact": float(sum(x.pred == x.label for x in s)),
            "case_insensitive": float(sum(x.pred.lower() == x.label.lower() for x in s)),
            "alnum_case_insensitive": float(sum(alnum_lower(x.pred) == alnum_lower(x.label) for x in s)),
            "char_edits": float(sum(x.char_edits for x in s)), "label_chars": float(sum(len(x.label) for x in s)),
            "word_edits": float(sum(x.word_edits for x in s)), "label_words": float(sum(x.label_words for x in s)),
            "ned_sum": float(sum(x.ned for x in s)),
        }

    @staticmethod
    def from_counts(c: dict[str, float]) -> dict:
        n = c["num_samples"]
        if n == 0:
            raise ValueError("no samples to score: call update() first")
        # An all-empty label set would divide by zero; count each inserted character/word as an error.
        return {
            "num_samples": int(n),
            "accuracy": c["exact"] / n,
            "accuracy_case_insensitive": c["case_insensitive"] / n,
            "accuracy_alnum_case_insensitive": c["alnum_case_insensitive"] / n,
            "cer": c["char_edits"] / max(c["label_chars"], 1),
            "wer": c["word_edits"] / max(c["label_words"], 1),
            "one_minus_ned": 1.0 - c["ned_sum"] / n,
        }

    def compute(self) -> dict:
        return self.from_counts(self.counts())

    def worst(self, k: int) -> list[dict]:
        """The ``k`` samples with the highest normalized edit distance, worst first (ties keep
        the order in which samples were added)."""
        order = sorted(range(len(self.samples)), key=lambda i: -self.samples[i].ned)[:k]
        return [{"index": i, "name": self.samples[i].name, "pred": self.samples[i].pred,
                 "label": self.samples[i].label, "edit_distance": self.samples[i].char_edits,
                 "ned": self.samples[i].ned} for i in order]
