"""``ocdr data icdar``: gt naming conventions, lying extensions, image modes, splits, real data."""
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocdr.data.formats import read_icdar_gt
from ocdr.data.icdar import IcdarSpec, convert_icdar, natural_key, split_names
from ocdr.data.images import read_image, sniff_format
from ocdr.errors import DataError

QUAD = "1,1,20,1,20,10,1,10,"


def _save(img: Image.Image, path: Path, fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    path.write_bytes(buf.getvalue())


def _folder(tmp_path):
    src = tmp_path / "src"
    _save(Image.new("RGB", (32, 24), (10, 20, 30)), src / "img" / "a.jpg", "JPEG")              # gt_<stem>.txt
    _save(Image.new("RGBA", (32, 24), (0, 0, 255, 0)), src / "img" / "b.jpg")                  # PNG bytes, RGBA, <stem>.txt
    _save(Image.new("L", (32, 24), 77), src / "img" / "c.png")                                  # gray, <image>.txt
    _save(Image.fromarray(np.full((24, 32), 65535, np.uint16)), src / "img" / "d.png")         # 16-bit
    (src / "gt").mkdir()
    (src / "gt" / "gt_a.txt").write_text(QUAD + "alpha\n")
    (src / "gt" / "b.txt").write_text(QUAD + "beta\n" + QUAD + "###\n")
    (src / "gt" / "c.png.txt").write_text("\ufeff" + QUAD + "gamma, delta\n")
    (src / "gt" / "gt_d.txt").write_text(QUAD + "d\n")
    return src


def test_each_gt_naming_convention_and_image_quirk(tmp_path):
    summary = convert_icdar(IcdarSpec(input_dir=str(_folder(tmp_path)), output_dir=str(tmp_path / "out")))
    out = tmp_path / "out" / "train"
    assert sorted(p.name for p in (out / "img").iterdir()) == ["a.jpg", "b.png", "c.png", "d.png"]
    assert sorted(p.name for p in (out / "gt").iterdir()) == ["gt_a.txt", "gt_b.txt", "gt_c.txt", "gt_d.txt"]
    assert sniff_format((out / "img" / "b.png").read_bytes()) == "png"
    assert read_image(out / "img" / "b.png")[0, 0].tolist() == [255, 255, 255]  # transparent -> white
    for name, value in (("c.png", 77), ("d.png", 255)):
        with Image.open(out / "img" / name) as im:
            assert im.mode == "RGB"  # flattened to 8-bit, 3 channels
        assert read_image(out / "img" / name)[0, 0].tolist() == [value] * 3
    assert (out / "img" / "a.jpg").read_bytes() == (tmp_path / "src" / "img" / "a.jpg").read_bytes()  # untouched
    assert [r.text for r in read_icdar_gt(out / "gt" / "gt_c.txt")] == ["gamma, delta"]
    assert summary["images"] == {"train": 4} and summary["regions"] == 5 and summary["dont_care"] == 1
    assert summary["extension_fixed"] == 1 and summary["re_encoded"] == 3


def test_fixed_split_by_natural_order(tmp_path):
    src = tmp_path / "src"
    for i in (1, 2, 10, 11, 3):
        _save(Image.new("RGB", (8, 8)), src / f"img_{i}.png")
        (src / f"img_{i}.png.txt").write_text(QUAD + "x\n")
    convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), test_fraction=0.4))
    names = lambda s: sorted(p.name for p in (tmp_path / "out" / s / "img").iterdir())  # noqa: E731
    assert names("train") == ["img_1.png", "img_2.png", "img_3.png"]
    assert names("test") == ["img_10.png", "img_11.png"]
    assert split_names(719, 0.1) == 72 and split_names(1, 0.5) == 0
    assert sorted(["img_10", "img_2"], key=natural_key) == ["img_2", "img_10"]


def test_bad_gt_line_names_file_and_line_or_is_skipped(tmp_path):
    src = _folder(tmp_path)
    (src / "gt" / "gt_a.txt").write_text(QUAD + "ok\n1,2,3,x,5,6,7,8,bad\n")
    with pytest.raises(DataError, match=r"gt_a.txt:2: coordinate 4 is not a number: 'x'"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), skip_bad=True))
    assert summary["skipped"] == {"malformed gt line": 1}


def test_missing_gt_truncated_image_and_empty_folder(tmp_path):
    src = _folder(tmp_path)
    (src / "gt" / "gt_d.txt").unlink()
    with pytest.raises(DataError, match=r"d.png: no ground truth found"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    data = (src / "img" / "a.jpg").read_bytes()
    (src / "img" / "a.jpg").write_bytes(data[: len(data) // 2])
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), skip_bad=True))
    assert summary["skipped"] == {"image without gt": 1, "unreadable image": 1}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: no images found"):
        convert_icdar(IcdarSpec(input_dir=str(empty), output_dir=str(tmp_path / "o2")))


def test_real_handwriting_files(tmp_path, hme_dir):
    """Five real files, gt named <image>.txt; img_1.jpg holds RGBA PNG data, the others real JPEGs."""
    src = tmp_path / "hme"
    (src / "img").mkdir(parents=True)
    (src / "gt").mkdir()
    for i in (1, 2, 3, 10, 11):
        shutil.copy(hme_dir / "img" / f"img_{i}.jpg", src / "img")
        shutil.copy(hme_dir / "gt" / f"img_{i}.jpg.txt", src / "gt")
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), test_fraction=0.2))
    assert summary["images"] == {"train": 4, "test": 1} and summary["extension_fixed"] == 1
    with Image.open(tmp_path / "out" / "train" / "img" / "img_1.png") as im:
        assert im.mode == "RGB" and im.format == "PNG"
    assert (tmp_path / "out" / "test" / "img" / "img_11.jpg").is_file()
    regions = read_icdar_gt(tmp_path / "out" / "test" / "gt" / "gt_img_11.txt")
    assert regions and all(r.text == "HME" and r.points.shape == (4, 2) for r in regions)
