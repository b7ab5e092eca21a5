"""The one training harness (PyTorch Lightning) that the detector and the recognizer share.

A task subclasses :class:`TrainTask` and says three things: how a batch becomes a loss (the
model's ``forward(images, targets)["loss"]`` by default), which sum-able counts a validation batch
yields, and how counts become metrics. :func:`fit` does the rest: devices and DDP, precision,
gradient clipping, EMA, checkpoints every ``checkpoint_interval`` epochs written atomically and
loadable with ``weights_only=True``, resume, CSV + TensorBoard logs, the final model file, and
``model_best.pth``: the weights of the best validation so far by ``train.best_metric`` (hmean or
accuracy), with optional early stopping on the same metric.
"""
from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.strategies import DDPStrategy

from ocdr.config.train import OptimSpec, TrainSpec
from ocdr.errors import ConfigError
from ocdr.models.checkpoint import load_checkpoint, make_model_record, save_checkpoint
from ocdr.models.freeze import freeze_depthwise, freeze_stages
from ocdr.models.settings import trained_settings
from ocdr.train.optim import build_optimizer, build_scheduler
from ocdr.train.runs import find_resume

__all__ = ["TrainTask", "fit", "SafeCheckpointIO", "EMA", "resolve_accelerator", "freeze_as_specified"]
log = logging.getLogger("ocdr.train")


