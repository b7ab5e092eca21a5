"""PP-OCRv4 mobile detector and recognizer as trainable ocdr models, read from the ``rapidocr-onnxruntime`` wheel.

The wheel (Apache-2.0) ships ``ch_PP-OCRv4_det_infer.onnx`` (a DBNet whose graph ends at the probability map)
and ``ch_PP-OCRv4_rec_infer.onnx`` (an SVTR-LCNet CTC recognizer ending in a softmax over 6625 classes, its
character list in the metadata). Each graph becomes an :class:`OnnxGraphModule` (weights as parameters); the
wrappers below give them ocdr's model contract:

- ``ppocr_det``: input = ocdr's detector input (ImageNet-normalised RGB), converted inside the model to what
  PP-OCR expects (BGR, (x - 0.5) / 0.5, as RapidOCR feeds it); output ``prob``; for training a fresh
  threshold branch (absent from the inference graph) is attached to the neck's output (the graph's single
  channel-wise Concat), giving ``thresh`` and ``binary`` and the DB loss exactly as ocdr's own DBNet.
- ``ppocr_rec``: input = ocdr's recognizer input (RGB in [-1, 1], 48 x 320, aspect ratio kept and padded),
  converted to BGR; the graph is cut before its final projection, which becomes ``head.fc`` (an ``nn.Linear``
  initialised from the graph's weights) so that CTC trains on logits and head surgery for a new character
  list works as for every ocdr recognizer.

A model's structure travels in its checkpoint as a weight-less copy of the graph (``graph`` keyword, base64),
so an imported or fine-tuned checkpoint loads without the wheel.
"""
from __future__ import annotations

import base64
import copy

import numpy as np
import onnx
import torch
from torch import nn

from ocdr.data.transforms import MEAN, STD
from ocdr.errors import ConfigError
from ocdr.models.detection.dbnet import _Branch, _check_input
from ocdr.models.detection.loss import DBLoss
from ocdr.models.catalog import PPOCR_FILES, wheel_model_path
from ocdr.models.imported.onnx_graph import OnnxGraphModule, load_onnx, structural_constants
from ocdr.models.registry import register_model
from ocdr.models.recognition.heads import CTCHead

__all__ = ["PPOCR_FILES", "wheel_model_path", "skeleton_of", "graph_from_skeleton", "ppocr_charset",
           "PPOCRDet", "PPOCRRec", "ppocr_det", "ppocr_rec", "native_graph"]



def skeleton_of(model: onnx.ModelProto) -> str:
    """The graph without its weight values (shapes and types kept), base64: the structure of an imported model."""
    skel = copy.deepcopy(model)
    keep = structural_constants(skel.graph.node)
    for node in skel.graph.node:
        if node.op_type != "Constant" or node.output[0] in keep:
            continue
        for a in node.attribute:
            t = a.t
            if a.name == "value" and t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims)) > 1:
                t.ClearField("raw_data")
                t.ClearField("float_data")
    del skel.graph.initializer[:]
    if model.graph.initializer:
        raise ConfigError("graphs with initializers are not supported by the PP-OCR importer")
    return base64.b64encode(skel.SerializeToString()).decode("ascii")


def graph_from_skeleton(skeleton: str) -> onnx.ModelProto:
    """Inverse of :func:`skeleton_of`: weight tensors come back as zeros of their shapes (to be loaded)."""
    model = onnx.ModelProto()
    model.ParseFromString(base64.b64decode(skeleton))
    for node in model.graph.node:
        for a in node.attribute:
            t = a.t
            if node.op_type == "Constant" and a.name == "value" and t.data_type == onnx.TensorProto.FLOAT \
                    and not t.raw_data and not t.float_data and int(np.prod(t.dims)) > 1:
                t.raw_data = np.zeros(int(np.prod(t.dims)), np.float32).tobytes()
    return model


def ppocr_charset(model: onnx.ModelProto) -> list[str]:
    """PP-OCR's CTC classes after the blank: the metadata's characters, then the space."""
    meta = {p.key: p.value for p in model.metadata_props}
    if "character" not in meta:
        raise ConfigError("this ONNX recognizer carries no 'character' metadata")
    chars = meta["character"].splitlines()
    return chars + [" "]


