"""The checkpoint format, owned here.

Two kinds of file, both plain data (tensors, numbers, strings, lists, dicts) so that they load
with ``torch.load(..., weights_only=True)`` and never unpickle code:

* **training checkpoints** (``last.ckpt``, ``model_epoch_NNN.ckpt``): Lightning's full state
  (weights, optimizer, schedulers, loops) for resuming, plus an ``"ocdr"`` entry;
* **model files** (``model_final.pth``): just the ``"ocdr"`` entry — what ``load_model`` needs:

  ``{"format": "ocdr/1", "kind": "detector"|"recognizer", "model": {"name": ..., "kwargs": {...}},
  "state_dict": {...}, "spec": {resolved spec as a dict}, "charset": [chars] | None, "epoch", "step",
  "inference": {settings, see ocdr.models.settings} | None}``

Every write goes to a temp file in the target folder first and is renamed into place.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch

from ocdr.errors import DataError
from ocdr.fileio import atomic_path

__all__ = ["FORMAT", "ALIASES", "resolve_alias", "save_checkpoint", "load_checkpoint", "make_model_record",
           "read_model_record"]
log = logging.getLogger("ocdr")

FORMAT = "ocdr/1"


def save_checkpoint(obj: dict, path: str | Path) -> Path:
    """``torch.save`` to a temp file beside ``path``, then rename: never a half-written file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


# TAO's file names for the best model -> ocdr's (TAO OCRNet writes best_accuracy.pth, OCDNet model_best.pth)
ALIASES = {"best_accuracy.pth": "model_best.pth"}


def resolve_alias(path: str | Path) -> Path:
    """``path``, or, when it is absent and named as TAO names its best model, ocdr's file beside it."""
    path = Path(path)
    alias = ALIASES.get(path.name)
    if not path.exists() and alias and (path.parent / alias).is_file():
        log.info("%s: not found; reading %s (ocdr's name for TAO's %s)", path, alias, path.name)
        return path.parent / alias
    return path


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict:
    """Load with ``weights_only=True``; a clear error for missing, corrupt or unsafe files."""
    path = resolve_alias(path)
    if not path.is_file():
        raise DataError(path, "checkpoint not found")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types (UnpicklingError, RuntimeError, EOFError)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(path, f"not a loadable checkpoint (weights only): {first[:200]}") from None
    if not isinstance(obj, dict):
        raise DataError(path, f"checkpoint holds a {type(obj).__name__}, expected a dict")
    return obj


def make_model_record(kind: str, model_name: str, model_kwargs: dict, state_dict: dict, spec: dict,
                      charset: list[str] | None = None, epoch: int = 0, step: int = 0, inference=None) -> dict:
    """``inference``: the model's :mod:`ocdr.models.settings` (a dataclass or its dict), how inputs are prepared
    and outputs decoded; absent, consumers derive ocdr's defaults from ``spec``."""
    if inference is not None and dataclasses.is_dataclass(inference):
        inference = dataclasses.asdict(inference)
    return {
        "format": FORMAT,
        "kind": kind,
        "model": {"name": model_name, "kwargs": dict(model_kwargs)},
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "spec": spec,
        "charset": list(charset) if charset is not None else None,
        "epoch": int(epoch),
        "step": int(step),
        "inference": inference,
    }


def read_model_record(path: str | Path, kind: str | None = None) -> dict:
    """The ``ocdr`` record of a model file or a training checkpoint, checked for completeness."""
    obj = load_checkpoint(path)
    record = obj.get("ocdr", obj)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DataError(path, "not an ocdr checkpoint (no 'ocdr/1' record); was it written by another tool?")
    if kind is not None and record.get("kind") != kind:
        raise DataError(path, f"holds a {record.get('kind')}, expected a {kind}")
    if "state_dict" not in record:
        record = {**record, "state_dict": {k[len("model."):]: v for k, v in obj.get("state_dict", {}).items()
                                           if k.startswith("model.")}}
    return record
