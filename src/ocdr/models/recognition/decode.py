"""CTC decoding in numpy: greedy (best path) and prefix beam search.

Both take the network's per-step class probabilities (softmax outputs, or log-probabilities with
``log=True``) laid out as :class:`ocdr.data.charset.Charset` defines: class 0 is the blank and
class k is CTC id k. A model whose blank is another class (e.g. the last) passes ``blank=``; the
characters are then the remaining classes in order.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ocdr.data.charset import Charset

__all__ = ["ctc_greedy_decode", "ctc_beam_search", "ctc_decode_steps", "read_confidence"]


def _check_classes(probs: np.ndarray, charset: Charset) -> None:
    if probs.shape[-1] != charset.num_classes_ctc:
        raise ValueError(f"the model outputs {probs.shape[-1]} classes but the character list needs "
                         f"{charset.num_classes_ctc} (blank + {len(charset)} characters"
                         f"{' + <unk>' if charset.unk_index is not None else ''})")


def read_confidence(char_probs) -> float:
    """The confidence of a read: the arithmetic mean of its characters' probabilities; 0.0 for an empty read.

    Every recognizer output in ocdr is scored here (CTC greedy decoding, the ONNX Runtime and PyTorch
    predictors, hence the pipeline, the service and Triton, ``ocdr ocrnet inference``; the attention head too),
    so one ``min_confidence`` threshold means the same thing everywhere. Only the emitted characters count:
    blank steps and the padded columns of a wide input do not, so a sure read scores near 1 whatever its length
    or the input width. The mean (PaddleOCR's choice) rather than the product or geometric mean keeps one
    doubtful character from sinking a long line. An empty read scores 0.0 — nothing was read with any
    confidence — so that ``min_confidence`` drops it.
    """
    return float(np.mean(char_probs)) if len(char_probs) else 0.0


def _charset_ids(classes: list[int], blank: int) -> list[int]:
    """Class indices (blank already removed) -> the charset's CTC ids (blank at 0)."""
    return [c + 1 if c < blank else c for c in classes]


def ctc_greedy_decode(probs: np.ndarray, charset: Charset, blank: int = 0,
                      log: bool = False) -> list[tuple[str, float, list[float]]]:
    """Best-path decoding of ``(T, C)`` or ``(B, T, C)`` scores: one result per sample.

    Each result is ``(text, confidence, char_probs)``. The path takes the most probable class at
    every step; repeats collapse and blanks go, so "a a - a" reads "aa".

    ``char_probs`` has one entry per output character: the maximum probability at the step that
    emitted it (the first step of its run; PaddleOCR's choice). ``confidence`` is
    :func:`read_confidence` of them: their mean, 0.0 when nothing is read. (TAO OCRNet scores the
    product over all T steps instead, blanks included: that shrinks with the input width, so a
    correctly read line can score 0.01.)
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim not in (2, 3):
        raise ValueError(f"expected (T, C) or (B, T, C) scores, got shape {probs.shape}")
    _check_classes(probs, charset)
    batch = probs if probs.ndim == 3 else probs[None]
    best = batch.argmax(axis=-1)
    top = batch.max(axis=-1)
    if log:
        top = np.exp(top)
    return [_collapse(path, step_probs, charset, blank) for path, step_probs in zip(best, top)]


def _collapse(path: np.ndarray, step_probs: np.ndarray, charset: Charset,
              blank: int) -> tuple[str, float, list[float]]:
    """The one CTC collapse: repeats merge, blanks go; each character keeps the probability of the step that
    emitted it (its run's first). Returns ``(text, read_confidence, char_probs)``."""
    classes: list[int] = []
    char_probs: list[float] = []
    prev = None
    for c, p in zip(path.tolist(), step_probs.tolist()):
        if c == prev:
            continue
        prev = c
        if c != blank:
            classes.append(c)
            char_probs.append(p)
    return charset.decode_ctc_ids(_charset_ids(classes, blank)), read_confidence(char_probs), char_probs


def ctc_beam_search(probs: np.ndarray, charset: Charset, beam_width: int = 10, blank: int = 0,
                    log: bool = False) -> tuple[str, float]:
    """CTC prefix beam search over ``(T, C)`` scores: ``(text, log-probability)``.

    Unlike the greedy path, this sums over every alignment of a labelling: each prefix keeps
    the log-probability of its alignments ending in a blank and of those ending in its last
    character, because a repeated character only starts a new letter after a blank ("a-a" is
    "aa", "aa" is "a"). The score is the natural log of the labelling's probability, summed over
    the alignments that stayed in the beam (exact when the beam never had to prune).

    At each step only the ``beam_width`` most probable classes (plus each prefix's last
    character) are tried as extensions, which keeps the search cheap for large vocabularies.
    """
    logp = np.asarray(probs, dtype=np.float64)
    if logp.ndim != 2:
        raise ValueError(f"expected (T, C) scores, got shape {logp.shape}")
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    _check_classes(logp, charset)
    if not log:
        with np.errstate(divide="ignore"):
            logp = np.log(logp)
    neg_inf = -np.inf
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, neg_inf)}  # prefix -> (blank, non-blank)
    num_try = min(beam_width, logp.shape[1])
    for step in logp:
        candidates = [int(c) for c in np.argpartition(-step, num_try - 1)[:num_try] if c != blank]
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [neg_inf, neg_inf])
        for prefix, (p_b, p_nb) in beams.items():
            total = np.logaddexp(p_b, p_nb)
            entry = nxt[prefix]
            entry[0] = np.logaddexp(entry[0], total + step[blank])
            last = prefix[-1] if prefix else None
            for c in set(candidates) | ({last} if last is not None else set()):
                if c == last:
                    entry[1] = np.logaddexp(entry[1], p_nb + step[c])  # "a" + "a" stays "a"
                    extended = nxt[prefix + (c,)]
                    extended[1] = np.logaddexp(extended[1], p_b + step[c])  # "a-" + "a" is "aa"
                else:
                    extended = nxt[prefix + (c,)]
                    extended[1] = np.logaddexp(extended[1], total + step[c])
        ranked = sorted(nxt.items(), key=lambda kv: (-np.logaddexp(*kv[1]), kv[0]))
        beams = {prefix: (b, nb) for prefix, (b, nb) in ranked[:beam_width]}
    prefix, (p_b, p_nb) = next(iter(beams.items()))  # ranked best first
    return charset.decode_ctc_ids(_charset_ids(list(prefix), blank)), float(np.logaddexp(p_b, p_nb))


def ctc_decode_steps(ids: np.ndarray, probs: np.ndarray, charset: Charset) -> list[tuple[str, float]]:
    """Best-path ``(text, confidence)`` from per-step argmax ``ids`` (B, T) and their probabilities (B, T), the
    form an exported model returns (``output_id``, ``output_prob``): the same collapse and the same
    :func:`read_confidence` as :func:`ctc_greedy_decode`, whose results these equal."""
    ids = np.asarray(ids)
    probs = np.asarray(probs, np.float64)
    if ids.ndim != 2 or ids.shape != probs.shape:
        raise ValueError(f"expected ids and probs of the same (B, T) shape, got {ids.shape} and {probs.shape}")
    out = []
    for path, step_probs in zip(ids, probs):
        text, confidence, _ = _collapse(path, step_probs, charset, blank=0)
        out.append((text, confidence))
    return out
