"""``ocdr data icdar``: gt naming conventions, lying extensions, image modes, splits, real data."""
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocdr.data.formats import read_icdar_gt
from ocdr.data.icdar import IcdarSpec, convert_icdar, split_names
from ocdr.data.images import natural_key
from ocdr.data.images import read_image, sniff_format
from ocdr.errors import ConfigError, DataError

QUAD = "1,1,20,1,20,10,1,10,"
HEXAGON = "0,0,10,0,20,0,20,10,10,10,0,10,"


def _save(img: Image.Image, path: Path, fmt: str = "PNG") -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def _folder(tmp_path: Path) -> Path:
    """Four images, one per quirk, each with a different gt naming convention."""
    src = tmp_path / "src"
    _save(Image.new("RGB", (32, 24), (10, 20, 30)), src / "img" / "a.jpg", "JPEG")    # plain JPEG, gt_<stem>.txt
    rgba = Image.new("RGBA", (32, 24), (0, 0, 255, 0))                                  # transparent blue ...
    rgba.putpixel((1, 0), (255, 0, 0, 255))                                              # ... one opaque red pixel
    _save(rgba, src / "img" / "b.jpg")                                                   # PNG bytes named .jpg, <stem>.txt
    _save(Image.new("L", (32, 24), 77), src / "img" / "c.png")                          # grayscale, <image name>.txt
    _save(Image.fromarray(np.full((24, 32), 128 * 257, np.uint16)), src / "img" / "d.png")  # 16-bit, gt_<stem>.txt
    (src / "gt").mkdir()
    (src / "gt" / "gt_a.txt").write_text(QUAD + "alpha\n")
    (src / "gt" / "b.txt").write_text(QUAD + "beta\n" + QUAD + "###\n")
    (src / "gt" / "c.png.txt").write_text("\ufeff" + QUAD + "gamma, delta\n")
    (src / "gt" / "gt_d.txt").write_text(HEXAGON + "six points\n")
    return src


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_each_gt_naming_convention_and_image_quirk(tmp_path):
    src = _folder(tmp_path)
    (src / "gt" / "gt_lost.txt").write_text(QUAD + "no image\n")  # a gt whose image is missing: a warning
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    out = tmp_path / "out" / "train"
    assert _names(out / "img") == ["a.jpg", "b.png", "c.png", "d.png"]
    assert _names(out / "gt") == ["gt_a.txt", "gt_b.txt", "gt_c.txt", "gt_d.txt"]
    # b.jpg held RGBA PNG data: now a .png, alpha composited over white, the opaque pixel kept.
    assert sniff_format((out / "img" / "b.png").read_bytes()) == "png"
    assert read_image(out / "img" / "b.png")[0, :2].tolist() == [[255, 255, 255], [255, 0, 0]]
    # Gray 77 is replicated; 16-bit 128*257 scales to exactly 128 (65535 maps to 255).
    for name, value in (("c.png", 77), ("d.png", 128)):
        with Image.open(out / "img" / name) as im:
            assert im.mode == "RGB"
        assert read_image(out / "img" / name)[0, 0].tolist() == [value] * 3
    assert (out / "img" / "a.jpg").read_bytes() == (src / "img" / "a.jpg").read_bytes()  # copied, not re-encoded
    assert [r.text for r in read_icdar_gt(out / "gt" / "gt_c.txt")] == ["gamma, delta"]
    hexagon = read_icdar_gt(out / "gt" / "gt_d.txt")[0]
    assert hexagon.points.shape == (6, 2) and hexagon.text == "six points"  # more than 4 points: kept as is
    assert summary["images"] == {"train": 4} and summary["regions"] == 5 and summary["dont_care"] == 1
    assert summary["extension_fixed"] == 1 and summary["re_encoded"] == 3  # b, c, d; a is copied
    assert summary["gt_without_image"] == 1 and summary["skipped"] == {}


def test_image_format_jpg_copies_jpegs_and_re_encodes_the_rest(tmp_path):
    src = _folder(tmp_path)
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), image_format="jpg"))
    img = tmp_path / "out" / "train" / "img"
    assert _names(img) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert all(sniff_format(p.read_bytes()) == "jpeg" for p in img.iterdir())
    assert (img / "a.jpg").read_bytes() == (src / "img" / "a.jpg").read_bytes()
    assert summary["re_encoded"] == 3 and summary["extension_fixed"] == 1  # b.jpg lied about holding a JPEG


def test_fixed_split_by_natural_order(tmp_path):
    src = tmp_path / "src"
    for i in (1, 2, 10, 11, 3):  # images and <image name>.txt gts in one folder
        _save(Image.new("RGB", (8, 8)), src / f"img_{i}.png")
        (src / f"img_{i}.png.txt").write_text(QUAD + "x\n")
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), test_fraction=0.4))
    # Natural order is 1, 2, 3, 10, 11; round(5 * 0.4) = 2 last ones go to test.
    assert _names(tmp_path / "out" / "train" / "img") == ["img_1.png", "img_2.png", "img_3.png"]
    assert _names(tmp_path / "out" / "test" / "img") == ["img_10.png", "img_11.png"]
    assert summary["images"] == {"train": 3, "test": 2}
    assert split_names(719, 0.1) == 72 and split_names(1, 0.5) == 0
    assert split_names(3, 0.01) == 1 and split_names(2, 0.9) == 1  # at least one, never all
    assert sorted(["img_10", "img_2"], key=natural_key) == ["img_2", "img_10"]


