"""Lexicon decoding: the CTC likelihood against hand-computed cases and PyTorch's CTC loss, the word list,
and the rule that turns a reading into a word only when the network finds the word about as likely."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ocdr.data.charset import Charset
from ocdr.errors import ConfigError, DataError
from ocdr.models.recognition.lexicon import Lexicon, ctc_log_likelihood, edit_distance, lexicon_decode

ABC = Charset(list("abc"))  # CTC ids: blank 0, a 1, b 2, c 3


def test_ctc_likelihood_sums_every_alignment_by_hand():
    p = np.array([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])  # (T=3, blank + "a")
    logp = np.log(p)
    # "a" in 2 steps: a a, a -, - a
    assert np.isclose(np.exp(ctc_log_likelihood(logp[:2], [1])), 0.4 * 0.7 + 0.4 * 0.3 + 0.6 * 0.7)
    # "aa" needs a blank between the two: impossible in 2 steps, one path (a - a) in 3
    assert ctc_log_likelihood(logp[:2], [1, 1]) == -np.inf
    assert np.isclose(np.exp(ctc_log_likelihood(logp, [1, 1])), 0.4 * 0.3 * 0.5)
    assert np.isclose(np.exp(ctc_log_likelihood(logp, [])), 0.6 * 0.3 * 0.5)  # all blanks


def test_ctc_likelihood_matches_pytorch_ctc_loss():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.standard_normal((12, 5)))
    logp = F.log_softmax(logits, -1)
    for label in ([1, 2, 3], [2, 2], [4, 1, 4, 1], [3]):
        ref = -F.ctc_loss(logp[:, None], torch.tensor([label]), torch.tensor([12]), torch.tensor([len(label)]),
                          blank=0, reduction="sum")
        assert np.isclose(ctc_log_likelihood(logp.numpy(), label), ref.item(), atol=1e-9)


def test_edit_distance_and_its_limit():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0
    assert edit_distance("kitten", "sitting", limit=1) == 2  # "more than the limit"
    assert edit_distance("a", "abcd", limit=2) == 3


def test_lexicon_leaves_out_words_it_cannot_spell_and_finds_near_words(tmp_path):
    lex = Lexicon(["ab", "abc", "ab", "", "xyz", "cab "], ABC)
    assert lex.words == ["ab", "abc", "cab"] and lex.skipped == 1 and "ab" in lex and "xyz" not in lex
    assert sorted(lex.near("ac", 1)) == ["ab", "abc"] and lex.near("ccccc", 1) == []
    with pytest.raises(ConfigError, match="no word the recognizer's character list can spell"):
        Lexicon(["xyz"], ABC)
    with pytest.raises(DataError, match="nope.txt.*lexicon file not found"):
        Lexicon.from_file(tmp_path / "nope.txt", ABC)
    (tmp_path / "words.txt").write_text("\ufeffabc\n\nba\n", encoding="utf-8")  # a byte-order mark is not a letter
    assert Lexicon.from_file(tmp_path / "words.txt", ABC).words == ["abc", "ba"]


def test_lexicon_spells_words_as_the_recognizer_reads_them():
    folding = Charset(list("abc"), case_fold=True)  # reads lower case
    lex = Lexicon(["ABC", "Cab"], folding)
    assert lex.words == ["abc", "cab"] and "abc" in lex
    # under the unk policy a word with an unknown character is still one the recognizer cannot emit
    unk = Lexicon(["abz", "ab"], Charset(list("abc"), unknown="unk"))
    assert unk.words == ["ab"] and unk.skipped == 1


def _steps(*rows) -> np.ndarray:
    """(T, 4) probabilities over blank, a, b, c."""
    return np.array(rows, np.float64)


def test_a_reading_becomes_a_near_word_only_when_the_network_finds_it_about_as_likely():
    # step 2 hesitates between b (0.55) and c (0.45): greedy reads "ab", "ac" is nearly as likely
    probs = _steps([0.02, 0.96, 0.01, 0.01], [0.02, 0.01, 0.55, 0.42], [0.97, 0.01, 0.01, 0.01])
    lex = Lexicon(["ac"], ABC)
    assert lexicon_decode(probs, "ab", 0.75, lex, ABC, bonus=0.0) == ("ab", 0.75)  # no prior: the reading wins
    # the word replaces the reading, which keeps its confidence (min_confidence treats the crop as before)
    assert lexicon_decode(probs, "ab", 0.75, lex, ABC, bonus=2.0) == ("ac", 0.75)
    # a confident reading stays, whatever the list holds
    sure = _steps([0.02, 0.96, 0.01, 0.01], [0.01, 0.01, 0.97, 0.01], [0.97, 0.01, 0.01, 0.01])
    assert lexicon_decode(sure, "ab", 0.97, lex, ABC, bonus=2.0)[0] == "ab"
    # a reading in the list, or with no list word within max_edits, is kept as it is
    assert lexicon_decode(probs, "ab", 0.75, Lexicon(["ab", "ac"], ABC), ABC, bonus=9.0) == ("ab", 0.75)
    assert lexicon_decode(probs, "ab", 0.75, Lexicon(["cccc"], ABC), ABC, max_edits=2, bonus=9.0) == ("ab", 0.75)
    assert lexicon_decode(probs, "", 0.0, lex, ABC, bonus=9.0) == ("", 0.0)
