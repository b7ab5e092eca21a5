"""Magnitude channel pruning (detectors and recognizers), rebuilding a pruned model from its weights, measuring."""
import time

import pytest
import torch

from ocdr.models.prune import Criterion, count_flops, count_params, latency_ms, prune_model, prune_recognizer, rebuild_to
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


# ---- recognizers -------------------------------------------------------------------------------------------

def _ctc_targets(labels, num_classes):
    ids = [[1 + (ord(c) % (num_classes - 1)) for c in s] for s in labels]
    return {"ctc_targets": torch.tensor([i for seq in ids for i in seq]),
            "target_lengths": torch.tensor([len(seq) for seq in ids])}


@pytest.mark.parametrize("name,kw", [("crnn_tiny", {}), ("attn_resnet", {"output_channel": 32, "hidden_size": 16})])
def test_recognizer_prune_halves_and_rebuild_reproduces(name, kw):
    """Pruned by 0.5: far fewer parameters and FLOPs, the same output dict and shapes, and a fresh model
    rebuilt from the pruned state dict alone gives the same probabilities."""
    torch.manual_seed(0)
    model = build_model(name, num_classes=7, **kw).eval()
    x = torch.randn(2, 1, 32, 100)
    before = {k: v.shape for k, v in model(x).items()}
    params, flops = count_params(model), count_flops(model, (1, 1, 32, 100))
    prune_recognizer(model, Criterion(0.5, p=1.0, round_to=2))
    out = model(x)
    assert {k: v.shape for k, v in out.items()} == before
    assert count_params(model) < 0.6 * params and count_flops(model, (1, 1, 32, 100)) < 0.7 * flops
    fresh = rebuild_to(build_model(name, num_classes=7, **kw).eval(), model.state_dict())
    assert torch.allclose(fresh(x)["probs"], out["probs"], atol=1e-6)


def test_pruned_recognizer_trains_every_parameter():
    """A train step on the pruned CRNN (with TPS): finite loss, every remaining parameter gets a gradient."""
    torch.manual_seed(0)
    model = prune_recognizer(build_model("crnn_tiny", num_classes=7, tps=True).train(), Criterion(0.5, round_to=2))
    out = model(torch.randn(2, 1, 32, 100), _ctc_targets(["ab", "cde"], 7))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_the_strongest_lstm_units_and_conv_filters_survive():
    """crnn_tiny: the BiLSTMs have 16 units per direction, the first conv 4 filters. Make units 0..7 of the
    first LSTM's forward direction (and filters 1, 3 of the first conv) the large ones: those are kept, in order."""
    model = build_model("crnn_tiny", num_classes=7)
    rnn, conv = model.sequence[0].rnn, model.feature.net[0]
    with torch.no_grad():
        for w in (rnn.weight_ih_l0, rnn.weight_hh_l0):
            w.mul_(0.01)
            w.view(4, 16, -1)[:, :8] = 1.0
        conv.weight.mul_(0.01)
        conv.weight[[1, 3]] = 1.0
    prune_recognizer(model, Criterion(0.5, round_to=1))
    assert rnn.hidden_size == 8 and torch.all(rnn.weight_ih_l0 == 1.0) and torch.all(rnn.weight_hh_l0 == 1.0)
    assert model.sequence[0].linear.in_features == 16  # 8 forward + 8 backward units
    assert conv.out_channels == 2 and torch.all(conv.weight == 1.0)


def test_threshold_mode_drops_filters_weaker_than_a_fraction_of_the_strongest():
    """Norms 10, 1, 10, 1, ...: threshold 0.5 removes the weak half whatever their number; granularity 4
    then rounds 4 kept of 8 to 4; 0.05 removes nothing."""
    scores = torch.tensor([10.0, 1, 10, 1, 10, 1, 10, 1])
    assert Criterion(0.5, round_to=1, mode="threshold").keep(scores).tolist() == [0, 2, 4, 6]
    assert len(Criterion(0.5, round_to=4, mode="threshold").keep(scores)) == 4
    assert len(Criterion(0.05, round_to=1, mode="threshold").keep(scores)) == 8
    with pytest.raises(ValueError, match="pruning mode"):
        Criterion(0.5, mode="hybrid")
    with pytest.raises(ValueError, match="granularity"):
        Criterion(0.5, round_to=0)


def test_latency_is_the_median_after_warm_ups():
    """Two slow warm-up calls and one slow outlier among ten timed ones do not move the median."""
    delays = iter([0.2, 0.2] + [0.002] * 9 + [0.3])

    class Sleeper(torch.nn.Module):
        def forward(self, x):
            time.sleep(next(delays))
            return x

    assert 1.5 < latency_ms(Sleeper(), (1,), repeat=10, warmup=2) < 50
