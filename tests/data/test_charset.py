"""Character list files: a line holding one space is the space character."""
import pytest

from ocdr.data.charset import CharsetSpec, build_charset, make_charset, read_charset, write_charset
from ocdr.errors import DataError, OcdrError


def test_round_trip_with_space_and_non_ascii(tmp_path):
    chars = ["a", " ", "ß", "Ä", "1", "é"]
    p = write_charset(tmp_path / "chars.txt", chars)
    assert p.read_text(encoding="utf-8") == "a\n \nß\nÄ\n1\né\n"
    assert read_charset(p) == chars


def test_build_charset_is_sorted_unique():
    assert build_charset(["ba", "a c"]) == [" ", "a", "b", "c"]
    assert build_charset(["AB"], lower=True) == ["a", "b"]


def test_errors_name_the_line(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("a\nbc\n")
    with pytest.raises(DataError, match=r"c.txt:2: expected one character per line, got 'bc'"):
        read_charset(p)
    p.write_text("a\nb\na\n")
    with pytest.raises(DataError, match=r"c.txt:3: character 'a' repeats line 1"):
        read_charset(p)
    p.write_text("\n\n")
    with pytest.raises(DataError, match="character list is empty"):
        read_charset(p)


def _sources(tmp_path, list_labels: list[str], gt_texts: list[str]) -> list[str]:
    """A gt list and an ICDAR gt folder holding these labels (as box texts)."""
    (tmp_path / "gt_list.txt").write_text("".join(f"{i}.png\t{t}\n" for i, t in enumerate(list_labels)))
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "gt_p.txt").write_text("".join(f"0,0,5,0,5,5,0,5,{t}\n" for t in gt_texts))
    return [str(tmp_path / "gt_list.txt"), str(gt)]


def test_make_charset_from_gt_list_and_icdar_folder(tmp_path):
    out = tmp_path / "chars.txt"
    inputs = _sources(tmp_path, ["Hi there", "x1"], ["Zed", "###"])
    summary = make_charset(CharsetSpec(inputs=inputs, output=str(out)))
    assert read_charset(out) == [" ", "1", "H", "Z", "d", "e", "h", "i", "r", "t", "x"]
    assert summary["has_space"] and summary["labels"] == 3


def test_make_charset_adds_extra_characters_no_label_holds(tmp_path):
    out = tmp_path / "chars.txt"
    inputs = _sources(tmp_path, ["LEA", "JEAN-ROCH"], [])
    summary = make_charset(CharsetSpec(inputs=inputs[:1], output=str(out), extra="'-"))
    assert read_charset(out) == ["'", "-", "A", "C", "E", "H", "J", "L", "N", "O", "R"]
    assert summary["added"] == "'"  # the hyphen was already in a label


def test_make_lexicon_keeps_distinct_words_most_frequent_first(tmp_path):
    from ocdr.data.charset import LexiconFileSpec, make_lexicon

    out = tmp_path / "lexicon.txt"
    inputs = _sources(tmp_path, ["LEA", "EMMA", "LEA ", "ZOE"], ["EMMA", "###", "LEA"])
    summary = make_lexicon(LexiconFileSpec(inputs=inputs, output=str(out)))
    assert out.read_text().splitlines() == ["LEA", "EMMA", "ZOE"]  # 3, 2, 1 times; ### is not a word
    assert (summary["words"], summary["labels"]) == (3, 6)
    make_lexicon(LexiconFileSpec(inputs=[str(tmp_path / "gt_list.txt")], output=str(out), min_count=2))
    assert out.read_text().splitlines() == ["LEA"]
    with pytest.raises(OcdrError, match="no word seen 9 times or more"):
        make_lexicon(LexiconFileSpec(inputs=[str(tmp_path / "gt_list.txt")], output=str(out), min_count=9))
