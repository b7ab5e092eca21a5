"""The ICDAR 2015 detection protocol on hand-built cases (MMOCR's test style).

Boxes are axis-aligned and 10 px high unless said otherwise, so areas are 10 x width.
"""
import numpy as np
import pytest

from ocdr.eval.detection import DetectionMetric, image_rates, match_image


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def test_exact_hit():
    r = match_image([box(0, 0, 100, 10)], [False], [box(0, 0, 100, 10)])
    assert (r["precision"], r["recall"], r["hmean"]) == (1.0, 1.0, 1.0)
    assert r["pairs"] == [(0, 0)]


def test_iou_of_exactly_half_does_not_match():
    """Word 0-100 (area 1000). Detection 0-50: IoU 500 / 1000 = 0.5, not > 0.5. Detection 0-51:
    IoU 510 / 1000 = 0.51 > 0.5, a match."""
    assert match_image([box(0, 0, 100, 10)], [False], [box(0, 0, 50, 10)])["num_match"] == 0
    assert match_image([box(0, 0, 100, 10)], [False], [box(0, 0, 51, 10)])["num_match"] == 1


def test_split_detection_matches_nothing():
    """The word split into two half-width detections: each IoU = 500 / 1000 = 0.5, no match.
    P = 0 / 2, R = 0 / 1."""
    r = match_image([box(0, 0, 100, 10)], [False], [box(0, 0, 50, 10), box(50, 0, 100, 10)])
    assert (r["num_gt"], r["num_det"], r["num_match"]) == (1, 2, 0)
    assert r["precision"] == 0 and r["recall"] == 0 and r["hmean"] == 0


def test_merged_detection_matches_one_word_at_most():
    """Words 0-80 and 85-100; one detection 0-100. IoU with the first 800 / 1000 = 0.8 (match), with
    the second 150 / 1000 = 0.15 (no). P = 1/1, R = 1/2, hmean = 2 * 0.5 / 1.5 = 2/3."""
    r = match_image([box(0, 0, 80, 10), box(85, 0, 100, 10)], [False, False], [box(0, 0, 100, 10)])
    assert r["pairs"] == [(0, 0)]
    assert r["precision"] == 1.0 and r["recall"] == 0.5 and r["hmean"] == pytest.approx(2 / 3)


def test_greedy_matching_in_given_order():
    """As the official script: the first detection over the threshold wins, not the best one.
    Word 0-100; detection 0 is 0-60 (IoU 0.6), detection 1 is 0-95 (IoU 0.95). The word takes
    detection 0; detection 1 is left a false alarm: P = 1/2, R = 1."""
    r = match_image([box(0, 0, 100, 10)], [False], [box(0, 0, 60, 10), box(0, 0, 95, 10)])
    assert r["pairs"] == [(0, 0)] and r["precision"] == 0.5 and r["recall"] == 1.0


def test_dont_care():
    """A detection wholly inside a ### region is dropped (no false alarm); the ### is not a miss.
    Care: 1 word, 1 detection, hitting it: P = R = 1."""
    r = match_image([box(0, 0, 100, 10), box(200, 0, 300, 10)], [False, True],
                    [box(0, 0, 100, 10), box(210, 0, 290, 10)])
    assert r["num_gt"] == 1 and r["num_det"] == 1 and r["det_ignored"] == [1]
    assert r["precision"] == 1.0 and r["recall"] == 1.0
    only_ignored = match_image([box(0, 0, 10, 10)], [True], [box(0, 0, 10, 10)])
    assert only_ignored["num_gt"] == 0 and only_ignored["num_det"] == 0


def test_detection_partly_inside_dont_care():
    """### region 0-40. A detection 0-100 has 400 / 1000 = 40% inside (not > 50%): kept, a false
    alarm (P = 0). A detection 0-70 has 400 / 700 = 57% inside: dropped."""
    r = match_image([box(0, 0, 40, 10)], [True], [box(0, 0, 100, 10)])
    assert r["num_det"] == 1 and r["precision"] == 0.0
    r = match_image([box(0, 0, 40, 10)], [True], [box(0, 0, 70, 10)])
    assert r["num_det"] == 0


