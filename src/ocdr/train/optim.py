"""Optimizers and learning-rate schedules built from :class:`OptimSpec`."""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

from ocdr.config.train import OptimSpec

__all__ = ["build_optimizer", "build_scheduler", "lr_factor"]


def build_optimizer(params: Iterable[torch.nn.Parameter], spec: OptimSpec) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if spec.optim == "adam":
        return torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.optim == "adamw":
        return torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.optim == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay)
    return torch.optim.Adadelta(params, lr=spec.lr, rho=0.95, eps=1e-8, weight_decay=spec.weight_decay)


def lr_factor(step: int, spec: OptimSpec, total_steps: int, steps_per_epoch: int, time_done: float = 0.0) -> float:
    """Multiplier of the base lr at optimizer step ``step`` (warm-up, then the schedule). ``time_done``: the
    share of a time budget spent (train.anneal_by_deadline); poly and cosine advance by the larger of it and
    the share of steps done, so a run stopped by the clock has annealed by then. Warm-up counts steps only:
    after it the schedule starts at the share of time already spent (a step down from 1, as small as the
    warm-up's share of the budget)."""
    warmup = int(round(spec.warmup_epochs * steps_per_epoch))
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(total_steps - warmup, 1)
    done = min(max((step - warmup) / span, time_done), 1.0)
    if spec.lr_scheduler == "poly":
        return max(1.0 - done, 0.0) ** spec.poly_power
    if spec.lr_scheduler == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * done))
    if spec.lr_scheduler == "multistep":
        epoch = step / max(steps_per_epoch, 1)
        return spec.lr_decay ** sum(epoch >= m for m in spec.lr_steps)
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, spec: OptimSpec, total_steps: int, steps_per_epoch: int,
                    monitor: str = "val/loss", time_done: Callable[[], float] | None = None) -> dict:
    """A Lightning ``lr_scheduler`` config: per step for lambda schedules, per epoch for plateau. ``time_done``:
    the share of the time budget spent, asked at every step (see :func:`lr_factor`)."""
    if spec.lr_scheduler == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=spec.lr_decay, patience=spec.patience)
        return {"scheduler": sched, "interval": "epoch", "monitor": monitor}
    sched = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, spec, total_steps, steps_per_epoch, time_done() if time_done else 0.0))
    return {"scheduler": sched, "interval": "step"}
