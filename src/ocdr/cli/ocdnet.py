"""``ocdr ocdnet ...``: the DBNet text detector (TAO OCDNet's commands and spec keys)."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.config.ocdnet import OcdnetSpec

_SPEC_NOTE = "One spec serves train, evaluate, inference and export, as in TAO."

register(Command(
    group="ocdnet", name="train", spec=OcdnetSpec, run="ocdr.train.detection:train_detector",
    summary="train the DBNet detector (resumes from results_dir/last.ckpt)",
    description=("Trains on dataset.train_data_path, validates (P/R/hmean) on dataset.validate_data_path every\n"
                 "train.validation_interval epochs, writes checkpoints, logs and model_final.pth into\n"
                 "train.results_dir. With no data, the synthetic dataset is generated first. " + _SPEC_NOTE),
    example="ocdr ocdnet train train.num_epochs=3 model.backbone=resnet18 train.results_dir=runs/det",
    output_key=None,
))
register(Command(
    group="ocdnet", name="evaluate", spec=OcdnetSpec, run="ocdr.commands.ocdnet_evaluate:evaluate_detector",
    summary="ICDAR 2015 precision/recall/hmean of a detector, with the worst images drawn",
    description=("Evaluates evaluate.checkpoint on evaluate.data_path (default: dataset.validate_data_path) with\n"
                 "the postprocess settings; writes metrics.json and worst/*.jpg (green: truth, red: detections)."),
    example="ocdr ocdnet evaluate evaluate.checkpoint=runs/det/model_final.pth postprocess.box_thresh=0.6",
    output_key=None,
))
register(Command(
    group="ocdnet", name="inference", spec=OcdnetSpec, run="ocdr.commands.ocdnet_inference:detector_inference",
    summary="detect text in an image or a folder: <stem>_result.jpg, <stem>_pred.jpg, <stem>.txt",
    description=("Runs inference.checkpoint (.pth, or .onnx with ONNX Runtime) on inference.input; text lines are\n"
                 "x1,y1,...,x4,y4,score. inference.tiled=true cuts large pages into overlapping tiles."),
    example="ocdr ocdnet inference inference.checkpoint=runs/det/model_final.pth inference.input=page.jpg",
    output_key=None,
))
register(Command(
    group="ocdnet", name="export", spec=OcdnetSpec, run="ocdr.commands.export:export_detector_command",
    summary="export the detector to ONNX (dynamic batch, height, width) and verify it with ONNX Runtime",
    description=("Writes export.onnx_file (input 'images' N x 3 x H x W normalized RGB, output 'prob'), checks it\n"
                 "with onnx.checker and compares ONNX Runtime with PyTorch. Deformable backbones export too."),
    example="ocdr ocdnet export export.checkpoint=runs/det/model_final.pth export.onnx_file=det.onnx",
    output_key=None,
))


register(Command(
    group="ocdnet", name="prune", spec=OcdnetSpec, run="ocdr.commands.ocdnet_prune:prune_detector",
    summary="prune detector channels by L2 magnitude; fine-tune after with model.load_pruned_graph",
    description=("Removes prune.ch_sparsity of the channels inside each ResNet block and head branch (weakest\n"
                 "filters by Lp norm), writes prune.results_dir/pruned_<ratio>.pth (weights only) and prints\n"
                 "parameters, GFLOPs and median CPU latency (prune.measure_size, 640) before and after. An\n"
                 "imported PP-OCRv4 graph, or settings that remove no channel, are refused."),
    example="ocdr ocdnet prune prune.checkpoint=runs/det/model_final.pth prune.ch_sparsity=0.3",
    output_key=None,
))
