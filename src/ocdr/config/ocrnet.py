"""The OCRNet (text recognizer) experiment spec: TAO OCRNet's sections and keys where TAO has them."""
from __future__ import annotations

from dataclasses import dataclass, field

from ocdr.config.pipeline import BACKEND_HELP, PRECISION_HELP, LexiconSpec, validate_backend, validate_precision
from ocdr.config.augment import RecAugSpec
from ocdr.errors import ConfigError
from ocdr.config.tao import OCRNET
from ocdr.config.train import ROOT_RESULTS_HELP, OptimSpec, TrainSpec, follow_results_dir

__all__ = ["OcrnetSpec", "AUTO_BACKBONE", "recognizer_name"]

# (model.backbone, model.prediction) -> registered builder
_BUILDERS = {("ResNet", "CTC"): "crnn_resnet", ("ResNet", "Attn"): "attn_resnet", ("small", "CTC"): "crnn_small",
             ("ViT", "CTC"): "vit_ctc", ("tiny", "CTC"): "crnn_tiny",
             ("PPOCRv4", "CTC"): "ppocr_rec"}


AUTO_BACKBONE = "ResNet"   # what model.backbone=auto builds when no pretrained checkpoint says otherwise


def recognizer_name(backbone: str, prediction: str) -> str:
    key = (AUTO_BACKBONE if backbone == "auto" else backbone, prediction)
    if key not in _BUILDERS:
        known = ", ".join(f"{b}+{p}" for b, p in _BUILDERS)
        raise ConfigError(f"model.backbone={backbone} with model.prediction={prediction} is not available; known: {known}")
    return _BUILDERS[key]


@dataclass
class RecModelSpec:
    TPS: bool = field(default=False, metadata={"help": "thin-plate-spline rectification before the backbone"})
    num_fiducial: int = field(default=20, metadata={"help": "TPS fiducial points"})
    backbone: str = field(default="auto", metadata={"help": "auto (the pretrained checkpoint's, ResNet without one) | "
                                                            "ResNet | small | ViT | tiny | PPOCRv4 (imported, 3 x 48 x 320)"})
    sequence: str = field(default="BiLSTM", metadata={"help": "BiLSTM (the sequence model)"})
    prediction: str = field(default="CTC", metadata={"help": "CTC | Attn"})
    hidden_size: int = field(default=256, metadata={"help": "BiLSTM hidden size"})
    input_width: int = field(default=100, metadata={"help": "input width (200 for ViT)"})
    input_height: int = field(default=32, metadata={"help": "input height (64 for ViT)"})
    input_channel: int = field(default=1, metadata={"help": "1 (gray) or 3 (RGB)"})
    keep_aspect_ratio: bool = field(default=False, metadata={"help": "pad instead of stretching"})
    pad: str = field(default="edge", metadata={"help": "with keep_aspect_ratio, fill the right with: edge (the crop's last "
                                                       "column) | zero (0 after normalisation, mid-grey: PaddleOCR's)"})
    dynamic_width: bool = field(default=False, metadata={"help": "train and read crops at their own width (kept ratio, "
                                                                 "between input_height and input_width), batched by similar width: "
                                                                 "narrow words cost narrow convolutions"})
    pretrained_model_path: str = field(default="", metadata={"help": "start from this checkpoint (head surgery when the character list differs), or ppocr-v4-rec"})
    frozen_stages: int = field(default=0, metadata={"help": "the first N backbone stages keep their pretrained weights and skip their backward pass: faster fine-tuning (MMOCR's frozen_stages; PP-OCRv4 models; 0: train everything)"})
    frozen_depthwise: bool = field(default=False, metadata={"help": "depthwise convolutions keep their pretrained filters and skip their weight gradient (most of their backward time on a CPU); every other layer trains (PP-OCRv4 models)"})
    pruned_graph_path: str = field(default="", metadata={"help": "start from this output of ocdr ocrnet prune: its shapes, "
                                                                 "weights, character list and input size (TAO's key)"})


