"""``ocdr data crops``: word crops from an ICDAR-style folder with ``images/`` (as ../shared/data lays them out)."""
import json

import cv2
import numpy as np

from ocdr.cli.main import main
from ocdr.data.formats import read_gt_list
from ocdr.data.icdar import IcdarSpec, convert_icdar


def _folder(root):
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    page = np.full((120, 300, 3), 255, np.uint8)
    cv2.putText(page, "ab", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    cv2.imwrite(str(root / "images" / "img_1.jpg"), page)
    (root / "gt" / "img_1.txt").write_text(
        "15,25,90,25,90,70,15,70,ab\n"                    # a word
        "150,80,260,70,265,100,155,110,tilted, too\n"     # a rotated quad, a comma in the text
        "200,10,250,10,250,30,200,30,###\n"               # don't care
        "900,900,950,900,950,950,900,950,far\n")          # outside the image
    return root


def test_crops_gt_list_and_counts(tmp_path, capsys):
    src = _folder(tmp_path / "icdar")
    out = tmp_path / "crops"
    assert main(["data", "crops", f"input_dir={src}", f"output_dir={out}", "height=32"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{"):])
    assert (summary["crops"], summary["dont_care_skipped"], summary["boxes_outside_image"]) == (2, 1, 1)
    samples = read_gt_list(out / "gt_list.txt")
    assert [label for _, label in samples] == ["ab", "tilted, too"]
    crop = cv2.imread(str(out / samples[1][0]))
    assert crop.shape[0] == 32 and crop.shape[1] > 2 * crop.shape[0]  # upright and wide
    chars = (out / "character_list.txt").read_text(encoding="utf-8").splitlines()
    assert set("abtiled,o") <= set(chars) and " " in chars


def test_icdar_converter_reads_an_images_folder(tmp_path):
    src = _folder(tmp_path / "icdar")
    result = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    assert result["images"] == {"train": 1} and (tmp_path / "out" / "train" / "img").is_dir()
