"""``ocdr data iam`` on a committed fixture packed like the real IAM archives.

The fixture (tests/fixtures/iam/make_fixture.py) has two forms: a01-000u (letter a: train) with
six words — one 'er', one with a -1 box, one sticking out of the 200 px wide form — and j04-070
(letter j: test) with three words, one 'er'.
"""
import tarfile
from pathlib import Path

import numpy as np
import pytest

from ocdr.data.iam import IamSpec, convert_iam
from ocdr.data.images import read_image
from ocdr.errors import DataError, OcdrError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "iam"


def _spec(tmp_path, **kw):
    return IamSpec(ascii=str(FIXTURE / "ascii.tgz"),
                   forms=[str(FIXTURE / "formsA-D.tgz"), str(FIXTURE / "formsI-Z.tgz")],
                   output_dir=str(tmp_path / "iam"), **kw)


def _lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


def test_default_conversion_gives_exactly_the_expected_files(tmp_path):
    summary = convert_iam(_spec(tmp_path))
    out = tmp_path / "iam"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "character_list.txt",
        "test/crops/gt_list.txt", "test/crops/j04-070-00-00.png", "test/crops/j04-070-00-01.png",
        "test/crops/j04-070-00-02.png", "test/gt/gt_j04-070.txt", "test/img/j04-070.png",
        "train/crops/a01-000u-00-00.png", "train/crops/a01-000u-00-01.png", "train/crops/a01-000u-00-02.png",
        "train/crops/a01-000u-01-02.png", "train/crops/gt_list.txt", "train/gt/gt_a01-000u.txt",
        "train/img/a01-000u.png",
    ]
    # x y w h -> clockwise quad from top-left; 'stop' (-1 box) and 'Gaitskell' (170+50 > 200) are skipped.
    assert _lines(out / "train/gt/gt_a01-000u.txt") == [
        "10,10,50,10,50,30,10,30,A",
        "60,12,110,12,110,30,60,30,MOVE",
        "120,10,180,10,180,32,120,32,to",
        "10,60,40,60,40,80,10,80,,",
    ]
    assert _lines(out / "test/gt/gt_j04-070.txt") == [
        "5,5,55,5,55,30,5,30,Hello",
        '70,8,110,8,110,28,70,28,"',
        "120,5,180,5,180,35,120,35,world's",
    ]
    assert _lines(out / "train/crops/gt_list.txt") == [
        "a01-000u-00-00.png\tA", "a01-000u-00-01.png\tMOVE", "a01-000u-00-02.png\tto", "a01-000u-01-02.png\t,",
    ]
    assert _lines(out / "test/crops/gt_list.txt") == [
        "j04-070-00-00.png\tHello", 'j04-070-00-01.png\t"', "j04-070-00-02.png\tworld's",
    ]
    assert _lines(out / "character_list.txt") == ['"', "'", ",", "A", "E", "H", "M", "O", "V",
                                                   "d", "e", "l", "o", "r", "s", "t", "w"]
    assert summary["forms"] == {"test": 1, "train": 1}
    assert summary["words"] == {"test": 3, "train": 4}
    assert summary["skipped"] == {"box -1": 1, "box outside image": 1}
    assert summary["characters"] == 17


def test_images_and_crops_hold_the_form_pixels(tmp_path):
    convert_iam(_spec(tmp_path))
    out = tmp_path / "iam"
    form = read_image(out / "train/img/a01-000u.png")
    assert form.shape == (120, 200, 3)
    crop = read_image(out / "train/crops/a01-000u-00-01.png")
    assert crop.shape == (18, 50, 3)  # w=50, h=18 from words.txt
    assert crop[5:-5, 5:-5].mean() < 40 and crop[0].mean() > 200  # ink inside, paper at the edge


