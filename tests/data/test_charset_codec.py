"""The Charset codec: index layouts, unknown-character policies, case folding, head remapping.

Most tests use CHARS below; its CTC ids are blank=0, "a"=1, " "=2, "ä"=3, "ß"=4, "é"=5.
"""
import pytest

from ocdr.data.charset import UNK_CHAR, Charset, UnknownCharacterError, remap_rows, write_charset
from ocdr.errors import ConfigError, DataError

CHARS = ["a", " ", "ä", "ß", "é"]


def test_ctc_round_trip_with_space_and_non_ascii():
    """Spaces and non-ASCII letters are ordinary characters; id 0 stays free for the blank."""
    cs = Charset(CHARS)
    ids = cs.encode_ctc("ä ßé a")
    assert ids == [3, 2, 4, 5, 2, 1]
    assert cs.decode_ctc_ids(ids) == "ä ßé a"
    assert cs.num_classes_ctc == 6 and len(cs) == 5 and Charset.BLANK == 0


def test_decode_ctc_ids_skips_blanks_keeps_repeats_and_checks_range():
    """No collapsing here: [1, 1, 0, 1] is "aaa" (the blank is dropped, repeats are not)."""
    cs = Charset(CHARS)
    assert cs.decode_ctc_ids([1, 1, 0, 1]) == "aaa"
    with pytest.raises(ValueError, match="CTC id 6 outside 0..5"):
        cs.decode_ctc_ids([6])


def test_drop_policy_raises_a_value_error_naming_the_character():
    cs = Charset(CHARS)
    with pytest.raises(UnknownCharacterError, match=r"'x' \(U\+0078\) of 'ax'") as info:
        cs.encode_ctc("ax")
    assert isinstance(info.value, ValueError) and info.value.char == "x"


def test_unk_policy_maps_to_the_last_index_and_decodes_to_the_replacement_char():
    """<unk> is appended after the 5 characters: CTC id 6, so 7 classes. It decodes to U+FFFD, one
    character, so the decoded text keeps one character per token."""
    cs = Charset(CHARS, unknown="unk")
    assert cs.encode_ctc("axa") == [1, 6, 1]
    assert cs.num_classes_ctc == 7 and cs.unk_index == 6
    assert cs.decode_ctc_ids([1, 6, 1]) == "a" + UNK_CHAR + "a"
    assert cs.to_list() == CHARS  # the token is not a character of the file


def test_error_policy_raises_data_error():
    with pytest.raises(DataError, match=r"character 'x' \(U\+0078\) of label 'ax'"):
        Charset(CHARS, unknown="error").encode_ctc("ax")
    with pytest.raises(ConfigError, match="drop, unk, error"):
        Charset(CHARS, unknown="skip")


def test_case_folding_only_when_the_list_has_no_upper_case():
    """With case_fold, "ÄA" is lowered to "äa" first. A list that holds "A" can spell upper case,
    so folding is off there and "A" keeps its own id 2."""
    assert Charset(CHARS, case_fold=True).encode_ctc("ÄA") == [3, 1]
    with pytest.raises(UnknownCharacterError):
        Charset(CHARS).encode_ctc("A")
    upper = Charset(["a", "A"], case_fold=True)
    assert not upper.folds and upper.encode_ctc("aA") == [1, 2]


def test_attention_layout_go_eos_and_padding():
    """GO=0, EOS=1, "a"=2, "b"=3. "ab" with max_len 4 -> targets [a, b, EOS] padded with EOS to
    max_len + 1 = 5 entries; length 3 counts the EOS."""
    cs = Charset(["a", "b"])
    assert cs.num_classes_attn == 4
    assert cs.encode_attn("ab", 4) == ([2, 3, 1, 1, 1], 3)
    assert cs.encode_attn("", 2) == ([1, 1, 1], 1)
    assert cs.decode_attn([2, 3, 1, 2, 2]) == "ab"  # everything after the first EOS is ignored
    assert cs.decode_attn([0, 3, 2]) == "ba"  # no EOS: read to the end; GO is not a character
    with pytest.raises(ValueError, match="more than max_len=2"):
        cs.encode_attn("abb", 2)


def test_remap_rows_pairs_blank_and_shared_characters():
    """old: a=1 b=2 c=3; new: c=1 a=2 d=3. Shared: blank (0,0), a (1,2), c (3,1); b and d have no
    partner. With <unk> in both (old 4, new 4) that row carries over too."""
    old, new = Charset(["a", "b", "c"]), Charset(["c", "a", "d"])
    assert remap_rows(old, new) == [(0, 0), (1, 2), (3, 1)]
    assert remap_rows(Charset(["a", "b", "c"], unknown="unk"), Charset(["c", "a", "d"], unknown="unk"))[-1] == (4, 4)


def test_from_file_and_equality(tmp_path):
    path = write_charset(tmp_path / "chars.txt", CHARS)
    cs = Charset.from_file(path, unknown="unk")
    assert cs == Charset(CHARS, unknown="unk")
    assert cs != Charset(CHARS) and cs != Charset(CHARS[::-1], unknown="unk")
    with pytest.raises(ValueError, match="duplicates"):
        Charset(["a", "a"])
