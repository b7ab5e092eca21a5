"""``ocdr pretrained list|import``: offline starting points (PP-OCRv4 from the rapidocr-onnxruntime wheel)."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.models.catalog import PretrainedSpec

register(Command(
    group="pretrained", name="list", spec=PretrainedSpec, run="ocdr.models.imported.pretrained:list_pretrained",
    summary="the pretrained models ocdr can import here, and where they come from",
    description="Lists each pretrained model name (usable as model.pretrained_model_path) and the file it is read from.",
    example="ocdr pretrained list",
    output_key=None,
))
register(Command(
    group="pretrained", name="import", spec=PretrainedSpec, run="ocdr.models.imported.pretrained:import_pretrained",
    summary="import PP-OCRv4 (detector + recognizer) as ocdr checkpoints, offline",
    description=("Reads the PP-OCRv4 mobile ONNX models from the installed rapidocr-onnxruntime wheel and writes\n"
                 "output_dir/ppocr-v4-det.pth and ppocr-v4-rec.pth (plus the recognizer's character list): ordinary\n"
                 "ocdr checkpoints that train, evaluate, inference and export accept."),
    example="ocdr pretrained import ppocr-v4 output_dir=pretrained",
    output_key=None, positional="source",
))
