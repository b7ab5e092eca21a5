"""``ocdr ocrnet`` train -> evaluate -> inference -> export, on LMDB and gt lists, and fine-tuning
onto a new character list."""
import csv
import json

import pytest

from ocdr.cli.main import main
from ocdr.data.charset import read_charset, write_charset
from ocdr.data.synth import SynthSpec, generate
from ocdr.models.checkpoint import read_model_record


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocrnet")
    generate(SynthSpec(output_dir=str(root / "data"), num_pages=3, test_fraction=0.34, min_width=200, max_width=240,
                       min_height=160, max_height=200, min_text_height=14, max_text_height=24, workers=1))
    assert main(["ocrnet", "dataset_convert", f"gt_list={root / 'data/train/crops/gt_list.txt'}",
                 f"output_dir={root / 'data/train/lmdb'}"]) == 0
    common = [f"dataset.train_dataset_dir=[{root / 'data/train/lmdb'}]",
              f"dataset.val_dataset_dir=[{root / 'data/test/crops'}]",
              f"dataset.character_list_file={root / 'data/character_list.txt'}",
              "model.backbone=tiny", "train.batch_size=8", "train.num_workers=0", "train.progress_bar=false",
              f"train.results_dir={root / 'run'}", f"evaluate.checkpoint={root / 'run/model_final.pth'}",
              f"evaluate.results_dir={root / 'eval'}", f"inference.checkpoint={root / 'run/model_final.pth'}",
              f"inference.inference_dataset_dir={root / 'data/test/crops/gt_list.txt'}",
              f"export.checkpoint={root / 'run/model_final.pth'}", f"export.onnx_file={root / 'rec.onnx'}"]
    assert main(["ocrnet", "train", *common, "train.num_epochs=1"]) == 0
    return root, common


def test_trained_on_lmdb_and_self_describing(trained):
    root, _ = trained
    record = read_model_record(root / "run" / "model_final.pth", kind="recognizer")
    assert record["charset"] == read_charset(root / "data" / "character_list.txt")
    assert record["model"]["name"] == "crnn_tiny" and record["spec"]["model"]["backbone"] == "tiny"
    assert "val/accuracy" in (root / "run" / "logs" / "version_0" / "metrics.csv").read_text()


def test_evaluate_reports_every_metric_for_both_decodings(trained, capsys):
    root, common = trained
    assert main(["ocrnet", "evaluate", *common, "evaluate.decoding=beam"]) == 0
    report = json.loads((root / "eval" / "metrics.json").read_text())
    for decoding in ("greedy", "beam"):
        assert set(report["metrics"][decoding]) >= {"accuracy", "accuracy_case_insensitive",
                                                     "accuracy_alnum_case_insensitive", "cer", "wer", "one_minus_ned"}
    assert report["samples"] > 0 and len(report["worst"]) > 0


def test_a_lexicon_decodes_beside_greedy_in_evaluate_and_reads_in_inference(trained, capsys):
    root, common = trained
    labels = [line.split("\t", 1)[1] for line in (root / "data/test/crops/gt_list.txt").read_text().splitlines()]
    assert main(["data", "lexicon", f"inputs=[{root / 'data/test/crops/gt_list.txt'}]",
                 f"output={root / 'lexicon.txt'}"]) == 0
    wide = [f"lexicon.file={root / 'lexicon.txt'}", "lexicon.max_edits=40", "lexicon.bonus=1000000"]
    assert main(["ocrnet", "evaluate", *common, *(f"evaluate.{k}" for k in wide)]) == 0
    metrics = json.loads((root / "eval" / "metrics.json").read_text())["metrics"]
    # the labels' own list: a right reading is in it and stays right, a wrong one can only become right
    assert metrics["lexicon"]["num_samples"] == metrics["greedy"]["num_samples"] > 0
    assert metrics["lexicon"]["accuracy"] >= metrics["greedy"]["accuracy"]
    assert main(["ocrnet", "inference", *common, f"inference.results_dir={root / 'inf_lex'}",
                 *(f"inference.{k}" for k in wide)]) == 0
    rows = list(csv.DictReader(open(root / "inf_lex" / "predictions.csv")))
    assert rows and all(r["predicted_labels"] in set(labels) | {""} for r in rows)


