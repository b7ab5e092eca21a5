"""Freeze parts of a pretrained backbone for fine-tuning: its first stages (MMOCR's and mmcv's ``frozen_stages``)
or its depthwise filters.

A frozen stage keeps its pretrained weights, and because its inputs need no gradient either, autograd records
nothing for it: its backward pass is skipped. On a CPU that is most of the saving, since the early, wide-image
stages of a recognizer cost about as much backward as forward. Batch-norm statistics of the imported graphs
are fixed buffers already, so a frozen stage computes exactly what it computed before training.

Depthwise convolutions (one small filter per channel, as in PP-LCNet and MobileNet) are cheap forward but
their weight gradient is not: on this 2-core CPU a 5x5 depthwise layer's backward takes ~5x its forward, and
~80 % of that is the filter's gradient (docs/benchmarks.md, "Training speed"). They are few weights (73 k of
PP-OCRv4-rec's 1.9 M with an 80-character head), so :func:`freeze_depthwise` keeps them and skips that
gradient, while every other layer, before and after them, still trains (their input gradient is still
computed). What it costs in accuracy is measured per recipe, not assumed.

Which modules have stages is a property of the model (:func:`stage_parameters`); a model without them is a
clear error, not a silent no-op.
"""
from __future__ import annotations

from torch import nn

from ocdr.errors import ConfigError
from ocdr.models.imported.onnx_graph import OnnxGraphModule

__all__ = ["stage_parameters", "freeze_stages", "depthwise_parameters", "freeze_depthwise"]


def stage_parameters(model: nn.Module) -> list[list[nn.Parameter]]:
    """The backbone's parameters per stage, input side first (the imported PP-OCR graphs: a stage starts at
    each downsampling node, the stem's first)."""
    graph = getattr(model, "graph", None)
    if isinstance(graph, OnnxGraphModule):
        return graph.stage_parameters()
    raise ConfigError(f"frozen_stages is available for the imported PP-OCRv4 models (ppocr-v4-det, ppocr-v4-rec) "
                      f"and checkpoints fine-tuned from them; {type(model).__name__} has no stages to freeze: "
                      "set frozen_stages=0")


def freeze_stages(model: nn.Module, n: int) -> dict:
    """Stop training the first ``n`` stages; returns what was frozen. ``n`` must leave a stage to train."""
    if n < 0:
        raise ConfigError(f"frozen_stages must be 0 or more, got {n}")
    if n == 0:
        return {"stages": 0, "of_stages": 0, "frozen_parameters": 0, "parameters": _count(model.parameters())}
    stages = stage_parameters(model)
    if n >= len(stages):
        raise ConfigError(f"frozen_stages={n} would freeze the whole backbone: it has {len(stages)} stages, "
                          f"so at most {len(stages) - 1} can be frozen")
    frozen = [p for stage in stages[:n] for p in stage]
    for p in frozen:
        p.requires_grad_(False)
    return {"stages": n, "of_stages": len(stages), "frozen_parameters": _count(frozen),
            "parameters": _count(model.parameters())}


def depthwise_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weights only depthwise convolutions read: of an imported graph, or of ``nn.Conv2d`` layers with one
    input channel per group."""
    graph = getattr(model, "graph", None)
    if isinstance(graph, OnnxGraphModule):
        return graph.depthwise_parameters()
    return [p for m in model.modules() if isinstance(m, nn.Conv2d) and 1 < m.groups == m.in_channels
            for p in m.parameters(recurse=False)]


def freeze_depthwise(model: nn.Module, enabled: bool) -> dict:
    """Keep the depthwise filters at their pretrained values (``frozen_depthwise``); returns what was frozen."""
    if not enabled:
        return {"frozen_parameters": 0, "parameters": _count(model.parameters())}
    frozen = depthwise_parameters(model)
    if not frozen:
        raise ConfigError(f"frozen_depthwise: {type(model).__name__} has no depthwise convolutions "
                          "(the PP-OCRv4 models have them); set frozen_depthwise=false")
    for p in frozen:
        p.requires_grad_(False)
    return {"frozen_parameters": _count(frozen), "parameters": _count(model.parameters())}


def _count(params) -> int:
    return sum(p.numel() for p in params)
