"""ocdr data split: every N-th item by natural name order to val/, links and lists, nothing copied."""
import numpy as np
import pytest

from ocdr.data.formats import read_gt_list
from ocdr.data.images import write_image
from ocdr.data.splits import SplitSpec, every_nth, split_folder
from ocdr.errors import ConfigError


def test_every_nth_uses_natural_order():
    names = [f"img_{i}.jpg" for i in range(1, 13)]
    train, val = every_nth(names[::-1], 5)
    assert val == ["img_1.jpg", "img_6.jpg", "img_11.jpg"] and len(train) == 9


def _page_folder(root, n):
    for i in range(1, n + 1):
        write_image(root / "images" / f"p{i}.png", np.full((8, 8, 3), 255, np.uint8))
        (root / "gt").mkdir(parents=True, exist_ok=True)
        (root / "gt" / f"p{i}.txt").write_text("0,0,4,0,4,4,0,4,w\n")
        (root / "gt_poly").mkdir(exist_ok=True)
        (root / "gt_poly" / f"p{i}.txt").write_text("id\t0,0,4,0,4,4,2,6,0,4\tw\n")


def test_page_folder_becomes_linked_train_and_val(tmp_path):
    _page_folder(tmp_path / "src", 12)
    out = split_folder(SplitSpec(input_dir=str(tmp_path / "src"), output_dir=str(tmp_path / "out"), every=10))
    assert (out["train"], out["val"]) == (10, 2) and out["annotations"] == ["gt", "gt_poly"]
    val = sorted(p.name for p in (tmp_path / "out/val/images").iterdir())
    assert val == ["p1.png", "p11.png"]
    link = tmp_path / "out/val/gt_poly/p11.txt"
    assert link.is_symlink() and link.resolve() == (tmp_path / "src/gt_poly/p11.txt").resolve()


def test_crop_folder_becomes_two_lists_of_the_original_crops(tmp_path):
    src = tmp_path / "words"
    src.mkdir()
    (src / "gt.txt").write_text("".join(f"w{i}.png\tword{i}\n" for i in range(1, 22)))
    out = split_folder(SplitSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    assert (out["train"], out["val"]) == (18, 3)
    val = read_gt_list(tmp_path / "out/val/gt_list.txt")
    assert [label for _, label in val] == ["word1", "word11", "word21"]
    assert val[0][0] == str((src / "w1.png").resolve())


def test_output_inside_the_input_is_refused(tmp_path):
    _page_folder(tmp_path / "src", 2)
    with pytest.raises(ConfigError, match="outside"):
        split_folder(SplitSpec(input_dir=str(tmp_path / "src"), output_dir=str(tmp_path / "src/split")))
