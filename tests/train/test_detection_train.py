"""``ocdr ocdnet`` train -> evaluate -> inference -> export on a tiny model and tiny pages."""
import json

import numpy as np
import pytest
import torch

from ocdr.cli.main import main
from ocdr.data.synth import SynthSpec, generate
from ocdr.pipeline.detector import DetectorPredictor
from ocdr.models.checkpoint import read_model_record


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocdnet")
    generate(SynthSpec(output_dir=str(root / "data"), num_pages=5, test_fraction=0.4, min_width=128, max_width=160,
                       min_height=128, max_height=160, min_text_height=12, max_text_height=24, workers=1))
    common = [f"dataset.train_data_path=[{root / 'data/train'}]", f"dataset.validate_data_path=[{root / 'data/test'}]",
              "model.backbone=tiny", "dataset.image_size=128", "train.batch_size=2", "train.num_workers=0",
              "train.progress_bar=false", f"train.results_dir={root / 'run'}",
              f"evaluate.checkpoint={root / 'run/model_final.pth'}", f"inference.checkpoint={root / 'run/model_final.pth'}",
              f"export.checkpoint={root / 'run/model_final.pth'}", f"export.onnx_file={root / 'det.onnx'}",
              f"evaluate.results_dir={root / 'eval'}", f"inference.input={root / 'data/test/img'}",
              "inference.long_side=128", "postprocess.thresh=0.0", "postprocess.box_thresh=0.0"]
    assert main(["ocdnet", "train", *common, "train.num_epochs=1", "dataset.augmentation.crop_size=64"]) == 0
    return root, common


def test_train_writes_a_self_describing_detector(trained):
    root, _ = trained
    record = read_model_record(root / "run" / "model_final.pth", kind="detector")
    assert record["model"]["name"] == "dbnet_tiny"
    assert record["spec"]["model"]["backbone"] == "tiny" and record["spec"]["train"]["num_epochs"] == 1
    assert (root / "run" / "ocdnet_train_spec.yaml").is_file()
    assert "val/hmean" in (root / "run" / "logs" / "version_0" / "metrics.csv").read_text()


def test_evaluate_writes_metrics_and_worst_cases(trained, capsys):
    root, common = trained
    assert main(["ocdnet", "evaluate", *common, "postprocess.thresh=0.3", "postprocess.box_thresh=0.5"]) == 0
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    assert metrics["images"] == 2 and metrics["num_gt"] > 0 and 0 <= metrics["hmean"] <= 1
    assert len(metrics["worst"]) == 2 and len(list((root / "eval" / "worst").glob("*.jpg"))) == 2


def test_inference_files_and_onnx_backend_agree(trained):
    root, common = trained
    assert main(["ocdnet", "inference", *common, f"inference.results_dir={root / 'inf'}"]) == 0
    stems = sorted(p.stem for p in (root / "data/test/img").iterdir())
    for stem in stems:
        for suffix in ("_result.jpg", "_pred.jpg", ".txt"):
            assert (root / "inf" / f"{stem}{suffix}").is_file()
    lines = (root / "inf" / f"{stems[0]}.txt").read_text().splitlines()
    assert lines and all(len(line.split(",")) == 9 for line in lines)  # x1..y4, score
    assert main(["ocdnet", "export", *common]) == 0
    assert main(["ocdnet", "inference", *common, f"inference.checkpoint={root / 'det.onnx'}",
                 f"inference.results_dir={root / 'inf_onnx'}"]) == 0
    for stem in stems:
        torch_boxes = (root / "inf" / f"{stem}.txt").read_text().splitlines()
        onnx_boxes = (root / "inf_onnx" / f"{stem}.txt").read_text().splitlines()
        assert len(torch_boxes) == len(onnx_boxes)


def test_export_records_the_postprocess_keys_given_and_keeps_the_rest(trained):
    """A post-processing chosen after training (e.g. on validation images) goes into the exported settings."""
    from ocdr.models.runtime import onnxruntime_session
    from ocdr.models.settings import detector_settings_from_json

    root, common = trained
    trained_pp = read_model_record(root / "run" / "model_final.pth", kind="detector")["inference"]["postprocess"]
    out = root / "det_tuned.onnx"
    assert main(["ocdnet", "export", *common, f"export.onnx_file={out}", "postprocess.unclip_ratio=1.3",
                 "export.long_side=160"]) == 0
    meta = onnxruntime_session(out).get_modelmeta().custom_metadata_map
    settings = detector_settings_from_json(meta["ocdr_inference"])
    pp = settings.postprocess
    assert pp.unclip_ratio == 1.3 and trained_pp["unclip_ratio"] != 1.3
    assert (pp.thresh, pp.box_thresh, pp.max_candidates) == (0.0, 0.0, trained_pp["max_candidates"])
    assert (settings.limit_side_len, settings.limit_type) == (160, "long")  # trained at 128
    assert main(["ocdnet", "export", *common, f"export.onnx_file={out}", "export.long_side=100"]) == 2