def test_options_drop_er_lower_clip_and_letters(tmp_path):
    summary = convert_iam(_spec(tmp_path, drop_er=True, lower=True, clip_boxes=True, test_letters=["a"]))
    out = tmp_path / "iam"
    assert summary["skipped"] == {"box -1": 1, "segmentation er": 2}
    # letter a now goes to test, j to train; Gaitskell is clipped to the form's right edge (x=200).
    assert _lines(out / "test/gt/gt_a01-000u.txt") == [
        "10,10,50,10,50,30,10,30,a", "60,12,110,12,110,30,60,30,move",
        "170,60,200,60,200,80,170,80,gaitskell", "10,60,40,60,40,80,10,80,,",
    ]
    assert _lines(out / "train/gt/gt_j04-070.txt") == ["5,5,55,5,55,30,5,30,hello", '70,8,110,8,110,28,70,28,"']


def test_extracted_folders_and_plain_words_txt(tmp_path):
    ext = tmp_path / "extracted"
    for name in ("ascii.tgz", "formsA-D.tgz", "formsI-Z.tgz"):
        with tarfile.open(FIXTURE / name) as tar:
            tar.extractall(ext / name.split(".")[0], filter="data")
    summary = convert_iam(IamSpec(ascii=str(ext / "ascii" / "words.txt"),
                                  forms=[str(ext / "formsA-D"), str(ext / "formsI-Z")],
                                  output_dir=str(tmp_path / "out")))
    assert summary["words"] == {"test": 3, "train": 4}
    reference = tmp_path / "ref"
    convert_iam(IamSpec(ascii=str(FIXTURE / "ascii.tgz"), forms=[str(FIXTURE / "formsA-D.tgz"),
                        str(FIXTURE / "formsI-Z.tgz")], output_dir=str(reference)))
    assert _lines(tmp_path / "out/train/gt/gt_a01-000u.txt") == _lines(reference / "train/gt/gt_a01-000u.txt")
    assert np.array_equal(read_image(tmp_path / "out/train/img/a01-000u.png"),
                          read_image(reference / "train/img/a01-000u.png"))


def test_malformed_line_names_file_and_line_or_is_counted(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# comment\na01-000u-00-00 ok 154 1 10 10 40 20 AT A\na01-000u-00-01 ok 154 1 x 12 50 18 NN MOVE\n"
                     "a01-000u-00-02 maybe 154 1 10 10 40 20 AT B\na01-000u-00-03 ok 154\n")
    forms = [str(FIXTURE / "formsA-D.tgz")]
    with pytest.raises(DataError, match=r"words.txt:3: graylevel, components and x y w h must be integers"):
        convert_iam(IamSpec(ascii=str(words), forms=forms, output_dir=str(tmp_path / "o")))
    summary = convert_iam(IamSpec(ascii=str(words), forms=forms, output_dir=str(tmp_path / "o"), skip_bad=True))
    assert summary["skipped"] == {"malformed line": 3}
    assert summary["words"] == {"train": 1}


def test_missing_inputs_are_clear(tmp_path):
    with pytest.raises(DataError, match=r"nope.tgz: forms archive or folder not found"):
        convert_iam(IamSpec(ascii=str(FIXTURE / "ascii.tgz"), forms=[str(tmp_path / "nope.tgz")],
                            output_dir=str(tmp_path / "o")))
    with pytest.raises(DataError, match="not found"):
        convert_iam(IamSpec(ascii=str(tmp_path / "ascii.tgz"), forms=[str(FIXTURE / "formsA-D.tgz")]))
    with pytest.raises(OcdrError, match="set ascii="):
        convert_iam(IamSpec())


def test_missing_form_images_are_counted(tmp_path):
    summary = convert_iam(IamSpec(ascii=str(FIXTURE / "ascii.tgz"), forms=[str(FIXTURE / "formsA-D.tgz")],
                                  output_dir=str(tmp_path / "o")))
    assert summary["skipped"]["form image missing"] == 3 and summary["missing_forms"] == ["j04-070"]
