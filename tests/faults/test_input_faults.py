"""Bad inputs to the inference commands: a folder goes on past its bad files and lists them, a single bad
input (or a folder of nothing but bad ones) exits 2 with one line naming the file, and an image too large is
refused from its header. Each test is one row of the fault table (case | command | outcome)."""
import json
import logging
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocdr.cli.main import main
from ocdr.commands.failures import Failures
from ocdr.errors import DataError, OcdrError

AS_ROOT = os.geteuid() == 0  # root reads files whatever their mode, so chmod cannot make them unreadable
LOOSE = ["postprocess.thresh=0.0", "postprocess.box_thresh=0.0", "postprocess.min_size=1"]


def _bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A 57-byte PNG whose header declares ``width`` x ``height`` pixels: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IEND", b""))


def _image(path: Path, h: int = 64, w: int = 96) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return path


@pytest.fixture(scope="module")
def models(tiny_models):
    return tiny_models


def _pipeline(models, source, out, *extra):
    return main(["pipeline", "inference", f"detector={models / 'det.onnx'}", f"recognizer={models / 'rec.onnx'}",
                 f"input={source}", f"results_dir={out}", "long_side=128", *LOOSE, *extra])


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err  # one line, no traceback
    return err[0]


# --- ocdr pipeline inference ---------------------------------------------------------------------

def test_pipeline_folder_with_bad_files_writes_results_for_the_good_ones(models, tmp_path, capsys, caplog):
    """good.png | broken.png (corrupt) | wide.png (33000 px wide: its picture, twice as wide, exceeds JPEG's
    65500 limit, so it fails when written) | bomb.png (header of 20000 x 20000): exit 0, three listed."""
    folder = tmp_path / "in"
    _image(folder / "good.png")
    _corrupt(folder / "broken.png")
    _image(folder / "wide.png", h=8, w=33000)
    (folder / "bomb.png").write_bytes(_bomb())
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="ocdr"):
        assert _pipeline(models, folder, out, "batch_size=4") == 0
    results = json.loads((out / "results.json").read_text())
    assert results["images"] == 1 and results["failed"] == 3
    assert [p["image"] for p in results["pages"]] == [str(folder / "good.png")]
    reasons = {Path(e["image"]).name: e["error"] for e in results["errors"]}
    assert reasons["broken.png"].startswith(f"{folder / 'broken.png'}: not a readable image")
    assert reasons["bomb.png"] == (f"{folder / 'bomb.png'}: image of 20000x20000 = 400,000,000 pixels exceeds the "
                                   "limit of 100,000,000 (raise it with max_pixels=N or OCDR_MAX_PIXELS=N)")
    assert "cannot encode image as .jpg" in reasons["wide.png"] and str(folder / "wide.png") in reasons["wide.png"]
    assert (out / "good.json").is_file() and not (out / "wide.json").exists()  # no half-written success
    summary = json.loads(capsys.readouterr().out)  # the console summary lists them too
    assert summary["failed"] == 3 and {Path(e["image"]).name for e in summary["errors"]} == set(reasons)
    assert sum("failed: " in r.getMessage() for r in caplog.records) == 3


def test_pipeline_single_corrupt_file_exits_2_naming_it(models, tmp_path, capsys):
    bad = _corrupt(tmp_path / "scan.png")
    assert _pipeline(models, bad, tmp_path / "out") == 2
    assert _error_line(capsys).startswith(f"error: {bad}: not a readable image")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["images"] == 0 and results["errors"][0]["image"] == str(bad)


def test_pipeline_folder_where_every_image_fails_exits_2(models, tmp_path, capsys):
    folder = tmp_path / "in"
    _corrupt(folder / "a.png")
    (folder / "b.png").write_bytes(b"")
    assert _pipeline(models, folder, tmp_path / "out") == 2
    line = _error_line(capsys)
    assert line.startswith(f"error: {folder}: all 2 images failed; the first: {folder / 'a.png'}: not a readable image")