class DarkInk(torch.nn.Module):
    """A stand-in detector whose 'probability' is 1 where the (normalized) input is dark."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return {"prob": (x.mean(1, keepdim=True) < -1.0).float() + self.p * 0}


def test_tiled_mode_merges_tiles_into_one_box():
    """A 40 x 200 px word crossing tile borders (tiles of 64 px, overlap 16) comes out whole."""
    page = np.full((150, 300, 3), 255, np.uint8)
    page[50:90, 40:240] = 0
    from ocdr.models.detection.postprocess import PostProcessConfig

    pred = DetectorPredictor(DarkInk(), tiled=True, tile_size=64, tile_overlap=16,
                             postprocess=PostProcessConfig(unclip_ratio=0.01, min_size=1))
    det = pred([page])[0]
    assert len(det.polygons) == 1
    np.testing.assert_allclose(det.polygons[0], [[40, 50], [239, 50], [239, 89], [40, 89]], atol=2)


def test_prune_then_fine_tune_with_the_pruned_graph(trained):
    root, common = trained
    assert main(["ocdnet", "prune", *common, f"prune.checkpoint={root / 'run/model_final.pth'}",
                 "prune.ch_sparsity=0.5", "prune.round_to=2", f"prune.results_dir={root / 'prune'}"]) == 0
    pruned = root / "prune" / "pruned_0.5.pth"
    record = read_model_record(pruned, kind="detector")
    full = read_model_record(root / "run" / "model_final.pth")
    assert sum(v.numel() for v in record["state_dict"].values()) < sum(v.numel() for v in full["state_dict"].values())
    assert main(["ocdnet", "train", *common, "train.num_epochs=1", "dataset.augmentation.crop_size=64",
                 "model.load_pruned_graph=true", f"model.pruned_graph_path={pruned}",
                 f"train.results_dir={root / 'run_pruned'}"]) == 0
    tuned = read_model_record(root / "run_pruned" / "model_final.pth")
    assert {k: v.shape for k, v in tuned["state_dict"].items()} == {k: v.shape for k, v in record["state_dict"].items()}
    assert main(["ocdnet", "export", *common, f"export.checkpoint={root / 'run_pruned/model_final.pth'}",
                 f"export.onnx_file={root / 'pruned.onnx'}"]) == 0


def test_fine_tune_from_the_imported_ppocr_detector(trained):
    """``model.pretrained_model_path=ppocr-v4-det``: the architecture comes from the import, the DB loss trains
    it (threshold branch included), and evaluate/export take the result."""
    pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed (make test installs it)")
    root, common = trained
    run = root / "run_pp"
    # the common keys name model.backbone=tiny: a checkpoint of another architecture is refused, naming both
    assert main(["ocdnet", "train", *common, "model.pretrained_model_path=ppocr-v4-det",
                 f"train.results_dir={run}"]) == 2
    assert main(["ocdnet", "train", *common, "train.num_epochs=1", "train.max_steps=2", "model.backbone=auto",
                 "dataset.augmentation.crop_size=64", "model.pretrained_model_path=ppocr-v4-det",
                 f"train.results_dir={run}"]) == 0
    record = read_model_record(run / "model_final.pth")
    assert record["model"]["name"] == "ppocr_det" and record["spec"]["model"]["backbone"] == "ppocr_v4"
    assert any(k.startswith("thresh.") for k in record["state_dict"])
    assert main(["ocdnet", "export", *common, f"export.checkpoint={run / 'model_final.pth'}",
                 f"export.onnx_file={root / 'pp.onnx'}"]) == 0
    assert main(["ocdnet", "evaluate", *common, f"evaluate.checkpoint={run / 'model_final.pth'}",
                 f"evaluate.results_dir={root / 'eval_pp'}"]) == 0


def test_validation_during_training_reads_what_the_predictor_reads(trained):
    """The validation pass sees each image as the predictor does (same resize, no padding), so the figure
    that picks model_best is the one `ocdr ocdnet evaluate` reports for the same weights and data."""
    import csv

    from ocdr.config import load_spec
    from ocdr.config.ocdnet import OcdnetSpec
    from ocdr.data.images import read_image
    from ocdr.models.loading import load_detector
    from ocdr.train.detection import make_eval_dataset

    root, common = trained
    checkpoint = root / "run" / "model_final.pth"
    model, _ = load_detector(checkpoint, "cpu")
    spec = load_spec(OcdnetSpec, None, common)
    val = make_eval_dataset(spec.dataset.validate_data_path, spec, pad_square=False)
    predictor = DetectorPredictor(str(checkpoint), backend="torch", device="cpu")
    for index in range(len(val)):
        item = val[index]
        with torch.no_grad():
            ours = model(item["images"][None])["prob"][0, 0].numpy()
        theirs, (h, w) = predictor.prob_map(read_image(item["path"]))
        assert ours.shape == theirs.shape == (h, w)
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    rows = [r for r in csv.DictReader((root / "run" / "logs" / "version_0" / "metrics.csv").open()) if r.get("val/hmean")]
    assert main(["ocdnet", "evaluate", *common, f"evaluate.results_dir={root / 'eval_same'}"]) == 0
    metrics = json.loads((root / "eval_same" / "metrics.json").read_text())
    assert float(rows[-1]["val/hmean"]) == pytest.approx(metrics["hmean"], abs=1e-6)
