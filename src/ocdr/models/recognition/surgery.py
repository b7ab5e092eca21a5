"""Head surgery: a CTC recognizer trained on one character list, re-headed for another.

The classifier's rows (weights and bias) of the blank and of every character both lists share are
copied; rows of new characters start small and random, so fine-tuning starts from what the model
already reads.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["head_surgery"]


def head_surgery(model: nn.Module, old_to_new: list[tuple[int, int]], new_num_classes: int) -> nn.Module:
    """Replace ``model.head.fc`` by a ``new_num_classes`` classifier keeping the mapped rows."""
    fc = getattr(getattr(model, "head", None), "fc", None)
    if not isinstance(fc, nn.Linear):
        raise ValueError("head surgery needs a CTC recognizer (model.head.fc); attention heads are not supported")
    new = nn.Linear(fc.in_features, new_num_classes).to(fc.weight.device)
    with torch.no_grad():
        nn.init.normal_(new.weight, std=0.02)
        nn.init.zeros_(new.bias)
        for old, cur in old_to_new:
            new.weight[cur] = fc.weight[old]
            new.bias[cur] = fc.bias[old]
    model.head.fc = new
    return model
