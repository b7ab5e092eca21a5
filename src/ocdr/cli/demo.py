"""``ocdr demo``: the main job on the embedded default data."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.demo import DemoSpec, run_demo

register(Command(
    group="", name="demo", spec=DemoSpec, run=run_demo,
    summary="run the end-to-end demo on generated synthetic data (no data, no network needed)",
    description=(
        "Generates synthetic handwriting-like pages, then converts and summarises them: detection layout,\n"
        "recognition crops, character list, LMDB and dataset statistics, all under output_dir."),
    example="ocdr demo output_dir=runs/demo num_pages=40",
))
