"""The ICDAR 2015 detection protocol on hand-built cases (MMOCR's test style)."""
import numpy as np
import pytest

from ocdr.eval.detection import DetectionMetric, match_image


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def test_exact_hit():
    r = match_image([box(0, 0, 100, 10)], [False], [box(0, 0, 100, 10)])
    assert (r["precision"], r["recall"], r["hmean"]) == (1.0, 1.0, 1.0)


def test_split_detection_matches_nothing():
    """Each half has IoU 500 / 1000 = 0.5 with the word, not > 0.5: no match, P = R = 0."""
    r = match_image([box(0, 0, 100, 10)], [False], [box(0, 0, 50, 10), box(50, 0, 100, 10)])
    assert r["num_match"] == 0 and r["precision"] == 0 and r["recall"] == 0


def test_merged_detection_matches_one_word_at_most():
    """Words 0-80 and 85-100; one detection 0-100. IoU with the first 800/1000 = 0.8 (match), with the
    second 150/1000 (no). P = 1/1, R = 1/2, hmean = 2/3."""
    r = match_image([box(0, 0, 80, 10), box(85, 0, 100, 10)], [False, False], [box(0, 0, 100, 10)])
    assert r["precision"] == 1.0 and r["recall"] == 0.5 and r["hmean"] == pytest.approx(2 / 3)


def test_dont_care():
    """A detection wholly inside a ### region is dropped (no false alarm); the ### is not a miss."""
    r = match_image([box(0, 0, 100, 10), box(200, 0, 300, 10)], [False, True],
                    [box(0, 0, 100, 10), box(210, 0, 290, 10)])
    assert r["num_gt"] == 1 and r["num_det"] == 1 and r["precision"] == 1.0 and r["recall"] == 1.0
    only_ignored = match_image([box(0, 0, 10, 10)], [True], [])
    assert only_ignored["num_gt"] == 0


def test_detection_half_inside_dont_care_is_kept():
    """40% of this detection lies in the ### region (not > 50%): it stays, as a false alarm."""
    r = match_image([box(0, 0, 40, 10)], [True], [box(0, 0, 100, 10)])
    assert r["num_det"] == 1 and r["precision"] == 0.0


def test_empty_image_and_no_detections():
    assert match_image([], [], [])["num_gt"] == 0
    m = DetectionMetric()
    m.update([], [], [])
    assert m.compute() == {"precision": 0.0, "recall": 0.0, "hmean": 0.0, "num_gt": 0, "num_det": 0, "num_match": 0}
    m.update([box(0, 0, 10, 10)], [False], [])
    assert m.compute()["recall"] == 0.0 and m.compute()["precision"] == 0.0  # no detections: P = 0


def test_accumulates_over_images_and_lists_worst():
    """Image a: 2 words, 1 detection hitting one. Image b: 1 word, 2 detections, one hit.
    Totals: 2 matches / 3 detections, 2 matches / 3 words: P = R = hmean = 2/3."""
    m = DetectionMetric()
    m.update([box(0, 0, 50, 10), box(0, 20, 50, 30)], [False, False], [box(0, 0, 50, 10)], "a")
    m.update([box(0, 0, 50, 10)], [False], [box(0, 0, 50, 10), box(60, 60, 90, 70)], "b")
    out = m.compute()
    assert out["precision"] == pytest.approx(2 / 3) and out["recall"] == pytest.approx(2 / 3)
    assert out["hmean"] == pytest.approx(2 / 3)
    assert [r["image"] for r in m.worst(2)] == ["a", "b"]  # both 2/3 hmean; a has more words


def test_degenerate_polygons_never_match_nor_crash():
    line = np.array([[0, 0], [10, 0], [20, 0], [30, 0]], float)
    bowtie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float)
    r = match_image([box(0, 0, 10, 10)], [False], [line, bowtie])
    assert r["num_match"] == 0 and r["num_det"] == 2
