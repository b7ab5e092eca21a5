"""Run an ONNX graph with PyTorch operators, its float weights turned into trainable ``nn.Parameter`` s.

This is how ocdr imports models that exist only as ONNX files (PP-OCRv4 inside the ``rapidocr-onnxruntime``
wheel): rather than re-implementing each architecture by hand and hoping the layers line up, the graph itself
becomes the module. Every node is executed by the torch function with the same semantics, so the imported
model reproduces ONNX Runtime (checked to 1e-4 in the tests) and gradients flow through it for fine-tuning.

Only the operators these graphs use are supported; any other stops the import with the operator's name.
Weights stored as ``Constant`` nodes or initializers become parameters when they are floating point with more
than one element; BatchNormalization running statistics and scalar helpers stay fixed buffers. Any
intermediate tensor can be returned by name (``forward(x, outputs=[...])``), e.g. a feature map to attach a
new head to, or the logits before a final Softmax.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper
from torch import nn

from ocdr.errors import ConfigError
from ocdr.models.imported.fusion import fuse

__all__ = ["OnnxGraphModule", "SUPPORTED_OPS", "load_onnx", "structural_constants"]

# Inputs that describe the computation (sizes, scales, axes, bounds) rather than weights: constants feeding
# only these stay fixed values, never parameters.
STRUCTURAL_INPUTS = {"Resize": {1, 2, 3}, "Clip": {1, 2}, "Reshape": {1}, "Slice": {1, 2, 3, 4}, "Squeeze": {1},
                     "Unsqueeze": {1}, "ReduceMean": {1}, "Pow": {1}}

_DTYPES = {1: torch.float32, 6: torch.int32, 7: torch.int64, 9: torch.bool, 10: torch.float16, 11: torch.float64}


def load_onnx(path: str | Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf decode errors have no common base class
        raise ConfigError(f"{path}: not a readable ONNX model ({exc})") from None


def structural_constants(nodes) -> set[str]:
    """Names used only in structural input slots (see ``STRUCTURAL_INPUTS``) by ``nodes`` (NodeProtos)."""
    structural, other = set(), set()
    for node in nodes:
        slots = STRUCTURAL_INPUTS.get(node.op_type, set())
        for i, name in enumerate(node.input):
            (structural if i in slots else other).add(name)
    return structural - other


def _attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _pads(pads: list[int]) -> tuple[tuple[int, int], list[int] | None]:
    """ONNX [top, left, bottom, right] -> (symmetric padding for conv, or None + F.pad list)."""
    if not pads:
        return (0, 0), None
    t, l, b, r = pads
    if t == b and l == r:
        return (t, l), None
    return (0, 0), [l, r, t, b]


def _softmax(x: torch.Tensor, axis: int, opset: int) -> torch.Tensor:
    axis = axis % x.dim()
    if opset >= 13 or axis == x.dim() - 1:
        return torch.softmax(x, dim=axis)
    shape = x.shape  # opset < 13: the input is flattened to 2-D at ``axis``
    return torch.softmax(x.reshape(int(np.prod(shape[:axis])), -1), dim=1).reshape(shape)


class OnnxGraphModule(nn.Module):
    def __init__(self, model: onnx.ModelProto):
        super().__init__()
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)
        graph = model.graph
        constants: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.nodes: list[tuple[str, list[str], list[str], dict]] = []
        for node in graph.node:
            if node.op_type == "Constant":
                attrs = {a.name: a for a in node.attribute}
                if "value" not in attrs:
                    raise ConfigError(f"ONNX Constant node {node.name!r}: only tensor values are supported")
                constants[node.output[0]] = numpy_helper.to_array(attrs["value"].t)
                continue
            if node.op_type not in SUPPORTED_OPS:
                raise ConfigError(f"ONNX operator {node.op_type} (node {node.name!r}) is not supported by the importer")
            self.nodes.append((node.op_type, list(node.input), list(node.output), _attrs(node)))
        fixed = {n[1][i] for n in self.nodes if n[0] == "BatchNormalization" for i in (3, 4)}
        structural = structural_constants(graph.node)
        self.weights = nn.ParameterDict()
        self._keys: dict[str, str] = {}   # ONNX name -> key in weights / buffers
        self._static: dict[str, np.ndarray] = {}  # integer constants (shapes, axes): plain values
        used: set[str] = set()
        for name, arr in constants.items():
            key = re.sub(r"\W", "_", name)
            while key in used:
                key += "_"
            used.add(key)
            if arr.dtype.kind == "f" and name not in structural:
                t = torch.from_numpy(np.ascontiguousarray(arr).astype(np.float32))
                if arr.size > 1 and name not in fixed:
                    self.weights[key] = nn.Parameter(t)
                else:
                    self.register_buffer(f"const_{key}", t)
                    key = f"const_{key}"
                self._keys[name] = key
            else:
                self._static[name] = arr
        self.input_names = [i.name for i in graph.input if i.name not in constants]
        self.output_names = [o.name for o in graph.output]

    def fuse(self, keep: set[str] = frozenset()) -> "OnnxGraphModule":
        """Replace element-wise chains by fused operators (see :mod:`ocdr.models.imported.fusion`); the
        values in ``keep`` and the graph's outputs stay computed. Same weights, same results to float rounding."""
        constants = {**self._static}
        for name, key in self._keys.items():
            constants[name] = self.weight_of(name).detach().cpu().numpy()
        self.nodes = fuse(self.nodes, constants, set(keep) | set(self.output_names))
        return self

    def stage_parameters(self) -> list[list[nn.Parameter]]:
        """The trainable weights per stage, input side first. A new stage starts at each downsampling node (a
        convolution or pooling with a stride above 1), the way a backbone's stages are counted, so the stem
        is the first; a weight belongs to the last stage that reads it, so freezing the first stages never
        freezes a weight read later."""
        last_stage: dict[str, int] = {}
        stage = 0
        for op, ins, _, attrs in self.nodes:
            if (op in ("Conv", "MaxPool", "AveragePool") or op.startswith("_Conv")) and max(attrs.get("strides", [1])) > 1:
                stage += 1
            for name in ins:
                key = self._keys.get(name)
                if key in self.weights:
                    last_stage[key] = stage
        stages: list[list[nn.Parameter]] = [[] for _ in range(max(last_stage.values(), default=0) + 1)]
        for key, s in last_stage.items():
            stages[s].append(self.weights[key])
        while stages and not stages[0]:  # what runs before the stem has no weights: the stem is stage 1
            stages.pop(0)
        return stages

    def depthwise_parameters(self) -> list[nn.Parameter]:
        """The trainable weights read only by depthwise convolutions (one filter per channel): their kernels, and
        the bias, batch-norm and affine terms folded into them. A weight also read by another node is left out."""
        readers: dict[str, list[bool]] = {}
        for op, ins, _, attrs in self.nodes:
            depthwise = (op == "Conv" or op.startswith("_Conv")) and attrs.get("group", 1) > 1 \
                and self.weight_of(ins[1]).shape[1] == 1
            for name in ins:
                if self._keys.get(name) in self.weights:
                    readers.setdefault(self._keys[name], []).append(depthwise)
        return [self.weights[key] for key, flags in readers.items() if all(flags)]

    def _liveness(self) -> list[list[str]]:
        """For each node, the values it is the last reader of: a forward pass drops them once it has run, so it
        holds only live activations (keeping every intermediate cost gigabytes on a batch of word crops).
        Recomputed whenever ``nodes`` is replaced (the recognizer import cuts the graph)."""
        if getattr(self, "_liveness_of", None) is not self.nodes:
            last_reader = {name: i for i, (_, ins, _, _) in enumerate(self.nodes) for name in ins}
            free: list[list[str]] = [[] for _ in self.nodes]
            for name, i in last_reader.items():
                free[i].append(name)
            self._free_after, self._liveness_of = free, self.nodes
        return self._free_after

    # ------------------------------------------------------------------ values
    def _value(self, name: str, env: dict):
        if name in env:
            return env[name]
        if name in self._static:
            return torch.from_numpy(np.array(self._static[name]))
        key = self._keys.get(name)
        if key is None:
            raise KeyError(f"tensor {name!r} is neither computed nor a constant")
        return self.weights[key] if key in self.weights else getattr(self, key)

    def weight_of(self, name: str) -> torch.Tensor:
        """The parameter or buffer holding the ONNX constant ``name``."""
        key = self._keys[name]
        return self.weights[key] if key in self.weights else getattr(self, key)

    def _ints(self, name: str, env: dict) -> list[int]:
        v = self._value(name, env)
        return [int(i) for i in (v.reshape(-1).tolist() if torch.is_tensor(v) else np.asarray(v).reshape(-1))]

    def _float(self, name: str, env: dict) -> float:
        v = self._value(name, env)
        return float(v.reshape(-1)[0])

    # ------------------------------------------------------------------ run
    def forward(self, *inputs: torch.Tensor, outputs: list[str] | None = None):
        env = dict(zip(self.input_names, inputs))
        wanted = outputs or self.output_names
        last_needed = {n: i for i, (_, _, outs, _) in enumerate(self.nodes) for n in outs if n in wanted}
        stop = max(last_needed.values(), default=len(self.nodes) - 1) if outputs else len(self.nodes) - 1
        keep, free_after = set(wanted), self._liveness()
        for i, (op, ins, outs, attrs) in enumerate(self.nodes[:stop + 1]):
            env[outs[0]] = getattr(self, f"_op_{op}")(ins, attrs, env)
            for name in free_after[i]:
                if name not in keep:
                    env.pop(name, None)
        missing = [n for n in wanted if n not in env]
        if missing:
            raise KeyError(f"no tensor named {missing[0]!r} in this graph")
        return env[wanted[0]] if outputs is None and len(wanted) == 1 else {n: env[n] for n in wanted}

    # ------------------------------------------------------------------ operators
    def _op_Conv(self, ins, a, env):
        x, w = self._value(ins[0], env), self._value(ins[1], env)
        b = self._value(ins[2], env) if len(ins) > 2 and ins[2] else None
        if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise ConfigError(f"Conv auto_pad={a['auto_pad']} is not supported")
        return self._conv(x, w, b, a)

    def _op_ConvTranspose(self, ins, a, env):
        x, w = self._value(ins[0], env), self._value(ins[1], env)
        b = self._value(ins[2], env) if len(ins) > 2 and ins[2] else None
        padding, explicit = _pads(a.get("pads", []))
        if explicit or "output_shape" in a:
            raise ConfigError("ConvTranspose with asymmetric pads or output_shape is not supported")
        return F.conv_transpose2d(x, w, b, a.get("strides", [1, 1]), padding, a.get("output_padding", [0, 0]),
                                  a.get("group", 1), a.get("dilations", [1, 1]))

    def _op_BatchNormalization(self, ins, a, env):
        x, scale, bias, mean, var = (self._value(n, env) for n in ins[:5])
        return F.batch_norm(x, mean, var, scale, bias, training=False, eps=a.get("epsilon", 1e-5))

    def _op_Add(self, ins, a, env):
        return self._value(ins[0], env) + self._value(ins[1], env)

    def _op_Sub(self, ins, a, env):
        return self._value(ins[0], env) - self._value(ins[1], env)

    def _op_Mul(self, ins, a, env):
        return self._value(ins[0], env) * self._value(ins[1], env)

    def _op_Div(self, ins, a, env):
        return self._value(ins[0], env) / self._value(ins[1], env)

    def _op_Pow(self, ins, a, env):
        return torch.pow(self._value(ins[0], env), self._value(ins[1], env))

    def _op_Sqrt(self, ins, a, env):
        return torch.sqrt(self._value(ins[0], env))

    def _op_Relu(self, ins, a, env):
        return F.relu(self._value(ins[0], env))

    def _op_Sigmoid(self, ins, a, env):
        return torch.sigmoid(self._value(ins[0], env))

    def _op_HardSigmoid(self, ins, a, env):
        return torch.clamp(a.get("alpha", 0.2) * self._value(ins[0], env) + a.get("beta", 0.5), 0.0, 1.0)

    def _op_Clip(self, ins, a, env):
        x = self._value(ins[0], env)
        lo = self._float(ins[1], env) if len(ins) > 1 and ins[1] else a.get("min")
        hi = self._float(ins[2], env) if len(ins) > 2 and ins[2] else a.get("max")
        return torch.clamp(x, lo, hi)

    def _op_GlobalAveragePool(self, ins, a, env):
        x = self._value(ins[0], env)
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)

    def _op_AveragePool(self, ins, a, env):
        padding, explicit = _pads(a.get("pads", []))
        if explicit:
            raise ConfigError("AveragePool with asymmetric pads is not supported")
        return F.avg_pool2d(self._value(ins[0], env), a["kernel_shape"], a.get("strides", a["kernel_shape"]), padding,
                            bool(a.get("ceil_mode", 0)), bool(a.get("count_include_pad", 0)))

    def _op_Resize(self, ins, a, env):
        x = self._value(ins[0], env)
        mode, coord = a.get("mode", "nearest"), a.get("coordinate_transformation_mode", "half_pixel")
        scales = self._value(ins[2], env).reshape(-1).tolist() if len(ins) > 2 and ins[2] else []
        size = None if scales else self._ints(ins[3], env)[2:]
        kw = {"scale_factor": tuple(float(s) for s in scales[2:])} if scales else {"size": size}
        if mode == "nearest" and coord == "asymmetric" and a.get("nearest_mode", "round_prefer_floor") == "floor":
            return F.interpolate(x, mode="nearest", **kw)
        if mode == "linear" and coord in ("half_pixel", "pytorch_half_pixel", "align_corners"):
            return F.interpolate(x, mode="bilinear", align_corners=coord == "align_corners", **kw)
        raise ConfigError(f"Resize mode={mode} coordinate_transformation_mode={coord} is not supported")

    def _op_Concat(self, ins, a, env):
        parts = [self._value(n, env) for n in ins]
        if any(p.dim() == 1 and not p.is_floating_point() for p in parts):
            parts = [p.to(torch.int64) for p in parts]
        return torch.cat(parts, dim=a["axis"])

    def _op_Shape(self, ins, a, env):
        return torch._shape_as_tensor(self._value(ins[0], env))

    def _op_Cast(self, ins, a, env):
        if a["to"] not in _DTYPES:
            raise ConfigError(f"Cast to ONNX type {a['to']} is not supported")
        return self._value(ins[0], env).to(_DTYPES[a["to"]])

    def _op_Slice(self, ins, a, env):
        x = self._value(ins[0], env)
        starts, ends = self._ints(ins[1], env), self._ints(ins[2], env)
        axes = self._ints(ins[3], env) if len(ins) > 3 and ins[3] else list(range(len(starts)))
        steps = self._ints(ins[4], env) if len(ins) > 4 and ins[4] else [1] * len(starts)
        index = [slice(None)] * x.dim()
        for s, e, ax, st in zip(starts, ends, axes, steps):
            if st < 0:
                raise ConfigError("Slice with negative steps is not supported")
            index[ax % x.dim()] = slice(s, min(e, 2**62), st)
        return x[tuple(index)]

    def _op_Reshape(self, ins, a, env):
        x = self._value(ins[0], env)
        if ins[1] in env and (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            # a computed shape (from Shape of a dynamic tensor): keep it a graph value so that an exported
            # model stays dynamic; ONNX Reshape itself gives 0 its "copy this dimension" meaning
            target = env[ins[1]].to(torch.int64)
            if not a.get("allowzero", 0):
                n, have = target.shape[0], torch._shape_as_tensor(x)
                have = have[:n] if n <= x.dim() else torch.cat([have, torch.ones(n - x.dim(), dtype=torch.int64)])
                target = torch.where(target == 0, have, target)
            return torch._reshape_from_tensor(x, target)
        shape = self._ints(ins[1], env)
        shape = [x.shape[i] if s == 0 and not a.get("allowzero", 0) else s for i, s in enumerate(shape)]
        return x.reshape(shape)

    def _op_Transpose(self, ins, a, env):
        x = self._value(ins[0], env)
        return x.permute(a.get("perm", list(range(x.dim()))[::-1]))

    def _op_ReduceMean(self, ins, a, env):
        x = self._value(ins[0], env)
        axes = a.get("axes") or (self._ints(ins[1], env) if len(ins) > 1 and ins[1] else list(range(x.dim())))
        return x.mean(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))

    def _op_MatMul(self, ins, a, env):
        return torch.matmul(self._value(ins[0], env), self._value(ins[1], env))

    def _op_Squeeze(self, ins, a, env):
        x = self._value(ins[0], env)
        axes = a.get("axes") or (self._ints(ins[1], env) if len(ins) > 1 and ins[1] else None)
        if axes is None:
            return x.squeeze()
        for ax in sorted((ax % x.dim() for ax in axes), reverse=True):
            x = x.squeeze(ax)
        return x

    def _op_Unsqueeze(self, ins, a, env):
        x = self._value(ins[0], env)
        axes = a.get("axes") or self._ints(ins[1], env)
        for ax in sorted(ax % (x.dim() + len(axes)) for ax in axes):
            x = x.unsqueeze(ax)
        return x

    def _op_Softmax(self, ins, a, env):
        return _softmax(self._value(ins[0], env), a.get("axis", -1 if self.opset >= 13 else 1), self.opset)

    def _op_Flatten(self, ins, a, env):
        x = self._value(ins[0], env)
        axis = a.get("axis", 1) % max(x.dim(), 1)
        return x.reshape(int(np.prod(x.shape[:axis])), -1)

    def _op_Identity(self, ins, a, env):
        return self._value(ins[0], env)

    # ------------------------------------------------------------------ fused operators (see fusion.py)
    def _op__HardSwish(self, ins, a, env):
        return F.hardswish(self._value(ins[0], env))

    def _op__Swish(self, ins, a, env):
        return F.silu(self._value(ins[0], env))

    def _op__LayerNorm(self, ins, a, env):
        x, gamma, beta = (self._value(n, env) for n in ins)
        return F.layer_norm(x, tuple(gamma.shape), gamma, beta, a["epsilon"])

    def _op__Affine(self, ins, a, env):
        x, w, b = (self._value(n, env) for n in ins)
        return torch.addcmul(b, x, w)

    def _conv(self, x, w, b, a):
        padding, explicit = _pads(a.get("pads", []))
        if explicit:
            x = F.pad(x, explicit)
        group = a.get("group", 1)
        if group > 1 and _cpu_bf16_autocast(x):
            # grouped (depthwise) convolutions stay fp32 under CPU bf16 autocast: on an AMX Xeon their bf16 backward ran
            # about 3x slower than fp32 while the 1x1 convolutions ran 1.7-2.8x faster (docs/benchmarks.md)
            with torch.autocast("cpu", enabled=False):
                return F.conv2d(x.float(), w.float(), None if b is None else b.float(), a.get("strides", [1, 1]),
                                padding, a.get("dilations", [1, 1]), group)
        return F.conv2d(x, w, b, a.get("strides", [1, 1]), padding, a.get("dilations", [1, 1]), group)

    def _op__ConvAffine(self, ins, a, env):
        # scale * conv(x, W, B) + shift == conv(x, scale * W, scale * B + shift): one pass over x
        x, w = self._value(ins[0], env), self._value(ins[1], env)
        scale, shift = self._value(ins[3], env), self._value(ins[4], env)
        b = self._value(ins[2], env) if ins[2] else torch.zeros((), dtype=w.dtype, device=w.device)
        return self._conv(x, w * scale, (b * scale + shift).expand(w.shape[0]), a)

    def _op__ConvBN(self, ins, a, env):
        # inference-mode BatchNormalization after a convolution folded into its weight and bias
        x, w = self._value(ins[0], env), self._value(ins[1], env)
        gamma, beta, mean, var = (self._value(n, env) for n in ins[3:7])
        b = self._value(ins[2], env) if ins[2] else torch.zeros_like(mean)
        k = gamma / torch.sqrt(var + a["epsilon"])
        return self._conv(x, w * k.view(-1, 1, 1, 1), (b - mean) * k + beta, a)


SUPPORTED_OPS = frozenset(name[4:] for name in vars(OnnxGraphModule)
                          if name.startswith("_op_") and not name.startswith("_op__")) | {"Constant"}


def _cpu_bf16_autocast(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