def test_pipeline_bomb_is_refused_from_its_header_and_the_limit_is_a_spec_key(models, tmp_path, capsys, monkeypatch):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_bomb())
    assert _pipeline(models, bomb, tmp_path / "out") == 2
    assert "image of 20000x20000 = 400,000,000 pixels exceeds the limit of 100,000,000" in _error_line(capsys)
    page = _image(tmp_path / "page.png")  # 64 x 96 = 6144 pixels
    assert _pipeline(models, page, tmp_path / "out2", "max_pixels=6000") == 2
    assert "6,144 pixels exceeds the limit of 6,000" in _error_line(capsys)
    monkeypatch.setenv("OCDR_MAX_PIXELS", "6000")
    assert _pipeline(models, page, tmp_path / "out3") == 2
    assert "limit of 6,000" in _error_line(capsys)
    assert _pipeline(models, page, tmp_path / "out4", "max_pixels=7000") == 0  # the spec key wins over the env


def test_pipeline_unreadable_file_in_a_folder_is_listed_not_a_traceback(models, tmp_path, monkeypatch, capsys):
    """Permission denied, simulated so that it runs as root too (the chmod version follows)."""
    folder = tmp_path / "in"
    _image(folder / "good.png")
    locked = _image(folder / "locked.png")
    read_bytes = Path.read_bytes

    def denied(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert _pipeline(models, folder, tmp_path / "out") == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["images"] == 1
    assert results["errors"] == [{"image": str(locked), "error": f"{locked}: cannot read this file (Permission denied)"}]


@pytest.mark.skipif(AS_ROOT, reason="root ignores file permissions")
def test_pipeline_chmod_000_file_and_folder(models, tmp_path, capsys):
    folder = tmp_path / "in"
    _image(folder / "good.png")
    locked = _image(folder / "locked.png")
    locked.chmod(0)
    closed = tmp_path / "closed"
    _image(closed / "x.png")
    closed.chmod(0)
    try:
        assert _pipeline(models, folder, tmp_path / "out") == 0
        results = json.loads((tmp_path / "out" / "results.json").read_text())
        assert results["errors"][0]["error"] == f"{locked}: cannot read this file (Permission denied)"
        capsys.readouterr()
        assert _pipeline(models, locked, tmp_path / "out2") == 2
        assert _error_line(capsys) == f"error: {locked}: cannot read this file (Permission denied)"
        assert _pipeline(models, closed, tmp_path / "out3") == 2
        assert _error_line(capsys) == f"error: {closed}: cannot list this folder (Permission denied)"
    finally:
        closed.chmod(0o755)
        locked.chmod(0o644)


def test_pipeline_results_folder_that_cannot_be_created_is_one_line(models, tmp_path, capsys):
    page = _image(tmp_path / "page.png")
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the results folder should go")
    assert _pipeline(models, page, blocker) == 2
    assert _error_line(capsys).startswith(f"error: {blocker}: cannot create the results folder")


# --- ocdr ocdnet inference -----------------------------------------------------------------------

def _ocdnet(models, source, out):
    return main(["ocdnet", "inference", f"inference.checkpoint={models / 'det.onnx'}", f"inference.input={source}",
                 f"inference.results_dir={out}", "inference.long_side=128", *LOOSE])


def test_ocdnet_folder_with_a_bad_file_goes_on(models, tmp_path, capsys):
    folder = tmp_path / "in"
    _image(folder / "good.png")
    _corrupt(folder / "broken.png")
    out = tmp_path / "out"
    assert _ocdnet(models, folder, out) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 1 and summary["failed"] == 1
    assert summary["errors"][0]["error"].startswith(f"{folder / 'broken.png'}: not a readable image")
    assert {p.name for p in out.iterdir()} >= {"good_result.jpg", "good_pred.jpg", "good.txt"}
    assert not any(p.name.startswith("broken") for p in out.iterdir())


def test_ocdnet_single_bad_input_exits_2(models, tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_bomb())
    assert _ocdnet(models, bomb, tmp_path / "out") == 2
    assert _error_line(capsys).startswith(f"error: {bomb}: image of 20000x20000")


# --- ocdr ocrnet inference -----------------------------------------------------------------------

def _ocrnet(models, source, out):
    return main(["ocrnet", "inference", f"inference.checkpoint={models / 'rec.onnx'}",
                 f"inference.inference_dataset_dir={source}", f"inference.results_dir={out}"])


def test_ocrnet_gt_list_with_missing_and_corrupt_crops_reads_the_rest(models, tmp_path, capsys):
    crops = tmp_path / "crops"
    _image(crops / "w1.png", h=32, w=100)
    _corrupt(crops / "w2.png")
    (crops / "gt_list.txt").write_text("w1.png\tabc\nw2.png\tdef\ngone.png\tghi\n")
    out = tmp_path / "out"
    assert _ocrnet(models, crops / "gt_list.txt", out) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{"):])
    assert summary["images"] == 1 and summary["failed"] == 2
    reasons = {Path(e["image"]).name: e["error"] for e in summary["errors"]}
    assert reasons["w2.png"].startswith(f"{crops / 'w2.png'}: not a readable image")
    assert reasons["gone.png"] == f"{crops / 'gone.png'}: image not found"
    rows = json.loads((out / "predictions.json").read_text())
    assert [r["image_path"] for r in rows] == [str(crops / "w1.png")]


def test_ocrnet_single_corrupt_crop_exits_2(models, tmp_path, capsys):
    bad = _corrupt(tmp_path / "crop.png")
    assert _ocrnet(models, bad, tmp_path / "out") == 2
    assert _error_line(capsys).startswith(f"error: {bad}: ")
    assert not (tmp_path / "out" / "predictions.csv").exists()


# --- the rule itself -------------------------------------------------------------------------------

def test_a_failing_batch_is_rerun_one_by_one_so_only_the_bad_input_is_lost():
    calls = []

    def model(items):
        calls.append(list(items))
        if "bad" in items:
            raise RuntimeError("the model choked")
        return [x.upper() for x in items]

    failures = Failures("folder")
    results = failures.run_batch(model, ["a", "bad", "c"], ["a.png", "bad.png", "c.png"])
    assert results == [(0, "A"), (2, "C")]
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    assert failures.items == [{"image": "bad.png", "error": "bad.png: RuntimeError: the model choked"}]
    failures.check(3)  # some succeeded: no error


def test_check_raises_only_when_nothing_succeeded():
    one = Failures("x.png")
    one.add("x.png", DataError("x.png", "unreadable image (truncated)"))
    with pytest.raises(OcdrError, match=r"^x.png: unreadable image \(truncated\)$"):
        one.check(1)
    every = Failures("dir")
    every.add("dir/a.png", ValueError("odd"))
    every.add("dir/b.png", ValueError("odd"))
    with pytest.raises(DataError, match=r"^dir: all 2 images failed; the first: dir/a.png: ValueError: odd$"):
        every.check(2)
    every.check(3)
    Failures("empty").check(0)


# --- ocdr data synth -------------------------------------------------------------------------------

def test_synth_into_a_non_empty_folder_exits_2_from_the_real_command_line(tmp_path):
    """Through ``python -m ocdr``, so the process's exit status is checked, not only main()'s return value."""
    import subprocess
    import sys

    out = tmp_path / "synth"
    out.mkdir()
    (out / "old_page.jpg").write_bytes(b"stale")
    proc = subprocess.run([sys.executable, "-m", "ocdr", "data", "synth", f"output_dir={out}", "num_pages=1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {out}: output_dir is not empty (old pages would mix with the new ones, "
                                   "the same page in train and test); pass overwrite=true to replace it whole, or "
                                   "choose an empty or new output_dir")
    assert sorted(p.name for p in out.iterdir()) == ["old_page.jpg"]
