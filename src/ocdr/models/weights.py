"""Loading weights into a model whose structure may differ (pretrained starts, pruned graphs)."""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["load_matching"]


def load_matching(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Copy every tensor whose name and shape match; report the rest.

    Returns ``missing`` (in the model, not in the file), ``unexpected`` (in the file only) and
    ``mismatched`` (same name, other shape: left as initialised).
    """
    own = model.state_dict()
    matched, mismatched = {}, []
    for key, value in state_dict.items():
        if key in own:
            if own[key].shape == value.shape:
                matched[key] = value
            else:
                mismatched.append(f"{key}: file {tuple(value.shape)} vs model {tuple(own[key].shape)}")
    model.load_state_dict({**own, **matched})
    return {"loaded": sorted(matched), "missing": sorted(set(own) - set(state_dict)),
            "unexpected": sorted(set(state_dict) - set(own)), "mismatched": sorted(mismatched)}
