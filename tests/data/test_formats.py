"""ICDAR gt and gt-list formats: parsing, round trips and the errors users see."""
import numpy as np
import pytest

from ocdr.data.formats import (
    TextRegion, format_icdar_line, parse_icdar_line, read_gt_list, read_icdar_gt, write_gt_list, write_icdar_gt,
)
from ocdr.errors import BadRecords, DataError


def test_parse_quad_with_plain_text():
    r = parse_icdar_line("1,2,30,2,30,12,1,12,hello")
    assert r.points.tolist() == [[1, 2], [30, 2], [30, 12], [1, 12]]
    assert r.text == "hello" and not r.ignore


def test_transcription_may_contain_commas_and_numbers():
    # "1,000,000" follows the 8 coordinates: 11 numeric fields -> odd, so the 9th starts the text.
    r = parse_icdar_line("0,0,10,0,10,5,0,5,1,000,000")
    assert r.points.shape == (4, 2) and r.text == "1,000,000"
    r = parse_icdar_line("0,0,10,0,10,5,0,5,Hello, world")
    assert r.text == "Hello, world"
    r = parse_icdar_line("0,0,10,0,10,5,0,5,42")
    assert r.text == "42"


def test_polygon_with_more_points_and_float_coordinates():
    r = parse_icdar_line("0,0,5,0,10,0,10,5,5,5,0,5,poly")
    assert r.points.shape == (6, 2) and r.text == "poly"
    r = parse_icdar_line("0.5,0,10.25,0,10,5,0,5,x")
    assert r.points[0, 0] == 0.5 and r.points[1, 0] == 10.25


@pytest.mark.parametrize("text", ["###", "*", " ### "])
def test_dont_care(text):
    assert parse_icdar_line(f"0,0,10,0,10,5,0,5,{text}").ignore


@pytest.mark.parametrize("line,message", [
    ("0,0,10,0,10,5,hello", "expected at least 8 coordinates (4 points), got 6"),
    ("0,0,10,0,10,5,0,hello", "expected at least 8 coordinates (4 points), got 7"),
    ("0,0,10,abc,10,5,0,5,hello", "coordinate 4 is not a number: 'abc'"),
    ("0,0,10,nan,10,5,0,5,hello", "coordinate 4 is not finite: 'nan'"),
    ("hello", "expected at least 8 coordinates (4 points), got 0"),
])
def test_malformed_lines_name_file_and_line(line, message):
    with pytest.raises(DataError) as err:
        parse_icdar_line(line, "gt_a.txt", 7)
    assert str(err.value).startswith("gt_a.txt:7: ")
    assert message in str(err.value)


def test_read_icdar_gt_with_bom_blank_lines_and_skip(tmp_path):
    p = tmp_path / "gt_x.txt"
    p.write_bytes("\ufeff1,1,9,1,9,4,1,4,Größe\n\n0,0,1,1,bad\n2,2,8,2,8,6,2,6,###\n".encode("utf-8"))
    with pytest.raises(DataError, match=r"gt_x.txt:3: expected at least 8 coordinates"):
        read_icdar_gt(p)
    bad = BadRecords(skip=True)
    regions = read_icdar_gt(p, bad)
    assert [r.text for r in regions] == ["Größe", "###"]
    assert bad.total == 1 and bad.summary() == {"malformed gt line": 1}


def test_non_utf8_gt_names_line(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_bytes(b"0,0,1,0,1,1,0,1,ok\n0,0,1,0,1,1,0,1,caf\xe9\n")
    with pytest.raises(DataError, match=r"gt.txt:2: not UTF-8 text \(byte 0xe9\)"):
        read_icdar_gt(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_icdar_gt(tmp_path / "nope.txt")


def test_icdar_round_trip(tmp_path):
    regions = [
        TextRegion(np.array([[1, 2], [30, 2], [30, 12], [1, 12]], float), "a,b c"),
        TextRegion(np.array([[0.5, 0], [5, 0], [9, 1], [9, 6], [5, 7], [0, 6]], float), "###"),
        TextRegion(np.array([[3, 3], [8, 3], [8, 9], [3, 9]], float), "7"),
    ]
    p = write_icdar_gt(tmp_path / "gt_r.txt", regions)
    assert p.read_text().splitlines()[0] == "1,2,30,2,30,12,1,12,a,b c"
    back = read_icdar_gt(p)
    assert [r.text for r in back] == [r.text for r in regions]
    for a, b in zip(back, regions):
        np.testing.assert_allclose(a.points, b.points)


def test_format_rejects_bad_regions():
    with pytest.raises(ValueError, match="at least 4 points"):
        format_icdar_line(np.zeros((3, 2)), "x")
    with pytest.raises(ValueError, match="non-finite"):
        format_icdar_line(np.array([[0, 0], [1, 0], [1, np.nan], [0, 1]]), "x")


def test_gt_list_round_trip_with_spaces(tmp_path):
    samples = [("crops/a.png", "hello world"), ("b.png", " lead"), ("c.png", "tab-free, ünïcode")]
    p = write_gt_list(tmp_path / "gt_list.txt", samples)
    assert read_gt_list(p) == samples


def test_gt_list_errors(tmp_path):
    p = tmp_path / "gt_list.txt"
    p.write_text("a.png\tok\nb.png no tab\nc.png\t\n")
    with pytest.raises(DataError, match=r"gt_list.txt:2: expected '<image path><TAB><label>'"):
        read_gt_list(p)
    bad = BadRecords(skip=True)
    assert read_gt_list(p, bad) == [("a.png", "ok")]
    assert bad.summary() == {"empty label": 1, "no tab": 1}


def test_polygon_lines_are_read_beside_icdar_lines(tmp_path):
    from ocdr.data.formats import read_icdar_gt

    gt = tmp_path / "270.txt"
    gt.write_text("270-01-01\t112,170,112,230,129,232,300,148,192,157\t270.\n0,0,10,0,10,5,0,5,a,b\n")
    poly, quad = read_icdar_gt(gt)
    assert poly.points.shape == (5, 2) and poly.text == "270." and poly.points[3].tolist() == [300, 148]
    assert quad.points.shape == (4, 2) and quad.text == "a,b"


def test_a_polygon_line_with_too_few_points_names_file_and_line(tmp_path):
    from ocdr.data.formats import read_icdar_gt

    gt = tmp_path / "p.txt"
    gt.write_text("w1\t1,2,3,4,5,6,7,8\tok\nw2\t1,2,3,4\tbad\n")
    with pytest.raises(DataError, match=r"p.txt.*2"):
        read_icdar_gt(gt)
