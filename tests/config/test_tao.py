"""TAO spec files load as they are: translated keys (one INFO line each), interpolation, ``??``, errors."""
import logging
from pathlib import Path

import pytest
import yaml

from ocdr.cli.main import main
from ocdr.config import load_spec
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.errors import ConfigError

TAO = Path(__file__).resolve().parents[1] / "fixtures" / "tao"


def _printed(capsys, argv):
    assert main([*argv, "--print-spec"]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_ocdnet_train_spec_loads_with_every_key_translated(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="ocdr"):
        spec = _printed(capsys, ["ocdnet", "train", "-e", str(TAO / "ocdnet_train.yaml")])
    assert spec["dataset"]["train_data_path"] == ["/data/icdar/train"]
    assert spec["dataset"]["validate_data_path"] == ["/data/icdar/test"]   # a single string became a list
    aug = spec["dataset"]["augmentation"]
    assert (aug["flip_prob"], aug["rotate_deg"], aug["scale_min"], aug["scale_max"], aug["crop_size"]) == \
        (0.3, 8.0, 0.6, 2.5, 512)
    assert (spec["dataset"]["shrink_ratio"], spec["dataset"]["thresh_min"], spec["dataset"]["thresh_max"],
            spec["dataset"]["min_text_size"], spec["dataset"]["image_size"]) == (0.45, 0.25, 0.75, 6, 1280)
    train = spec["train"]
    assert (train["batch_size"], train["num_workers"], train["clip_grad_norm"], train["ema"], train["ema_decay"],
            train["precision"]) == (6, 3, 3.0, True, 0.999, "32")
    optim = train["optim"]
    assert (optim["optim"], optim["lr"], optim["lr_scheduler"], optim["warmup_epochs"]) == ("adam", 0.002, "poly", 2.0)
    assert (spec["postprocess"]["thresh"], spec["postprocess"]["box_thresh"], spec["postprocess"]["max_candidates"],
            spec["postprocess"]["unclip_ratio"], spec["postprocess"]["polygon"]) == (0.25, 0.6, 500, 1.7, False)
    # ${results_dir} interpolations, and the other tasks follow the top-level results_dir
    assert train["results_dir"] == "/tmp/tao_results/train"
    assert spec["model"]["pruned_graph_path"] == "/tmp/tao_results/prune/pruned_0.2.pth"
    assert spec["evaluate"]["checkpoint"] == "/tmp/tao_results/train/model_final.pth"
    assert spec["evaluate"]["results_dir"] == "/tmp/tao_results/evaluate"
    # one INFO line per translated key, with the file and line; a warning for keys with no meaning here
    assert "ocdnet_train.yaml:25: TAO key train.optimizer.args.lr -> train.optim.lr=0.002" in caplog.text
    assert "ocdnet_train.yaml:43: TAO key dataset.train_dataset.data_path -> dataset.train_data_path" in caplog.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ocdnet_train.yaml:3: TAO key encryption_key ignored" in w for w in warnings)
    assert any("model.enlarge_feature_map_size ignored: applies to TAO's FAN-tiny" in w for w in warnings)


@pytest.mark.parametrize("task,check", [
    ("evaluate", lambda s: (s["evaluate"]["checkpoint"], s["evaluate"]["long_side"], s["postprocess"]["polygon"],
                            s["postprocess"]["box_thresh"])
     == ("/tmp/tao_results/train/model_best.pth", 960, True, 0.5)),
    ("inference", lambda s: (s["inference"]["input"], s["inference"]["long_side"], s["postprocess"]["polygon"],
                             s["postprocess"]["unclip_ratio"]) == ("/data/icdar/test/img", 1024, True, 1.4)),
    ("export", lambda s: (s["export"]["onnx_file"], s["export"]["opset"]) == ("/tmp/tao_results/export/ocdnet.onnx", 16)),
    ("prune", lambda s: (s["prune"]["ch_sparsity"], s["prune"]["round_to"], s["model"]["backbone"])
     == (0.2, 16, "resnet18")),
])
def test_each_ocdnet_task_spec_loads(task, check, capsys):
    assert check(_printed(capsys, ["ocdnet", task, "-e", str(TAO / f"ocdnet_{task}.yaml")]))


def test_ocrnet_experiment_spec_needs_its_question_marks_given(capsys):
    spec_file = str(TAO / "ocrnet_experiment.yaml")
    assert main(["ocrnet", "train", "-e", spec_file]) == 2
    err = capsys.readouterr().err
    # every value train reads and left '??' is named with its line; evaluate's and inference's are not
    assert "ocrnet_experiment.yaml:15: dataset.train_dataset_dir is '??'" in err
    assert "ocrnet_experiment.yaml:2: results_dir is '??'" in err
    assert "ocrnet_experiment.yaml:35: train.results_dir refers to a value that is '??' (results_dir)" in err
    assert "evaluate.checkpoint" not in err and "inference_dataset_dir" not in err
    spec = _printed(capsys, ["ocrnet", "train", "-e", spec_file, "results_dir=/r", "dataset.train_dataset_dir=[a]",
                             "dataset.val_dataset_dir=b", "dataset.character_list_file=c.txt"])
    assert spec["train"]["results_dir"] == "/r/train" and spec["dataset"]["val_dataset_dir"] == ["b"]
    assert (spec["train"]["batch_size"], spec["train"]["num_workers"], spec["model"]["keep_aspect_ratio"]) == (16, 2, True)
    assert (spec["train"]["optim"]["optim"], spec["train"]["optim"]["lr_scheduler"], spec["train"]["num_gpus"]) == \
        ("adadelta", "multistep", 1)
    assert spec["export"]["onnx_file"] == "/r/export/ocrnet.onnx"
    # evaluate reads its own ??s, not train's
    assert main(["ocrnet", "evaluate", "-e", spec_file, "results_dir=/r", "--print-spec"]) == 2
    err = capsys.readouterr().err
    assert "evaluate.checkpoint is '??'" in err and "dataset.train_dataset_dir" not in err


def test_dataset_convert_reads_its_section_of_the_experiment_spec(capsys):
    spec = _printed(capsys, ["ocrnet", "dataset_convert", "-e", str(TAO / "ocrnet_experiment.yaml"), "results_dir=/r",
                             "dataset_convert.input_img_dir=/imgs", "dataset_convert.gt_file=/imgs/gt.txt"])
    assert (spec["image_dir"], spec["gt_list"], spec["output_dir"]) == ("/imgs", "/imgs/gt.txt", "/r/convert_dataset")


def test_every_unknown_key_is_reported_at_once_with_its_line_and_a_suggestion(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("train:\n  num_epoch: 3\n  optim:\n    lrr: 0.1\nmodle:\n  backbone: resnet18\n")
    with pytest.raises(ConfigError) as err:
        load_spec(OcdnetSpec, spec_file, ["dataset.imagesize=640"])
    text = str(err.value)
    assert text.startswith("4 unknown keys:")
    assert f"{spec_file}:2: unknown key 'train.num_epoch' (did you mean 'train.num_epochs'?)" in text
    assert f"{spec_file}:4: unknown key 'train.optim.lrr' (did you mean 'train.optim.lr'?)" in text
    assert f"{spec_file}:6: unknown key 'modle.backbone' (did you mean 'model.backbone'?)" in text
    assert "command line: unknown key 'dataset.imagesize' (did you mean 'dataset.image_size'?)" in text


def test_a_tao_value_with_no_ocdr_equivalent_names_the_key_and_line(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("train:\n  optimizer:\n    type: Lion\n")
    with pytest.raises(ConfigError, match=r"spec.yaml:3: train.optimizer.type: optimizer 'Lion' has no ocdr equivalent"):
        load_spec(OcdnetSpec, spec_file)


def test_command_line_wins_over_the_file_in_either_spelling(tmp_path):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("train:\n  optimizer:\n    args:\n      lr: 0.1\n")
    assert load_spec(OcdnetSpec, spec_file, ["train.optim.lr=0.01"]).train.optim.lr == 0.01
    assert load_spec(OcdnetSpec, spec_file, ["train.optimizer.args.lr=0.02"]).train.optim.lr == 0.02


def test_checkpoints_follow_train_results_dir_unless_named():
    spec = load_spec(OcrnetSpec, None, ["train.results_dir=runs/mine"])
    assert spec.evaluate.checkpoint == spec.inference.checkpoint == spec.export.checkpoint == "runs/mine/model_final.pth"
    named = load_spec(OcrnetSpec, None, ["train.results_dir=runs/mine", "evaluate.checkpoint=other.pth"])
    assert named.evaluate.checkpoint == "other.pth" and named.export.checkpoint == "runs/mine/model_final.pth"
    det = load_spec(OcdnetSpec, None, ["results_dir=/exp"])
    assert (det.train.results_dir, det.prune.results_dir, det.export.onnx_file, det.prune.checkpoint) == \
        ("/exp/train", "/exp/prune", "/exp/export/ocdnet.onnx", "/exp/train/model_final.pth")
    plain = load_spec(OcdnetSpec, None, [])
    assert plain.evaluate.checkpoint == "runs/ocdnet/train/model_final.pth"


def test_taos_best_accuracy_name_reads_model_best(tiny_models, tmp_path, caplog):
    import shutil

    from ocdr.errors import DataError
    from ocdr.models.checkpoint import read_model_record

    shutil.copy(tiny_models / "rec.pth", tmp_path / "model_best.pth")
    with caplog.at_level(logging.INFO, logger="ocdr"):
        record = read_model_record(tmp_path / "best_accuracy.pth", kind="recognizer")
    assert record["model"]["name"] == "crnn_tiny"
    assert "best_accuracy.pth: not found; reading model_best.pth" in caplog.text
    with pytest.raises(DataError, match="other.pth: checkpoint not found"):
        read_model_record(tmp_path / "other.pth")
