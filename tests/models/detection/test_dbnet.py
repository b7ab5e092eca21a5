"""DBNet: shapes, gradients, modes, loss on hand-built cases, weight loading, ONNX parity."""
import numpy as np
import pytest
import torch
import torchvision

from ocdr.export.onnx_export import export_detector, max_abs_diff, onnxruntime_session
from ocdr.models.backbones.resnet import resnet18
from ocdr.models.detection.loss import balanced_bce, dice_loss, masked_l1
from ocdr.models.registry import build_model
from ocdr.models.weights import load_matching


def _targets(b, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    shrink = torch.zeros(b, h, w)
    shrink[:, h // 4: h // 2, w // 4: 3 * w // 4] = 1
    return {"shrink_map": shrink, "shrink_mask": torch.ones(b, h, w),
            "threshold_map": 0.3 + 0.4 * torch.rand(b, h, w, generator=g), "threshold_mask": torch.ones(b, h, w)}


@pytest.mark.parametrize("hw", [(64, 64), (96, 128)])
def test_shapes(hw):
    torch.manual_seed(0)
    model = build_model("dbnet_tiny").train()
    out = model(torch.randn(2, 3, *hw))
    assert out["prob"].shape == out["thresh"].shape == out["binary"].shape == (2, 1, *hw)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *hw))
    assert set(out) == {"prob"} and 0 <= float(out["prob"].min()) and float(out["prob"].max()) <= 1


def test_input_must_be_multiple_of_32():
    with pytest.raises(ValueError, match="multiples of 32, got 64x70"):
        build_model("dbnet_tiny")(torch.randn(1, 3, 64, 70))


@pytest.mark.parametrize("dcn", [False, True])
def test_every_parameter_gets_a_gradient(dcn):
    torch.manual_seed(0)
    model = build_model("dbnet_tiny", dcn=dcn).train()
    out = model(torch.randn(2, 3, 64, 64), _targets(2, 64, 64))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if "offset" not in name:  # zero-initialised offsets get gradient, possibly all zero at step 0
            assert p.grad.abs().sum() > 0, name


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = build_model("dbnet_tiny").train()
    x, t = torch.randn(2, 3, 64, 64), _targets(2, 64, 64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = model(x, t)["loss"]
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0]


def test_ohem_balanced_bce_by_hand():
    """2 positives predicted at 0.5, 8 negatives: OHEM keeps the 6 hardest (3 x 2) negatives, the ones
    predicted at 0.9 (4 of them) and 0.5 (2 of the 4). Loss = (2 ln2 + 4 ln10 + 2 ln2) / 8."""
    pred = torch.tensor([0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5])
    gt = torch.tensor([1.0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    expected = (4 * np.log(2) + 4 * np.log(10)) / 8
    assert float(balanced_bce(pred, gt, torch.ones(10))) == pytest.approx(expected, rel=1e-4)


def test_dice_and_l1_on_a_perfect_prediction():
    gt = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert float(dice_loss(gt, gt, torch.ones(2, 2))) == pytest.approx(0, abs=1e-5)
    assert float(masked_l1(gt, gt + 1, torch.tensor([[1.0, 0], [0, 0]]))) == pytest.approx(1.0, abs=1e-5)


def test_load_matching_reports_missing_unexpected_mismatched():
    a = build_model("dbnet_tiny", inner_channels=32)
    b = build_model("dbnet_tiny", inner_channels=16)
    state = dict(a.state_dict())
    state["extra.weight"] = torch.zeros(1)
    del state["head.prob.0.weight"]
    report = load_matching(b, state)
    assert report["unexpected"] == ["extra.weight"]
    assert "head.prob.0.weight" in report["missing"]
    assert any(m.startswith("neck.lateral.0.weight") for m in report["mismatched"])
    assert torch.equal(b.backbone.conv1.weight, a.backbone.conv1.weight)


def test_torchvision_resnet18_weights_load_into_the_backbone():
    tv = torchvision.models.resnet18(weights=None).state_dict()
    report = load_matching(resnet18(), tv)
    assert report["missing"] == [] and report["mismatched"] == []
    assert report["unexpected"] == ["fc.bias", "fc.weight"]


@pytest.mark.parametrize("dcn,opset", [(False, 17), (True, 17)])
def test_onnx_parity_random_and_other_sizes(tmp_path, dcn, opset):
    """ONNX Runtime equals PyTorch within 1e-4 (max abs) at the export size and at other sizes and
    batch sizes (dynamic axes); the deformable variant goes through the grid_sample decomposition."""
    torch.manual_seed(0)
    model = build_model("dbnet_tiny", dcn=dcn)
    if dcn:  # make the offsets matter: random non-zero offsets and masks
        for name, p in model.named_parameters():
            if "offset" in name:
                torch.nn.init.normal_(p, std=0.3)
    model.eval()
    path = export_detector(model, tmp_path / "det.onnx", opset=opset)
    session = onnxruntime_session(path)
    rng = np.random.default_rng(0)
    for shape in [(1, 3, 64, 96), (2, 3, 96, 64), (1, 3, 128, 128)]:
        x = rng.standard_normal(shape).astype(np.float32)
        assert max_abs_diff(model, session, x) < 1e-4, shape
