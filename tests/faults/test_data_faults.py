"""Bad data never makes a metric silently wrong (issue #16, points 1, 2, 3 and 9).

A bad record stops the command before any training or evaluation step, with one line naming the file
(and line), or under ``skip_bad`` is left out and counted by reason: never replaced by another record.
Summaries state evaluated + skipped = total. Each test builds its own tiny data.
"""
import io
import json
import tarfile
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ocdr.cli.main import main
from ocdr.data.charset import Charset
from ocdr.data.checks import check_all, check_image
from ocdr.data.det_dataset import DetectionDataset, det_collate
from ocdr.data.formats import leaves_folder, parse_icdar_line, read_icdar_gt
from ocdr.data.iam import IamSpec, convert_iam
from ocdr.data.icdar import IcdarSpec, convert_icdar
from ocdr.data.images import write_image
from ocdr.data.lmdb_io import LmdbConvertSpec, convert_to_lmdb, read_lmdb, write_lmdb
from ocdr.data.polygon import shape_defect
from ocdr.data.rec_dataset import RecognitionDataset, rec_collate
from ocdr.data.stats import StatsSpec, dataset_stats
from ocdr.data.transforms import DetAugSpec
from ocdr.errors import DataError

LABELS = ["a", "bb", "cc", "dab", "ed", "fig", "gj", "hi", "ij", "jab"]  # in the tiny models' characters
QUAD = "10,10,50,10,50,30,10,30,"
COLLINEAR = "0,0,10,0,20,0,30,0,"
BOWTIE = "0,0,40,30,40,0,0,30,"
IAM = Path(__file__).resolve().parents[1] / "fixtures" / "iam"