@dataclass
class RecDatasetSpec:
    train_dataset_dir: list[str] = field(default_factory=lambda: ["data/synth/train/crops"], metadata={"help": "LMDB folders, gt lists or folders with gt_list.txt"})
    train_dataset_weights: list[float] = field(default_factory=list, metadata={"help": "one weight per train_dataset_dir "
                                                                                   "entry: each source's share of every epoch's draws (empty: every sample once)"})
    val_dataset_dir: list[str] = field(default_factory=lambda: ["data/synth/test/crops"], metadata={"help": "validation data"})
    character_list_file: str = field(default="data/synth/character_list.txt", metadata={"help": "one character per line"})
    max_label_length: int = field(default=25, metadata={"help": "longer labels are dropped (counted)"})
    unknown_char: str = field(default="drop", metadata={"help": "drop | unk | error: samples with characters outside the list"})
    case_fold: bool = field(default=False, metadata={"help": "lower-case labels (when the list has no upper case)"})
    synth_if_missing: bool = field(default=True, metadata={"help": "generate the synthetic dataset when the defaults are absent"})
    synth_pages: int = field(default=200, metadata={"help": "pages generated when synthesising"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad records (counted) instead of failing"})
    augmentation: RecAugSpec = field(default_factory=RecAugSpec)


@dataclass
class RecEvaluateSpec:
    checkpoint: str = field(default="runs/ocrnet/train/model_final.pth", metadata={"help": "model to evaluate"})
    test_dataset_dir: list[str] = field(default_factory=list, metadata={"help": "data to evaluate (default: dataset.val_dataset_dir)"})
    results_dir: str = field(default="runs/ocrnet/evaluate", metadata={"help": "metrics.json and the worst cases"})
    decoding: str = field(default="greedy", metadata={"help": "greedy | beam (CTC)"})
    beam_width: int = field(default=10, metadata={"help": "beam search width"})
    num_worst: int = field(default=20, metadata={"help": "worst samples listed in the report"})
    lexicon: LexiconSpec = field(default_factory=LexiconSpec)


@dataclass
class RecInferenceSpec:
    checkpoint: str = field(default="runs/ocrnet/train/model_final.pth", metadata={"help": "model (.pth) or exported .onnx"})
    inference_dataset_dir: str = field(default="data/synth/test/crops", metadata={"help": "an image, a folder of crops, or a gt list"})
    results_dir: str = field(default="runs/ocrnet/inference", metadata={"help": "predictions as CSV and JSON"})
    backend: str = field(default="auto", metadata={"help": BACKEND_HELP})
    precision: str = field(default="fp32", metadata={"help": PRECISION_HELP})
    batch_size: int = field(default=64, metadata={"help": "crops per batch"})
    lexicon: LexiconSpec = field(default_factory=LexiconSpec)


@dataclass
class RecExportSpec:
    checkpoint: str = field(default="runs/ocrnet/train/model_final.pth", metadata={"help": "model to export"})
    onnx_file: str = field(default="runs/ocrnet/export/ocrnet.onnx", metadata={"help": "ONNX file to write"})
    opset: int = field(default=17, metadata={"help": "ONNX opset"})
    verify: bool = field(default=True, metadata={"help": "compare ONNX Runtime with PyTorch on a random batch"})


@dataclass
class RecPruneSettingSpec:
    mode: str = field(default="amount", metadata={"help": "amount: remove that fraction of each prunable group's channels | "
                                                          "threshold: remove those whose norm is below threshold x the group's largest"})
    amount: float = field(default=0.4, metadata={"help": "mode=amount: fraction of channels removed, in [0, 1)"})
    threshold: float = field(default=0.1, metadata={"help": "mode=threshold: relative norm below which a channel goes, in [0, 1]"})
    granularity: int = field(default=8, metadata={"help": "kept channels per group are a multiple of this"})
    raw_prune_score: str = field(default="L1", metadata={"help": "channel importance: L1 | L2 norm of its weights"})


@dataclass
class RecPruneSpec:
    checkpoint: str = field(default="runs/ocrnet/train/model_final.pth", metadata={"help": "recognizer to prune"})
    results_dir: str = field(default="runs/ocrnet/prune", metadata={"help": "where the pruned model is written"})
    pruned_file: str = field(default="", metadata={"help": "pruned model file (empty: results_dir/pruned_<amount or threshold>.pth)"})
    prune_setting: RecPruneSettingSpec = field(default_factory=RecPruneSettingSpec)

    def validate(self) -> None:
        s = self.prune_setting
        if s.mode not in ("amount", "threshold"):
            raise ConfigError(f"prune.prune_setting.mode: '{s.mode}' is not one of amount, threshold")
        if not 0 <= s.amount < 1:
            raise ConfigError(f"prune.prune_setting.amount must be in [0, 1), got {s.amount}")
        if not 0 <= s.threshold <= 1:
            raise ConfigError(f"prune.prune_setting.threshold must be in [0, 1], got {s.threshold}")
        if s.granularity < 1:
            raise ConfigError(f"prune.prune_setting.granularity must be >= 1, got {s.granularity}")
        if s.raw_prune_score not in ("L1", "L2"):
            raise ConfigError(f"prune.prune_setting.raw_prune_score: '{s.raw_prune_score}' is not one of L1, L2")


@dataclass
class OcrnetSpec:
    results_dir: str = field(default="", metadata={"help": ROOT_RESULTS_HELP})
    model: RecModelSpec = field(default_factory=RecModelSpec)
    dataset: RecDatasetSpec = field(default_factory=RecDatasetSpec)
    train: TrainSpec = field(default_factory=lambda: TrainSpec(
        num_epochs=20, batch_size=64, results_dir="runs/ocrnet/train", clip_grad_norm=5.0,
        optim=OptimSpec(optim="adam", lr=1e-3, lr_scheduler="cosine", warmup_epochs=0.5)))
    evaluate: RecEvaluateSpec = field(default_factory=RecEvaluateSpec)
    inference: RecInferenceSpec = field(default_factory=RecInferenceSpec)
    export: RecExportSpec = field(default_factory=RecExportSpec)
    prune: RecPruneSpec = field(default_factory=RecPruneSpec)

    def derive_defaults(self, explicit: set[str]) -> None:
        follow_results_dir(self, explicit, "ocrnet.onnx")

    def validate(self) -> None:
        recognizer_name(self.model.backbone, self.model.prediction)
        self.train.validate()
        self.dataset.augmentation.validate()
        if self.model.sequence != "BiLSTM":
            raise ConfigError(f"model.sequence: '{self.model.sequence}' is not available (BiLSTM)")
        if self.model.pad not in ("edge", "zero"):
            raise ConfigError(f"model.pad: '{self.model.pad}' is not one of edge, zero")
        if self.model.input_channel not in (1, 3):
            raise ConfigError(f"model.input_channel must be 1 or 3, got {self.model.input_channel}")
        if self.dataset.unknown_char not in ("drop", "unk", "error"):
            raise ConfigError(f"dataset.unknown_char: '{self.dataset.unknown_char}' is not one of drop, unk, error")
        if self.evaluate.decoding not in ("greedy", "beam"):
            raise ConfigError(f"evaluate.decoding: '{self.evaluate.decoding}' is not one of greedy, beam")
        validate_backend(self.inference.backend)
        validate_precision(self.inference.precision, "inference.precision")
        self.inference.lexicon.validate("inference.lexicon")
        self.evaluate.lexicon.validate("evaluate.lexicon")
        self.prune.validate()


OcrnetSpec.tao_layout = OCRNET   # a TAO spec file loads as it is (ocdr.config.tao)
