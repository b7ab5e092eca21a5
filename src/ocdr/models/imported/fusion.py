"""Fuse the element-wise chains an ONNX export spells out into single PyTorch operators.

paddle2onnx writes PP-OCR's activations and normalisations as chains of primitive nodes: a hard-swish is
``Add 3 -> Clip 0..6 -> Mul -> Div 6``, a learnable affine block ``Mul w -> Add b``, a LayerNorm nine nodes.
Run node by node, each is a full pass over the activation forward and another backward; on a CPU they cost
as much as the convolutions (profiled: 45 % of a recognizer training step). :func:`fuse` rewrites the node
list of an :class:`~ocdr.models.imported.onnx_graph.OnnxGraphModule` into fused operators with the same
mathematics and the same weights (names unchanged, so checkpoints and :func:`native_graph` are unaffected):

- ``_HardSwish``: ``F.hardswish``;
- ``_Swish``: ``x * sigmoid(x)`` -> ``F.silu``;
- ``_LayerNorm``: the mean/variance chain over the last axis -> ``F.layer_norm``;
- ``_ConvAffine``: ``Conv`` then a scalar ``Mul``/``Add`` -> one convolution whose weight and bias are scaled
  on the fly (gradients reach the same tensors);
- ``_ConvBN``: ``Conv`` then inference-mode ``BatchNormalization`` -> one convolution, folded on the fly;
- ``_Affine``: a remaining scalar ``Mul``/``Add`` -> one ``addcmul``.

A chain is fused only when its intermediate values have no other reader and are not requested outputs.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["fuse", "FUSED_OPS"]

FUSED_OPS = ("_HardSwish", "_Swish", "_LayerNorm", "_ConvAffine", "_ConvBN", "_Affine")

Node = tuple  # (op, inputs, outputs, attrs)


class _Graph:
    """The node list with reader counts and constant lookup, for pattern matching."""

    def __init__(self, nodes: list[Node], constants: dict[str, np.ndarray], keep: set[str]):
        self.nodes, self.constants, self.keep = list(nodes), constants, keep
        self.readers: dict[str, list[int]] = defaultdict(list)
        for i, (_, ins, _, _) in enumerate(self.nodes):
            for name in ins:
                self.readers[name].append(i)

    def only_reader(self, name: str) -> int | None:
        """The index of the single node reading ``name`` (None if it has several, none, or must be kept)."""
        readers = self.readers.get(name, [])
        return readers[0] if len(readers) == 1 and name not in self.keep else None

    def scalar(self, name: str) -> float | None:
        arr = self.constants.get(name)
        return float(arr.reshape(-1)[0]) if arr is not None and arr.size == 1 else None

    def is_const(self, name: str, size1: bool = False) -> bool:
        arr = self.constants.get(name)
        return arr is not None and (not size1 or arr.size == 1)


def _other(ins: list[str], name: str) -> str | None:
    """The input of a binary node that is not ``name`` (None when ``name`` is not an input)."""
    if len(ins) != 2 or name not in ins:
        return None
    return ins[1] if ins[0] == name else ins[0]


def _next(g: _Graph, name: str, op: str) -> tuple[int, Node] | None:
    j = g.only_reader(name)
    if j is None or g.nodes[j] is None or g.nodes[j][0] != op:
        return None
    return j, g.nodes[j]


def _hardswish(g: _Graph, i: int) -> tuple[list[int], Node] | None:
    op, ins, outs, _ = g.nodes[i]
    if op != "Add":
        return None
    x = next((n for n in ins if g.scalar(_other(ins, n) or "") == 3.0), None)
    clip = x is not None and _next(g, outs[0], "Clip")
    if not clip or len(clip[1][1]) < 3 or g.scalar(clip[1][1][1]) != 0.0 or g.scalar(clip[1][1][2]) != 6.0:
        return None
    mul = _next(g, clip[1][2][0], "Mul")
    if not mul or _other(mul[1][1], clip[1][2][0]) != x:
        return None
    div = _next(g, mul[1][2][0], "Div")
    if not div or div[1][1][0] != mul[1][2][0] or g.scalar(div[1][1][1]) != 6.0:
        return None
    return [i, clip[0], mul[0], div[0]], ("_HardSwish", [x], list(div[1][2]), {})


def _swish(g: _Graph, i: int) -> tuple[list[int], Node] | None:
    op, ins, outs, _ = g.nodes[i]
    if op != "Mul":
        return None
    x = next((n for n in ins if g.scalar(_other(ins, n) or "") == 1.0), None)
    sig = x is not None and _next(g, outs[0], "Sigmoid")
    mul = sig and _next(g, sig[1][2][0], "Mul")
    if not mul or _other(mul[1][1], sig[1][2][0]) != x:
        return None
    return [i, sig[0], mul[0]], ("_Swish", [x], list(mul[1][2]), {})


def _layernorm(g: _Graph, i: int) -> tuple[list[int], Node] | None:
    op, ins, outs, attrs = g.nodes[i]
    if op != "ReduceMean" or list(attrs.get("axes", [])) != [-1] or not attrs.get("keepdims", 1):
        return None
    x = ins[0]
    sub = next(((j, g.nodes[j]) for j in g.readers[outs[0]] if g.nodes[j] and g.nodes[j][0] == "Sub"
                and g.nodes[j][1] == [x, outs[0]]), None)
    if sub is None or len(g.readers[outs[0]]) != 1 or outs[0] in g.keep:
        return None
    centred = sub[1][2][0]
    readers = g.readers[centred]
    if len(readers) != 2 or centred in g.keep:
        return None
    pow_ = next(((j, g.nodes[j]) for j in readers if g.nodes[j] and g.nodes[j][0] == "Pow"), None)
    div = next(((j, g.nodes[j]) for j in readers if g.nodes[j] and g.nodes[j][0] == "Div"), None)
    if not pow_ or not div or g.scalar(pow_[1][1][1]) != 2.0 or div[1][1][0] != centred:
        return None
    var = _next(g, pow_[1][2][0], "ReduceMean")
    if not var or list(var[1][3].get("axes", [])) != [-1]:
        return None
    add = _next(g, var[1][2][0], "Add")
    eps = add and g.scalar(_other(add[1][1], var[1][2][0]) or "")
    sqrt = add and eps is not None and _next(g, add[1][2][0], "Sqrt")
    if not sqrt or div[1][1][1] != sqrt[1][2][0] or g.only_reader(sqrt[1][2][0]) != div[0]:
        return None
    scale = _next(g, div[1][2][0], "Mul")
    gamma = scale and _other(scale[1][1], div[1][2][0])
    shift = gamma and g.is_const(gamma) and _next(g, scale[1][2][0], "Add")
    beta = shift and _other(shift[1][1], scale[1][2][0])
    if not beta or not g.is_const(beta):
        return None
    used = [i, sub[0], pow_[0], var[0], add[0], sqrt[0], div[0], scale[0], shift[0]]
    return used, ("_LayerNorm", [x, gamma, beta], list(shift[1][2]), {"epsilon": eps})


def _affine_of(g: _Graph, name: str) -> tuple[list[int], str, str, str] | None:
    """``Mul(name, w) -> Add(b)`` with scalar constants w, b reading ``name``: (indices, w, b, output)."""
    mul = _next(g, name, "Mul")
    w = mul and _other(mul[1][1], name)
    if not w or not g.is_const(w, size1=True):
        return None
    add = _next(g, mul[1][2][0], "Add")
    b = add and _other(add[1][1], mul[1][2][0])
    if not b or not g.is_const(b, size1=True):
        return None
    return [mul[0], add[0]], w, b, add[1][2][0]


def _conv_affine(g: _Graph, i: int) -> tuple[list[int], Node] | None:
    op, ins, outs, attrs = g.nodes[i]
    if op != "Conv":
        return None
    affine = _affine_of(g, outs[0])
    if affine:
        used, w, b, out = affine
        bias = ins[2] if len(ins) > 2 else ""
        return [i, *used], ("_ConvAffine", [ins[0], ins[1], bias, w, b], [out], attrs)
    bn = _next(g, outs[0], "BatchNormalization")
    if bn and bn[1][1][0] == outs[0]:
        bias = ins[2] if len(ins) > 2 else ""
        return [i, bn[0]], ("_ConvBN", [ins[0], ins[1], bias, *bn[1][1][1:5]], list(bn[1][2]),
                            {**attrs, "epsilon": bn[1][3].get("epsilon", 1e-5)})
    return None


def _affine(g: _Graph, i: int) -> tuple[list[int], Node] | None:
    op, ins, outs, _ = g.nodes[i]
    if op != "Mul":
        return None
    for x in ins:
        w = _other(ins, x)
        if w and g.is_const(w, size1=True) and not g.is_const(x):
            add = _next(g, outs[0], "Add")
            b = add and _other(add[1][1], outs[0])
            if b and g.is_const(b, size1=True):
                return [i, add[0]], ("_Affine", [x, w, b], list(add[1][2]), {})
    return None


def _apply(nodes: list[Node], constants: dict, keep: set[str], pattern) -> list[Node]:
    g = _Graph(nodes, constants, keep)
    for i in range(len(g.nodes)):
        if g.nodes[i] is None:
            continue
        match = pattern(g, i)
        if match is None:
            continue
        used, fused = match
        for j in used:
            g.nodes[j] = None
        g.nodes[max(used)] = fused  # the last node of the chain: every input is computed by then
    return [n for n in g.nodes if n is not None]


def fuse(nodes: list[Node], constants: dict[str, np.ndarray], keep: set[str] = frozenset()) -> list[Node]:
    """``nodes`` with the chains above replaced; ``constants`` maps constant names to values; ``keep`` names
    values that must stay computed (requested outputs)."""
    for pattern in (_hardswish, _swish, _layernorm, _conv_affine, _affine):
        nodes = _apply(nodes, constants, set(keep), pattern)
    return nodes
