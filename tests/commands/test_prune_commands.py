"""``ocdr ocdnet prune`` and ``ocdr ocrnet prune``: a smaller model measured before and after, or a clear refusal
(an imported PP-OCRv4 graph; settings that remove nothing); the pruned recognizer reloads and fine-tunes."""
import json

import cv2
import numpy as np
import pytest
import torch

from ocdr.cli.main import main
from ocdr.config import spec_to_dict
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.data.formats import write_gt_list
from ocdr.models.checkpoint import make_model_record, read_model_record, save_checkpoint
from ocdr.models.loading import load_detector, load_recognizer
from ocdr.models.registry import build_model

CHARS = list("abc")


def _summary(capsys) -> dict:
    printed = capsys.readouterr().out
    return json.loads(printed[printed.index("{"):])


def _detector(path, name="dbnet_tiny", kwargs=None):
    torch.manual_seed(0)
    spec = spec_to_dict(OcdnetSpec())
    spec["model"]["backbone"] = "tiny"
    state = build_model(name, **(kwargs or {})).state_dict() if name == "dbnet_tiny" else {}
    return save_checkpoint(make_model_record("detector", name, kwargs or {}, state, spec), path)


def _recognizer(path, name="crnn_tiny"):
    torch.manual_seed(0)
    spec = spec_to_dict(OcrnetSpec())
    spec["model"].update(backbone="tiny", input_height=32, input_width=100, input_channel=1)
    kwargs = {"num_classes": len(CHARS) + 1}
    state = build_model(name, **kwargs).state_dict() if name == "crnn_tiny" else {}
    return save_checkpoint(make_model_record("recognizer", name, kwargs, state, spec, CHARS), path)


def test_ocdnet_prune_shrinks_and_reports_before_and_after(tmp_path, capsys):
    ckpt = _detector(tmp_path / "det.pth")
    assert main(["ocdnet", "prune", f"prune.checkpoint={ckpt}", "prune.ch_sparsity=0.5", "prune.round_to=2",
                 "prune.measure_size=64", f"prune.results_dir={tmp_path / 'out'}"]) == 0
    s = _summary(capsys)
    before, after = s["before"], s["after"]
    assert after["params"] < 0.75 * before["params"] and after["gflops"] < before["gflops"]
    assert after["cpu_ms"] > 0 and s["input"] == [1, 3, 64, 64]
    model, _ = load_detector(s["pruned_model"])
    assert sum(p.numel() for p in model.parameters()) == after["params"]
    assert model(torch.randn(1, 3, 64, 64))["prob"].shape == (1, 1, 64, 64)


def test_ocdnet_prune_refuses_imported_graphs_and_no_op_settings(tmp_path, capsys):
    """A PP-OCRv4 record is refused before anything is built; ch_sparsity=0 removes no channel: nothing pruned is
    an error and no file is written."""
    imported = _detector(tmp_path / "pp.pth", name="ppocr_det", kwargs={"graph": "", "k": 50.0})
    assert main(["ocdnet", "prune", f"prune.checkpoint={imported}", f"prune.results_dir={tmp_path}"]) == 2
    assert (f"ocdnet prune: checkpoint {imported} is an imported PP-OCRv4 graph (ppocr_det); channel pruning "
            "supports ocdr's DBNet backbones (resnet18") in capsys.readouterr().err
    ckpt = _detector(tmp_path / "det.pth")
    assert main(["ocdnet", "prune", f"prune.checkpoint={ckpt}", "prune.ch_sparsity=0", "prune.round_to=8",
                 "prune.measure_size=64", f"prune.results_dir={tmp_path / 'out'}"]) == 2
    err = capsys.readouterr().err
    assert "nothing pruned" in err and "prune.ch_sparsity=0, prune.round_to=8" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting", [["prune.prune_setting.amount=0.5"],
                                     ["prune.prune_setting.mode=threshold", "prune.prune_setting.threshold=0.9",
                                      "prune.prune_setting.raw_prune_score=L2"]])