def _graph(graph: str, role: str) -> OnnxGraphModule:
    model = graph_from_skeleton(graph) if graph else load_onnx(wheel_model_path(role))
    return OnnxGraphModule(model)


def _bgr_affine(in_mean: np.ndarray, in_std: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and shift taking ``(rgb01 - in_mean) / in_std`` (RGB) to ``(bgr01 - 0.5) / 0.5`` (BGR)."""
    scale = (in_std / 0.5)[::-1].copy()
    shift = ((in_mean - 0.5) / 0.5)[::-1].copy()
    return torch.tensor(scale, dtype=torch.float32).view(1, 3, 1, 1), torch.tensor(shift, dtype=torch.float32).view(1, 3, 1, 1)


class PPOCRDet(nn.Module):
    def __init__(self, graph: OnnxGraphModule, k: float = 50.0, exportable: bool = False):
        super().__init__()
        self.graph = graph
        concats = [outs[0] for op, _, outs, attrs in graph.nodes if op == "Concat" and attrs.get("axis") == 1]
        if not concats:
            raise ConfigError("the detector graph has no channel-wise Concat (the DB neck's output)")
        self.feature_name = concats[-1]
        self.prob_name = graph.output_names[0]
        graph.fuse({self.feature_name, self.prob_name})
        with torch.no_grad():
            channels = graph(torch.zeros(1, 3, 64, 64), outputs=[self.feature_name])[self.feature_name].shape[1]
        self.thresh = _Branch(channels)
        self.k = k
        self.loss_fn = DBLoss()
        self.exportable = exportable
        scale, shift = _bgr_affine(MEAN, STD)
        self.register_buffer("in_scale", scale, persistent=False)
        self.register_buffer("in_shift", shift, persistent=False)

    def forward(self, images: torch.Tensor, targets: dict | None = None):
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
            _check_input(images)
        # channels-last: the depthwise 5x5 convolutions train ~3x faster on a CPU in that layout
        x = (images.flip(1) * self.in_scale + self.in_shift).contiguous(memory_format=torch.channels_last)
        with_thresh = self.training or targets is not None
        if not with_thresh:
            prob = self.graph(x)
            return prob if self.exportable else {"prob": prob}
        outs = self.graph(x, outputs=[self.feature_name, self.prob_name])
        prob = outs[self.prob_name]
        thresh = self.thresh(outs[self.feature_name])
        out = {"prob": prob, "thresh": thresh, "binary": torch.sigmoid(self.k * (prob.float() - thresh.float()))}
        if self.exportable:
            return prob
        if targets is not None:
            out.update(self.loss_fn(out, targets))
        return out


class PPOCRRec(nn.Module):
    """CTC recognizer: ``forward(images, targets=None)`` like ocdr's :class:`Recognizer` (CTC)."""

    prediction = "CTC"

    def __init__(self, graph: OnnxGraphModule, num_classes: int = 0, exportable: bool = False):
        super().__init__()
        nodes = graph.nodes
        if not nodes or nodes[-1][0] != "Softmax":
            raise ConfigError("the recognizer graph must end in a Softmax")
        producer = {outs[0]: (op, ins) for op, ins, outs, _ in nodes}
        op, ins = producer[nodes[-1][1][0]]
        w_name, b_name, self.feature_name = None, None, None
        if op == "Add":  # logits = MatMul(feature, W) + b
            mm, b_name = (ins[0], ins[1]) if ins[0] in producer else (ins[1], ins[0])
            op2, ins2 = producer[mm]
            if op2 == "MatMul":
                self.feature_name, w_name = ins2[0], ins2[1]
        if w_name is None:
            raise ConfigError("the recognizer graph does not end in MatMul + Add + Softmax")
        weight, bias = graph.weight_of(w_name).detach(), graph.weight_of(b_name).detach()
        head = CTCHead(weight.shape[0], weight.shape[1])  # ocdr's CTC head contract, the graph's projection
        with torch.no_grad():
            head.fc.weight.copy_(weight.t())
            head.fc.bias.copy_(bias)
        for name in (w_name, b_name):  # the projection now lives in head.fc only
            key = graph._keys.pop(name)
            if key in graph.weights:
                del graph.weights[key]
        self.projection_names = (w_name, b_name)  # where head.fc goes back into the native graph
        cut = next(i for i, (_, _, outs, _) in enumerate(nodes) if self.feature_name in outs)
        graph.nodes = nodes[:cut + 1]
        graph.output_names = [self.feature_name]
        self.graph = graph.fuse()
        self.head = head
        if num_classes and num_classes != head.fc.out_features:
            self.head = CTCHead(head.fc.in_features, num_classes)  # shapes for loading a re-headed checkpoint
        self.exportable = exportable

    def forward(self, images: torch.Tensor, targets: dict | None = None):
        if images.shape[1] != 3:
            raise ValueError(f"the PP-OCR recognizer reads 3-channel crops, got {images.shape[1]} channel(s)")
        logits = self.head(self.graph(images.flip(1).contiguous(memory_format=torch.channels_last)))
        return self.head.outputs(logits, targets, self.exportable)


def native_graph(model: nn.Module, skeleton: str = "") -> onnx.ModelProto:
    """The original PaddleOCR inference graph carrying ``model``'s current weights, for ONNX Runtime.

    ``model`` is a :class:`PPOCRDet` or :class:`PPOCRRec` (imported or fine-tuned); ``skeleton`` its
    checkpoint's ``graph`` keyword (empty: the installed wheel's file). The graph keeps PaddleOCR's input
    (BGR, (x / 255 - 0.5) / 0.5, dynamic height and width) and output (the probability map; per-step class
    probabilities); the detector's training-only threshold branch is not part of it."""
    role = "det" if isinstance(model, PPOCRDet) else "rec"
    proto = graph_from_skeleton(skeleton) if skeleton else load_onnx(wheel_model_path(role))
    values = {name: model.graph.weight_of(name) for name in model.graph._keys}
    if isinstance(model, PPOCRRec):
        w_name, b_name = model.projection_names
        values[w_name], values[b_name] = model.head.fc.weight.t(), model.head.fc.bias
    with torch.no_grad():
        for node in proto.graph.node:
            if node.op_type == "Constant" and node.output[0] in values:
                tensor = node.attribute[[a.name for a in node.attribute].index("value")].t
                arr = values[node.output[0]].detach().cpu().float().numpy().astype(np.float32)
                tensor.ClearField("float_data")
                tensor.ClearField("dims")
                tensor.dims.extend(arr.shape)
                tensor.raw_data = np.ascontiguousarray(arr).tobytes()
    return proto


@register_model
def ppocr_det(graph: str = "", k: float = 50.0, exportable: bool = False) -> PPOCRDet:
    """PP-OCRv4 mobile DBNet (``graph``: a skeleton from a checkpoint; empty: the installed wheel's file)."""
    return PPOCRDet(_graph(graph, "det"), k, exportable)


@register_model
def ppocr_rec(graph: str = "", num_classes: int = 0, input_channels: int = 3, input_height: int = 48,
              input_width: int = 320, tps: bool = False, num_fiducial: int = 20, hidden_size: int = 0,
              exportable: bool = False) -> PPOCRRec:
    """PP-OCRv4 mobile SVTR-LCNet CTC recognizer. The input keywords exist so that an OCRNet spec can name it;
    the graph fixes them (3 channels, height 48); ``num_classes`` re-sizes the classifier."""
    if input_channels != 3 or input_height != 48:
        raise ConfigError("model.backbone=PPOCRv4 reads 3-channel crops 48 pixels high: set model.input_channel=3 "
                          "model.input_height=48 (model.input_width=320)")
    if tps:
        raise ConfigError("model.TPS is not available with model.backbone=PPOCRv4")
    return PPOCRRec(_graph(graph, "rec"), num_classes, exportable)
