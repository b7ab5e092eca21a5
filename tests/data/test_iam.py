"""``ocdr data iam`` on a committed fixture packed like the real IAM archives.

The fixture (tests/fixtures/iam/make_fixture.py) has two forms, both 200 px wide:

* a01-000u (letter a: train, 120 px high), seven words: 'A', 'MOVE', 'to' (flagged er), 'stop'
  (box -1 -1 -1 -1), 'Gaitskell' (x 170 + w 50 = 220 > 200: sticks out on the right), ',' and
  'he' (x = -6: sticks out on the left);
* j04-070 (letter j: test, 100 px high), four words: 'Hello', '"', "world's" (er) and 'New York'
  (a transcription of two tokens, joined with one space).

The form images are light gray (235) with dark ink (30) inside each word box, 3 px in from its edges.
"""
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocdr.data.iam import IamSpec, convert_iam
from ocdr.data.images import read_image
from ocdr.errors import ConfigError, DataError, OcdrError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "iam"
FORMS = [str(FIXTURE / "formsA-D.tgz"), str(FIXTURE / "formsI-Z.tgz")]


def _spec(tmp_path, **kw):
    kw.setdefault("ascii", str(FIXTURE / "ascii.tgz"))
    kw.setdefault("forms", FORMS)
    return IamSpec(output_dir=str(tmp_path / "iam"), **kw)


def _lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


