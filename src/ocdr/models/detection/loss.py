"""The DB loss (MhLiao/DB's L1BalanceCELoss): dice(binary) + 5 * balanced BCE(prob) + 10 * L1(thresh).

The BCE is balanced by online hard negative mining: all positive pixels and the hardest
negatives, at most ``ohem_ratio`` times as many as the positives.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["DBLoss", "balanced_bce", "dice_loss", "masked_l1"]


def balanced_bce(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, ratio: float = 3.0,
                 eps: float = 1e-6) -> torch.Tensor:
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
        neg_loss = neg_loss.sum() * 0
    return (pos_loss + neg_loss) / (n_pos + n_neg + eps)


def dice_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    inter = (pred * gt * mask).sum()
    union = (pred * mask).sum() + (gt * mask).sum() + eps
    return 1 - 2.0 * inter / union


def masked_l1(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return ((pred - gt).abs() * mask).sum() / (mask.sum() + eps)


class DBLoss(nn.Module):
    def __init__(self, alpha: float = 5.0, beta: float = 10.0, ohem_ratio: float = 3.0):
        super().__init__()
        self.alpha, self.beta, self.ohem_ratio = alpha, beta, ohem_ratio

    def forward(self, out: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        shrink, shrink_mask = targets["shrink_map"], targets["shrink_mask"]
        prob = out["prob"][:, 0]
        loss_prob = balanced_bce(prob, shrink, shrink_mask, self.ohem_ratio)
        losses = {"loss_prob": loss_prob}
        total = self.alpha * loss_prob
        if "thresh" in out:
            loss_thresh = masked_l1(out["thresh"][:, 0], targets["threshold_map"], targets["threshold_mask"])
            loss_binary = dice_loss(out["binary"][:, 0], shrink, shrink_mask)
            losses.update(loss_thresh=loss_thresh, loss_binary=loss_binary)
            total = total + self.beta * loss_thresh + loss_binary
        losses["loss"] = total
        return losses
