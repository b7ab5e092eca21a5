"""Loading a model from what a user names: ``load_model(path)`` needs nothing else.

A checkpoint (model file or training checkpoint, read with ``weights_only=True``) or a pretrained name
(``ppocr-v4-det``/``ppocr-v4-rec``, imported from the installed wheel) gives the model in eval mode, its
record (config, inference settings) and, for a recognizer, its character set. Everything that needs a
model (predictors, evaluation, export, pruning, fine-tuning) loads it here.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ocdr.data.charset import Charset
from ocdr.errors import ConfigError
from ocdr.models.catalog import ALIASES
from ocdr.models.checkpoint import read_model_record
from ocdr.models.imported.pretrained import read_pretrained
from ocdr.models.prune import rebuild_to
from ocdr.models.registry import build_model
from ocdr.models.settings import recognizer_settings_of

__all__ = ["resolve_device", "load_detector", "load_recognizer", "load_model", "input_geometry", "charset_of"]


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' requested but CUDA is not available")
    return torch.device(device)


def load_detector(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, record) of a detector file, training checkpoint or pretrained name."""
    record = read_pretrained(str(path), "detector")
    model = build_model(record["model"]["name"], **record["model"]["kwargs"])
    rebuild_to(model, record["state_dict"])  # a pruned model's narrower layers come from its weights
    return model.to(resolve_device(device)).eval(), record


def charset_of(record: dict) -> Charset:
    ds = record["spec"]["dataset"]
    return Charset(record["charset"], case_fold=bool(ds.get("case_fold", False)), unknown=ds.get("unknown_char", "drop"))


def load_recognizer(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict, Charset]:
    """(model in eval mode, record, charset) of a recognizer file, training checkpoint or pretrained name."""
    record = read_pretrained(str(path), "recognizer")
    model = build_model(record["model"]["name"], **record["model"]["kwargs"])
    rebuild_to(model, record["state_dict"])  # a pruned model's narrower layers come from its weights
    return model.to(resolve_device(device)).eval(), record, charset_of(record)


def load_model(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict, Charset | None]:
    """Any ocdr model file: (model, record, charset or None for a detector), by the kind it records."""

    kind = ALIASES[str(path)][1] if str(path) in ALIASES else read_model_record(path)["kind"]
    if kind == "detector":
        return (*load_detector(path, device), None)
    return load_recognizer(path, device)


def input_geometry(record: dict) -> dict:
    """The recognizer input of a record, as the ``ocdr_input`` ONNX metadata and older callers know it."""
    s = recognizer_settings_of(record)
    return {"height": s.height, "width": s.width, "channels": s.channels, "keep_aspect_ratio": s.keep_aspect_ratio,
            "pad": s.pad, "prediction": s.prediction}
