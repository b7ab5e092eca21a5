"""Recognition metrics on hand-built pairs (every expected number worked out in the docstring)."""
import pytest

from ocdr.eval.recognition import RecognitionMetric, alnum_lower, edit_distance, normalized_edit_distance

PREDS = ["Hello", "w0rld", "", "ab c", "It's"]
LABELS = ["hello", "world", "x", "ab c", "its"]


def test_edit_distance():
    """kitten -> sitting: k->s, e->i, +g = 3. Works on word lists as well."""
    assert edit_distance("kitten", "sitting") == edit_distance("sitting", "kitten") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0
    assert edit_distance(["ab", "c"], ["abc"]) == 2
    assert normalized_edit_distance("", "") == 0.0 and normalized_edit_distance("ab", "a") == 0.5


def test_all_metrics_by_hand():
    """Per pair (pred | label): char edits / label length, word edits / label words, NED:
      Hello | hello   1/5  1/1  1/5 = 0.2   (H->h)
      w0rld | world   1/5  1/1  0.2         (0->o)
            | x       1/1  1/1  1/1 = 1.0   (insert x)
      ab c  | ab c    0/4  0/2  0
      It's  | its     2/3  1/1  2/4 = 0.5   (I->i, delete ')
    accuracy 1/5 (only "ab c"); case-insensitive 2/5 (+ hello); alnum case-insensitive 3/5
    (+ "its" == "its" once the apostrophe is gone); CER (1+1+1+0+2)/(5+5+1+4+3) = 5/18;
    WER (1+1+1+0+1)/(1+1+1+2+1) = 4/6; 1-NED = 1 - (0.2+0.2+1+0+0.5)/5 = 1 - 0.38 = 0.62."""
    m = RecognitionMetric()
    m.update(PREDS[:2], LABELS[:2])
    m.update(PREDS[2:], LABELS[2:])
    r = m.compute()
    assert r["num_samples"] == 5
    assert r["accuracy"] == pytest.approx(1 / 5)
    assert r["accuracy_case_insensitive"] == pytest.approx(2 / 5)
    assert r["accuracy_alnum_case_insensitive"] == pytest.approx(3 / 5)
    assert r["cer"] == pytest.approx(5 / 18)
    assert r["wer"] == pytest.approx(4 / 6)
    assert r["one_minus_ned"] == pytest.approx(0.62)


def test_mmocr_documented_example():
    """MMOCR's WordAccuracy docstring: preds 'hello' x3 vs 'hello', 'HELLO', '$HELLO$' give
    exact 1/3, ignore case 2/3, ignore case and symbols 1."""
    m = RecognitionMetric()
    m.update(["hello"] * 3, ["hello", "HELLO", "$HELLO$"])
    r = m.compute()
    assert r["accuracy"] == pytest.approx(1 / 3)
    assert r["accuracy_case_insensitive"] == pytest.approx(2 / 3)
    assert r["accuracy_alnum_case_insensitive"] == 1.0
    assert alnum_lower("Straße 7!") == "strae7"  # non-ASCII letters go too, as in MMOCR


def test_split_word_and_empty_pair():
    """pred "ab c" vs label "abc": one char edit (CER 1/3) but two word edits against one label
    word (WER 2). Two empty strings are a perfect match with 1-NED 1."""
    m = RecognitionMetric()
    m.update(["ab c"], ["abc"])
    assert (m.compute()["cer"], m.compute()["wer"]) == (pytest.approx(1 / 3), 2.0)
    m.reset()
    m.update([""], [""])
    r = m.compute()
    assert r["accuracy"] == 1.0 and r["one_minus_ned"] == 1.0 and r["cer"] == 0.0


def test_worst_orders_by_normalized_edit_distance():
    """NEDs of the five pairs: 0.2, 0.2, 1.0, 0, 0.5 -> worst three are #2 (1.0), #4 (0.5), then #0
    (0.2, tied with #1, which was added later)."""
    m = RecognitionMetric()
    m.update(PREDS, LABELS, names=[f"img{i}.png" for i in range(5)])
    worst = m.worst(3)
    assert [w["index"] for w in worst] == [2, 4, 0]
    assert worst[0] == {"index": 2, "name": "img2.png", "pred": "", "label": "x", "edit_distance": 1, "ned": 1.0}


def test_bad_input():
    m = RecognitionMetric()
    with pytest.raises(ValueError, match="no samples"):
        m.compute()
    with pytest.raises(ValueError, match="2 predictions for 1 labels"):
        m.update(["a", "b"], ["a"])