def _files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def _tgz(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _fixture_member(archive, name):
    with tarfile.open(FIXTURE / archive) as tar:
        return tar.extractfile(name).read()


def test_default_conversion_gives_exactly_the_expected_files(tmp_path):
    summary = convert_iam(_spec(tmp_path))
    out = tmp_path / "iam"
    assert _files(out) == [
        "character_list.txt",
        "test/crops/gt_list.txt", "test/crops/j04-070-00-00.png", "test/crops/j04-070-00-01.png",
        "test/crops/j04-070-00-02.png", "test/crops/j04-070-01-00.png", "test/gt/gt_j04-070.txt",
        "test/img/j04-070.png",
        "train/crops/a01-000u-00-00.png", "train/crops/a01-000u-00-01.png", "train/crops/a01-000u-00-02.png",
        "train/crops/a01-000u-01-02.png", "train/crops/gt_list.txt", "train/gt/gt_a01-000u.txt",
        "train/img/a01-000u.png",
    ]
    # x y w h -> clockwise quad from the top-left corner, sorted by word id. 'stop' (-1 box) has no
    # place on the form and is left out; 'Gaitskell' and 'he' stick out of the form, so they are
    # not labels, but their ink is on the page: the part inside becomes a ### don't-care region.
    assert _lines(out / "train/gt/gt_a01-000u.txt") == [
        "10,10,50,10,50,30,10,30,A",
        "60,12,110,12,110,30,60,30,MOVE",
        "120,10,180,10,180,32,120,32,to",
        "170,60,200,60,200,80,170,80,###",
        "10,60,40,60,40,80,10,80,,",
        "0,95,24,95,24,115,0,115,###",
    ]
    assert _lines(out / "test/gt/gt_j04-070.txt") == [
        "5,5,55,5,55,30,5,30,Hello",
        '70,8,110,8,110,28,70,28,"',
        "120,5,180,5,180,35,120,35,world's",
        "10,50,90,50,90,70,10,70,New York",
    ]
    assert _lines(out / "train/crops/gt_list.txt") == [
        "a01-000u-00-00.png\tA", "a01-000u-00-01.png\tMOVE", "a01-000u-00-02.png\tto", "a01-000u-01-02.png\t,",
    ]
    assert _lines(out / "test/crops/gt_list.txt") == [
        "j04-070-00-00.png\tHello", 'j04-070-00-01.png\t"', "j04-070-00-02.png\tworld's",
        "j04-070-01-00.png\tNew York",
    ]
    # Sorted code points: the space (from 'New York') first, then punctuation, upper, lower case.
    assert _lines(out / "character_list.txt") == [
        " ", '"', "'", ",", "A", "E", "H", "M", "N", "O", "V", "Y", "d", "e", "k", "l", "o", "r", "s", "t", "w"]
    assert summary["forms"] == {"test": 1, "train": 1}
    assert summary["words"] == {"test": 4, "train": 4}
    assert summary["dont_care_regions"] == {"train": 2}
    assert summary["skipped"] == {"box -1": 1, "box outside image": 2}
    assert summary["characters"] == 21
    assert summary["missing_forms"] == 0 and summary["forms_without_labels"] == 0
    assert summary["gt_lists"] == {"test": str(out / "test/crops/gt_list.txt"),
                                   "train": str(out / "train/crops/gt_list.txt")}
    assert summary["character_list"] == str(out / "character_list.txt")


def test_images_and_crops_hold_the_form_pixels(tmp_path):
    convert_iam(_spec(tmp_path))
    out = tmp_path / "iam"
    with Image.open(out / "train/img/a01-000u.png") as im:
        assert (im.mode, im.size) == ("L", (200, 120))  # gray in, gray out: not 3x larger RGB
    form = read_image(out / "train/img/a01-000u.png")
    crop = read_image(out / "train/crops/a01-000u-00-01.png")
    assert crop.shape == (18, 50, 3)  # w=50, h=18 from words.txt
    assert np.array_equal(crop, form[12:30, 60:110])
    assert (crop[3:-3, 3:-3] == 30).all() and (crop[0] == 235).all()  # ink inside, paper at the edge


def test_options_drop_er_lower_clip_and_letters(tmp_path):
    summary = convert_iam(_spec(tmp_path, drop_er=True, lower=True, clip_boxes=True, test_letters=["A"]))
    out = tmp_path / "iam"
    # Letter a now goes to test, j to train. The er words become ###; the two words sticking out
    # are clipped to the form (Gaitskell to x=200, he to x=0) and kept as labels.
    assert _lines(out / "test/gt/gt_a01-000u.txt") == [
        "10,10,50,10,50,30,10,30,a",
        "60,12,110,12,110,30,60,30,move",
        "120,10,180,10,180,32,120,32,###",
        "170,60,200,60,200,80,170,80,gaitskell",
        "10,60,40,60,40,80,10,80,,",
        "0,95,24,95,24,115,0,115,he",
    ]
    assert _lines(out / "train/gt/gt_j04-070.txt") == [
        "5,5,55,5,55,30,5,30,hello",
        '70,8,110,8,110,28,70,28,"',
        "120,5,180,5,180,35,120,35,###",
        "10,50,90,50,90,70,10,70,new york",
    ]
    assert _lines(out / "test/crops/gt_list.txt") == [
        "a01-000u-00-00.png\ta", "a01-000u-00-01.png\tmove", "a01-000u-01-01.png\tgaitskell",
        "a01-000u-01-02.png\t,", "a01-000u-02-00.png\the",
    ]
    assert read_image(out / "test/crops/a01-000u-02-00.png").shape == (20, 24, 3)
    assert summary["skipped"] == {"box -1": 1, "segmentation er": 2}
    assert summary["words"] == {"test": 5, "train": 3}
    assert summary["dont_care_regions"] == {"test": 1, "train": 1}


def test_without_crops_only_the_detection_layout_is_written(tmp_path):
    summary = convert_iam(_spec(tmp_path, crops=False))
    assert _files(tmp_path / "iam") == ["character_list.txt", "test/gt/gt_j04-070.txt", "test/img/j04-070.png",
                                        "train/gt/gt_a01-000u.txt", "train/img/a01-000u.png"]
    assert summary["gt_lists"] == {} and summary["characters"] == 21


def test_extracted_folders_and_plain_words_txt_give_the_same_output(tmp_path):
    ext = tmp_path / "extracted"
    for name in ("ascii.tgz", "formsA-D.tgz", "formsI-Z.tgz"):
        with tarfile.open(FIXTURE / name) as tar:
            tar.extractall(ext / name.split(".")[0], filter="data")
    reference = tmp_path / "ref"
    convert_iam(IamSpec(ascii=str(FIXTURE / "ascii.tgz"), forms=FORMS, output_dir=str(reference)))
    for ascii_input in (ext / "ascii" / "words.txt", ext / "ascii"):  # the file, or the folder holding it
        out = tmp_path / ascii_input.name
        convert_iam(IamSpec(ascii=str(ascii_input), forms=[str(ext / "formsA-D"), str(ext / "formsI-Z")],
                            output_dir=str(out)))
        assert _files(out) == _files(reference)
        for rel in _files(reference):
            if rel.endswith(".txt"):
                assert _lines(out / rel) == _lines(reference / rel), rel
            else:
                assert np.array_equal(read_image(out / rel), read_image(reference / rel)), rel


def test_archive_members_in_subfolders_are_found_and_unsafe_names_ignored(tmp_path):
    """Members under a folder are found; '../x.png' and '/x.png' are never read, so j04-070 is missing."""
    j04 = _fixture_member("formsI-Z.tgz", "j04-070.png")
    forms = _tgz(tmp_path / "forms.tgz", [("forms/a01-000u.png", _fixture_member("formsA-D.tgz", "a01-000u.png")),
                                          ("../j04-070.png", j04), ("/j04-070.png", j04)])
    ascii_tgz = _tgz(tmp_path / "ascii.tgz", [("ascii/words.txt", _fixture_member("ascii.tgz", "words.txt"))])
    summary = convert_iam(IamSpec(ascii=str(ascii_tgz), forms=[str(forms)], output_dir=str(tmp_path / "o")))
    assert summary["forms"] == {"train": 1}
    assert summary["skipped"]["form image missing"] == 4
    assert summary["missing_form_examples"] == ["j04-070"]
    assert not (tmp_path / "j04-070.png").exists()


def test_malformed_line_names_file_and_line_or_is_counted(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# comment\n"
                     "a01-000u-00-00 ok 154 1 10 10 40 20 AT A\n"
                     "a01-000u-00-01 ok 154 1 x 12 50 18 NN MOVE\n"      # line 3: x not an integer
                     "a01-000u-00-02 maybe 154 1 10 10 40 20 AT B\n"     # line 4: flag
                     "a01-000u-00-03 ok 154\n"                           # line 5: too few fields
                     "a01-000u-00-00 ok 154 1 10 10 40 20 AT A\n")       # line 6: repeats line 2
    forms = [str(FIXTURE / "formsA-D.tgz")]
    with pytest.raises(DataError, match=r"words\.txt:3: graylevel, components and x y w h must be integers"):
        convert_iam(IamSpec(ascii=str(words), forms=forms, output_dir=str(tmp_path / "o")))
    summary = convert_iam(IamSpec(ascii=str(words), forms=forms, output_dir=str(tmp_path / "o"), skip_bad=True))
    assert summary["skipped"] == {"duplicate word id": 1, "malformed line": 3}
    assert summary["words"] == {"train": 1}
    assert _lines(tmp_path / "o/train/gt/gt_a01-000u.txt") == ["10,10,50,10,50,30,10,30,A"]

    packed = _tgz(tmp_path / "ascii.tgz", [("ascii/words.txt", b"a01-000u-00-00 ok 154 1 10 10 40 20 AT A\n"
                                                               b"a01-000u-00-01 ok 154 1 10 10 40 20\n")])
    with pytest.raises(DataError, match=r"ascii\.tgz:ascii/words\.txt:2: expected at least 10 fields"):
        convert_iam(IamSpec(ascii=str(packed), forms=forms, output_dir=str(tmp_path / "o")))


def test_missing_or_wrong_inputs_are_clear(tmp_path):
    with pytest.raises(DataError, match=r"nope\.tgz: forms archive or folder not found"):
        convert_iam(_spec(tmp_path, forms=[FORMS[0], str(tmp_path / "nope.tgz")]))
    assert not (tmp_path / "iam").exists()  # checked before the first archive is converted
    with pytest.raises(DataError, match=r"ascii\.tgz: not found"):
        convert_iam(_spec(tmp_path, ascii=str(tmp_path / "ascii.tgz")))
    broken = tmp_path / "broken.tgz"
    broken.write_bytes((FIXTURE / "formsA-D.tgz").read_bytes()[:200])
    with pytest.raises(DataError, match=r"broken\.tgz: "):
        convert_iam(_spec(tmp_path, forms=[str(broken)]))
    with pytest.raises(ConfigError, match="test_letters: 'i-z'"):
        convert_iam(_spec(tmp_path, test_letters=["i-z"]))
    with pytest.raises(OcdrError, match="set ascii="):
        convert_iam(IamSpec())


def test_missing_form_images_and_forms_without_labels_are_counted(tmp_path):
    summary = convert_iam(_spec(tmp_path, forms=FORMS[:1]))
    assert summary["skipped"]["form image missing"] == 4
    assert (summary["missing_forms"], summary["missing_form_examples"]) == (1, ["j04-070"])

    # A form whose only word has a -1 box would be handwriting without any label: not written.
    words = tmp_path / "words.txt"
    words.write_text("a01-000u-00-00 ok 154 1 -1 -1 -1 -1 AT A\nj04-070-00-00 ok 170 1 5 5 50 25 UH Hello\n")
    summary = convert_iam(IamSpec(ascii=str(words), forms=FORMS, output_dir=str(tmp_path / "o")))
    assert summary["forms"] == {"test": 1} and summary["forms_without_labels"] == 1
    assert _files(tmp_path / "o") == ["character_list.txt", "test/crops/gt_list.txt", "test/crops/j04-070-00-00.png",
                                      "test/gt/gt_j04-070.txt", "test/img/j04-070.png"]
