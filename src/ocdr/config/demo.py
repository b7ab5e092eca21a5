"""The ``ocdr demo`` spec."""
from __future__ import annotations

from dataclasses import dataclass, field

from ocdr.errors import ConfigError

__all__ = ["DemoSpec"]


@dataclass
class DemoSpec:
    output_dir: str = field(default="runs/demo", metadata={"help": "where every demo output goes"})
    num_pages: int = field(default=120, metadata={"help": "synthetic pages to generate (80% train, 20% held out)"})
    seed: int = field(default=0, metadata={"help": "random seed of the data"})
    minutes: float = field(default=10.0, metadata={"help": "CPU minutes for the two trainings together (more: better models)"})
    det_backbone: str = field(default="auto", metadata={"help": "detector backbone (model.backbone of ocdnet; auto: "
                                                                "PP-OCRv4's when starting from it, else resnet18)"})
    det_epochs: int = field(default=12, metadata={"help": "detector LR schedule length (the time budget may stop sooner)"})
    det_crop: int = field(default=320, metadata={"help": "detector training crop (multiple of 32)"})
    rec_backbone: str = field(default="auto", metadata={"help": "recognizer backbone (model.backbone of ocrnet; auto: "
                                                                "PP-OCRv4's when starting from it, else small)"})
    rec_epochs: int = field(default=15, metadata={"help": "recognizer LR schedule length"})
    pretrained: str = field(default="auto", metadata={"help": "auto: start both models from PP-OCRv4 (imported from the "
                                                         "rapidocr-onnxruntime wheel) when it is installed | ppocr-v4 | none (from scratch)"})
    train: bool = field(default=True, metadata={"help": "false: reuse the models already in output_dir"})
    resume: bool = field(default=False, metadata={"help": "continue earlier demo trainings instead of starting afresh"})
    real_data: list[str] = field(default_factory=lambda: ["../shared/data/hme_handwritten_det"],
                                 metadata={"help": "folders of real images (ICDAR gt optional); absent ones are skipped"})
    real_images: int = field(default=6, metadata={"help": "real images run through the pipeline and shown"})
    show_images: int = field(default=6, metadata={"help": "held-out pages shown in the report"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})

    def validate(self) -> None:
        if self.num_pages < 10:
            raise ConfigError(f"num_pages: at least 10 pages are needed (2 held out), got {self.num_pages}")
        if self.minutes <= 0:
            raise ConfigError(f"minutes must be positive, got {self.minutes}")
        if self.det_crop % 32:
            raise ConfigError(f"det_crop must be a multiple of 32, got {self.det_crop}")
        if self.pretrained not in ("auto", "ppocr-v4", "none"):
            raise ConfigError(f"pretrained: '{self.pretrained}' is not one of auto, ppocr-v4, none")
