"""Training faults: a resume that would continue another run, two runs in one folder, a full disk, leftovers."""
import errno
import json
import os
import subprocess
import sys

import pytest

from ocdr.cli.main import main
from ocdr.data.synth import SynthSpec, generate
from ocdr.errors import ConfigError, DataError
from ocdr.fileio import atomic_write_text
from ocdr.train.runs import LOCK_NAME, open_run, remove_leftover_temp_files, resume_conflicts


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults_det")
    generate(SynthSpec(output_dir=str(root / "data"), num_pages=3, test_fraction=0.34, min_width=128, max_width=160,
                       min_height=128, max_height=160, min_text_height=12, max_text_height=24, workers=1))
    common = [f"dataset.train_data_path=[{root / 'data/train'}]", f"dataset.validate_data_path=[{root / 'data/test'}]",
              "dataset.image_size=128", "dataset.augmentation.crop_size=64", "train.batch_size=2",
              "train.num_workers=0", "train.progress_bar=false", "train.num_epochs=1"]
    return root, common


def test_a_resume_with_another_backbone_or_lr_is_refused_before_anything_is_written(pages, capsys):
    root, common = pages
    run = root / "run"
    assert main(["ocdnet", "train", *common, "model.backbone=tiny", f"train.results_dir={run}"]) == 0
    saved = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["ocdnet", "train", *common, "model.backbone=resnet18", "train.num_epochs=2",
                 "train.optim.lr=0.01", f"train.results_dir={run}"]) == 2
    err = capsys.readouterr().err
    assert "this run would resume a different one" in err
    assert "model.backbone (checkpoint: 'tiny', spec: 'resnet18')" in err
    assert "train.optim.lr (checkpoint: 0.001, spec: 0.01)" in err
    # nothing rewritten: the saved spec still describes the run in the folder
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == saved
    assert not (run / LOCK_NAME).exists()


def test_a_changed_character_list_is_named():
    problems = resume_conflicts({"model": {"backbone": "tiny"}}, {"model": {"backbone": "tiny"}}, list("abc"),
                                list("abd"))
    assert problems == ["character list (3 in the checkpoint, 3 in the spec; added 'd', removed 'c')"]
    assert resume_conflicts({"model": {"pretrained_model_path": "a.pth"}, "train": {"num_epochs": 1}},
                            {"model": {"pretrained_model_path": "b.pth"}, "train": {"num_epochs": 5}}, None, None) == []


def test_two_runs_into_one_results_dir_are_refused(tmp_path):
    # a live process (this test's child) holds the lock
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        import socket
        (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": child.pid, "host": socket.gethostname(),
                                                      "started": "2026-12-01 10:00:00"}))
        with pytest.raises(ConfigError, match=rf"another training writes here \(PID {child.pid} on .*since "
                                              r"2026-12-01 10:00:00\)"):
            with open_run(tmp_path, "", {}):
                pass
    finally:
        child.kill()
        child.wait()
    # its process gone, the lock is stale: taken over, and released at the end
    with open_run(tmp_path, "", {}) as resume:
        assert resume is None
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_missing_or_unsafe_resume_checkpoint_is_named_before_training(tmp_path):
    with pytest.raises(DataError, match=r"nope\.ckpt: checkpoint not found"):
        with open_run(tmp_path / "run", str(tmp_path / "nope.ckpt"), {}):
            pass
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match=r"bad\.ckpt: not a loadable checkpoint \(weights only\)"):
        with open_run(tmp_path / "run", str(tmp_path / "bad.ckpt"), {}):
            pass
    assert not (tmp_path / "run" / LOCK_NAME).exists()  # the lock is released on the error


def test_temp_files_of_a_killed_write_are_removed_at_the_next_start(tmp_path):
    (tmp_path / ".last.ckpt.abc123.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / ".model_final.pth.x.tmp").write_bytes(b"")
    (tmp_path / "keep.txt").write_text("mine")
    with open_run(tmp_path, "", {}):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert remove_leftover_temp_files(tmp_path) == 0


def test_a_full_disk_is_reported_as_such(tmp_path, monkeypatch):
    def no_room(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", no_room)
    with pytest.raises(DataError, match=r"out.json: no space left on device writing this file"):
        atomic_write_text(tmp_path / "out.json", "{}")
    assert list(tmp_path.iterdir()) == []   # the temp file is gone too


def test_evaluate_with_a_named_dataset_generates_nothing_elsewhere(tiny_models, tmp_path, monkeypatch, capsys):
    """The defaults name data/synth/...: evaluating a dataset the user names must not create them."""
    import numpy as np
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    crops = tmp_path / "crops"
    crops.mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 100, 3), 200 + i, np.uint8)).save(crops / f"w{i}.png")
    (crops / "gt_list.txt").write_text("".join(f"w{i}.png\tabc\n" for i in range(3)))
    assert main(["ocrnet", "evaluate", f"evaluate.checkpoint={tiny_models / 'rec.pth'}",
                 f"evaluate.test_dataset_dir=[{crops / 'gt_list.txt'}]", f"evaluate.results_dir={tmp_path / 'eval'}"]) == 0
    assert not (tmp_path / "data").exists()
    assert main(["ocrnet", "evaluate", f"evaluate.checkpoint={tiny_models / 'rec.pth'}",
                 f"evaluate.test_dataset_dir=[{tmp_path / 'absent'}]", f"evaluate.results_dir={tmp_path / 'eval'}"]) == 2
    assert not (tmp_path / "data").exists() and not (tmp_path / "absent").exists()