def test_inference_table_and_onnx_agree(trained, capsys):
    root, common = trained
    assert main(["ocrnet", "inference", *common, f"inference.results_dir={root / 'inf'}"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split("|")[1:] == [" predicted_labels ", " confidence score"]
    assert main(["ocrnet", "export", *common]) == 0
    assert main(["ocrnet", "inference", *common, f"inference.checkpoint={root / 'rec.onnx'}",
                 f"inference.results_dir={root / 'inf_onnx'}"]) == 0
    rows = list(csv.DictReader(open(root / "inf" / "predictions.csv")))
    onnx_rows = list(csv.DictReader(open(root / "inf_onnx" / "predictions.csv")))
    assert [r["predicted_labels"] for r in rows] == [r["predicted_labels"] for r in onnx_rows]
    for a, b in zip(rows, onnx_rows):
        assert abs(float(a["confidence_score"]) - float(b["confidence_score"])) < 1e-3
        assert 0.0 <= float(a["confidence_score"]) <= 1.0


def test_fine_tune_onto_a_new_character_list(trained):
    """Start from the trained model with a list that drops one character and adds two: training runs and
    the classifier rows of shared characters start from the old weights."""
    root, common = trained
    old = read_charset(root / "data" / "character_list.txt")
    new = [c for c in old if c != old[-1]] + ["\u00e9", "\u00df"]
    write_charset(root / "new_chars.txt", new)
    assert main(["ocrnet", "train", *common, "train.num_epochs=1", "train.max_steps=1", "train.optim.lr=1e-8",
                 f"model.pretrained_model_path={root / 'run/model_final.pth'}",
                 f"dataset.character_list_file={root / 'new_chars.txt'}", f"train.results_dir={root / 'run_new'}"]) == 0
    record = read_model_record(root / "run_new" / "model_final.pth")
    assert record["charset"] == new
    tuned = record["state_dict"]["head.fc.weight"]
    assert tuned.shape[0] == len(new) + 1
    before = read_model_record(root / "run" / "model_final.pth")["state_dict"]["head.fc.weight"]
    for i, c in enumerate(new[:-2]):  # one step at lr 1e-8: shared rows are still the old ones
        assert (tuned[i + 1] - before[old.index(c) + 1]).abs().max() < 1e-5, c


def test_fine_tune_from_the_imported_ppocr_recognizer(trained):
    """``model.pretrained_model_path=ppocr-v4-rec`` with the synthetic character list: the model keys follow the
    import (3 x 48 x 320), CTC trains on logits, shared characters keep PP-OCR's rows, and the result loads."""
    pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed (make test installs it)")
    from ocdr.models.imported.pretrained import import_record

    root, common = trained
    # the common keys name model.backbone=tiny: a checkpoint of another architecture is refused, naming both
    assert main(["ocrnet", "train", *common, "model.pretrained_model_path=ppocr-v4-rec",
                 f"train.results_dir={root / 'run_pp'}"]) == 2
    assert main(["ocrnet", "train", *common, "train.num_epochs=1", "train.max_steps=1", "train.optim.lr=1e-9",
                 "model.backbone=auto",
                 "model.pretrained_model_path=ppocr-v4-rec", f"train.results_dir={root / 'run_pp'}",
                 f"evaluate.checkpoint={root / 'run_pp/model_final.pth'}"]) == 0
    record = read_model_record(root / "run_pp" / "model_final.pth")
    assert record["model"]["name"] == "ppocr_rec"
    assert (record["spec"]["model"]["input_channel"], record["spec"]["model"]["input_height"]) == (3, 48)
    chars = read_charset(root / "data" / "character_list.txt")
    assert record["charset"] == chars
    source = import_record("ppocr-v4-rec")
    w_src, w_new = source["state_dict"]["head.fc.weight"], record["state_dict"]["head.fc.weight"]
    assert w_new.shape[0] == len(chars) + 1
    shared = [c for c in chars if c in source["charset"]]
    assert len(shared) > 10
    for c in shared:
        assert (w_new[chars.index(c) + 1] - w_src[source["charset"].index(c) + 1]).abs().max() < 1e-4, c
    assert main(["ocrnet", "evaluate", *common, f"evaluate.checkpoint={root / 'run_pp/model_final.pth'}",
                 f"evaluate.results_dir={root / 'eval_pp'}"]) == 0


def test_frozen_stages_keep_the_imported_weights_and_the_rest_trains(trained):
    """``model.frozen_stages=3 model.frozen_depthwise=true`` on ppocr-v4-rec: after a step at a large learning
    rate, the first three stages' weights and every depthwise filter are still the import's, and the later
    stages' other weights moved."""
    pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed (make test installs it)")
    from ocdr.models.freeze import depthwise_parameters, stage_parameters
    from ocdr.models.imported.pretrained import import_record
    from ocdr.models.registry import build_model

    root, common = trained
    run = root / "run_frozen"
    assert main(["ocrnet", "train", *common, "train.num_epochs=1", "train.max_steps=1", "train.optim.lr=1e-2",
                 "model.backbone=auto", "model.pretrained_model_path=ppocr-v4-rec", "model.frozen_stages=3",
                 "model.frozen_depthwise=true", f"train.results_dir={run}"]) == 0
    model = build_model("ppocr_rec")
    ids = [{id(p) for p in stage} for stage in stage_parameters(model)]
    key_stage = {k: next(i for i, s in enumerate(ids) if id(p) in s)
                 for k, p in model.named_parameters() if any(id(p) in s for s in ids)}
    source = import_record("ppocr-v4-rec")["state_dict"]
    tuned = read_model_record(run / "model_final.pth")["state_dict"]
    depthwise = {id(p) for p in depthwise_parameters(model)}
    is_depthwise = {k: id(p) in depthwise for k, p in model.named_parameters()}
    frozen = [k for k, s in key_stage.items() if s < 3 or is_depthwise[k]]
    later = [k for k, s in key_stage.items() if s >= 3 and not is_depthwise[k]]
    assert frozen and later and any(is_depthwise[k] and s >= 3 for k, s in key_stage.items())
    assert all((tuned[k] == source[k]).all() for k in frozen)
    assert sum(not (tuned[k] == source[k]).all() for k in later) > len(later) // 2


def test_dynamic_width_mixed_sources_keep_the_best_and_stop_early(trained):
    root, common = trained
    run = root / "run_best"
    args = [a for a in common if not a.startswith(("train.results_dir", "dataset.train_dataset_dir"))]
    args += [f"dataset.train_dataset_dir=[{root / 'data/train/lmdb'},{root / 'data/train/crops'}]",
             "dataset.train_dataset_weights=[1.0,3.0]", "model.dynamic_width=true", "model.keep_aspect_ratio=true",
             f"train.results_dir={run}", "train.num_epochs=4", "train.early_stopping_patience=1",
             "train.optim.lr=1e-9", "train.optim.warmup_epochs=0"]  # nothing improves: stops after 2 validations
    assert main(["ocrnet", "train", *args]) == 0
    rows = [r for r in csv.DictReader(open(run / "logs" / "version_0" / "metrics.csv")) if r.get("val/accuracy")]
    assert len(rows) == 2
    best = read_model_record(run / "model_best.pth", kind="recognizer")
    assert best["epoch"] == 0  # the first validation was never beaten
    assert best["inference"]["dynamic_width"] is True and best["inference"]["width"] == best["spec"]["model"]["input_height"]
    speeds = [float(r["train/samples_per_s"]) for r in csv.DictReader(open(run / "logs" / "version_0" / "metrics.csv"))
              if r.get("train/samples_per_s")]
    assert speeds and min(speeds) > 0


def test_an_unknown_best_metric_names_the_known_ones(trained, capsys):
    root, common = trained
    args = [a for a in common if not a.startswith("train.results_dir")]
    assert main(["ocrnet", "train", *args, f"train.results_dir={root / 'run_badmetric'}", "train.num_epochs=1",
                 "train.best_metric=hmean"]) != 0
    err = capsys.readouterr().err
    assert "train.best_metric: 'hmean'" in err and "accuracy, accuracy_case_insensitive, cer, loss" in err
    assert not (root / "run_badmetric" / "model_final.pth").exists()


def test_a_dynamic_width_fine_tune_keeps_its_own_maximum_width():
    """The import fixes the input keys, but under dynamic width input_width is only the widest a crop may be:
    the graph reads any width, so the user's wider maximum stays (wide crops are then not squeezed) and a
    narrower one becomes the pretrained width."""
    pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed (make test installs it)")
    from ocdr.config import load_spec
    from ocdr.config.ocrnet import OcrnetSpec
    from ocdr.train.recognition import adapt_to_pretrained

    keys = ["model.pretrained_model_path=ppocr-v4-rec", "model.input_width=640", "model.input_height=32"]
    dynamic = load_spec(OcrnetSpec, None, [*keys, "model.dynamic_width=true"])
    adapt_to_pretrained(dynamic)
    assert (dynamic.model.input_width, dynamic.model.input_height, dynamic.model.input_channel) == (640, 48, 3)
    fixed = load_spec(OcrnetSpec, None, keys)
    adapt_to_pretrained(fixed)
    assert (fixed.model.input_width, fixed.model.input_height) == (320, 48)
    # a narrower maximum (TAO's default 100, used when the spec names none) squeezed every name into 100 px
    # and trained to 0.7 % on the names: it becomes the pretrained width
    default = load_spec(OcrnetSpec, None, ["model.pretrained_model_path=ppocr-v4-rec", "model.dynamic_width=true"])
    assert default.model.input_width == 100
    adapt_to_pretrained(default)
    assert (default.model.input_width, default.model.input_height) == (320, 48)
