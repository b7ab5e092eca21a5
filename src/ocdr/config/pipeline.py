"""The end-to-end pipeline spec (``ocdr pipeline inference``): detector + rectifier + recognizer.

Every model carries its own inference settings (``ocdr.models.settings``); the keys here that default to
``null`` override the model's value only when set.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from ocdr.errors import ConfigError

__all__ = ["PipelineSpec", "PipelineModelsSpec", "PostProcessOverrides", "LexiconSpec", "BACKEND_HELP", "validate_backend",
           "PRECISIONS", "ENGINE_PRECISIONS", "PRECISION_HELP",
           "validate_precision"]

BACKEND_HELP = ("auto (for .onnx files and imported PP-OCR models OpenVINO on a CPU, ONNX Runtime on CUDA; "
                "PyTorch for other checkpoints) | torch | onnxruntime | openvino")
PRECISIONS = ("auto", "fp32", "bf16", "bf16-checked")
# what an engine computes in; the predictors resolve auto and bf16-checked to these
ENGINE_PRECISIONS = ("fp32", "bf16")
PRECISION_HELP = ("auto | fp32 | bf16 | bf16-checked: what the ONNX engine computes in. bf16: OpenVINO where the "
                  "CPU has bf16 instructions (faster, slightly less accurate); bf16-checked: the recognizer reads in "
                  "bf16 and reads again in fp32 every crop with a step whose top class is below 0.6, the detector stays fp32; "
                  "auto: bf16-checked where the CPU has bf16 instructions, else fp32 (docs/benchmarks.md)")


@dataclass
class PostProcessOverrides:
    """DB post-processing keys; null keeps the detector's own value."""
    thresh: Optional[float] = field(default=None, metadata={"help": "binarization threshold (null: the model's)"})
    box_thresh: Optional[float] = field(default=None, metadata={"help": "drop boxes whose mean probability is lower"})
    max_candidates: Optional[int] = field(default=None, metadata={"help": "most contours examined per image"})
    unclip_ratio: Optional[float] = field(default=None, metadata={"help": "how much a box grows back"})
    polygon: Optional[bool] = field(default=None, metadata={"help": "polygons instead of quadrilaterals"})
    min_size: Optional[int] = field(default=None, metadata={"help": "drop boxes with a shorter short side (map pixels)"})
    score_mode: Optional[str] = field(default=None, metadata={"help": "slow (contour) | fast (rectangle)"})
    use_dilation: Optional[bool] = field(default=None, metadata={"help": "dilate the binary map 2 x 2"})

    def given(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class LexiconSpec:
    """Lexicon decoding of a CTC recognizer (``ocdr.models.recognition.lexicon``); off without a file."""
    file: Optional[str] = field(default=None, metadata={"help": "word list, one per line (ocdr data lexicon); null: none"})
    max_edits: int = field(default=2, metadata={"help": "a reading this many edits from a word may become it"})
    bonus: float = field(default=2.0, metadata={"help": "log prior odds of a lexicon word over the reading (0: none)"})

    def options(self) -> dict:
        """The recognizer predictor's keyword arguments."""
        return {"lexicon": self.file, "lexicon_max_edits": self.max_edits, "lexicon_bonus": self.bonus}

    def validate(self, key: str = "lexicon") -> None:
        if self.max_edits < 1:
            raise ConfigError(f"{key}.max_edits must be at least 1, got {self.max_edits}")
        if self.bonus < 0:
            raise ConfigError(f"{key}.bonus must be >= 0, got {self.bonus}")


@dataclass
class DetectorOverrides:
    """Detector input keys; null keeps the detector's own value."""
    long_side: Optional[int] = field(default=None, metadata={"help": "resize so the long side is this (multiple of 32); "
                                                                     "null: the model's rule (PP-OCRv4: short side >= 736)"})
    limit_side_len: Optional[int] = field(default=None, metadata={"help": "PaddleOCR's det_limit_side_len"})
    limit_type: Optional[str] = field(default=None, metadata={"help": "long | max | min (PaddleOCR's det_limit_type)"})

    def given(self) -> dict:
        out = {k: v for k, v in (("limit_side_len", self.limit_side_len), ("limit_type", self.limit_type)) if v is not None}
        if self.long_side is not None:
            out.update(limit_side_len=self.long_side, limit_type="long")
        return out


@dataclass
class PipelineModelsSpec:
    """What builds an ``ocdr.OCR``: the models and the keys that override their inference settings. Composed
    by every spec that runs the pipeline (``ocdr pipeline inference``, ``ocdr serve``, ``ocdr export triton``)."""
    detector: str = field(default="auto", metadata={"help": "checkpoint (.pth), exported .onnx, ppocr-v4-det, or auto "
                                                             "(ppocr-v4-det when its wheel is installed, else the demo's)"})
    recognizer: str = field(default="auto", metadata={"help": "checkpoint (.pth), exported .onnx, ppocr-v4-rec, or auto "
                                                               "(ppocr-v4-rec when its wheel is installed, else the demo's)"})
    backend: str = field(default="auto", metadata={"help": BACKEND_HELP})
    precision: str = field(default="auto", metadata={"help": PRECISION_HELP})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N"})
    rec_batch_size: Optional[int] = field(default=None, metadata={"help": "crops per recognizer call, sorted by aspect "
                                                                          "ratio (null: 6 on a CPU, 64 on a GPU)"})
    long_side: Optional[int] = field(default=None, metadata={"help": "detector input long side (multiple of 32); "
                                                                     "null: the detector's own rule"})
    limit_side_len: Optional[int] = field(default=None, metadata={"help": "detector: PaddleOCR's limit_side_len (null: the model's)"})
    limit_type: Optional[str] = field(default=None, metadata={"help": "detector: long | max | min (null: the model's)"})
    tiled: bool = field(default=False, metadata={"help": "detect on overlapping full-resolution tiles (large pages)"})
    upside_down: bool = field(default=False, metadata={"help": "also read each crop turned 180 degrees, keep the more confident"})
    min_confidence: Optional[float] = field(default=None, metadata={"help": "words read with lower confidence are dropped "
                                                                              "(null: the recognizer's own, PP-OCRv4: 0.5)"})
    rec_width_ladder: Optional[float] = field(default=None, metadata={"help": "recognizer batch widths rounded up to a "
                                                                                "ladder of rungs this much apart, so a "
                                                                                "long-running OpenVINO service keeps a "
                                                                                "bounded memory (null: the recognizer's "
                                                                                "own, PP-OCRv4: 0.2; 0: exact widths)"})
    postprocess: PostProcessOverrides = field(default_factory=PostProcessOverrides)
    lexicon: LexiconSpec = field(default_factory=LexiconSpec)

    def det_overrides(self) -> dict:
        return DetectorOverrides(self.long_side, self.limit_side_len, self.limit_type).given()

    def validate(self) -> None:
        validate_backend(self.backend)
        validate_precision(self.precision)
        self.lexicon.validate()
        if self.long_side is not None and (self.long_side % 32 or self.long_side <= 0):
            raise ConfigError(f"long_side must be a positive multiple of 32, got {self.long_side}")
        if self.rec_batch_size is not None and self.rec_batch_size < 1:
            raise ConfigError("rec_batch_size must be at least 1")
        if self.rec_width_ladder is not None and self.rec_width_ladder < 0:
            raise ConfigError(f"rec_width_ladder must be >= 0, got {self.rec_width_ladder}")

    def rec_overrides(self) -> dict:
        """The recognizer settings this spec overrides (none when every key is null)."""
        return {} if self.rec_width_ladder is None else {"width_ladder": float(self.rec_width_ladder)}


@dataclass
class PipelineSpec(PipelineModelsSpec):
    input: str = field(default="runs/demo/data/test/img", metadata={"help": "an image file or a folder of images"})
    results_dir: str = field(default="runs/pipeline", metadata={"help": "<stem>.json, <stem>_ocr.jpg and results.json"})
    batch_size: int = field(default=4, metadata={"help": "images per detector call; their crops are recognised together"})
    draw: bool = field(default=True, metadata={"help": "write <stem>_ocr.jpg: boxes on the image, the text beside it"})
    max_pixels: Optional[int] = field(default=None, metadata={"help": "larger images (width x height, read from the "
                                                                       "header) fail before decoding; null: "
                                                                       "$OCDR_MAX_PIXELS, else 100000000"})

    def validate(self) -> None:
        super().validate()
        if self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ConfigError(f"max_pixels must be positive, got {self.max_pixels}")


def validate_precision(precision: str, key: str = "precision") -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"{key}: '{precision}' is not one of {', '.join(PRECISIONS)}")


def validate_backend(backend: str) -> None:
    if backend not in ("auto", "torch", "onnxruntime", "openvino"):
        raise ConfigError(f"backend: '{backend}' is not one of auto, torch, onnxruntime, openvino")
