"""CTC greedy and prefix beam search on hand-built probability matrices.

Charset ["a", "b"]: class 0 = blank ("-"), 1 = "a", 2 = "b".
"""
import itertools
import math

import numpy as np
import pytest

from ocdr.data.charset import Charset
from ocdr.models.recognition.decode import ctc_beam_search, ctc_greedy_decode

CS = Charset(["a", "b"])


def test_greedy_blank_separates_repeats():
    """Best path a a - a collapses to "aa". Each character's probability is the step that emitted it (its
    run's first): 0.8 for the first "a" (not its run's 0.7), 0.9 for the second; the blank step's 0.6 does not
    count. confidence = (0.8 + 0.9) / 2 = 0.85."""
    probs = np.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.9, 0.0]])
    [(text, conf, char_probs)] = ctc_greedy_decode(probs, CS)
    assert text == "aa"
    assert conf == pytest.approx(0.85)
    assert char_probs == pytest.approx([0.8, 0.9])


def test_greedy_collapses_repeats_and_all_blank_is_empty():
    """a a b b a -> "aba"; a path of blanks only reads "" with confidence 0.0 (nothing was read)."""
    peak = np.eye(3) * 0.8 + 0.1  # row k: 0.9 on class k, 0.1 elsewhere
    assert ctc_greedy_decode(peak[[1, 1, 2, 2, 1]], CS)[0][0] == "aba"
    blanks = np.tile([0.9, 0.05, 0.05], (3, 1))
    assert ctc_greedy_decode(blanks, CS) == [("", 0.0, [])]


def test_greedy_batch_log_input_and_blank_last():
    """A (2, T, C) batch gives the two single results in order; log-probabilities give the same
    texts and confidences; moving the blank to the last class (with blank=2) changes nothing."""
    peak = np.eye(3) * 0.8 + 0.1
    x, y = peak[[1, 0, 2]], peak[[2, 2, 0]]
    batch = ctc_greedy_decode(np.stack([x, y]), CS)
    assert [r[0] for r in batch] == ["ab", "b"]
    assert batch[0][1] == pytest.approx(0.9)
    logged = ctc_greedy_decode(np.log(np.stack([x, y])), CS, log=True)
    assert [r[0] for r in logged] == ["ab", "b"] and logged[0][1] == pytest.approx(0.9)
    assert logged[1][2] == pytest.approx([0.9])
    blank_last = x[:, [1, 2, 0]]
    assert ctc_greedy_decode(blank_last, CS, blank=2)[0][0] == "ab"


def test_class_count_must_match_the_charset():
    with pytest.raises(ValueError, match="outputs 4 classes but the character list needs 3"):
        ctc_greedy_decode(np.full((2, 4), 0.25), CS)


def test_beam_finds_the_labelling_greedy_misses():
    """Charset ["a"]; both steps: blank 0.6, "a" 0.4. Greedy takes "--" -> "" (0.36). But "a" is
    spelt by three paths: aa, a-, -a = 0.16 + 0.24 + 0.24 = 0.64 > 0.36, so beam search says "a"
    with log-probability log 0.64."""
    cs = Charset(["a"])
    probs = np.array([[0.6, 0.4], [0.6, 0.4]])
    assert ctc_greedy_decode(probs, cs)[0][0] == ""
    text, score = ctc_beam_search(probs, cs, beam_width=5)
    assert text == "a" and score == pytest.approx(math.log(0.64))
    assert ctc_beam_search(np.log(probs), cs, beam_width=5, log=True) == ("a", pytest.approx(math.log(0.64)))


def test_beam_equals_greedy_on_a_peaked_distribution():
    peak = np.eye(3) * 0.94 + 0.02  # 0.96 on the path class
    probs = peak[[1, 1, 0, 1, 2, 2, 0]]  # a a - a b b - -> "aab"
    assert ctc_beam_search(probs, CS, beam_width=3)[0] == ctc_greedy_decode(probs, CS)[0][0] == "aab"


def test_beam_score_is_the_exact_labelling_probability():
    """T=3, C=3: sum the 27 paths by their collapsed labelling. With a beam wider than the 15
    possible prefixes nothing is pruned, so beam search must return the most probable labelling
    and exactly its probability."""
    probs = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4]])
    totals: dict[str, float] = {}
    for path in itertools.product(range(3), repeat=3):
        collapsed = [c for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1])]
        text = CS.decode_ctc_ids(collapsed)
        totals[text] = totals.get(text, 0.0) + float(np.prod([probs[t, c] for t, c in enumerate(path)]))
    best = max(totals, key=totals.get)
    text, score = ctc_beam_search(probs, CS, beam_width=20)
    assert text == best
    assert score == pytest.approx(math.log(totals[best]))
