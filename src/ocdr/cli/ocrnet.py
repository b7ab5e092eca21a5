"""``ocdr ocrnet ...``: the text recognizer's commands."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.data.lmdb_io import LmdbConvertSpec
from ocdr.config.ocrnet import OcrnetSpec

register(Command(
    group="ocrnet", name="dataset_convert", spec=LmdbConvertSpec, run="ocdr.data.lmdb_io:convert_to_lmdb",
    summary="convert a recognition gt list (path<TAB>label) to an LMDB (TAO OCRNet / clovaai layout)",
    description=(
        "Writes keys num-samples, image-%09d and label-%09d (1-based), the layout TAO OCRNet and\n"
        "deep-text-recognition-benchmark read. Image paths in the gt list are relative to image_dir\n"
        "(default: the gt list's folder). Unreadable images are errors unless --skip-bad."),
    example="ocdr ocrnet dataset_convert gt_list=data/synth/train/crops/gt_list.txt output_dir=data/synth/train/lmdb",
))


register(Command(
    group="ocrnet", name="train", spec=OcrnetSpec, run="ocdr.train.recognition:train_recognizer",
    summary="train the text recognizer (CRNN/attention/ViT; resumes from results_dir/last.ckpt)",
    description=("Trains on dataset.train_dataset_dir (LMDB folders or gt lists) with the characters of\n"
                 "dataset.character_list_file (a space is an ordinary character), validates accuracy and CER on\n"
                 "dataset.val_dataset_dir, writes checkpoints and model_final.pth into train.results_dir.\n"
                 "model.pretrained_model_path starts from a checkpoint, even one with another character list."),
    example="ocdr ocrnet train train.num_epochs=5 model.backbone=small train.results_dir=runs/rec",
    output_key=None,
))
register(Command(
    group="ocrnet", name="evaluate", spec=OcrnetSpec, run="ocdr.commands.ocrnet_evaluate:evaluate_recognizer",
    summary="accuracy (exact, case-insensitive, alphanumeric), CER, WER and 1-NED of a recognizer",
    description=("Evaluates evaluate.checkpoint on evaluate.test_dataset_dir (default: dataset.val_dataset_dir);\n"
                 "evaluate.decoding=beam adds CTC beam search beside greedy decoding. Writes metrics.json with\n"
                 "the worst samples."),
    example="ocdr ocrnet evaluate evaluate.checkpoint=runs/rec/model_final.pth evaluate.decoding=beam",
    output_key=None,
))
register(Command(
    group="ocrnet", name="inference", spec=OcrnetSpec, run="ocdr.commands.ocrnet_inference:recognizer_inference",
    summary="read word crops: image_path | predicted_labels | confidence score (also CSV and JSON)",
    description=("Runs inference.checkpoint (.pth, or an exported .onnx with ONNX Runtime) on\n"
                 "inference.inference_dataset_dir: an image, a folder of crops or a gt list. Confidence is the\n"
                 "mean probability of the emitted characters (0 when nothing is read)."),
    example="ocdr ocrnet inference inference.checkpoint=runs/rec/model_final.pth inference.inference_dataset_dir=crops/",
    output_key=None,
))
register(Command(
    group="ocrnet", name="export", spec=OcrnetSpec, run="ocdr.commands.export:export_recognizer_command",
    summary="export a CTC recognizer to ONNX (output_id, output_prob) and verify it with ONNX Runtime",
    description=("Writes export.onnx_file with dynamic batch, argmax and probability in the graph, and the\n"
                 "character list and input size in its metadata; compares ONNX Runtime with PyTorch."),
    example="ocdr ocrnet export export.checkpoint=runs/rec/model_final.pth export.onnx_file=rec.onnx",
    output_key=None,
))
register(Command(
    group="ocrnet", name="prune", spec=OcrnetSpec, run="ocdr.commands.ocrnet_prune:prune_recognizer_command",
    summary="prune recognizer channels by L1/L2 magnitude; fine-tune after with model.pruned_graph_path",
    description=("Removes prune.prune_setting.amount of the channels of each convolution chain, BiLSTM and the\n"
                 "features between them (weakest by L1/L2 norm, kept counts a multiple of granularity), writes\n"
                 "prune.pruned_file (default prune.results_dir/pruned_<amount>.pth, weights only) and prints\n"
                 "parameters, GFLOPs and median CPU latency at the model's input size before and after. The\n"
                 "imported PP-OCRv4 recognizer is refused."),
    example="ocdr ocrnet prune prune.checkpoint=runs/rec/model_final.pth prune.prune_setting.amount=0.4",
    output_key=None,
))
