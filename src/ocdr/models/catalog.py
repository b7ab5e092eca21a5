"""Where a model named by the user comes from: a file, a pretrained name, or ``auto`` (no torch, no onnx here).

- ``ppocr-v4-det`` / ``ppocr-v4-rec``: PP-OCRv4 mobile inside the installed ``rapidocr-onnxruntime`` wheel;
- ``auto``: those when the wheel is installed, else the demo's trained models (``runs/demo/...``), else a
  clear error saying what to install or which file to pass;
- ``*.onnx``: an exported model (ONNX Runtime); anything else: an ocdr checkpoint (``.pth``/``.ckpt``).
"""
from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ocdr.errors import ConfigError, DataError

__all__ = ["ALIASES", "PPOCR_FILES", "WHEEL", "wheel_model_path", "wheel_installed", "resolve_model",
           "is_onnx_path", "DEMO_MODELS", "PRETRAINED", "SOURCES", "PretrainedSpec"]
log = logging.getLogger("ocdr.models")

ALIASES = {"ppocr-v4-det": ("det", "detector"), "ppocr-v4-rec": ("rec", "recognizer")}
PPOCR_FILES = {"det": "ch_PP-OCRv4_det_infer.onnx", "rec": "ch_PP-OCRv4_rec_infer.onnx"}
WHEEL = "rapidocr-onnxruntime"
DEMO_MODELS = {"detector": "runs/demo/detector/model_final.pth", "recognizer": "runs/demo/recognizer/model_final.pth"}
PRETRAINED = {"detector": "ppocr-v4-det", "recognizer": "ppocr-v4-rec"}
SOURCES = {"ppocr-v4": ["ppocr-v4-det", "ppocr-v4-rec"]}  # what `ocdr pretrained import` can import


def wheel_installed() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def wheel_model_path(role: str) -> Path:
    """Path of the PP-OCRv4 ``det`` or ``rec`` ONNX file inside the installed wheel (no network)."""
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the PP-OCRv4 models come from the {WHEEL} wheel, which is not installed; "
                          f"install it with: pip install --no-deps {WHEEL}==1.4.4 (make demo and make test do)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / PPOCR_FILES[role]
    if not path.is_file():
        raise ConfigError(f"{path}: missing from the installed {WHEEL} wheel")
    return path


def is_onnx_path(value) -> bool:
    """The one place that tells an exported model from a checkpoint by its name."""
    return isinstance(value, (str, Path)) and str(value).lower().endswith(".onnx")


def resolve_model(kind: str, value) -> str:
    """``auto`` -> a concrete source for a ``detector`` or ``recognizer``; other names are checked to exist."""
    if kind not in PRETRAINED:
        raise ValueError(f"kind must be detector or recognizer, got {kind!r}")
    if not isinstance(value, (str, Path)):
        return value  # a module or a session-like object
    value = str(value)
    if value == "auto":
        if wheel_installed():
            log.info("%s: auto -> %s (PP-OCRv4 from the installed %s wheel)", kind, PRETRAINED[kind], WHEEL)
            return PRETRAINED[kind]
        if Path(DEMO_MODELS[kind]).is_file():
            log.info("%s: auto -> %s (no %s wheel for PP-OCRv4)", kind, DEMO_MODELS[kind], WHEEL)
            return DEMO_MODELS[kind]
        raise ConfigError(f"{kind}=auto: no default {kind}: install the PP-OCRv4 wheel "
                          f"(pip install --no-deps {WHEEL}==1.4.4), run 'ocdr demo', or pass a checkpoint "
                          f"({kind}=path/to/model_final.pth or .onnx)")
    if value in ALIASES:
        if ALIASES[value][1] != kind:
            raise ConfigError(f"'{value}' is a {ALIASES[value][1]}, not a {kind}")
        return value
    if not Path(value).is_file():
        raise DataError(value, f"{kind} model not found (train one, run 'ocdr demo', pass a .pth/.onnx file, "
                               f"or use {kind}=auto)")
    return value


@dataclass
class PretrainedSpec:
    source: str = field(default="ppocr-v4", metadata={"help": "what to import: " + ", ".join(SOURCES)})
    output_dir: str = field(default="pretrained", metadata={"help": "where the checkpoints are written"})

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"source: '{self.source}' is not one of {', '.join(SOURCES)}")
