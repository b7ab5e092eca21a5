"""Training specs shared by every task (TAO's ``train`` section keys where TAO has them)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ocdr.errors import ConfigError

__all__ = ["OptimSpec", "TrainSpec", "follow_results_dir", "ROOT_RESULTS_HELP"]

ROOT_RESULTS_HELP = ("TAO's top-level results_dir: when set, each task writes under it (train/, evaluate/, "
                     "inference/, export/, prune/) unless its own results_dir is given")

_OPTIMIZERS = ("adam", "adamw", "sgd", "adadelta")
_SCHEDULERS = ("poly", "multistep", "cosine", "plateau", "none")


@dataclass
class OptimSpec:
    optim: str = field(default="adam", metadata={"help": "adam | adamw | sgd | adadelta"})
    lr: float = field(default=1e-3, metadata={"help": "base learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "weight decay"})
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum"})
    lr_scheduler: str = field(default="poly", metadata={"help": "poly | multistep | cosine | plateau | none"})
    warmup_epochs: float = field(default=0.0, metadata={"help": "linear warm-up length in epochs (fractions allowed)"})
    poly_power: float = field(default=0.9, metadata={"help": "poly decay power: lr * (1 - t/T) ** power"})
    lr_steps: list[int] = field(default_factory=list, metadata={"help": "multistep: epochs at which lr *= lr_decay"})
    lr_decay: float = field(default=0.1, metadata={"help": "multistep/plateau decay factor"})
    patience: int = field(default=2, metadata={"help": "plateau: epochs without improvement before decaying"})

    def validate(self) -> None:
        if self.optim not in _OPTIMIZERS:
            raise ConfigError(f"train.optim.optim: '{self.optim}' is not one of {', '.join(_OPTIMIZERS)}")
        if self.lr_scheduler not in _SCHEDULERS:
            raise ConfigError(f"train.optim.lr_scheduler: '{self.lr_scheduler}' is not one of {', '.join(_SCHEDULERS)}")
        if self.lr <= 0:
            raise ConfigError(f"train.optim.lr must be > 0, got {self.lr}")


@dataclass
class TrainSpec:
    num_epochs: int = field(default=10, metadata={"help": "training epochs"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (-1: no limit)"})
    max_minutes: float = field(default=0.0, metadata={"help": "stop after this much wall-clock time (0: no limit)"})
    anneal_by_deadline: bool = field(default=False, metadata={
        "help": "with max_minutes and a poly or cosine schedule: the schedule advances by the larger of steps done "
                "and time spent, so a run the clock stops before num_epochs still ends with its lr decayed"})
    batch_size: int = field(default=8, metadata={"help": "images per device per step"})
    num_workers: int = field(default=2, metadata={"help": "data loader workers per device"})
    checkpoint_interval: int = field(default=1, metadata={"help": "save a checkpoint every N epochs"})
    validation_interval: int = field(default=1, metadata={"help": "validate every N epochs"})
    resume_training_checkpoint_path: str = field(
        default="", metadata={"help": "resume from this checkpoint; empty: resume from results_dir/last.ckpt if present"})
    results_dir: str = field(default="", metadata={"help": "checkpoints, logs, resolved spec (default: runs/<task>)"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    num_gpus: int = field(default=1, metadata={"help": "devices per node; >1 uses DDP (processes with gloo on CPU)"})
    num_nodes: int = field(default=1, metadata={"help": "nodes for multi-node DDP"})
    precision: str = field(default="32", metadata={"help": "32 | 16-mixed | bf16-mixed"})
    seed: int = field(default=1234, metadata={"help": "random seed"})
    clip_grad_norm: float = field(default=5.0, metadata={"help": "gradient clipping by norm (0: off)"})
    ema: bool = field(default=False, metadata={"help": "keep an exponential moving average of the weights"})
    ema_decay: float = field(default=0.999, metadata={"help": "EMA decay per step"})
    log_every_n_steps: int = field(default=10, metadata={"help": "logging period in steps"})
    progress_bar: bool = field(default=True, metadata={"help": "show a progress bar"})
    keep_checkpoints: int = field(default=2, metadata={"help": "epoch checkpoints kept (the newest); last.ckpt, "
                                                               "model_best.pth and model_final.pth are always kept; -1: all"})
    best_metric: str = field(default="", metadata={"help": "validation metric that picks model_best.pth (empty: hmean "
                                                           "for detectors, accuracy for recognizers; loss and cer: lower is better)"})
    early_stopping_patience: int = field(default=0, metadata={"help": "stop after this many validations without a "
                                                                      "better best_metric (0: never)"})
    optim: OptimSpec = field(default_factory=OptimSpec)

    def validate(self) -> None:
        self.optim.validate()
        for key in ("num_epochs", "checkpoint_interval", "validation_interval", "num_gpus", "num_nodes", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be >= 1, got {getattr(self, key)}")
        if self.keep_checkpoints < -1 or self.keep_checkpoints == 0:
            raise ConfigError(f"train.keep_checkpoints must be >= 1 (or -1: all), got {self.keep_checkpoints}")
        if self.early_stopping_patience < 0:
            raise ConfigError(f"train.early_stopping_patience must be >= 0, got {self.early_stopping_patience}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"train.device: '{self.device}' is not one of auto, cpu, cuda")
        if self.anneal_by_deadline and not self.max_minutes > 0:
            raise ConfigError("train.anneal_by_deadline needs a deadline: set train.max_minutes")
        if self.anneal_by_deadline and self.optim.lr_scheduler not in ("poly", "cosine"):
            raise ConfigError(f"train.anneal_by_deadline: the '{self.optim.lr_scheduler}' schedule does not anneal "
                              "over the run; use train.optim.lr_scheduler=poly or cosine")
        if self.precision not in ("32", "16-mixed", "bf16-mixed", "64"):
            raise ConfigError(f"train.precision: '{self.precision}' is not one of 32, 16-mixed, bf16-mixed")


def follow_results_dir(spec, explicit: set[str], onnx_name: str) -> None:
    """TAO's defaults: every task's results live under the top-level ``results_dir``, and evaluate,
    inference, export and prune read the model train wrote, unless the spec names them."""
    root = spec.results_dir.rstrip("/")
    sections = [name for name in ("evaluate", "inference", "prune") if hasattr(spec, name)]
    if root:
        if "train.results_dir" not in explicit:
            spec.train.results_dir = f"{root}/train"
        for name in sections:
            if f"{name}.results_dir" not in explicit:
                getattr(spec, name).results_dir = f"{root}/{name}"
        if "export.onnx_file" not in explicit:
            spec.export.onnx_file = f"{root}/export/{onnx_name}"
    if root or "train.results_dir" in explicit:
        final = f"{spec.train.results_dir.rstrip('/')}/model_final.pth"
        for name in [*sections, "export"]:
            if hasattr(getattr(spec, name), "checkpoint") and f"{name}.checkpoint" not in explicit:
                getattr(spec, name).checkpoint = final
