"""Freeze the first stages of a backbone for fine-tuning (MMOCR's and mmcv's ``frozen_stages``).

A frozen stage keeps its pretrained weights, and because its inputs need no gradient either, autograd records
nothing for it: its backward pass is skipped. On a CPU that is most of the saving, since the early, wide-image
stages of a recognizer cost about as much backward as forward. Batch-norm statistics of the imported graphs
are fixed buffers already, so a frozen stage computes exactly what it computed before training.

Which modules have stages is a property of the model (:func:`stage_parameters`); a model without them is a
clear error, not a silent no-op.
"""
from __future__ import annotations

from torch import nn

from ocdr.errors import ConfigError
from ocdr.models.imported.onnx_graph import OnnxGraphModule

__all__ = ["stage_parameters", "freeze_stages"]


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


def _count(params) -> int:
    return sum(p.numel() for p in params)
