"""``ocdr ocrnet ...``: the text recognizer's commands."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.data.lmdb_io import LmdbConvertSpec, convert_to_lmdb

register(Command(
    group="ocrnet", name="dataset_convert", spec=LmdbConvertSpec, run=convert_to_lmdb,
    summary="convert a recognition gt list (path<TAB>label) to an LMDB (TAO OCRNet / clovaai layout)",
    description=(
        "Writes keys num-samples, image-%09d and label-%09d (1-based), the layout TAO OCRNet and\n"
        "deep-text-recognition-benchmark read. Image paths in the gt list are relative to image_dir\n"
        "(default: the gt list's folder). Unreadable images are errors unless --skip-bad."),
    example="ocdr ocrnet dataset_convert gt_list=data/synth/train/crops/gt_list.txt output_dir=data/synth/train/lmdb",
))
