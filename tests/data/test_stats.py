"""``ocdr data stats`` on a hand-built dataset whose numbers are easy to check."""
import pytest

from ocdr.data.formats import TextRegion, write_gt_list, write_icdar_gt
from ocdr.data.images import write_image
from ocdr.data.polygon import quad_from_rect
from ocdr.data.stats import StatsSpec, dataset_stats
from ocdr.errors import DataError

import numpy as np


def test_detection_split_numbers(tmp_path):
    split = tmp_path / "ds" / "train"
    write_image(split / "img" / "p1.png", np.zeros((50, 100, 3), np.uint8))
    write_image(split / "img" / "p2.png", np.zeros((50, 100, 3), np.uint8))
    write_icdar_gt(split / "gt" / "gt_p1.txt", [TextRegion(quad_from_rect(0, 0, 40, 10), "ab"),
                                               TextRegion(quad_from_rect(0, 20, 20, 30), "abc")])
    write_icdar_gt(split / "gt" / "gt_p2.txt", [TextRegion(quad_from_rect(5, 5, 10, 10), "###")])
    s = dataset_stats(StatsSpec(path=str(tmp_path / "ds")))
    train = s["train"]
    # Widths are the long sides (40 and 30), heights the short ones (10 and 20); ### is not measured.
    assert train["images"] == 2 and train["regions"] == 3 and train["dont_care"] == 1
    assert train["box_width"] == {"min": 30.0, "median": 35.0, "max": 40.0}
    assert train["box_height"] == {"min": 10.0, "median": 15.0, "max": 20.0}
    assert train["label_length"] == {"min": 2.0, "median": 2.5, "max": 3.0}
    assert train["distinct_characters"] == 3 and train["top_characters"][:2] == "ab"


def test_gt_list_and_empty(tmp_path):
    gt = write_gt_list(tmp_path / "gt_list.txt", [("a.png", "hi there"), ("b.png", "x")])
    s = dataset_stats(StatsSpec(path=str(gt)))
    assert s["labels"] == 2 and s["label_length"]["max"] == 8.0 and s["distinct_characters"] == 7
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty.txt: gt list holds no samples"):
        dataset_stats(StatsSpec(path=str(tmp_path / "empty.txt")))
