"""The DB loss (MhLiao/DB's L1BalanceCELoss): dice(binary) + 5 * balanced BCE(prob) + 10 * L1(thresh).

The BCE is balanced by online hard negative mining: all positive pixels and the hardest
negatives, at most ``ohem_ratio`` times as many as the positives, pooled over the whole batch.
As in the reference, a batch without any positive pixel gets no BCE from its negatives either.

Targets (from ``ocdr.data.db_targets``), each (B, H, W) float: ``shrink_map`` (1 inside
the shrunk text), ``shrink_mask`` (0 on don't-care text), ``threshold_map`` and ``threshold_mask``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["DBLoss", "TARGET_KEYS", "balanced_bce", "dice_loss", "masked_l1"]

TARGET_KEYS = ("shrink_map", "shrink_mask", "threshold_map", "threshold_mask")


def balanced_bce(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, ratio: float = 3.0,
                 eps: float = 1e-6) -> torch.Tensor:
    """Mean BCE over the positives and the ``min(#neg, ratio * #pos)`` highest-loss negatives."""
    positive = gt * mask
    negative = (1 - gt) * mask
    n_pos = int(positive.sum())
    n_neg = min(int(negative.sum()), int(n_pos * ratio))
    loss = F.binary_cross_entropy(pred.clamp(eps, 1 - eps), gt, reduction="none")
    pos_loss = (loss * positive).sum()
    neg_loss = (loss * negative).flatten()
    if n_neg > 0:
        neg_loss = torch.topk(neg_loss, n_neg).values.sum()
    else:
        neg_loss = neg_loss.sum() * 0  # keeps the graph connected, so backward still reaches pred
    return (pos_loss + neg_loss) / (n_pos + n_neg + eps)


def dice_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """1 - 2|P.G| / (|P| + |G|) over the masked pixels: 0 for a perfect map, 1 for a disjoint one."""
    inter = (pred * gt * mask).sum()
    union = (pred * mask).sum() + (gt * mask).sum() + eps
    return 1 - 2.0 * inter / union


def masked_l1(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mean |pred - gt| over the pixels where ``mask`` is set (0 when none is)."""
    return ((pred - gt).abs() * mask).sum() / (mask.sum() + eps)


class DBLoss(nn.Module):
    """``loss = loss_binary (dice) + alpha * loss_prob (OHEM BCE) + beta * loss_thresh (L1)``.

    ``forward(out, targets)`` takes the model's output dict; without ``thresh``/``binary`` (an
    eval-mode pass) only the BCE term is computed. The losses are computed in float32 with
    autocast off: ``binary_cross_entropy`` is refused under CUDA autocast, and half precision
    would round the small per-pixel terms away.
    """

    def __init__(self, alpha: float = 5.0, beta: float = 10.0, ohem_ratio: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.alpha, self.beta, self.ohem_ratio, self.eps = alpha, beta, ohem_ratio, eps

    def forward(self, out: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        _check_targets(out["prob"], targets)
        with torch.autocast(device_type=out["prob"].device.type, enabled=False):
            t = {k: targets[k].float() for k in TARGET_KEYS}
            loss_prob = balanced_bce(out["prob"][:, 0].float(), t["shrink_map"], t["shrink_mask"],
                                     self.ohem_ratio, self.eps)
            losses = {"loss_prob": loss_prob}
            total = self.alpha * loss_prob
            if "thresh" in out:
                loss_thresh = masked_l1(out["thresh"][:, 0].float(), t["threshold_map"], t["threshold_mask"], self.eps)
                loss_binary = dice_loss(out["binary"][:, 0].float(), t["shrink_map"], t["shrink_mask"], self.eps)
                losses.update(loss_thresh=loss_thresh, loss_binary=loss_binary)
                total = total + self.beta * loss_thresh + loss_binary
        losses["loss"] = total
        return losses


def _check_targets(prob: torch.Tensor, targets: dict[str, torch.Tensor]) -> None:
    # A (B, 1, H, W) target would broadcast against (B, H, W) into a (B, B, H, W) loss, silently.
    missing = [k for k in TARGET_KEYS if k not in targets]
    if missing:
        raise ValueError(f"DB loss targets lack {', '.join(missing)} (need {', '.join(TARGET_KEYS)})")
    want = (prob.shape[0], *prob.shape[2:])
    for key in TARGET_KEYS:
        if tuple(targets[key].shape) != want:
            raise ValueError(f"DB loss target '{key}' has shape {tuple(targets[key].shape)}, expected (B, H, W) = {want}")