def test_ocrnet_prune_writes_a_smaller_recognizer_that_reloads(tmp_path, capsys, setting):
    ckpt = _recognizer(tmp_path / "rec.pth")
    out = tmp_path / "small.pth"
    assert main(["ocrnet", "prune", f"prune.checkpoint={ckpt}", *setting, "prune.prune_setting.granularity=2",
                 f"prune.pruned_file={out}"]) == 0
    s = _summary(capsys)
    assert s["pruned_model"] == str(out) and s["input"] == [1, 1, 32, 100]
    assert s["after"]["params"] < 0.8 * s["before"]["params"] and s["after"]["gflops"] < s["before"]["gflops"]
    model, record, charset = load_recognizer(out)
    assert charset.to_list() == CHARS and sum(p.numel() for p in model.parameters()) == s["after"]["params"]
    assert model(torch.randn(2, 1, 32, 100))["probs"].shape == (2, 24, len(CHARS) + 1)


def test_ocrnet_prune_refusals(tmp_path, capsys):
    imported = _recognizer(tmp_path / "pp.pth", name="ppocr_rec")
    assert main(["ocrnet", "prune", f"prune.checkpoint={imported}", f"prune.results_dir={tmp_path}"]) == 2
    assert (f"ocrnet prune: checkpoint {imported} is an imported PP-OCRv4 graph (ppocr_rec); channel pruning "
            "supports ocdr's own recognizers") in capsys.readouterr().err
    ckpt = _recognizer(tmp_path / "rec.pth")
    assert main(["ocrnet", "prune", f"prune.checkpoint={ckpt}", "prune.prune_setting.amount=0.0",
                 f"prune.results_dir={tmp_path / 'out'}"]) == 2
    assert "nothing pruned" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(["ocrnet", "prune", f"prune.checkpoint={ckpt}", "prune.prune_setting.raw_prune_score=L3"]) == 2
    assert "prune.prune_setting.raw_prune_score: 'L3' is not one of L1, L2" in capsys.readouterr().err


def _crops(root, chars):
    root.mkdir()
    samples = []
    for i, word in enumerate(["ab", "ca", "bca", "cab"]):
        img = np.full((32, 100), 255, np.uint8)
        cv2.putText(img, word, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 0, 2)
        cv2.imwrite(str(root / f"{i}.png"), img)
        samples.append((f"{i}.png", word))
    write_gt_list(root / "gt_list.txt", samples)
    (root / "chars.txt").write_text("\n".join(chars) + "\n")
    return root


def test_the_pruned_recognizer_fine_tunes_with_pruned_graph_path(tmp_path, capsys):
    ckpt = _recognizer(tmp_path / "rec.pth")
    assert main(["ocrnet", "prune", f"prune.checkpoint={ckpt}", "prune.prune_setting.granularity=2",
                 f"prune.results_dir={tmp_path / 'prune'}"]) == 0
    pruned = _summary(capsys)["pruned_model"]
    data = _crops(tmp_path / "data", CHARS)
    common = [f"dataset.train_dataset_dir=[{data / 'gt_list.txt'}]", f"dataset.val_dataset_dir=[{data / 'gt_list.txt'}]",
              f"dataset.character_list_file={data / 'chars.txt'}", "train.num_epochs=1", "train.batch_size=2",
              "train.max_steps=1", "train.num_workers=0", "train.progress_bar=false",
              f"model.pruned_graph_path={pruned}"]
    assert main(["ocrnet", "train", *common, f"train.results_dir={tmp_path / 'run'}"]) == 0
    tuned = read_model_record(tmp_path / "run" / "model_final.pth")
    want = {k: v.shape for k, v in read_model_record(pruned)["state_dict"].items()}
    assert {k: v.shape for k, v in tuned["state_dict"].items()} == want
    assert tuned["spec"]["model"]["backbone"] == "tiny"
    other = _crops(tmp_path / "other", list("abcd"))
    assert main(["ocrnet", "train", *common, f"dataset.character_list_file={other / 'chars.txt'}",
                 f"train.results_dir={tmp_path / 'run2'}"]) == 2
    assert "reads 3 characters, not the 4 of dataset.character_list_file" in capsys.readouterr().err
