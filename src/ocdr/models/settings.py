"""Inference settings a model carries: how its inputs are prepared and its outputs decoded.

A checkpoint holds them under ``"inference"`` and an exported ONNX file in its ``ocdr_inference`` metadata,
so every consumer (``ocdr.OCR``, the predictors, pipeline inference, serve, Triton) runs a model the way it
was trained or published; a user's key overrides only that key (:func:`merge`).

- ocdr's own models record what they were trained with: long side 736, ImageNet mean/std, RGB, the spec's
  post-processing; the recognizer's input size, aspect handling and padding.
- The PP-OCRv4 import records PaddleOCR's own values, as RapidOCR 1.4.4 applies them (its ``config.yaml``):
  images over 2000 px shrunk first, then the short side raised to 736 (``limit_type: min``), BGR,
  (x / 255 - 0.5) / 0.5, DB thresh 0.3, box_thresh 0.5, unclip 1.6, a 2 x 2 dilation, box scores over the
  box (``fast``); recognition 48 px high, width following the widest crop of each batch (never below 320),
  crops sorted by aspect ratio, words read with confidence below 0.5 dropped. One change of ocdr's: the
  batch width is rounded up to a ladder of 12 widths (``width_ladder``), which bounds OpenVINO's memory.

``mean``/``std``/``channel_order`` describe the input of the ONNX graph a backend runs. The PyTorch modules
always take ocdr's own input (ImageNet-normalised RGB for detectors, RGB in [-1, 1] for recognizers) and
convert inside when their graph wants something else (the PP-OCR wrappers), so the torch backend does not
read them. This module imports neither torch nor onnx.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from ocdr.errors import ConfigError
from ocdr.models.detection.postprocess import PostProcessConfig

__all__ = ["DetectorSettings", "RecognizerSettings", "LIMIT_TYPES", "IMAGENET_MEAN", "IMAGENET_STD",
           "PPOCR_DET", "PPOCR_REC", "merge", "to_json", "detector_settings_from_json",
           "recognizer_settings_from_json", "detector_settings_of", "recognizer_settings_of"]

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# long: the long side becomes limit_side_len (ocdr, TAO); max: shrink so the long side is at most it;
# min: enlarge so the short side is at least it (PaddleOCR's det_limit_type).
LIMIT_TYPES = ("long", "max", "min")


@dataclass
class DetectorSettings:
    limit_side_len: int = 736
    limit_type: str = "long"
    max_side_len: int = 0  # > 0: images with a longer side are first shrunk to it (RapidOCR's max_side_len)
    multiple: int = 32
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    channel_order: str = "RGB"
    postprocess: PostProcessConfig = field(default_factory=PostProcessConfig)

    def validate(self) -> None:
        if self.limit_type not in LIMIT_TYPES:
            raise ConfigError(f"limit_type: '{self.limit_type}' is not one of {', '.join(LIMIT_TYPES)}")
        if self.limit_side_len <= 0 or self.limit_side_len % self.multiple:
            raise ConfigError(f"limit_side_len must be a positive multiple of {self.multiple}, got {self.limit_side_len}")
        self.postprocess.validate()
        _check_norm(self.mean, self.std, self.channel_order)


@dataclass
class RecognizerSettings:
    height: int = 32
    width: int = 100
    channels: int = 1
    keep_aspect_ratio: bool = False
    pad: str = "edge"
    # True: each batch is as wide as its widest crop at this height (at least ``width``), PaddleOCR's scheme;
    # False: every crop is fitted into height x width.
    dynamic_width: bool = False
    max_width: int = 2048  # dynamic width never exceeds this (a 1-pixel-high sliver would otherwise explode)
    # dynamic width: the batch width is rounded up to a multiple of this (ocdr's trainer rounds every crop to 8)
    width_multiple: int = 1
    # dynamic width: > 0 rounds the batch width up to the next rung of a ladder from ``width`` to ``max_width``,
    # each rung this much wider than the last, so batches take a dozen widths instead of any: OpenVINO keeps
    # memory for every input shape it has run (about 14-46 MB per width for PP-OCRv4; docs/benchmarks.md)
    width_ladder: float = 0.0
    # dynamic width: a batch ends where a crop needs more than this many times the width of the batch's
    # narrowest crop, so no crop is padded far beyond what it was trained with; 0: no limit (ocdr's trainer
    # pads width-sorted batches to their widest crop)
    max_width_spread: float = 1.1
    # crops per batch; 0: the predictor's default (6 on a CPU, PaddleOCR's rec_batch_num; 64 on a GPU).
    # A model trained by ocdr records its training batch size: it was validated (and picked) reading so.
    batch_size: int = 0
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    channel_order: str = "RGB"
    prediction: str = "CTC"
    min_confidence: float = 0.0  # words read with a lower confidence are dropped by the pipeline

    def validate(self) -> None:
        if self.pad not in ("edge", "zero"):
            raise ConfigError(f"pad: '{self.pad}' is not one of edge, zero")
        if min(self.height, self.width, self.channels, self.width_multiple) <= 0:
            raise ConfigError("recognizer height, width, channels and width_multiple must be positive")
        if self.width_ladder < 0:
            raise ConfigError(f"width_ladder must be >= 0, got {self.width_ladder}")
        if self.max_width_spread < 0 or 0 < self.max_width_spread < 1 or self.batch_size < 0:
            raise ConfigError(f"max_width_spread must be 0 or >= 1 and batch_size >= 0, got "
                              f"{self.max_width_spread} and {self.batch_size}")
        _check_norm(self.mean, self.std, self.channel_order)


def _check_norm(mean: list[float], std: list[float], order: str) -> None:
    if order not in ("RGB", "BGR"):
        raise ConfigError(f"channel_order: '{order}' is not one of RGB, BGR")
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ConfigError(f"mean and std need 3 values each, std > 0; got {mean}, {std}")


PPOCR_DET = DetectorSettings(
    limit_side_len=736, limit_type="min", max_side_len=2000, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
    channel_order="BGR",
    postprocess=PostProcessConfig(thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6,
                                  use_dilation=True, score_mode="fast",
                                  integer_geometry=True))
# width_ladder 0.2: 12 batch widths from 320 to 2,048 px, at the accuracy of PaddleOCR's exact widths on the
# validation crops of every set (docs/benchmarks.md), so OpenVINO's per-width memory stays bounded
PPOCR_REC = RecognizerSettings(height=48, width=320, channels=3, keep_aspect_ratio=True, pad="zero",
                               dynamic_width=True, channel_order="BGR", min_confidence=0.5, width_ladder=0.2)


def merge(settings, overrides: dict | None):
    """A copy of ``settings`` with the keys of ``overrides`` that are not None replaced (nested for
    ``postprocess``); an unknown key is an error naming it."""
    if not overrides:
        return dataclasses.replace(settings)
    names = {f.name for f in dataclasses.fields(settings)}
    plain, nested = {}, {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in names:
            raise ConfigError(f"unknown inference setting '{key}' for a {type(settings).__name__}; "
                              f"known: {', '.join(sorted(names))}")
        if key == "postprocess" and isinstance(value, dict):
            nested = {k: v for k, v in value.items() if v is not None}
        else:
            plain[key] = value
    out = dataclasses.replace(settings, **plain)
    if nested:
        out.postprocess = _replace_checked(out.postprocess, nested)
    out.validate()
    return out


def _replace_checked(cfg, values: dict):
    names = {f.name for f in dataclasses.fields(cfg)}
    bad = sorted(set(values) - names)
    if bad:
        raise ConfigError(f"unknown post-processing setting '{bad[0]}'; known: {', '.join(sorted(names))}")
    return dataclasses.replace(cfg, **values)


def to_json(settings) -> str:
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


def _from_dict(cls, data: dict):
    data = dict(data)
    names = {f.name for f in dataclasses.fields(cls)}
    post = data.pop("postprocess", None)
    obj = cls(**{k: v for k, v in data.items() if k in names})  # keys a newer ocdr added are ignored
    if post is not None:
        obj.postprocess = _postprocess_from(post)
    return obj


def _postprocess_from(values: dict) -> PostProcessConfig:
    """A post-processing config from a saved or spec dict: unset (None) keys keep the defaults, keys this
    version does not know are ignored."""
    names = {f.name for f in dataclasses.fields(PostProcessConfig)}
    return PostProcessConfig(**{k: v for k, v in values.items() if k in names and v is not None})


def detector_settings_from_json(text: str) -> DetectorSettings:
    return _from_dict(DetectorSettings, json.loads(text))


def recognizer_settings_from_json(text: str) -> RecognizerSettings:
    return _from_dict(RecognizerSettings, json.loads(text))


def detector_settings_of(record: dict) -> DetectorSettings:
    """The settings a detector record carries; a record older than them gets what ocdr trained with:
    long side 736, ImageNet RGB, the spec's post-processing."""
    saved = (record.get("inference") or {})
    if isinstance(saved, dict) and saved:
        return _from_dict(DetectorSettings, saved)
    return DetectorSettings(postprocess=_postprocess_from((record.get("spec") or {}).get("postprocess") or {}))


