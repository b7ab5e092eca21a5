"""``ocdr pipeline ...``: the whole OCR (detect -> rectify -> recognize) in one command."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.config.pipeline import PipelineSpec

register(Command(
    group="pipeline", name="inference", spec=PipelineSpec, run="ocdr.commands.pipeline_inference:pipeline_inference",
    summary="read the text of an image or a folder: <stem>.json, <stem>_ocr.jpg, results.json",
    description=("Detects words with the detector, turns each box into an upright crop, reads the crops with the\n"
                 "recognizer (crops of a batch of images together) and groups the words into lines. Models are\n"
                 ".pth checkpoints, exported .onnx files, ppocr-v4-det/ppocr-v4-rec, or auto (the default: PP-OCRv4\n"
                 "from the installed wheel on ONNX Runtime, else the demo's models). Each model runs with the\n"
                 "inference settings it carries; keys left null (long_side, postprocess.*, min_confidence) keep them."),
    example="ocdr pipeline inference detector=runs/demo/detector/model_final.pth "
            "recognizer=runs/demo/recognizer/model_final.pth input=page.jpg results_dir=runs/ocr",
    output_key="results_dir",
))
