"""``ocdr pipeline ...``: the whole OCR (detect -> rectify -> recognize) in one command."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.config.pipeline import PipelineSpec
from ocdr.pipeline.pipeline_inference import pipeline_inference

register(Command(
    group="pipeline", name="inference", spec=PipelineSpec, run=pipeline_inference,
    summary="read the text of an image or a folder: <stem>.json, <stem>_ocr.jpg, results.json",
    description=("Detects words with the detector, turns each box into an upright crop, reads the crops with the\n"
                 "recognizer (crops of a batch of images together) and groups the words into lines. Models are\n"
                 ".pth checkpoints (PyTorch, or ONNX Runtime with backend=onnxruntime) or exported .onnx files.\n"
                 "The defaults are the models 'ocdr demo' trains."),
    example="ocdr pipeline inference detector=runs/demo/detector/model_final.pth "
            "recognizer=runs/demo/recognizer/model_final.pth input=page.jpg results_dir=runs/ocr",
    output_key="results_dir",
))
