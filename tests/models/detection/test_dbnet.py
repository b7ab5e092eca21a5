"""DBNet: shapes, input checks, gradients, modes, a short fit, weight loading."""
import pytest
import torch
import torchvision

from ocdr.models.backbones.resnet import resnet18, resnet50
from ocdr.models.registry import build_model
from ocdr.models.weights import load_pretrained


def _targets(b, h, w, seed=0):
    """A text box in the upper middle, a random threshold map in [0.3, 0.7], nothing masked."""
    g = torch.Generator().manual_seed(seed)
    shrink = torch.zeros(b, h, w)
    shrink[:, h // 4: h // 2, w // 4: 3 * w // 4] = 1
    return {"shrink_map": shrink, "shrink_mask": torch.ones(b, h, w),
            "threshold_map": 0.3 + 0.4 * torch.rand(b, h, w, generator=g), "threshold_mask": torch.ones(b, h, w)}


@pytest.mark.parametrize("hw", [(64, 64), (96, 128)])
def test_training_outputs_are_full_resolution(hw):
    torch.manual_seed(0)
    model = build_model("dbnet_tiny").train()
    out = model(torch.randn(2, 3, *hw))
    assert set(out) == {"prob", "thresh", "binary"}
    assert out["prob"].shape == out["thresh"].shape == out["binary"].shape == (2, 1, *hw)


def test_eval_returns_the_probability_map_only():
    torch.manual_seed(0)
    model = build_model("dbnet_tiny").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 96, 128))
    assert set(out) == {"prob"} and out["prob"].shape == (1, 1, 96, 128)
    assert 0 <= float(out["prob"].min()) and float(out["prob"].max()) <= 1


def test_eval_with_targets_adds_the_loss():
    """Validation loss: targets make the eval pass compute the threshold branch and every term."""
    model = build_model("dbnet_tiny").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64), _targets(1, 64, 64))
    assert {"loss", "loss_prob", "loss_binary", "loss_thresh"} <= set(out)
    assert float(out["loss"]) == pytest.approx(
        float(out["loss_binary"] + 5 * out["loss_prob"] + 10 * out["loss_thresh"]), rel=1e-5)


def test_exportable_returns_a_tensor():
    model = build_model("dbnet_tiny", exportable=True).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 96))
    assert isinstance(out, torch.Tensor) and out.shape == (1, 1, 64, 96)


def test_input_must_be_multiple_of_32_and_4d():
    model = build_model("dbnet_tiny")
    with pytest.raises(ValueError, match="multiples of 32, got 64x70"):
        model(torch.randn(1, 3, 64, 70))
    with pytest.raises(ValueError, match=r"shape \(B, C, H, W\)"):
        model(torch.randn(3, 64, 64))


@pytest.mark.parametrize("dcn", [False, True])
def test_every_parameter_gets_a_gradient(dcn):
    """Including the zero-initialised offset convs of the deformable variant: the bilinear
    sampling has a non-zero gradient with respect to the sampling position."""
    torch.manual_seed(0)
    model = build_model("dbnet_tiny", dcn=dcn).train()
    out = model(torch.randn(2, 3, 64, 64), _targets(2, 64, 64))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    names = [name for name, _ in model.named_parameters()]
    assert any("offset" in n for n in names) == dcn
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = build_model("dbnet_tiny").train()
    x, t = torch.randn(1, 3, 64, 64), _targets(1, 64, 64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = model(x, t)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses  # seeded run: 7.16 -> 3.96


def test_load_pretrained_reports_missing_unexpected_mismatched():
    """Donor: FPN width 32 with one head tensor dropped and one extra tensor; receiver: width 16.
    The backbone (same widths) loads; the FPN laterals differ in shape."""
    torch.manual_seed(0)
    donor = build_model("dbnet_tiny", inner_channels=32)
    receiver = build_model("dbnet_tiny", inner_channels=16)
    state = dict(donor.state_dict())
    state["extra.weight"] = torch.zeros(1)
    del state["head.prob.0.weight"]
    report = load_pretrained(receiver, state)
    assert report["unexpected"] == ["extra.weight"]
    assert report["missing"] == ["head.prob.0.weight"]
    assert "neck.lateral.0.weight: file (32, 8, 1, 1) vs model (16, 8, 1, 1)" in report["mismatched"]
    assert "backbone.conv1.weight" in report["loaded"]
    assert torch.equal(receiver.backbone.conv1.weight, donor.backbone.conv1.weight)
    assert torch.equal(receiver.backbone.layer4[1].bn2.running_var, donor.backbone.layer4[1].bn2.running_var)


def test_load_pretrained_strips_a_data_parallel_prefix():
    donor, receiver = build_model("dbnet_tiny"), build_model("dbnet_tiny")
    report = load_pretrained(receiver, {f"module.{k}": v for k, v in donor.state_dict().items()})
    assert report["missing"] == report["unexpected"] == report["mismatched"] == []
    assert torch.equal(receiver.head.thresh[0].weight, donor.head.thresh[0].weight)


@pytest.mark.parametrize("ours,theirs", [(resnet18, torchvision.models.resnet18),
                                         (resnet50, torchvision.models.resnet50)])
def test_torchvision_weights_load_into_the_backbone(ours, theirs):
    """Parameter names follow torchvision: only its classifier is left over."""
    report = load_pretrained(ours(), theirs(weights=None).state_dict())
    assert report["missing"] == [] and report["mismatched"] == []
    assert report["unexpected"] == ["fc.bias", "fc.weight"]


def test_torchvision_weights_load_into_the_deformable_backbone():
    """The deformable 3x3 conv keeps the name and shape of the plain one; only the offset convs
    (stages 2-4, two blocks each) are new."""
    report = load_pretrained(resnet18(dcn=True), torchvision.models.resnet18(weights=None).state_dict())
    assert report["mismatched"] == []
    assert report["missing"] == sorted(f"layer{s}.{b}.conv2.offset.{p}" for s in (2, 3, 4) for b in (0, 1)
                                       for p in ("weight", "bias"))


def test_fpn_width_must_split_into_four_levels():
    with pytest.raises(ValueError, match="multiple of 4"):
        build_model("dbnet_tiny", inner_channels=30)