class SafeCheckpointIO(TorchCheckpointIO):
    """Atomic writes (temp file + rename) and ``weights_only=True`` reads."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options: Any = None) -> None:
        save_checkpoint(checkpoint, path)

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict:
        return load_checkpoint(path, map_location="cpu")


class TrainTask(L.LightningModule):
    """Base task: wraps a model whose ``forward(images, targets)`` returns a dict with ``loss``."""

    kind = "model"
    default_best_metric = "loss"  # what picks model_best.pth unless train.best_metric names another
    metric_names: tuple[str, ...] = ("loss",)  # the keys of metrics_from_counts

    def __init__(self, model: torch.nn.Module, model_name: str, model_kwargs: dict, optim: OptimSpec,
                 spec: dict, charset: list[str] | None = None):
        super().__init__()
        self.model = model
        self.model_name = model_name
        self.model_kwargs = dict(model_kwargs)
        self.optim_spec = optim
        self.spec_dict = spec
        self.charset = charset
        self.inference = trained_settings(self.kind, model_name, spec)  # recorded in every model file
        self._val_counts: dict[str, torch.Tensor] = {}
        self.best_path: Path | None = None  # set by fit(): where model_best.pth goes
        self.best_metric = self.default_best_metric
        self.best: dict = {}  # {"metric", "value", "epoch", "step"} of the saved model_best.pth
        self.deadline: float | None = None  # time.monotonic() at which train.max_minutes runs out (set by fit)
        self.time_done: Callable[[], float] | None = None  # train.anneal_by_deadline: the budget's share spent (fit)
        self._val_cut = False

    # -- what a task may override ------------------------------------------------------------
    def compute_loss(self, batch: dict) -> dict:
        return self.model(batch["images"], batch["targets"])

    def validation_counts(self, batch: dict) -> dict[str, float]:
        """Sum-able counts of one validation batch (summed over batches and processes)."""
        out = self.compute_loss(batch)
        return {"loss_sum": float(out["loss"].detach()), "batches": 1.0}

    def metrics_from_counts(self, counts: dict[str, float]) -> dict[str, float]:
        return {"loss": counts["loss_sum"] / max(counts["batches"], 1.0)}

    # -- Lightning hooks ------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor | None:
        if batch.get("images") is None:   # every sample of the batch failed to read (skip_bad): no step
            return None
        out = self.compute_loss(batch)
        bs = len(batch["images"])
        for key, value in out.items():
            if key.startswith("loss") and torch.is_tensor(value) and value.ndim == 0:
                self.log(f"train/{key}", value.detach(), on_step=True, on_epoch=True, batch_size=bs,
                         prog_bar=key == "loss", sync_dist=True)
        return out["loss"]

    def on_validation_epoch_start(self) -> None:
        self._val_counts = {}
        self._val_cut = False

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            # train.max_minutes bounds validation too; the rest of this pass is skipped, its metrics unused
            self._val_cut = True
            return
        if batch.get("images") is None:   # every sample failed to read (skip_bad); the collate counted them
            return
        for key, value in self.validation_counts(batch).items():
            prev = self._val_counts.get(key, torch.zeros((), dtype=torch.float64, device=self.device))
            self._val_counts[key] = prev + float(value)

    def on_validation_epoch_end(self) -> None:
        # every process learns whether any cut its pass (one collective per pass: under DDP the processes may
        # hold different numbers of batches); a process that skipped the sums alone would hang the others'
        self._val_cut = self.trainer.strategy.reduce_boolean_decision(self._val_cut, all=False)
        if self._val_cut:
            log.warning("validation cut short by train.max_minutes: its metrics are not used")
            self.trainer.should_stop = True
            return
        keys = sorted(self._val_counts)
        if not keys:
            return
        stacked = torch.stack([self._val_counts[k] for k in keys]).to(self.device)
        stacked = self.trainer.strategy.reduce(stacked, reduce_op="sum")
        metrics = self.metrics_from_counts({k: float(v) for k, v in zip(keys, stacked.tolist())})
        for key, value in metrics.items():
            self.log(f"val/{key}", float(value), sync_dist=False, rank_zero_only=False)
        self._keep_best(metrics)

    def _keep_best(self, metrics: dict[str, float]) -> None:
        """Write model_best.pth when the validation metric improves (the weights just validated: EMA's if on)."""
        if self.best_path is None or self.trainer.sanity_checking:
            return
        if self.best_metric not in metrics:
            raise ConfigError(f"train.best_metric: '{self.best_metric}' is not a validation metric of this task; "
                              f"known: {', '.join(sorted(metrics))}")
        value = float(metrics[self.best_metric])
        lower = lower_is_better(self.best_metric)
        old = self.best.get("value")
        if old is not None and not (value < old if lower else value > old):
            return
        self.best = {"metric": self.best_metric, "value": value, "epoch": int(self.current_epoch),
                     "step": int(self.global_step)}
        if self.trainer.is_global_zero:
            save_checkpoint(self.model_record(), self.best_path)
            log.info("model_best.pth: val/%s=%.4f (epoch %d)", self.best_metric, value, self.current_epoch)

    def configure_optimizers(self):
        optimizer = build_optimizer(self.parameters(), self.optim_spec)
        total = int(self.trainer.estimated_stepping_batches)
        epochs = max(self.trainer.max_epochs or 1, 1)
        steps_per_epoch = max(total // epochs, 1)
        scheduler = build_scheduler(optimizer, self.optim_spec, total, steps_per_epoch, time_done=self.time_done)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def model_record(self, state_dict: dict | None = None) -> dict:
        return make_model_record(self.kind, self.model_name, self.model_kwargs,
                                 state_dict if state_dict is not None else self.model.state_dict(),
                                 self.spec_dict, self.charset, self.current_epoch, self.global_step,
                                 inference=self.inference)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        record = self.model_record({})
        record.pop("state_dict")  # the weights are already in checkpoint["state_dict"]
        checkpoint["ocdr"] = record
        checkpoint["ocdr_best"] = dict(self.best)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.best = dict(checkpoint.get("ocdr_best") or {})  # a resumed run keeps beating the same best


def freeze_as_specified(model, model_spec) -> None:
    """Apply ``model.frozen_stages`` and ``model.frozen_depthwise`` (both trainers' model specs have them) and
    log one line for each that froze something."""
    stages = freeze_stages(model, model_spec.frozen_stages)
    depthwise = freeze_depthwise(model, model_spec.frozen_depthwise)
    if stages["stages"]:
        log.info("model.frozen_stages=%d: the first %d of %d backbone stages are frozen (%d of %d parameters)",
                 stages["stages"], stages["stages"], stages["of_stages"], stages["frozen_parameters"],
                 stages["parameters"])
    if depthwise["frozen_parameters"]:
        log.info("model.frozen_depthwise=true: the depthwise convolutions' %d of %d parameters are frozen",
                 depthwise["frozen_parameters"], depthwise["parameters"])


def lower_is_better(metric: str) -> bool:
    return metric in ("loss", "cer")


class EMA(Callback):
    """Exponential moving average of the weights, used for validation and the final model."""

    def __init__(self, decay: float = 0.999):
        self.decay = decay
        self.shadow: dict[str, torch.Tensor] = {}
        self._backup: dict[str, torch.Tensor] = {}

    def _floating(self, module: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v for k, v in module.state_dict().items() if v.dtype.is_floating_point}

    def on_fit_start(self, trainer, pl_module) -> None:
        if not self.shadow:
            self.shadow = {k: v.detach().clone() for k, v in self._floating(pl_module.model).items()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # Warm-up of the decay (as in timm/YOLO EMA) so early checkpoints are not dominated by init.
        d = min(self.decay, (1 + trainer.global_step) / (10 + trainer.global_step))
        with torch.no_grad():
            for k, v in self._floating(pl_module.model).items():
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)

    def swap_in(self, pl_module) -> None:
        state = self._floating(pl_module.model)
        self._backup = {k: v.detach().clone() for k, v in state.items()}
        pl_module.model.load_state_dict({**pl_module.model.state_dict(), **self.shadow})

    def swap_out(self, pl_module) -> None:
        if self._backup:
            pl_module.model.load_state_dict({**pl_module.model.state_dict(), **self._backup})
            self._backup = {}

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.shadow and not trainer.sanity_checking:
            self.swap_in(pl_module)

    def on_validation_end(self, trainer, pl_module) -> None:
        self.swap_out(pl_module)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.shadow = state["shadow"]


class Throughput(Callback):
    """Training samples per second over the training steps alone (data loading included, validation not):
    logged as ``train/samples_per_s`` each epoch and returned by :func:`fit`."""

    def __init__(self):
        self.samples, self.seconds, self._start = 0, 0.0, None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.samples += 0 if batch.get("images") is None else len(batch["images"])

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._start is not None:
            self.seconds += time.perf_counter() - self._start
            self._start = None
        if self.seconds > 0:
            pl_module.log("train/samples_per_s", self.samples / self.seconds, rank_zero_only=True)

    def on_validation_start(self, trainer, pl_module) -> None:  # validation inside an epoch is not training time
        if self._start is not None and not trainer.sanity_checking:
            self.seconds += time.perf_counter() - self._start
            self._start = None

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.training and self._start is None:
            self._start = time.perf_counter()

    @property
    def rate(self) -> float:
        """Samples per second so far, counting a training segment still running (a run stopped by max_steps)."""
        seconds = self.seconds + (time.perf_counter() - self._start if self._start is not None else 0.0)
        return self.samples / seconds if seconds > 0 else 0.0


class TimeLimit(Callback):
    """train.max_minutes over the whole run, validation included (Lightning's max_time does not stop a
    validation pass); the time spent before a resume counts. In an epoch that ends with a validation,
    training stops early enough for one pass as long as the last one took (and a tenth more), so the
    weights it ends with are validated; before any pass has been timed it stops at the deadline and the
    pass that follows is cut. Under DDP every process stops when one runs out, and the share of the budget
    spent (``anneal``: train.anneal_by_deadline, asked for at every step) is rank 0's, so every process
    steps with the same learning rate."""

    def __init__(self, minutes: float, anneal: bool = False):
        self.seconds = minutes * 60.0
        self.anneal = anneal
        self.before = 0.0       # seconds spent by the runs this one resumes
        self.start = time.monotonic()
        self.fired = False
        self.validation_seconds = 0.0  # the last whole validation pass
        self._share = 0.0
        self._val_start: float | None = None
        self._last_step_end: float | None = None
        self._step = 0.0  # the last step, from the end of the one before (data loading and hooks included)

    def elapsed(self) -> float:
        return self.before + time.monotonic() - self.start

    def training_seconds(self, validation_follows: bool = True) -> float:
        """The budget, less the time kept for a validation when one follows the epoch."""
        reserve = 1.1 * self.validation_seconds if validation_follows else 0.0
        return max(self.seconds - reserve, 1e-9)

    def share_done(self) -> float:
        """The share of :meth:`training_seconds` spent at the start of this step (rank 0's clock)."""
        return self._share

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.monotonic()
        pl_module.deadline = self.start + self.seconds - self.before

    def on_fit_end(self, trainer, pl_module) -> None:
        pl_module.deadline = None  # a later trainer.validate() is not bound by this run's budget

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.anneal:  # never back: a faster validation than the last would grow the time left
            share = max(self._share, min(self.elapsed() / self.training_seconds(), 1.0))
            self._share = float(trainer.strategy.broadcast(share, src=0))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.monotonic()
        if self._last_step_end is not None:
            self._step = now - self._last_step_end
        self._last_step_end = now
        # another step would eat the time kept for the epoch's validation
        self._stop_if(trainer, self.elapsed() + self._step >= self.training_seconds(_validates(trainer)))

    def on_validation_start(self, trainer, pl_module) -> None:
        self._val_start = time.monotonic()

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        if not pl_module._val_cut and self._val_start is not None:
            self.validation_seconds = time.monotonic() - self._val_start
        self._last_step_end = None  # the next step's time is not this pass's
        # a cut pass, or no time left for a step and another validation
        self._stop_if(trainer, pl_module._val_cut or self.elapsed() + self._step >= self.training_seconds())

    def _stop_if(self, trainer, out_of_time: bool) -> None:
        if trainer.strategy.reduce_boolean_decision(out_of_time, all=False):
            self.fired = True
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"elapsed": self.elapsed(), "validation_seconds": self.validation_seconds}

    def load_state_dict(self, state: dict) -> None:
        self.before = float(state.get("elapsed", 0.0))
        self.validation_seconds = float(state.get("validation_seconds", 0.0))


def _validates(trainer) -> bool:
    """Whether a validation follows the current epoch (train.validation_interval)."""
    every = trainer.check_val_every_n_epoch or 1
    return (trainer.current_epoch + 1) % every == 0


def stop_reason(trainer, spec: TrainSpec, limit: TimeLimit | None, early: EarlyStopping | None) -> str:
    """What ended training, in the spec's own words."""
    if limit is not None and limit.fired:
        return f"time: train.max_minutes={spec.max_minutes:g} reached"
    if early is not None and early.stopped_epoch:
        return (f"early stopping: {early.monitor} did not improve for {spec.early_stopping_patience} "
                "validations (train.early_stopping_patience)")
    if spec.max_steps > 0 and trainer.global_step >= spec.max_steps:
        return f"steps: train.max_steps={spec.max_steps} reached"
    if trainer.current_epoch >= spec.num_epochs:
        return f"epochs: train.num_epochs={spec.num_epochs} done"
    return "interrupted"


class EpochSetter(Callback):
    """Datasets with ``set_epoch`` get new augmentation draws each epoch (their RNG is seeded by
    epoch and index, so runs stay reproducible)."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        loader = trainer.train_dataloader
        for part in (getattr(loader, "dataset", None), getattr(loader, "batch_sampler", None)):
            if hasattr(part, "set_epoch"):
                part.set_epoch(trainer.current_epoch)


def resolve_accelerator(spec: TrainSpec) -> tuple[str, int]:
    """(accelerator, devices): CUDA when asked or available, else CPU processes."""
    use_cuda = spec.device == "cuda" or (spec.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():

        raise ConfigError("train.device=cuda but no CUDA device is available")
    if use_cuda:
        return "gpu", min(spec.num_gpus, torch.cuda.device_count())
    return "cpu", spec.num_gpus


# the results folder holds the run's lock and spec before the first checkpoint: not a sign of another run
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


def build_trainer(spec: TrainSpec, results_dir: Path, callbacks: list[Callback],
                  use_distributed_sampler: bool = True) -> L.Trainer:
    accelerator, devices = resolve_accelerator(spec)
    strategy: Any = "auto"
    if devices * spec.num_nodes > 1:
        strategy = DDPStrategy(process_group_backend="gloo" if accelerator == "cpu" else "nccl")
    # the newest keep_checkpoints epoch files (ranked by step); a 40-epoch run must not keep 40 training states
    ckpt = ModelCheckpoint(dirpath=results_dir, filename="model_epoch_{epoch:03d}", auto_insert_metric_name=False,
                           every_n_epochs=spec.checkpoint_interval, save_top_k=spec.keep_checkpoints,
                           monitor=None if spec.keep_checkpoints == -1 else "step", mode="max", save_last=True,
                           save_on_train_epoch_end=True)
    # A new version folder per run, so a resumed run never overwrites earlier curves.
    loggers = [CSVLogger(results_dir, name="logs"),
               TensorBoardLogger(results_dir, name="tensorboard", default_hp_metric=False)]
    return L.Trainer(
        accelerator=accelerator, devices=devices, num_nodes=spec.num_nodes, strategy=strategy,
        precision=spec.precision, max_epochs=spec.num_epochs, max_steps=spec.max_steps,
        check_val_every_n_epoch=spec.validation_interval, use_distributed_sampler=use_distributed_sampler, gradient_clip_val=spec.clip_grad_norm or None,
        callbacks=[ckpt, LearningRateMonitor("step"), *callbacks], logger=loggers,
        plugins=[SafeCheckpointIO()], log_every_n_steps=spec.log_every_n_steps,
        enable_progress_bar=spec.progress_bar, enable_model_summary=False, default_root_dir=results_dir,
        num_sanity_val_steps=0, deterministic=False,
    )


def fit(task: TrainTask, train_loader, val_loader, spec: TrainSpec, results_dir: str | Path,
        extra_callbacks: list[Callback] = ()) -> dict:
    """Train ``task``; resume from ``results_dir/last.ckpt`` (or the given checkpoint) when present."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(spec.seed, workers=True, verbose=False)
    ema = EMA(spec.ema_decay) if spec.ema else None
    task.best_metric = spec.best_metric or task.default_best_metric
    if task.best_metric not in task.metric_names:  # fail before training, not after the first epoch
        raise ConfigError(f"train.best_metric: '{task.best_metric}' is not a validation metric of a {task.kind}; "
                          f"known: {', '.join(task.metric_names)}")
    task.best_path = results_dir / "model_best.pth"
    throughput = Throughput()
    limit = TimeLimit(spec.max_minutes, anneal=spec.anneal_by_deadline) if spec.max_minutes > 0 else None
    task.time_done = limit.share_done if limit is not None and limit.anneal else None
    callbacks = [EpochSetter(), throughput, *([ema] if ema else []), *([limit] if limit else []), *extra_callbacks]
    early = None
    if spec.early_stopping_patience:
        # strict=False: a validation cut short by the time limit logs no metric
        early = EarlyStopping(f"val/{task.best_metric}", patience=spec.early_stopping_patience,
                              mode="min" if lower_is_better(task.best_metric) else "max", check_finite=False,
                              strict=False)
        callbacks.append(early)
    # a loader whose batch sampler shards itself over processes needs no DistributedSampler around it
    shards = getattr(getattr(train_loader, "batch_sampler", None), "shards_itself", False)
    trainer = build_trainer(spec, results_dir, callbacks, use_distributed_sampler=not shards)
    resume = find_resume(spec.resume_training_checkpoint_path, results_dir)
    if resume:
        log.info("resuming from %s", resume)
    started = time.monotonic()
    trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader, ckpt_path=resume)
    reason = stop_reason(trainer, spec, limit, early)
    log.info("training stopped by %s, after %d epochs and %d steps in %.1f minutes", reason, trainer.current_epoch,
             trainer.global_step, (time.monotonic() - started) / 60)
    final = results_dir / "model_final.pth"
    if trainer.is_global_zero:
        state = task.model.state_dict()
        if ema is not None and ema.shadow:
            state = {**state, **ema.shadow}
        save_checkpoint(task.model_record(state), final)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1}
    return {"results_dir": str(results_dir), "model": str(final), "best": dict(task.best),
            "best_model": str(task.best_path) if task.best else None,
            "train_samples_per_second": round(throughput.rate, 2), "epochs": trainer.current_epoch,
            "steps": trainer.global_step, "stopped_by": reason, "resumed_from": resume, "metrics": metrics,
            "rank": int(os.environ.get("RANK", trainer.global_rank))}
