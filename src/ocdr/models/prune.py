"""Channel pruning by filter magnitude, and rebuilding a pruned model from its weights alone.

Only channels internal to a block are pruned — a block's first convolution(s) and the detection
head's up-sampling branches — so residual additions and the FPN concatenation keep their widths and
no dependency graph is needed. A filter's importance is its Lp norm (p = 2 by default); the
weakest ``ratio`` of each group goes, rounded so the kept count is a multiple of ``round_to``.

A pruned checkpoint is an ordinary state dict whose shapes differ from the builder's defaults:
:func:`rebuild_to` resizes the modules to match, so nothing but tensors is ever stored (no pickled
module, unlike a ``torch.save(model)`` graph).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from ocdr.models.backbones.resnet import BasicBlock, Bottleneck, DeformConv

__all__ = ["prune_model", "rebuild_to", "count_params", "count_flops"]

Conv = (nn.Conv2d, nn.ConvTranspose2d)


def _out_weight(m: nn.Module) -> torch.Tensor:
    """(out, -1) view of a producer's filters."""
    w = m.weight.detach()
    if isinstance(m, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return w.reshape(w.shape[0], -1)


def _select(producer: nn.Module, ratio: float, p: float, round_to: int) -> torch.Tensor:
    n = _out_weight(producer).shape[0]
    keep = max(int(round(n * (1 - ratio) / round_to)) * round_to, min(round_to, n), 1)
    scores = _out_weight(producer).norm(p=p, dim=1)
    return torch.sort(torch.topk(scores, min(keep, n)).indices).values


def _slice_out(m: nn.Module, idx: torch.Tensor) -> None:
    if isinstance(m, nn.BatchNorm2d):
        for name in ("weight", "bias"):
            setattr(m, name, nn.Parameter(getattr(m, name).detach()[idx].clone()))
        m.running_mean = m.running_mean[idx].clone()
        m.running_var = m.running_var[idx].clone()
        m.num_features = len(idx)
        return
    dim = 1 if isinstance(m, nn.ConvTranspose2d) else 0
    m.weight = nn.Parameter(m.weight.detach().index_select(dim, idx).clone())
    if getattr(m, "bias", None) is not None:
        m.bias = nn.Parameter(m.bias.detach()[idx].clone())
    if isinstance(m, Conv):
        m.out_channels = len(idx)


def _slice_in(m: nn.Module, idx: torch.Tensor) -> None:
    if isinstance(m, DeformConv):
        m.weight = nn.Parameter(m.weight.detach().index_select(1, idx).clone())
        _slice_in(m.offset, idx)
        return
    dim = 0 if isinstance(m, nn.ConvTranspose2d) else 1
    m.weight = nn.Parameter(m.weight.detach().index_select(dim, idx).clone())
    m.in_channels = len(idx)


def _prune_group(producer, bn, consumer, ratio, p, round_to) -> None:
    idx = _select(producer, ratio, p, round_to)
    _slice_out(producer, idx)
    _slice_out(bn, idx)
    _slice_in(consumer, idx)


def prune_model(model: nn.Module, ratio: float, p: float = 2.0, round_to: int = 8) -> nn.Module:
    """Prune ``model`` in place (ResNet blocks and DB head branches) and return it."""
    if not 0 <= ratio < 1:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    for m in model.modules():
        if isinstance(m, BasicBlock):
            _prune_group(m.conv1, m.bn1, m.conv2, ratio, p, round_to)
        elif isinstance(m, Bottleneck):
            _prune_group(m.conv1, m.bn1, m.conv2, ratio, p, round_to)
            _prune_group(m.conv2, m.bn2, m.conv3, ratio, p, round_to)  # conv2 may be a DeformConv
    head = getattr(model, "head", None)
    for branch in (getattr(head, "prob", None), getattr(head, "thresh", None)):
        if branch is not None:
            _prune_group(branch[0], branch[1], branch[3], ratio, p, round_to)
            _prune_group(branch[3], branch[4], branch[6], ratio, p, round_to)
    return model


def _resized(m: nn.Module, shapes: dict[str, torch.Size]) -> nn.Module:
    w = shapes["weight"]
    if isinstance(m, nn.BatchNorm2d):
        return nn.BatchNorm2d(w[0], eps=m.eps, momentum=m.momentum)
    bias = "bias" in shapes
    if isinstance(m, nn.ConvTranspose2d):
        return nn.ConvTranspose2d(w[0], w[1], m.kernel_size, m.stride, m.padding, m.output_padding, m.groups, bias, m.dilation)
    return nn.Conv2d(w[1], w[0], m.kernel_size, m.stride, m.padding, m.dilation, m.groups, bias)


def rebuild_to(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Resize convolutions, batch norms and deformable convs so ``state_dict`` loads (strict)."""
    own = model.state_dict()
    for name, module in list(model.named_modules()):
        prefix = f"{name}." if name else ""
        if isinstance(module, DeformConv):
            key = prefix + "weight"
            if key in state_dict and state_dict[key].shape != own[key].shape:
                module.weight = nn.Parameter(torch.empty(state_dict[key].shape))
            continue
        if not isinstance(module, (*Conv, nn.BatchNorm2d)):
            continue
        key = prefix + "weight"
        if key not in state_dict or state_dict[key].shape == own[key].shape:
            continue
        shapes = {k[len(prefix):]: v.shape for k, v in state_dict.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, _resized(module, shapes).train(module.training))
    model.load_state_dict(state_dict)
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, shape: tuple[int, ...] = (1, 3, 640, 640)) -> int:
    """Floating-point operations of one forward pass (PyTorch's FLOP counter; multiply-add = 2)."""

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(shape))
    return int(counter.get_total_flops())