def test_per_image_rates_follow_the_official_script():
    """No care word: R = 1, and P = 1 without detections, 0 with any. Words but no detections: P = 0."""
    assert image_rates(0, 0, 0) == (1.0, 1.0, 1.0)
    assert image_rates(0, 2, 0) == (0.0, 1.0, 0.0)
    assert image_rates(3, 0, 0) == (0.0, 0.0, 0.0)
    assert image_rates(4, 2, 1) == (0.5, 0.25, pytest.approx(1 / 3))
    r = match_image([], [], [box(0, 0, 10, 10)])
    assert (r["precision"], r["recall"]) == (0.0, 1.0)


def test_empty_image_contributes_nothing():
    """An image with neither words nor detections leaves the dataset totals unchanged, and a
    dataset with no detections at all has P = 0 (and no words: R = 0, not 1, at dataset level)."""
    m = DetectionMetric()
    m.update([], [], [])
    assert m.compute() == {"precision": 0.0, "recall": 0.0, "hmean": 0.0, "num_gt": 0, "num_det": 0, "num_match": 0}
    m.update([box(0, 0, 100, 10)], [False], [box(0, 0, 100, 10)])
    before = m.compute()
    m.update([], [], [])
    assert m.compute() == before == {"precision": 1.0, "recall": 1.0, "hmean": 1.0,
                                     "num_gt": 1, "num_det": 1, "num_match": 1}
    m.update([box(0, 0, 10, 10)], [False], [])  # a missed word, no detection
    assert m.compute()["recall"] == 0.5 and m.compute()["precision"] == 1.0


def test_no_detections_at_all():
    m = DetectionMetric()
    m.update([box(0, 0, 10, 10)], [False], [])
    assert m.compute()["precision"] == 0.0 and m.compute()["recall"] == 0.0


def test_accumulates_over_images_and_lists_worst():
    """Image a: 2 words, 1 detection hitting one (P 1, R 1/2, H 2/3). Image b: 1 word, 2 detections,
    one hit (P 1/2, R 1, H 2/3). Image c: nothing (P = R = H = 1 per image). Image d: 1 word, a
    detection 0-40 beside it: IoU 0.4, P = R = H = 0.
    Totals: 2 matches / 4 detections, 2 matches / 4 words: P = R = hmean = 1/2 (not the mean of the
    per-image numbers, which would be (2/3 + 2/3 + 1 + 0) / 4)."""
    m = DetectionMetric()
    m.update([box(0, 0, 50, 10), box(0, 20, 50, 30)], [False, False], [box(0, 0, 50, 10)], "a")
    m.update([box(0, 0, 50, 10)], [False], [box(0, 0, 50, 10), box(60, 60, 90, 70)], "b")
    m.update([], [], [], "c")
    m.update([box(0, 0, 100, 10)], [False], [box(0, 0, 40, 10)], "d")
    out = m.compute()
    assert (out["num_gt"], out["num_det"], out["num_match"]) == (4, 4, 2)
    assert out["precision"] == 0.5 and out["recall"] == 0.5 and out["hmean"] == 0.5
    assert [r["image"] for r in m.worst(3)] == ["d", "a", "b"]  # a, b tie at 2/3: a has more words
    assert m.per_image[2]["hmean"] == 1.0
    m.reset()
    assert m.compute()["num_gt"] == 0 and m.per_image == []


def test_degenerate_polygons_never_match_nor_crash():
    """A line (area 0) matches nothing. A bow-tie (self-intersecting order of the word's corners)
    is repaired into two triangles of area 25 each (not dropped, not the full square): IoU 50/100."""
    line = np.array([[0, 0], [10, 0], [20, 0], [30, 0]], float)
    bowtie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float)
    r = match_image([box(0, 0, 10, 10)], [False], [line, bowtie])
    assert r["num_match"] == 0 and r["num_det"] == 2
    r = match_image([box(0, 0, 10, 10)], [False], [bowtie], iou_thresh=0.49)
    assert r["num_match"] == 1
    r = match_image([line], [False], [line])
    assert r["num_match"] == 0 and r["num_gt"] == 1
