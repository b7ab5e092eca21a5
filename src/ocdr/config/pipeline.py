"""The end-to-end pipeline spec (``ocdr pipeline inference``): detector + rectifier + recognizer."""
from __future__ import annotations

from dataclasses import dataclass, field

from ocdr.errors import ConfigError
from ocdr.models.detection.postprocess import PostProcessConfig

__all__ = ["PipelineSpec"]


@dataclass
class PipelineSpec:
    detector: str = field(default="auto", metadata={"help": "checkpoint (.pth), exported .onnx, ppocr-v4-det, or auto "
                                                             "(ppocr-v4-det when its wheel is installed, else the demo's)"})
    recognizer: str = field(default="auto", metadata={"help": "checkpoint (.pth), exported .onnx, ppocr-v4-rec, or auto "
                                                               "(ppocr-v4-rec when its wheel is installed, else the demo's)"})
    input: str = field(default="runs/demo/data/test/img", metadata={"help": "an image file or a folder of images"})
    results_dir: str = field(default="runs/pipeline", metadata={"help": "<stem>.json, <stem>_ocr.jpg and results.json"})
    backend: str = field(default="torch", metadata={"help": "torch | onnxruntime (.onnx models always use ONNX Runtime)"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N"})
    batch_size: int = field(default=4, metadata={"help": "images per detector call; their crops are recognised together"})
    rec_batch_size: int = field(default=64, metadata={"help": "crops per recognizer call"})
    long_side: int = field(default=736, metadata={"help": "detector input long side (multiple of 32)"})
    tiled: bool = field(default=False, metadata={"help": "detect on overlapping full-resolution tiles (large pages)"})
    upside_down: bool = field(default=False, metadata={"help": "also read each crop turned 180 degrees, keep the more confident"})
    min_confidence: float = field(default=0.0, metadata={"help": "words read with lower confidence are dropped"})
    draw: bool = field(default=True, metadata={"help": "write <stem>_ocr.jpg: boxes on the image, the text beside it"})
    postprocess: PostProcessConfig = field(default_factory=PostProcessConfig)

    def validate(self) -> None:
        if self.backend not in ("torch", "onnxruntime"):
            raise ConfigError(f"backend: '{self.backend}' is not one of torch, onnxruntime")
        if self.long_side % 32 or self.long_side <= 0:
            raise ConfigError(f"long_side must be a positive multiple of 32, got {self.long_side}")
        if self.batch_size < 1 or self.rec_batch_size < 1:
            raise ConfigError("batch_size and rec_batch_size must be at least 1")
