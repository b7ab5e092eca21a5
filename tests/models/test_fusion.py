"""The fusion pass: chains replaced by single operators, same values and gradients as the node-by-node run."""
import copy

import numpy as np
import pytest
import torch
import onnx
from onnx import TensorProto, helper, numpy_helper

from ocdr.models.imported.onnx_graph import OnnxGraphModule


def _const(name, value):
    arr = np.asarray(value, dtype=np.float32)
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name))


def _chain_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    c = 4
    nodes = [
        _const("w1", rng.normal(size=(c, 3, 3, 3))), _const("b1", rng.normal(size=c)),
        _const("s", [0.7]), _const("t", [0.2]), _const("three", [3.0]), _const("zero", [0.0]),
        _const("six", [6.0]), _const("one", [1.0]), _const("two", [2.0]), _const("eps", [1e-5]),
        _const("gamma", rng.normal(size=6)), _const("beta", rng.normal(size=6)),
        _const("w2", rng.normal(size=(c, c, 1, 1))), _const("bn_g", rng.uniform(0.5, 2, c)),
        _const("bn_b", rng.normal(size=c)), _const("bn_m", rng.normal(size=c)), _const("bn_v", rng.uniform(0.5, 2, c)),
        _const("s2", [1.3]), _const("t2", [-0.4]),
        # Conv -> scalar affine (ConvAffine)
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["s", "c1"], ["a1"]), helper.make_node("Add", ["a1", "t"], ["a2"]),
        # hard-swish
        helper.make_node("Add", ["a2", "three"], ["h1"]), helper.make_node("Clip", ["h1", "zero", "six"], ["h2"]),
        helper.make_node("Mul", ["a2", "h2"], ["h3"]), helper.make_node("Div", ["h3", "six"], ["h4"]),
        # scalar affine alone
        helper.make_node("Mul", ["h4", "s2"], ["f1"]), helper.make_node("Add", ["f1", "t2"], ["f2"]),
        # Conv -> BatchNormalization
        helper.make_node("Conv", ["f2", "w2"], ["c2"]),
        helper.make_node("BatchNormalization", ["c2", "bn_g", "bn_b", "bn_m", "bn_v"], ["n1"], epsilon=1e-5),
        # swish
        helper.make_node("Mul", ["n1", "one"], ["q1"]), helper.make_node("Sigmoid", ["q1"], ["q2"]),
        helper.make_node("Mul", ["n1", "q2"], ["q3"]),
        # LayerNorm over the last axis
        helper.make_node("ReduceMean", ["q3"], ["m1"], axes=[-1]), helper.make_node("Sub", ["q3", "m1"], ["d1"]),
        helper.make_node("Pow", ["d1", "two"], ["p1"]), helper.make_node("ReduceMean", ["p1"], ["v1"], axes=[-1]),
        helper.make_node("Add", ["v1", "eps"], ["v2"]), helper.make_node("Sqrt", ["v2"], ["v3"]),
        helper.make_node("Div", ["d1", "v3"], ["l1"]), helper.make_node("Mul", ["l1", "gamma"], ["l2"]),
        helper.make_node("Add", ["l2", "beta"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "chains", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 5, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, c, 5, 6])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


def _hand_computed(x: torch.Tensor, g: OnnxGraphModule) -> torch.Tensor:
    w = {k: g.weight_of(k).detach() for k in ("w1", "b1", "s", "t", "w2", "bn_g", "bn_b", "bn_m", "bn_v",
                                               "gamma", "beta", "s2", "t2")}
    a = torch.nn.functional.conv2d(x, w["w1"], w["b1"], padding=1) * w["s"] + w["t"]
    h = a * torch.clamp(a + 3, 0, 6) / 6
    f = h * w["s2"] + w["t2"]
    n = (torch.nn.functional.conv2d(f, w["w2"]) - w["bn_m"].view(1, -1, 1, 1)) / torch.sqrt(w["bn_v"] + 1e-5).view(1, -1, 1, 1)
    n = n * w["bn_g"].view(1, -1, 1, 1) + w["bn_b"].view(1, -1, 1, 1)
    q = n * torch.sigmoid(n)
    mean, var = q.mean(-1, keepdim=True), q.var(-1, unbiased=False, keepdim=True)
    return (q - mean) / torch.sqrt(var + 1e-5) * w["gamma"] + w["beta"]


def test_each_chain_becomes_one_operator_with_the_same_values():
    plain = OnnxGraphModule(_chain_model())
    fused = copy.deepcopy(plain).fuse()
    assert [n[0] for n in fused.nodes] == ["_ConvAffine", "_HardSwish", "_Affine", "_ConvBN", "_Swish", "_LayerNorm"]
    x = torch.randn(2, 3, 5, 6)
    expected = _hand_computed(x, plain)
    torch.testing.assert_close(plain(x), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fused(x), expected, atol=1e-5, rtol=1e-5)


def test_fused_gradients_match_the_node_by_node_run():
    plain = OnnxGraphModule(_chain_model())
    fused = copy.deepcopy(plain).fuse()
    x = torch.randn(2, 3, 5, 6)
    plain(x).pow(2).sum().backward()
    fused(x).pow(2).sum().backward()
    grads = dict(fused.named_parameters())
    assert grads  # the conv weights, BN scale/shift and LayerNorm weights are parameters
    for name, p in plain.named_parameters():
        torch.testing.assert_close(grads[name].grad, p.grad, atol=1e-4, rtol=1e-4, msg=name)


def test_a_value_read_elsewhere_or_kept_is_not_fused_away():
    plain = OnnxGraphModule(_chain_model())
    fused = copy.deepcopy(plain).fuse(keep={"a2", "q3"})  # the affine output and the swish output stay visible
    ops = [n[0] for n in fused.nodes]
    assert "_ConvAffine" in ops and "_LayerNorm" in ops
    x = torch.randn(2, 3, 5, 6)
    out = fused(x, outputs=["a2", "q3", "y"])
    ref = plain(x, outputs=["a2", "q3", "y"])
    for k in ref:
        torch.testing.assert_close(out[k], ref[k], atol=1e-5, rtol=1e-5)


def test_fused_ppocr_recognizer_matches_the_unfused_graph():
    pytest.importorskip("rapidocr_onnxruntime", reason="the PP-OCRv4 graphs ship in the rapidocr wheel")
    from ocdr.models.catalog import wheel_model_path
    from ocdr.models.imported.onnx_graph import load_onnx
    plain = OnnxGraphModule(load_onnx(wheel_model_path("rec")))
    fused = copy.deepcopy(plain).fuse()
    assert len(fused.nodes) < len(plain.nodes) * 0.6
    x = torch.rand(2, 3, 48, 96, generator=torch.Generator().manual_seed(0)) * 2 - 1  # an input in the model's range
    with torch.no_grad():
        a, b = plain(x), fused(x)
    # per-step class probabilities; float32 rounding of the reordered arithmetic is ~1e-6..1e-5
    assert float((a - b).abs().max()) < 2e-5
