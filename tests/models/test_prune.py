"""Magnitude channel pruning and rebuilding a pruned model from its weights."""
import pytest
import torch

from ocdr.models.prune import count_flops, count_params, prune_model, rebuild_to
from ocdr.models.registry import build_model


@pytest.mark.parametrize("kw", [{}, {"dcn": True}])
def test_prune_shrinks_and_rebuild_reproduces(kw):
    torch.manual_seed(0)
    model = build_model("dbnet_tiny", **kw).eval()
    x = torch.randn(2, 3, 64, 96)
    params, flops = count_params(model), count_flops(model, (1, 3, 64, 64))
    prune_model(model, 0.5, round_to=2)
    assert count_params(model) < 0.75 * params and count_flops(model, (1, 3, 64, 64)) < flops
    out = model(x)["prob"]
    assert out.shape == (2, 1, 64, 96)
    fresh = build_model("dbnet_tiny", **kw).eval()
    rebuild_to(fresh, model.state_dict())
    assert torch.allclose(fresh(x)["prob"], out, atol=1e-6)


def test_the_strongest_filters_survive():
    """conv1 of the first block has 8 filters; give four of them large weights: those four are kept."""
    model = build_model("dbnet_tiny")
    block = model.backbone.layer1[0]
    with torch.no_grad():
        block.conv1.weight.mul_(0.01)
        block.conv1.weight[[1, 3, 5, 7]] = 1.0
    kept_before = block.conv1.weight[[1, 3, 5, 7]].clone()
    prune_model(model, 0.5, round_to=1)
    assert block.conv1.weight.shape[0] == 4 and torch.equal(block.conv1.weight, kept_before)
    assert block.bn1.num_features == 4 and block.conv2.weight.shape[1] == 4


def test_pruned_model_trains_and_rejects_bad_ratio():
    model = prune_model(build_model("dbnet_tiny").train(), 0.3, round_to=2)
    t = {k: torch.rand(1, 64, 64) for k in ("shrink_map", "shrink_mask", "threshold_map", "threshold_mask")}
    model(torch.randn(1, 3, 64, 64), t)["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="pruning ratio"):
        prune_model(model, 1.0)
