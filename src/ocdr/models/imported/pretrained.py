"""Pretrained starting points that work offline: ``ocdr pretrained list|import``.

``ppocr-v4`` = PP-OCRv4 mobile, read from the ``rapidocr-onnxruntime`` wheel. Importing writes ordinary ocdr
checkpoints (config and, for the recognizer, the character list inside) that every ocdr command accepts.
Specs may also name the sources directly: ``model.pretrained_model_path=ppocr-v4-det`` (detector) or
``ppocr-v4-rec`` (recognizer) import on the fly.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from ocdr.config import spec_to_dict
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.data.charset import Charset
from ocdr.errors import ConfigError
from ocdr.fileio import atomic_write_text
from ocdr.models.catalog import ALIASES, SOURCES, PretrainedSpec, wheel_model_path
from ocdr.models.checkpoint import make_model_record, read_model_record, save_checkpoint
from ocdr.models.imported.onnx_graph import OnnxGraphModule, load_onnx
from ocdr.models.imported.ppocr import PPOCRDet, PPOCRRec, ppocr_charset, skeleton_of
from ocdr.models.settings import PPOCR_DET, PPOCR_REC

__all__ = ["ALIASES", "import_record", "read_pretrained", "import_pretrained", "list_pretrained",
           "IMPORTED_MODELS"]
log = logging.getLogger("ocdr.pretrained")

IMPORTED_MODELS = {"ppocr_det", "ppocr_rec"}


def import_record(alias: str) -> dict:
    """The ocdr model record of a pretrained source (imported from the installed wheel, no network)."""

    if alias not in ALIASES:
        raise ConfigError(f"unknown pretrained model '{alias}'; known: {', '.join(ALIASES)}")
    role, kind = ALIASES[alias]
    path = wheel_model_path(role)
    onnx_model = load_onnx(path)
    graph = skeleton_of(onnx_model)
    torch.manual_seed(0)  # the detector's new threshold branch starts the same on every import
    if role == "det":
        model = PPOCRDet(OnnxGraphModule(onnx_model))
        spec = spec_to_dict(OcdnetSpec())
        spec["model"]["backbone"] = "ppocr_v4"
        return make_model_record(kind, "ppocr_det", {"graph": graph, "k": 50.0}, model.state_dict(), spec,
                                 inference=PPOCR_DET)
    chars = ppocr_charset(onnx_model)
    model = PPOCRRec(OnnxGraphModule(onnx_model))
    spec = spec_to_dict(OcrnetSpec())
    spec["model"].update(backbone="PPOCRv4", input_channel=3, input_height=48, input_width=320,
                         keep_aspect_ratio=True, pad="zero", prediction="CTC")
    spec["dataset"]["max_label_length"] = 40
    num_classes = Charset(chars).num_classes_ctc
    if num_classes != model.head.fc.out_features:
        raise ConfigError(f"{path}: {len(chars)} characters in the metadata but {model.head.fc.out_features} classes")
    return make_model_record(kind, "ppocr_rec", {"graph": graph, "num_classes": num_classes}, model.state_dict(),
                             spec, chars, inference=PPOCR_REC)


def read_pretrained(path_or_alias: str, kind: str) -> dict:
    """A checkpoint path, or a pretrained source name (``ppocr-v4-det`` / ``ppocr-v4-rec``)."""
    if path_or_alias in ALIASES:
        if ALIASES[path_or_alias][1] != kind:
            raise ConfigError(f"'{path_or_alias}' is a {ALIASES[path_or_alias][1]}, not a {kind}")
        log.info("importing %s from the installed wheel", path_or_alias)
        return import_record(path_or_alias)
    return read_model_record(path_or_alias, kind=kind)


def import_pretrained(spec: PretrainedSpec) -> dict:
    """Write ``<output_dir>/<alias>.pth`` for each model of the source, and the recognizer's character list."""
    out = Path(spec.output_dir)
    written = {}
    for alias in SOURCES[spec.source]:
        record = import_record(alias)
        path = save_checkpoint(record, out / f"{alias}.pth")
        written[alias] = str(path)
        if record["charset"]:
            charset_file = out / f"{alias}_character_list.txt"
            atomic_write_text(charset_file, "\n".join(record["charset"]) + "\n")
            written[f"{alias}_character_list"] = str(charset_file)
        log.info("%s -> %s", alias, path)
    return {"source": spec.source, "written": written}


def list_pretrained(spec: PretrainedSpec) -> dict:

    rows = {}
    for source, aliases in SOURCES.items():
        for alias in aliases:
            try:
                where = str(wheel_model_path(ALIASES[alias][0]))
            except ConfigError as exc:
                where = f"unavailable: {exc}"
            rows[alias] = {"source": source, "kind": ALIASES[alias][1], "from": where}
    return {"pretrained": rows}
