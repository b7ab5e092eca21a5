"""OnnxGraphModule on a hand-built graph (no wheel needed): values, intermediate outputs, liveness."""
import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from ocdr.models.imported.onnx_graph import OnnxGraphModule


def _graph() -> onnx.ModelProto:
    # a = relu(x); b = a + x; c = a * b; d = c - w   (w a float weight: becomes a Parameter)
    w = numpy_helper.from_array(np.array([1.0, 2.0, 3.0], np.float32), "w")
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Add", ["a", "x"], ["b"]),
             helper.make_node("Mul", ["a", "b"], ["c"]), helper.make_node("Sub", ["c", "w"], ["d"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
                              [helper.make_tensor_value_info("d", TensorProto.FLOAT, [None, 3])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_values_match_a_hand_computation():
    g = OnnxGraphModule(_graph())
    x = torch.tensor([[-1.0, 0.5, 2.0]])
    # a = [0, .5, 2]; b = [-1, 1, 4]; c = [0, .5, 8]; d = c - [1, 2, 3] = [-1, -1.5, 5]
    assert torch.allclose(g(x), torch.tensor([[-1.0, -1.5, 5.0]]))
    inter = g(x, outputs=["a", "c"])
    assert torch.allclose(inter["a"], torch.tensor([[0.0, 0.5, 2.0]]))
    assert torch.allclose(inter["c"], torch.tensor([[0.0, 0.5, 8.0]]))
    assert [n for n, _ in g.named_parameters()] == ["weights.w"]


def test_each_value_is_dropped_after_its_last_reader():
    g = OnnxGraphModule(_graph())
    # x is last read by Add (node 1), a and b by Mul (node 2), c and w by Sub (node 3)
    assert [sorted(f) for f in g._liveness()] == [[], ["x"], ["a", "b"], ["c", "w"]]
    g.nodes = g.nodes[:3]  # cut after c, as the recognizer import cuts its graph
    g.output_names = ["c"]
    assert [sorted(f) for f in g._liveness()] == [[], ["x"], ["a", "b"]]
    assert torch.allclose(g(torch.tensor([[-1.0, 0.5, 2.0]])), torch.tensor([[0.0, 0.5, 8.0]]))


def test_requested_intermediates_survive_their_last_reader():
    g = OnnxGraphModule(_graph())
    out = g(torch.tensor([[1.0, 1.0, 1.0]]), outputs=["x", "b", "d"])
    assert torch.allclose(out["x"], torch.ones(1, 3)) and torch.allclose(out["b"], torch.full((1, 3), 2.0))
    assert torch.allclose(out["d"], torch.tensor([[1.0, 0.0, -1.0]]))


def _conv_graph() -> onnx.ModelProto:
    # y = pointwise(depthwise(x)): a 3x3 depthwise convolution (group 4) then a 1x1 one, both with weights
    rng = np.random.default_rng(0)
    dw = numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "dw")
    pw = numpy_helper.from_array(rng.normal(size=(4, 4, 1, 1)).astype(np.float32), "pw")
    nodes = [helper.make_node("Conv", ["x", "dw"], ["a"], group=4, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "pw"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4, 5, 5])], [dw, pw])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_depthwise_convolutions_stay_fp32_under_cpu_bf16_autocast():
    g = OnnxGraphModule(_conv_graph())
    x = torch.randn(2, 4, 5, 5)
    reference = g(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inter = g(x, outputs=["a", "y"])
    assert inter["a"].dtype == torch.float32  # the grouped convolution ran outside autocast
    assert inter["y"].dtype == torch.bfloat16  # the 1x1 convolution still autocasts
    assert torch.allclose(inter["a"], g(x, outputs=["a"])["a"], atol=1e-6)
    assert torch.allclose(inter["y"].float(), reference, atol=0.1, rtol=0.05)
    inter["y"].float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in g.parameters())
