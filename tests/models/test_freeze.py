"""frozen_stages on a hand-built graph: stage boundaries at downsampling, frozen weights get no gradient and
keep their values, errors for what cannot be frozen."""
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from ocdr.errors import ConfigError
from ocdr.models.freeze import depthwise_parameters, freeze_depthwise, freeze_stages, stage_parameters
from ocdr.models.imported.onnx_graph import OnnxGraphModule


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.random.default_rng(len(name)).normal(0, 0.3, shape).astype(np.float32), name)


def _graph() -> onnx.ModelProto:
    # stem (stride 2) -> relu -> conv (stride 2) -> conv (stride 1) + bias "shared" also read by the stem
    nodes = [
        helper.make_node("Conv", ["x", "w1", "shared"], ["a"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "w2"], ["c"], strides=[2, 1], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c", "w3", "shared"], ["d"], pads=[1, 1, 1, 1]),
    ]
    inits = [_w("w1", 4, 3, 3, 3), _w("w2", 4, 4, 3, 3), _w("w3", 4, 4, 3, 3), _w("shared", 4)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 8, 8])],
                              [helper.make_tensor_value_info("d", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


class _Wrapped(nn.Module):  # the imported models hold their graph as ``graph``
    def __init__(self):
        super().__init__()
        self.graph = OnnxGraphModule(_graph())

    def forward(self, x):
        return self.graph(x)


def _names(model, params) -> list[str]:
    ids = {id(p) for p in params}
    return sorted(n.split(".")[-1] for n, p in model.named_parameters() if id(p) in ids)


def test_stages_end_at_each_downsampling_and_a_shared_weight_belongs_to_its_last_reader():
    m = _Wrapped()
    stages = stage_parameters(m)
    # the stem's w1 ("shared" is read again later), then w2, w3 and shared; nothing runs before the stem
    assert [_names(m, s) for s in stages] == [["w1"], ["shared", "w2", "w3"]]


def test_frozen_stages_get_no_gradient_and_keep_their_values_and_the_output():
    m = _Wrapped()
    x = torch.randn(2, 3, 8, 8)
    before = m(x).detach()
    w1 = m.graph.weight_of("w1").detach().clone()
    report = freeze_stages(m, 1)  # the stem
    assert report == {"stages": 1, "of_stages": 2, "frozen_parameters": 4 * 3 * 3 * 3,
                      "parameters": 4 * 27 + 2 * 4 * 36 + 4}
    out = m(x)
    assert torch.equal(out, before)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    out.square().mean().backward()
    opt.step()
    assert m.graph.weight_of("w1").grad is None
    assert torch.equal(m.graph.weight_of("w1"), w1)
    for name in ("w2", "w3", "shared"):
        assert m.graph.weight_of(name).grad is not None and m.graph.weight_of(name).grad.abs().sum() > 0


def test_zero_freezes_nothing_and_bad_counts_are_errors():
    m = _Wrapped()
    assert freeze_stages(m, 0)["frozen_parameters"] == 0
    assert all(p.requires_grad for p in m.parameters())
    with pytest.raises(ConfigError, match=r"frozen_stages=2 would freeze the whole backbone: it has 2 stages"):
        freeze_stages(m, 2)
    with pytest.raises(ConfigError, match="must be 0 or more"):
        freeze_stages(m, -1)
    with pytest.raises(ConfigError, match="Linear has no stages to freeze"):
        freeze_stages(nn.Linear(2, 2), 1)


def _depthwise_graph() -> onnx.ModelProto:
    # conv 3->4, depthwise 4 (its own bias), then BN after it (folded into a _ConvBN by fuse), then a 1x1 conv
    # that also reads "shared"; "shared" is read by the depthwise conv too, so it must stay trainable
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "wd", "bd"], ["b"], group=4, pads=[2, 2, 2, 2]),
        helper.make_node("BatchNormalization", ["b", "gamma", "beta", "mean", "var"], ["c"]),
        helper.make_node("Conv", ["c", "wd2", "shared"], ["d"], group=4, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["d", "w3", "shared"], ["e"]),
    ]
    inits = [_w("w1", 4, 3, 3, 3), _w("wd", 4, 1, 5, 5), _w("bd", 4), _w("gamma", 4), _w("beta", 4),
             numpy_helper.from_array(np.zeros(4, np.float32), "mean"), numpy_helper.from_array(np.ones(4, np.float32), "var"),
             _w("wd2", 4, 1, 3, 3), _w("w3", 4, 4, 1, 1), _w("shared", 4)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 8, 8])],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("fused", [False, True])
def test_frozen_depthwise_keeps_only_the_depthwise_weights_and_the_rest_trains(fused):
    m = _Wrapped()
    m.graph = OnnxGraphModule(_depthwise_graph())
    if fused:
        m.graph.fuse()
        assert "_ConvBN" in [op for op, *_ in m.graph.nodes]
    x = torch.randn(2, 3, 8, 8)
    before = m(x).detach()
    report = freeze_depthwise(m, True)
    # wd (100), bd (4) and wd2 (36); gamma and beta (4 each) too once the batch norm is folded into the depthwise
    # conv (its kernel gradient would be needed for theirs); "shared" is also read by the 1x1 conv
    frozen = ["bd", "beta", "gamma", "wd", "wd2"] if fused else ["bd", "wd", "wd2"]
    assert report == {"frozen_parameters": 140 + 8 * fused, "parameters": 108 + 100 + 12 + 36 + 16 + 4}
    assert _names(m, depthwise_parameters(m)) == frozen
    out = m(x)
    assert torch.equal(out, before)
    out.square().mean().backward()
    for name in frozen:
        assert m.graph.weight_of(name).grad is None
    # w1 is before the frozen layers: their input gradient still flows to it
    for name in {"w1", "w3", "shared", "gamma", "beta"} - set(frozen):
        assert m.graph.weight_of(name).grad.abs().sum() > 0


def test_frozen_depthwise_on_native_convolutions_and_the_errors():
    net = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 8, 3, groups=2))
    total = sum(p.numel() for p in net.parameters())
    assert freeze_depthwise(net, False) == {"frozen_parameters": 0, "parameters": total}
    assert all(p.requires_grad for p in net.parameters())
    report = freeze_depthwise(net, True)
    assert report["frozen_parameters"] == 8 * 9 + 8  # the grouped (not depthwise) conv keeps training
    assert [p.requires_grad for p in net.parameters()] == [True, True, False, False, True, True]
    with pytest.raises(ConfigError, match="frozen_depthwise: Linear has no depthwise convolutions"):
        freeze_depthwise(nn.Linear(2, 2), True)