def test_already_split_input(tmp_path):
    src = tmp_path / "src"
    for split in ("train", "test"):
        _save(Image.new("RGB", (8, 8)), src / split / "img" / f"{split}_1.png")
        (src / split / "gt").mkdir()
        (src / split / "gt" / f"gt_{split}_1.txt").write_text(QUAD + split + "\n")
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    assert summary["images"] == {"train": 1, "test": 1}
    assert read_icdar_gt(tmp_path / "out" / "test" / "gt" / "gt_test_1.txt")[0].text == "test"
    with pytest.raises(ConfigError, match="already split"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "o2"), test_fraction=0.1))
    with pytest.raises(ConfigError, match="would replace the input folder"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(src)))
    assert (src / "train" / "img" / "train_1.png").is_file()  # refused before touching anything


def test_bad_gt_line_names_file_and_line_or_is_skipped(tmp_path):
    src = _folder(tmp_path)
    (src / "gt" / "gt_a.txt").write_text(QUAD + "ok\n1,2,3,x,5,6,7,8,bad\n")
    with pytest.raises(DataError, match=r"gt_a.txt:2: coordinate 4 is not a number: 'x'"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), skip_bad=True))
    assert summary["skipped"] == {"malformed gt line": 1}
    assert [r.text for r in read_icdar_gt(tmp_path / "out" / "train" / "gt" / "gt_a.txt")] == ["ok"]


def test_truncated_image_missing_gt_and_empty_folder(tmp_path):
    src = _folder(tmp_path)
    data = (src / "img" / "a.jpg").read_bytes()
    (src / "img" / "a.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"a.jpg: unreadable image"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    (src / "gt" / "gt_d.txt").unlink()
    with pytest.raises(DataError, match=r"d.png: no ground truth found"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), skip_bad=True))
    assert summary["skipped"] == {"image without gt": 1, "unreadable image": 1}
    assert summary["images"] == {"train": 2}  # b and c
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: no images found"):
        convert_icdar(IcdarSpec(input_dir=str(empty), output_dir=str(tmp_path / "o2")))


def test_stem_collision_is_an_error(tmp_path):
    src = _folder(tmp_path)
    _save(Image.new("RGB", (8, 8)), src / "img" / "a.png")  # a.jpg and a.png would both write gt_a.txt
    with pytest.raises(DataError, match=r"a.png: same stem as a.jpg"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))


def test_failed_run_keeps_the_previous_output_and_rerun_replaces_it(tmp_path):
    src = _folder(tmp_path)
    out = tmp_path / "out"
    convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(out)))
    (src / "gt" / "gt_d.txt").write_text("1,2,3\n")  # d is last in order: fails after a, b, c were written
    with pytest.raises(DataError, match=r"gt_d.txt:1"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(out)))
    assert _names(out / "train" / "img") == ["a.jpg", "b.png", "c.png", "d.png"]  # the old conversion
    assert _names(out) == ["train"]  # no temporary folders left behind
    (src / "img" / "b.jpg").unlink()
    (src / "gt" / "gt_d.txt").write_text(QUAD + "d\n")
    convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(out)))
    assert _names(out / "train" / "img") == ["a.jpg", "c.png", "d.png"]  # b.png is not left over


def test_real_handwriting_files(tmp_path, hme_dir):
    """Five real files, gt named <image>.txt; img_1.jpg holds RGBA PNG data, the others real JPEGs."""
    src = tmp_path / "hme"
    (src / "img").mkdir(parents=True)
    (src / "gt").mkdir()
    for i in (1, 2, 3, 10, 11):
        shutil.copy(hme_dir / "img" / f"img_{i}.jpg", src / "img")
        shutil.copy(hme_dir / "gt" / f"img_{i}.jpg.txt", src / "gt")
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), test_fraction=0.2))
    # Natural order 1, 2, 3, 10, 11: round(5 * 0.2) = 1 file, img_11, goes to test.
    assert summary["images"] == {"train": 4, "test": 1}
    assert summary["extension_fixed"] == 1 and summary["re_encoded"] == 1 and summary["skipped"] == {}
    with Image.open(tmp_path / "out" / "train" / "img" / "img_1.png") as im:
        assert im.mode == "RGB" and im.format == "PNG"
    test_image = tmp_path / "out" / "test" / "img" / "img_11.jpg"
    assert test_image.read_bytes() == (src / "img" / "img_11.jpg").read_bytes()
    regions = read_icdar_gt(tmp_path / "out" / "test" / "gt" / "gt_img_11.txt")
    assert len(regions) == len(read_icdar_gt(src / "gt" / "img_11.jpg.txt")) > 0
    assert all(r.text == "HME" and r.points.shape == (4, 2) for r in regions)
