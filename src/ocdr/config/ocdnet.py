"""The OCDNet (DBNet detector) experiment spec: TAO's section and key names where TAO has them.

One spec serves ``ocdr ocdnet train|evaluate|inference|export``, as in TAO; every key has a
default, so each command runs with no spec on the synthetic dataset (generated on first use).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ocdr.config.augment import DetAugSpec
from ocdr.errors import ConfigError
from ocdr.config.pipeline import (BACKEND_HELP, PRECISION_HELP, PostProcessOverrides, validate_backend,
                                  validate_precision)
from ocdr.config.tao import OCDNET
from ocdr.config.train import ROOT_RESULTS_HELP, OptimSpec, TrainSpec, follow_results_dir

__all__ = ["OcdnetSpec", "BACKBONES", "AUTO_BACKBONE", "model_name_for"]

# TAO's backbone names -> registered builders.
BACKBONES = {
    "resnet18": "dbnet_resnet18", "resnet50": "dbnet_resnet50",
    "deformable_resnet18": "dbnet_resnet18_dcn", "deformable_resnet50": "dbnet_resnet50_dcn",
    "tiny": "dbnet_tiny",
    "ppocr_v4": "ppocr_det",  # PP-OCRv4 mobile, its weights from the rapidocr-onnxruntime wheel
}


AUTO_BACKBONE = "resnet18"   # what model.backbone=auto builds when no pretrained checkpoint says otherwise


def model_name_for(backbone: str) -> str:
    if backbone == "auto":
        backbone = AUTO_BACKBONE
    if backbone not in BACKBONES:
        raise ConfigError(f"model.backbone: '{backbone}' is not one of {', '.join(BACKBONES)}")
    return BACKBONES[backbone]


@dataclass
class DetModelSpec:
    backbone: str = field(default="auto", metadata={"help": "auto (the pretrained checkpoint's architecture, resnet18 "
                                                            "without one) | resnet18 | resnet50 | deformable_resnet18 | "
                                                            "deformable_resnet50 | tiny | ppocr_v4"})
    pretrained_model_path: str = field(default="", metadata={"help": "checkpoint to start from (matching tensors are copied), or ppocr-v4-det"})
    load_pruned_graph: bool = field(default=False, metadata={"help": "start from the pruned model in pruned_graph_path (its shapes and weights)"})
    pruned_graph_path: str = field(default="", metadata={"help": "output of ocdr ocdnet prune"})
    frozen_stages: int = field(default=0, metadata={"help": "the first N backbone stages keep their pretrained weights and skip their backward pass: faster fine-tuning (MMOCR's frozen_stages; PP-OCRv4 models; 0: train everything)"})
    frozen_depthwise: bool = field(default=False, metadata={"help": "depthwise convolutions keep their pretrained filters and skip their weight gradient (most of their backward time on a CPU); every other layer trains (PP-OCRv4 models)"})
    inner_channels: int = field(default=256, metadata={"help": "FPN channels"})
    k: float = field(default=50.0, metadata={"help": "differentiable binarization steepness"})


@dataclass
class DetDatasetSpec:
    train_data_path: list[str] = field(default_factory=lambda: ["data/synth/train"], metadata={"help": "training folders (img/ + gt/)"})
    train_data_weights: list[float] = field(default_factory=list, metadata={"help": "one weight per train_data_path "
                                                                                "entry: each folder's share of every epoch's draws (empty: every image once)"})
    validate_data_path: list[str] = field(default_factory=lambda: ["data/synth/test"], metadata={"help": "validation folders"})
    gt_folder: str = field(default="gt", metadata={"help": "annotation folder beside images/: gt (ICDAR quads) | gt_poly "
                                                           "(word polygons, 'id<TAB>x1,y1,...<TAB>text' lines) | any other name"})
    synth_if_missing: bool = field(default=True, metadata={"help": "generate the synthetic dataset when the default folders are absent"})
    synth_pages: int = field(default=200, metadata={"help": "pages generated when synthesising"})
    image_size: int = field(default=640, metadata={"help": "validation: long side (multiple of 32)"})
    shrink_ratio: float = field(default=0.4, metadata={"help": "text shrink ratio of the targets"})
    thresh_min: float = field(default=0.3, metadata={"help": "threshold map minimum"})
    thresh_max: float = field(default=0.7, metadata={"help": "threshold map maximum"})
    min_text_size: int = field(default=8, metadata={"help": "smaller text is ignored in training"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad records (counted) instead of failing"})
    augmentation: DetAugSpec = field(default_factory=DetAugSpec)


@dataclass
class DetEvaluateSpec:
    checkpoint: str = field(default="runs/ocdnet/train/model_final.pth", metadata={"help": "model to evaluate"})
    data_path: list[str] = field(default_factory=list, metadata={"help": "folders to evaluate (default: dataset.validate_data_path)"})
    results_dir: str = field(default="runs/ocdnet/evaluate", metadata={"help": "metrics JSON and the worst cases"})
    num_worst: int = field(default=8, metadata={"help": "worst images drawn into the report"})
    long_side: Optional[int] = field(default=None, metadata={"help": "images are resized so the long side is this; "
                                                                     "null: the model's own rule"})


@dataclass
class DetInferenceSpec:
    checkpoint: str = field(default="runs/ocdnet/train/model_final.pth", metadata={"help": "model (.pth) or exported .onnx"})
    input: str = field(default="data/synth/test/img", metadata={"help": "an image file or a folder of images"})
    results_dir: str = field(default="runs/ocdnet/inference", metadata={"help": "annotated images and txt"})
    backend: str = field(default="auto", metadata={"help": BACKEND_HELP})
    precision: str = field(default="fp32", metadata={"help": PRECISION_HELP})
    long_side: Optional[int] = field(default=None, metadata={"help": "images are resized so the long side is this "
                                                                     "(multiple of 32); null: the model's own rule"})
    tiled: bool = field(default=False, metadata={"help": "run overlapping tiles at full resolution (large pages)"})
    tile_size: int = field(default=640, metadata={"help": "tile side (multiple of 32)"})
    tile_overlap: int = field(default=128, metadata={"help": "tile overlap in pixels"})


@dataclass
class DetExportSpec:
    checkpoint: str = field(default="runs/ocdnet/train/model_final.pth", metadata={"help": "model to export"})
    onnx_file: str = field(default="runs/ocdnet/export/ocdnet.onnx", metadata={"help": "ONNX file to write"})
    opset: int = field(default=17, metadata={"help": "ONNX opset (>= 16 for GridSample)"})
    verify: bool = field(default=True, metadata={"help": "check ONNX Runtime against PyTorch on a random input"})
    long_side: Optional[int] = field(default=None, metadata={"help": "null: the model's own input size; else the long "
                                                                     "side (multiple of 32) the export's inference "
                                                                     "settings record, e.g. one chosen on validation"})


@dataclass
class DetPruneSpec:
    checkpoint: str = field(default="runs/ocdnet/train/model_final.pth", metadata={"help": "model to prune"})
    ch_sparsity: float = field(default=0.3, metadata={"help": "fraction of prunable channels removed"})
    p: float = field(default=2.0, metadata={"help": "norm of the filter importance (2: L2 magnitude)"})
    round_to: int = field(default=8, metadata={"help": "kept channels are a multiple of this"})
    results_dir: str = field(default="runs/ocdnet/prune", metadata={"help": "where pruned_<ratio>.pth is written"})
    measure_size: int = field(default=640, metadata={"help": "parameters, GFLOPs and latency are measured on a "
                                                             "measure_size x measure_size input (multiple of 32)"})


@dataclass
class OcdnetSpec:
    results_dir: str = field(default="", metadata={"help": ROOT_RESULTS_HELP})
    model: DetModelSpec = field(default_factory=DetModelSpec)
    dataset: DetDatasetSpec = field(default_factory=DetDatasetSpec)
    train: TrainSpec = field(default_factory=lambda: TrainSpec(
        num_epochs=10, batch_size=4, results_dir="runs/ocdnet/train", clip_grad_norm=5.0,
        optim=OptimSpec(optim="adam", lr=1e-3, lr_scheduler="poly", warmup_epochs=1.0)))
    # null keys: the model's own post-processing (evaluate, inference) or ocdr's defaults (training)
    postprocess: PostProcessOverrides = field(default_factory=PostProcessOverrides)
    evaluate: DetEvaluateSpec = field(default_factory=DetEvaluateSpec)
    inference: DetInferenceSpec = field(default_factory=DetInferenceSpec)
    export: DetExportSpec = field(default_factory=DetExportSpec)
    prune: DetPruneSpec = field(default_factory=DetPruneSpec)

    def derive_defaults(self, explicit: set[str]) -> None:
        follow_results_dir(self, explicit, "ocdnet.onnx")

    def validate(self) -> None:
        model_name_for(self.model.backbone)
        self.train.validate()
        if self.dataset.augmentation.crop_size % 32 or self.dataset.image_size % 32:
            raise ConfigError("dataset.augmentation.crop_size and dataset.image_size must be multiples of 32")
        validate_backend(self.inference.backend)
        validate_precision(self.inference.precision, "inference.precision")
        if self.export.long_side is not None and (self.export.long_side < 32 or self.export.long_side % 32):
            raise ConfigError(f"export.long_side must be a positive multiple of 32, got {self.export.long_side}")
        if self.model.load_pruned_graph and not self.model.pruned_graph_path:
            raise ConfigError("model.load_pruned_graph=true needs model.pruned_graph_path")
        if not 0 <= self.prune.ch_sparsity < 1:
            raise ConfigError(f"prune.ch_sparsity must be in [0, 1), got {self.prune.ch_sparsity}")
        if self.prune.measure_size < 32 or self.prune.measure_size % 32:
            raise ConfigError(f"prune.measure_size must be a positive multiple of 32, got {self.prune.measure_size}")
        if self.inference.tile_size % 32 or (self.inference.long_side or 0) % 32 or (self.evaluate.long_side or 0) % 32:
            raise ConfigError("inference.tile_size and inference.long_side must be multiples of 32")


OcdnetSpec.tao_layout = OCDNET   # a TAO spec file loads as it is (ocdr.config.tao)
