"""End-to-end matching on hand-built boxes and texts (no torch)."""
import numpy as np
import pytest

from ocdr.eval.end_to_end import EndToEndMetric


def box(x, y, w=40, h=10):
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)


def test_counts_detection_and_reading_separately():
    m = EndToEndMetric()
    gt = [box(0, 0), box(0, 20), box(0, 40), box(100, 100)]
    texts = ["Hello", "world", "again", "###"]
    ignore = [False, False, False, True]
    # word 1 found and read right, word 2 found but read in the wrong case, word 3 missed,
    # one false box elsewhere, one box inside the don't-care region (dropped, not counted)
    dets = [box(1, 0), box(0, 21), box(200, 200), box(101, 100)]
    reads = ["Hello", "World", "noise", "x"]
    row = m.update(gt, texts, ignore, dets, reads, image_id="a")
    assert row["num_gt"] == 3 and row["num_det"] == 3 and row["num_match"] == 2 and row["num_correct"] == 1
    assert row["errors"] == [{"truth": "world", "read": "World"}]
    r = m.compute()
    # end to end: 1 correct of 3 predictions and of 3 truths
    assert r["e2e_precision"] == pytest.approx(1 / 3) and r["e2e_recall"] == pytest.approx(1 / 3)
    # detection: 2 of 3 each way; reading: 1 of 2 matched exact, 2 of 2 ignoring case
    assert r["det_hmean"] == pytest.approx(2 / 3)
    assert r["word_accuracy_on_matched"] == 0.5 and r["word_accuracy_on_matched_case_insensitive"] == 1.0


def test_accumulates_over_images_and_ranks_the_worst():
    m = EndToEndMetric()
    m.update([box(0, 0)], ["a"], [False], [box(0, 0)], ["a"], image_id="good")
    m.update([box(0, 0), box(0, 30)], ["b", "c"], [False, False], [], [], image_id="bad")
    r = m.compute()
    assert (r["num_gt"], r["num_det"], r["num_correct"]) == (3, 1, 1)
    assert r["e2e_precision"] == 1.0 and r["e2e_recall"] == pytest.approx(1 / 3) and r["e2e_hmean"] == pytest.approx(0.5)
    assert m.worst(1)[0]["image"] == "bad"


def test_empty_and_mismatched_inputs():
    m = EndToEndMetric()
    m.update([], [], [], [], [])
    assert m.compute()["e2e_hmean"] == 0.0
    with pytest.raises(ValueError, match="each polygon needs its text"):
        m.update([box(0, 0)], [], [False], [], [])