def recognizer_settings_of(record: dict) -> RecognizerSettings:
    """The settings a recognizer record carries, or those of its spec's model section (older records)."""
    saved = (record.get("inference") or {})
    if isinstance(saved, dict) and saved:
        out = _from_dict(RecognizerSettings, saved)
        if "width_multiple" not in saved and out.dynamic_width:  # recorded before the batch geometry was
            out = dataclasses.replace(out, **_validation_batches(record.get("spec") or {}))
        return out
    m = record["spec"]["model"]
    return RecognizerSettings(height=int(m["input_height"]), width=int(m["input_width"]),
                              channels=int(m["input_channel"]), keep_aspect_ratio=bool(m.get("keep_aspect_ratio", False)),
                              pad=m.get("pad", "edge"), prediction=m["prediction"])


def trained_settings(kind: str, model_name: str, spec: dict):
    """What a model trained by ocdr records: its spec's post-processing or input geometry, in its family's
    input convention (PP-OCR graphs keep PaddleOCR's resize and normalisation; ``ppocr_*`` model names)."""
    if kind == "detector":
        postprocess = _postprocess_from(spec.get("postprocess") or {})
        # validated at the dataset's long side during training: inference starts from the same
        size = int((spec.get("dataset") or {}).get("image_size") or 736)
        if model_name == "ppocr_det":  # PaddleOCR's input normalisation (its native graph), ocdr's training size
            return dataclasses.replace(PPOCR_DET, limit_side_len=size, limit_type="long", max_side_len=0,
                                       postprocess=postprocess)
        return DetectorSettings(limit_side_len=size, postprocess=postprocess)
    if kind != "recognizer" or "model" not in spec:
        return None
    own = recognizer_settings_of({"spec": spec})
    dynamic = bool(spec["model"].get("dynamic_width", False))
    if model_name == "ppocr_rec":
        if dynamic:  # trained on crops at their own width (>= the height): read them the same way
            return dataclasses.replace(PPOCR_REC, height=own.height, width=own.height, max_width=own.width,
                                       **_validation_batches(spec))
        return dataclasses.replace(PPOCR_REC, height=own.height, width=own.width, width_ladder=0.0)
    if dynamic:
        return dataclasses.replace(own, keep_aspect_ratio=True, dynamic_width=True, width=own.height, max_width=own.width,
                                   **_validation_batches(spec))
    return own


def _validation_batches(spec: dict) -> dict:
    """How ocdr's validation pass reads a dynamic-width model, the pass that picked model_best: widths rounded
    up to 8, width-sorted batches of the training batch size padded to their widest crop. Read with less
    padding than it was trained with, such a model loses words (docs/benchmarks.md)."""
    batch = int((spec.get("train") or {}).get("batch_size") or 0)
    return {"width_multiple": 8, "max_width_spread": 0.0, "batch_size": batch, "width_ladder": 0.0}
