"""``ocdr demo``: the main job on the embedded default data."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.config.demo import DemoSpec

register(Command(
    group="", name="demo", spec=DemoSpec, run="ocdr.demo:run_demo",
    summary="the whole workflow offline: synthetic data, train, evaluate, export, pipeline, HTML report",
    description=(
        "Generates synthetic handwriting-like pages, trains the detector and the recognizer within `minutes`\n"
        "of CPU, evaluates both, exports both to ONNX (checked against PyTorch), runs the pipeline on\n"
        "held-out pages and on the real images of real_data when present, and writes output_dir/report.html."),
    example="ocdr demo minutes=30 output_dir=runs/demo",
))
