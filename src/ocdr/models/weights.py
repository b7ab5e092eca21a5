"""Loading weights into a model whose structure may differ (pretrained starts, other heads, pruned graphs)."""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["load_pretrained", "load_matching"]


def load_pretrained(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Copy every tensor whose name and shape match; report the rest.

    Returns ``loaded`` (names copied), ``missing`` (in the model, not in the file: left as
    initialised), ``unexpected`` (in the file only) and ``mismatched`` (same name, other shape,
    listed as ``"name: file (..) vs model (..)"``: left as initialised). A ``module.`` prefix on
    every key (a checkpoint saved from ``DataParallel``) is removed first.
    """
    state_dict = _strip_prefix(state_dict, "module.")
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


# The name the training code has used since the first checkpoints.
load_matching = load_pretrained


def _strip_prefix(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    return state_dict
