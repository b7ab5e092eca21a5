"""``ocdr data stats`` on hand-built datasets whose numbers are easy to check."""
import numpy as np
import pytest

from ocdr.data.formats import TextRegion, write_gt_list, write_icdar_gt
from ocdr.data.images import write_image
from ocdr.data.lmdb_io import write_lmdb
from ocdr.data.polygon import quad_from_rect
from ocdr.data.stats import StatsSpec, dataset_stats, region_size
from ocdr.errors import DataError


def _split(folder, bad_line: bool = False):
    """Two 100x50 and 60x40 pages: boxes 40x10 'ab' and 20x30 'abc', a 10x10 don't-care."""
    write_image(folder / "img" / "p1.png", np.zeros((50, 100, 3), np.uint8))
    write_image(folder / "img" / "p2.png", np.zeros((40, 60, 3), np.uint8))
    write_icdar_gt(folder / "gt" / "gt_p1.txt", [TextRegion(quad_from_rect(0, 0, 40, 10), "ab"),
                                                TextRegion(quad_from_rect(0, 20, 20, 30), "abc")])
    write_icdar_gt(folder / "gt" / "gt_p2.txt", [TextRegion(quad_from_rect(5, 5, 10, 10), "###")])
    if bad_line:
        with open(folder / "gt" / "gt_p2.txt", "a") as fh:
            fh.write("1,2,3\n")


def test_detection_dataset_numbers(tmp_path):
    _split(tmp_path / "ds" / "train")
    _split(tmp_path / "ds" / "test")
    s = dataset_stats(StatsSpec(path=str(tmp_path / "ds")))
    assert s["kind"] == "dataset" and s["test"] == s["train"]
    train = s["train"]
    # Widths are the long sides (40 and 30), heights the short ones (10 and 20); ### is not measured.
    assert train["images"] == 2 and train["regions"] == 3 and train["dont_care"] == 1
    assert train["image_width"] == {"min": 60.0, "median": 80.0, "max": 100.0}
    assert train["image_height"] == {"min": 40.0, "median": 45.0, "max": 50.0}
    assert train["box_width"] == {"min": 30.0, "median": 35.0, "max": 40.0}
    assert train["box_height"] == {"min": 10.0, "median": 15.0, "max": 20.0}
    assert train["label_length"] == {"min": 2.0, "median": 2.5, "max": 3.0}
    # "ab" + "abc": a twice, b twice, c once; the most frequent first.
    assert train["distinct_characters"] == 3 and train["character_counts"] == {"a": 2, "b": 2, "c": 1}


def test_rotated_region_size_follows_its_rectangle():
    """A 40x10 box turned by 30 degrees still measures 40 by 10 (an axis-aligned box would not)."""
    box = quad_from_rect(0, 0, 40, 10) - (20, 5)
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    w, h = region_size(box @ np.array([[c, s], [-s, c]]))
    assert w == pytest.approx(40, abs=1e-3) and h == pytest.approx(10, abs=1e-3)


def test_bad_gt_line_raises_or_is_counted(tmp_path):
    _split(tmp_path / "train", bad_line=True)
    with pytest.raises(DataError, match=r"gt_p2.txt:2: expected at least 8 coordinates"):
        dataset_stats(StatsSpec(path=str(tmp_path / "train")))
    s = dataset_stats(StatsSpec(path=str(tmp_path / "train"), skip_bad=True))
    assert s["kind"] == "detection" and s["regions"] == 3 and s["skipped"] == {"malformed gt line": 1}


def test_split_with_crops_gt_list_and_lmdb(tmp_path):
    _split(tmp_path / "train")
    write_gt_list(tmp_path / "train" / "crops" / "gt_list.txt", [("a.png", "hi there"), ("b.png", "x")])
    s = dataset_stats(StatsSpec(path=str(tmp_path / "train")))
    crops = s["crops"]
    # "hi there" has 7 distinct characters (h, i, space, t, e, r) + "x"; h and e twice.
    assert crops["samples"] == 2 and crops["label_length"] == {"min": 1.0, "median": 4.5, "max": 8.0}
    assert crops["distinct_characters"] == 7 and list(crops["character_counts"])[:2] == ["h", "e"]
    same = dataset_stats(StatsSpec(path=str(tmp_path / "train" / "crops" / "gt_list.txt")))
    assert same["kind"] == "gt list" and same["samples"] == 2
    write_lmdb(tmp_path / "db", [(b"labels only: not decoded", "Größe"), (b"", "öö")])
    db = dataset_stats(StatsSpec(path=str(tmp_path / "db"), top_chars=1))
    assert db["kind"] == "lmdb" and db["samples"] == 2 and db["character_counts"] == {"ö": 3}


def test_empty_and_unknown(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty.txt: gt list holds no samples"):
        dataset_stats(StatsSpec(path=str(tmp_path / "empty.txt")))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="nothing: not a dataset"):
        dataset_stats(StatsSpec(path=str(tmp_path / "nothing")))
    with pytest.raises(DataError, match="absent: not found"):
        dataset_stats(StatsSpec(path=str(tmp_path / "absent")))