def _png(value: int = 128, size=(40, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buf, format="PNG")
    return buf.getvalue()


def _crops(folder: Path, missing: int | None = None) -> Path:
    """Ten crops listed in gt_list.txt, each label once; crop ``missing`` is listed but absent."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, label in enumerate(LABELS):
        if i != missing:
            (folder / f"c{i}.png").write_bytes(_png(20 * i))
        lines.append(f"c{i}.png\t{label}\n")
    (folder / "gt_list.txt").write_text("".join(lines))
    return folder / "gt_list.txt"


def _pages(root: Path, n: int = 4, truncated: int | None = None) -> Path:
    """``n`` 64x48 pages, one word box each (page 0 also a collinear and a bow-tie box); page
    ``truncated`` is cut short and has two boxes, so counting it or a stand-in would change num_gt."""
    for i in range(n):
        img = np.full((48, 64, 3), 255, np.uint8)
        img[10:31, 10:51] = 0
        write_image(root / "img" / f"p{i}.png", img)
        lines = QUAD + "word\n" + (COLLINEAR + "flat\n" + BOWTIE + "cross\n" if i == 0 else "")
        if i == truncated:
            data = (root / "img" / f"p{i}.png").read_bytes()
            (root / "img" / f"p{i}.png").write_bytes(data[: len(data) * 2 // 3])
            lines = QUAD + "one\n" + QUAD + "two\n"
        (root / "gt").mkdir(exist_ok=True)
        (root / "gt" / f"gt_p{i}.txt").write_text(lines)
    return root


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


# --- point 1: evaluation counts what it read ------------------------------------------------------------

def _rec_eval(tiny, sources, out, *extra) -> list[str]:
    return ["ocrnet", "evaluate", f"evaluate.checkpoint={tiny / 'rec.pth'}", f"evaluate.test_dataset_dir=[{sources}]",
            f"evaluate.results_dir={out}", "evaluate.num_worst=20", "dataset.synth_if_missing=false",
            "train.num_workers=0", "train.device=cpu", "train.batch_size=4", *extra]


def test_ocrnet_evaluate_skips_a_missing_file_and_counts_it(tiny_models, tmp_path, capsys):
    """10 listed crops, crop 3 missing: 9 evaluated, each label once, skipped {missing file: 1}, total 10."""
    gt = _crops(tmp_path / "crops", missing=3)
    assert main(_rec_eval(tiny_models, gt, tmp_path / "ev", "dataset.skip_bad=true")) == 0
    summary = json.loads(capsys.readouterr().out)
    report = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    for counts in (summary, report):
        assert (counts["evaluated"], counts["skipped"], counts["total"]) == (9, {"missing file": 1}, 10)
    assert report["metrics"]["greedy"]["num_samples"] == 9
    assert sorted(row["label"] for row in report["worst"]) == sorted(LABELS[:3] + LABELS[4:])  # no stand-in


def test_ocrnet_evaluate_stops_on_a_missing_file_before_scoring(tiny_models, tmp_path, capsys):
    gt = _crops(tmp_path / "crops", missing=3)
    assert main(_rec_eval(tiny_models, gt, tmp_path / "ev")) == 2
    assert _one_error_line(capsys).endswith(f"gt_list.txt:4: image not found: {tmp_path / 'crops' / 'c3.png'}")
    assert not (tmp_path / "ev" / "metrics.json").exists()


def test_ocrnet_evaluate_on_an_lmdb_with_a_corrupt_record(tiny_models, tmp_path, capsys):
    write_lmdb(tmp_path / "db", [(_png(10 * i) if i != 5 else b"garbage", label) for i, label in enumerate(LABELS)])
    assert main(_rec_eval(tiny_models, tmp_path / "db", tmp_path / "ev", "dataset.skip_bad=true")) == 0
    report = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert (report["evaluated"], report["skipped"], report["total"]) == (9, {"unreadable image": 1}, 10)
    assert sorted(row["label"] for row in report["worst"]) == sorted(LABELS[:5] + LABELS[6:])


def test_label_drops_are_part_of_skipped(tmp_path):
    """A label outside the character list or too long is skipped too: evaluated + skipped = total."""
    gt = _crops(tmp_path / "crops", missing=0)
    ds = RecognitionDataset([str(gt)], Charset(list("abcdefghi")), max_label_length=2, train=False, skip_bad=True)
    # c0 missing; 'dab', 'fig' too long; 'gj', 'ij' (j), 'jab' (too long first) rejected
    assert len(ds) == 4 and ds.total == 10
    assert ds.skipped == {"missing file": 1, "label longer than max_label_length": 3,
                          "character not in the character list": 2}


def test_a_crop_that_fails_while_reading_is_dropped_and_counted_not_replaced(tmp_path):
    gt = _crops(tmp_path / "crops")
    ds = RecognitionDataset([str(gt)], Charset(list("abcdefghij")), train=False, skip_bad=True)
    (tmp_path / "crops" / "c2.png").unlink()  # after the check: the data changed during the run
    batches = list(DataLoader(ds, batch_size=4, collate_fn=rec_collate))
    labels = [label for b in batches for label in b["labels"]]
    assert labels == LABELS[:2] + LABELS[3:]
    assert sum(b["images"].shape[0] for b in batches) == 9
    assert [b["skipped"] for b in batches] == [{"missing file": 1}, {}, {}]
    (tmp_path / "crops" / "c2.png").write_bytes(_png())  # without skip_bad, the same failure raises
    strict = RecognitionDataset([str(gt)], Charset(list("abcdefghij")), train=False)
    (tmp_path / "crops" / "c2.png").unlink()
    with pytest.raises(DataError, match=r"gt_list.txt:3: image not found"):
        strict[2]


def test_every_crop_of_a_batch_failing_gives_an_empty_batch():
    out = rec_collate([{"skipped": "missing file", "index": 0}, {"skipped": "unreadable image", "index": 1}])
    assert out == {"images": None, "labels": [], "skipped": {"missing file": 1, "unreadable image": 1}}


def _det_eval(tiny, root, out, *extra) -> list[str]:
    return ["ocdnet", "evaluate", f"evaluate.checkpoint={tiny / 'det.pth'}", f"evaluate.data_path=[{root}]",
            f"evaluate.results_dir={out}", "evaluate.num_worst=10", "dataset.synth_if_missing=false",
            "train.device=cpu", "dataset.image_size=64", *extra]


def test_ocdnet_evaluate_skips_a_truncated_image_and_counts_nothing_twice(tiny_models, tmp_path, capsys):
    root = _pages(tmp_path / "pages", truncated=2)
    assert main(_det_eval(tiny_models, root, tmp_path / "ev", "dataset.skip_bad=true")) == 0
    summary = json.loads(capsys.readouterr().out)
    report = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    for counts in (summary, report):
        assert (counts["evaluated"], counts["skipped"], counts["total"]) == (3, {"unreadable image": 1}, 4)
        assert counts["box_problems"] == {"collinear": 1, "self-intersecting": 1}
    assert report["num_gt"] == 5  # p0: 3 boxes, p1 and p3: 1 each; p2's two are not there, nor a stand-in's
    assert sorted(Path(row["image"]).name for row in report["worst"]) == ["p0.png", "p1.png", "p3.png"]


def test_ocdnet_evaluate_stops_on_a_truncated_image_before_the_model_loads(tiny_models, tmp_path, capsys):
    root = _pages(tmp_path / "pages", truncated=2)
    args = _det_eval(tiny_models, root, tmp_path / "ev")
    args[2] = f"evaluate.checkpoint={tmp_path / 'no_such_model.pth'}"  # never reached: the data fails first
    assert main(args) == 2
    err = _one_error_line(capsys)
    assert err == f"error: {root / 'img' / 'p2.png'}: unreadable image (Truncated File Read)"
    assert not (tmp_path / "ev").exists()


# --- point 2: data checked before a run starts ---------------------------------------------------------------

def test_truncated_detection_image_fails_when_the_dataset_is_built(tmp_path):
    root = _pages(tmp_path / "pages", truncated=1)
    with pytest.raises(DataError, match=r"p1\.png: unreadable image \(Truncated File Read\)$") as info:
        DetectionDataset(root, DetAugSpec(crop_size=64))
    assert "\n" not in str(info.value)
    ds = DetectionDataset(root, DetAugSpec(crop_size=64), skip_bad=True)
    assert len(ds) == 3 and ds.total == 4 and ds.skipped_images == {"unreadable image": 1}
    paths = [p for batch in DataLoader(ds, batch_size=2, collate_fn=det_collate) for p in batch["path"]]
    assert sorted(Path(p).name for p in paths) == ["p0.png", "p2.png", "p3.png"]


def test_training_commands_stop_before_any_step(tmp_path, capsys):
    root = _pages(tmp_path / "pages", truncated=1)
    assert main(["ocdnet", "train", f"dataset.train_data_path=[{root}]", f"dataset.validate_data_path=[{root}]",
                 "dataset.synth_if_missing=false", "model.backbone=tiny", f"train.results_dir={tmp_path / 'det'}"]) == 2
    assert f"{root / 'img' / 'p1.png'}: unreadable image" in _one_error_line(capsys)
    gt = _crops(tmp_path / "crops", missing=7)
    (tmp_path / "chars.txt").write_text("\n".join("abcdefghij") + "\n")
    assert main(["ocrnet", "train", f"dataset.train_dataset_dir=[{gt}]", f"dataset.val_dataset_dir=[{gt}]",
                 f"dataset.character_list_file={tmp_path / 'chars.txt'}", "dataset.synth_if_missing=false",
                 "model.backbone=tiny", f"train.results_dir={tmp_path / 'rec'}"]) == 2
    assert _one_error_line(capsys).endswith(f"gt_list.txt:8: image not found: {tmp_path / 'crops' / 'c7.png'}")


def test_a_detection_image_failing_while_reading_is_dropped_not_replaced(tmp_path):
    root = _pages(tmp_path / "pages")
    ds = DetectionDataset(root, train=False, image_size=64, skip_bad=True)
    (root / "img" / "p1.png").write_bytes(b"overwritten during the run")
    batches = list(DataLoader(ds, batch_size=2, collate_fn=det_collate))
    assert [Path(p).name for b in batches for p in b["path"]] == ["p0.png", "p2.png", "p3.png"]
    assert [b["skipped"] for b in batches] == [{"unreadable image": 1}, {}] and batches[0]["images"].shape[0] == 1
    strict = DetectionDataset(_pages(tmp_path / "again"), train=False, image_size=64)
    (tmp_path / "again" / "img" / "p1.png").write_bytes(b"overwritten")
    with pytest.raises(DataError, match=r"p1\.png: not a readable image"):
        strict[1]


@pytest.mark.parametrize("fmt, cut", [("PNG", 0.5), ("PNG", 0.97), ("JPEG", 0.5), ("JPEG", 0.97)])
def test_the_check_catches_truncation_anywhere(fmt, cut):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(buf, format=fmt)
    data = buf.getvalue()
    assert check_image(data, "x") == (96, 64)
    with pytest.raises(DataError, match=r"^y: unreadable image"):
        check_image(data[: int(len(data) * cut)], "y")
    with pytest.raises(DataError, match=r"^z: empty file"):
        check_image(b"", "z")


def test_the_check_refuses_an_image_over_the_pixel_limit_from_its_header():
    buf = io.BytesIO()
    Image.new("RGB", (96, 64)).save(buf, format="BMP")  # BMP: a format the check decodes fully
    with pytest.raises(DataError, match=r"^x: image of 96x64 = 6,144 pixels exceeds the limit of 6,000"):
        check_image(buf.getvalue(), "x", max_pixels=6000)


def test_checks_run_on_a_thread_pool_and_keep_the_order():
    def check(i):
        if i % 3 == 0:
            raise DataError(f"item{i}", "bad")
        return i * 10, threading.current_thread().name

    out = list(check_all(range(100), check, workers=4))
    assert [i for i, _ in out] == list(range(100))
    assert [str(r) for i, r in out if i % 3 == 0] == [f"item{i}: bad" for i in range(0, 100, 3)]
    good = [r for i, r in out if i % 3]
    assert [v for v, _ in good] == [i * 10 for i in range(100) if i % 3]
    assert all(name.startswith("ocdr-check") for _, name in good)


# --- point 3: coordinates -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, what", [("1e308", "out of range"), ("1e30", "out of range"), ("-2e6", "out of range"),
                                         ("1e400", "not finite"), ("nan", "not finite"), ("-inf", "not finite")])
def test_huge_or_non_finite_coordinates_are_rejected_with_file_and_line(tmp_path, value, what):
    gt = tmp_path / "gt_a.txt"
    gt.write_text(QUAD + "fine\n" + f"1,1,{value},1,20,10,1,10,bad\n")
    with pytest.raises(DataError, match=rf"gt_a\.txt:2: coordinate 3 is {what}: '{value}'"):
        read_icdar_gt(gt)


def test_the_coordinate_bound_is_a_million_pixels_either_way(tmp_path):
    assert parse_icdar_line("-1000000,0,1000000,0,1000000,5,0,5,x").points.min() == -1e6
    with pytest.raises(DataError, match="out of range"):
        parse_icdar_line("0,0,1000000.5,0,10,5,0,5,x")
    (tmp_path / "p.txt").write_text("\n\nw1\t0,1e308,10,0,10,5,0,5\tword\n")  # polygon lines too
    with pytest.raises(DataError, match=r"p\.txt:3: coordinate 2 is out of range"):
        read_icdar_gt(tmp_path / "p.txt")


def test_data_icdar_refuses_a_1e308_line(tmp_path, capsys):
    src = _pages(tmp_path / "src", n=2)
    (src / "gt" / "gt_p1.txt").write_text(QUAD + "ok\n" + "1,1,1e308,1,20,10,1,10,huge\n")
    assert main(["data", "icdar", f"input_dir={src}", f"output_dir={tmp_path / 'out'}"]) == 2
    assert _one_error_line(capsys).endswith("gt_p1.txt:2: coordinate 3 is out of range: '1e308' (|value| > 1e+06)")


@pytest.mark.parametrize("points, defect", [
    ([[5, 5]] * 4, "zero area"), ([[0, 0], [10, 0], [20, 0], [30, 0]], "collinear"),
    ([[0, 0], [10, 10], [20, 20], [5, 5]], "collinear"), ([[0, 0], [40, 30], [40, 0], [0, 30]], "self-intersecting"),
    ([[0, 0], [10, 0], [10, 5], [0, 5]], None), ([[0, 0], [10, 0], [20, 0], [20, 10], [10, 10], [0, 10]], None),
    ([[0, 0], [10, 0], [10, 0], [0, 5]], None)])  # a repeated point leaves a proper triangle
def test_shape_defects(points, defect):
    assert shape_defect(np.array(points, float)) == defect


def test_box_problems_are_counted_in_stats_and_converter_summaries(tmp_path):
    src = _pages(tmp_path / "src", n=2)
    (src / "gt" / "gt_p1.txt").write_text(QUAD + "ok\n" + "7,7,7,7,7,7,7,7,dot\n")
    stats = dataset_stats(StatsSpec(path=str(src)))
    assert stats["box_problems"] == {"collinear": 1, "self-intersecting": 1, "zero area": 1} and stats["regions"] == 5
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    assert summary["box_problems"] == {"collinear": 1, "self-intersecting": 1, "zero area": 1}
    assert summary["regions"] == 5  # kept, as they are
    ds = DetectionDataset(tmp_path / "out" / "train", DetAugSpec(crop_size=64))
    assert ds.box_problems == {"collinear": 1, "self-intersecting": 1, "zero area": 1}
    assert all(torch.isfinite(ds[i]["targets"]["threshold_map"]).all() for i in range(len(ds)))  # no crash, no NaN


# --- point 9: converters --------------------------------------------------------------------------------------

def test_icdar_skip_bad_leaves_out_non_utf8_gt_and_images_whose_every_line_is_bad(tmp_path):
    src = _pages(tmp_path / "src", n=4)
    (src / "gt" / "gt_p1.txt").write_bytes(QUAD.encode() + b"caf\xe9\n")  # Latin-1, not UTF-8
    (src / "gt" / "gt_p2.txt").write_text("1,2,3,bad\n")  # its only line is bad
    (src / "gt" / "gt_p3.txt").write_text(QUAD + "kept\n" + "1,2,3,bad\n")  # one good line left
    with pytest.raises(DataError, match=r"gt_p1\.txt:1: not UTF-8 text \(byte 0xe9\)"):
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out")))
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), skip_bad=True))
    assert summary["skipped"] == {"image with no valid gt line": 1, "malformed gt line": 2, "unreadable gt file": 1}
    assert summary["images"] == {"train": 2}
    out = tmp_path / "out" / "train"
    assert sorted(p.name for p in (out / "img").iterdir()) == ["p0.png", "p3.png"]
    assert sorted(p.name for p in (out / "gt").iterdir()) == ["gt_p0.txt", "gt_p3.txt"]
    assert [r.text for r in read_icdar_gt(out / "gt" / "gt_p3.txt")] == ["kept"]


def test_detection_dataset_and_stats_leave_out_the_same_images(tmp_path):
    src = _pages(tmp_path / "src", n=3)
    (src / "gt" / "gt_p1.txt").write_bytes(b"\xff\xfe")
    (src / "gt" / "gt_p2.txt").write_text(QUAD + "kept\n" + "nan,1,2,3,4,5,6,7,bad\n")
    ds = DetectionDataset(src, train=False, image_size=64, skip_bad=True)
    assert [p.name for p, _, _ in ds.samples] == ["p0.png", "p2.png"] and ds.total == 3
    assert ds.skipped_images == {"unreadable gt file": 1} and ds.skipped_lines == {"malformed gt line": 1}
    stats = dataset_stats(StatsSpec(path=str(src), skip_bad=True))
    assert stats["images"] == 2 and stats["skipped"] == {"malformed gt line": 1, "unreadable gt file": 1}


@pytest.mark.parametrize("image_format", ["keep", "png"])
def test_16_bit_rgb_is_written_as_8_bit(tmp_path, image_format):
    src = tmp_path / "src"
    rgb16 = np.zeros((12, 16, 3), np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 0xAB12, 0x3456, 0xFFFF
    (src / "img").mkdir(parents=True)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    (src / "img" / "deep.png").write_bytes(buf.tobytes())
    (src / "gt").mkdir()
    (src / "gt" / "gt_deep.txt").write_text("1,1,10,1,10,8,1,8,x\n")
    summary = convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(tmp_path / "out"), image_format=image_format))
    written = cv2.imread(str(tmp_path / "out" / "train" / "img" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint8 and summary["re_encoded"] == 1
    assert cv2.cvtColor(written, cv2.COLOR_BGR2RGB)[0, 0].tolist() == [0xAB, 0x34, 0xFF]


@pytest.mark.parametrize("rel", ["../../etc/passwd", "/etc/passwd", "a/../../outside.png", "..", "C:\\x.png"])
def test_paths_leaving_the_list_folder(rel):
    assert leaves_folder(rel)


@pytest.mark.parametrize("rel", ["a.png", "sub/a.png", "sub/../a.png", "./a.png", "..a.png"])
def test_paths_inside_the_list_folder(rel):
    assert not leaves_folder(rel)


def test_dataset_convert_refuses_paths_outside_the_list_folder_unless_allowed(tmp_path, capsys):
    (tmp_path / "outside.png").write_bytes(_png(77))
    (tmp_path / "crops").mkdir()
    (tmp_path / "crops" / "in.png").write_bytes(_png(10))
    gt = tmp_path / "crops" / "gt_list.txt"
    (tmp_path / "secret.txt").write_text("not for a dataset")
    gt.write_text(f"in.png\tinside\n../outside.png\tup\n{tmp_path / 'outside.png'}\tabsolute\n../secret.txt\tsecret\n")
    assert main(["ocrnet", "dataset_convert", f"gt_list={gt}", f"output_dir={tmp_path / 'db'}"]) == 2
    assert _one_error_line(capsys).endswith(f"gt_list.txt:2: image path '../outside.png' leaves {tmp_path / 'crops'} "
                                            "(absolute, or '..' above it); set allow_outside=true to read it")
    summary = convert_to_lmdb(LmdbConvertSpec(gt_list=str(gt), output_dir=str(tmp_path / "db"), skip_bad=True))
    assert summary["samples"] == 1 and summary["skipped"] == {"path outside the folder": 3}
    summary = convert_to_lmdb(LmdbConvertSpec(gt_list=str(gt), output_dir=str(tmp_path / "db"), skip_bad=True,
                                              allow_outside=True, check_images=True))
    # the text file is read only when allowed, and then refused as an image, not packed
    assert summary["samples"] == 3 and summary["skipped"] == {"unreadable image": 1}
    assert [label for _, _, label in read_lmdb(tmp_path / "db")] == ["inside", "up", "absolute"]


def test_iam_skip_bad_leaves_out_non_utf8_lines(tmp_path):
    with tarfile.open(IAM / "ascii.tgz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("words.txt"))
        text = tar.extractfile(member).read()
    lines = text.split(b"\n")
    bad_at = next(i for i, line in enumerate(lines) if line and not line.startswith(b"#"))
    lines.insert(bad_at, b"a01-000u-00-99 ok 154 1 408 768 27 51 AT caf\xe9")
    (tmp_path / "words.txt").write_bytes(b"\n".join(lines))
    forms = [str(IAM / "formsA-D.tgz"), str(IAM / "formsI-Z.tgz")]
    with pytest.raises(DataError, match=rf"words\.txt:{bad_at + 1}: not UTF-8 text \(byte 0xe9\)"):
        convert_iam(IamSpec(ascii=str(tmp_path / "words.txt"), forms=forms, output_dir=str(tmp_path / "a")))
    clean = convert_iam(IamSpec(ascii=str(IAM / "ascii.tgz"), forms=forms, output_dir=str(tmp_path / "b")))
    skipped = convert_iam(IamSpec(ascii=str(tmp_path / "words.txt"), forms=forms, output_dir=str(tmp_path / "c"),
                                  skip_bad=True))
    assert skipped["skipped"] == {**clean["skipped"], "not UTF-8": 1}
    assert skipped["words"] == clean["words"] and skipped["forms"] == clean["forms"]
