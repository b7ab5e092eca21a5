"""Recognizers: every builder's shapes, gradients everywhere, learning, attention decoding, ONNX parity."""
import numpy as np
import pytest
import torch

from ocdr.data.charset import Charset
from ocdr.export.onnx_export import export_recognizer, onnxruntime_session, recognizer_parity
from ocdr.models.registry import build_model

TINY = {
    "crnn_resnet": ({"output_channel": 32, "hidden_size": 16}, (1, 32, 100), 26),
    "attn_resnet": ({"output_channel": 32, "hidden_size": 16, "max_label_length": 6}, (1, 32, 100), 7),
    "crnn_small": ({"width": 4, "hidden_size": 16}, (1, 32, 100), 24),
    "vit_ctc": ({"dim": 32, "depth": 1, "heads": 2, "hidden_size": 16}, (1, 64, 200), 50),
    "crnn_tiny": ({"tps": True}, (1, 32, 100), 24),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_shapes(name):
    kw, shape, steps = TINY[name]
    model = build_model(name, num_classes=12, input_height=shape[1], input_width=shape[2], **kw).eval()
    with torch.no_grad():
        out = model(torch.randn(3, *shape))
    assert out["logits"].shape == (3, steps, 12) and steps >= 6
    assert torch.allclose(out["probs"].sum(-1), torch.ones(3, steps), atol=1e-5)


def _ctc_targets(charset, labels):
    ids = [charset.encode_ctc(s) for s in labels]
    return {"ctc_targets": torch.tensor([i for s in ids for i in s]), "target_lengths": torch.tensor([len(s) for s in ids])}


def _attn_targets(charset, labels, max_len):
    enc = [charset.encode_attn(s, max_len) for s in labels]
    return {"attn_targets": torch.tensor([e[0] for e in enc]), "target_lengths": torch.tensor([e[1] for e in enc])}


@pytest.mark.parametrize("name", ["crnn_tiny", "attn_resnet", "vit_ctc"])
def test_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    kw, shape, _ = TINY[name]
    charset = Charset(list("abc "))
    attn = name.startswith("attn")
    classes = charset.num_classes_attn if attn else charset.num_classes_ctc
    model = build_model(name, num_classes=classes, input_height=shape[1], input_width=shape[2], **kw).train()
    labels = ["ab c", "ca"]
    targets = _attn_targets(charset, labels, 6) if attn else _ctc_targets(charset, labels)
    out = model(torch.randn(2, *shape), targets)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def _overfit(model, targets, x, steps=30):
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = model(x, targets)["loss"]
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_ctc_learns_two_samples():
    torch.manual_seed(0)
    charset = Charset(list("abc"))
    model = build_model("crnn_small", num_classes=charset.num_classes_ctc, width=8, hidden_size=32).train()
    x = torch.randn(2, 1, 32, 100)
    losses = _overfit(model, _ctc_targets(charset, ["abc", "cab"]), x, 40)
    assert losses[-1] < 0.5 * losses[0]


def test_attention_learns_and_decodes_greedily():
    torch.manual_seed(0)
    charset = Charset(list("abc"))
    model = build_model("attn_resnet", num_classes=charset.num_classes_attn, output_channel=32, hidden_size=32,
                        max_label_length=5).train()
    x = torch.randn(2, 1, 32, 100)
    targets = _attn_targets(charset, ["abc", "cab"], 5)
    losses = _overfit(model, targets, x, 80)
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out["logits"].shape == (2, 6, charset.num_classes_attn)  # max_label_length + 1 steps, no teacher
    decoded = [charset.decode_attn(row.tolist()) for row in out["probs"].argmax(-1)]
    assert decoded == ["abc", "cab"]


@pytest.mark.parametrize("name", ["crnn_tiny", "crnn_small"])
def test_onnx_parity(tmp_path, name):
    torch.manual_seed(0)
    charset = Charset(list("abc "))
    kw = {"width": 4, "hidden_size": 16} if name == "crnn_small" else {"tps": True}
    model = build_model(name, num_classes=charset.num_classes_ctc, **kw).eval()
    geometry = {"height": 32, "width": 100, "channels": 1, "keep_aspect_ratio": False, "prediction": "CTC"}
    path = export_recognizer(model, tmp_path / "rec.onnx", charset, geometry)
    session = onnxruntime_session(path)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["character"] == "a\nb\nc\n "
    for batch in (1, 5):
        images = np.random.default_rng(batch).uniform(-1, 1, (batch, 1, 32, 100)).astype(np.float32)
        diff, same = recognizer_parity(model, session, images)
        assert diff < 1e-4 and same


def test_a_dynamic_width_export_reads_any_width_and_records_it(tmp_path):
    """A model trained at its crops' own widths exports with the width as a graph axis and keeps reading
    that way (it used to be read fitted into a square of the height)."""
    import json

    from ocdr.models.settings import recognizer_settings_from_json, trained_settings
    from ocdr.serve.triton import TritonSpec, recognizer_config

    torch.manual_seed(0)
    charset = Charset(list("abc "))
    model = build_model("crnn_small", num_classes=charset.num_classes_ctc, width=4, hidden_size=16).eval()
    spec = {"model": {"input_height": 32, "input_width": 160, "input_channel": 1, "keep_aspect_ratio": True,
                      "pad": "edge", "prediction": "CTC", "dynamic_width": True}, "train": {"batch_size": 16}}
    settings = trained_settings("recognizer", "crnn_small", spec)
    geometry = {"height": 32, "width": 160, "channels": 1, "keep_aspect_ratio": True, "prediction": "CTC"}
    session = onnxruntime_session(export_recognizer(model, tmp_path / "rec.onnx", charset, geometry,
                                                    settings=settings))
    meta = session.get_modelmeta().custom_metadata_map
    read = recognizer_settings_from_json(meta["ocdr_inference"])
    assert read.dynamic_width and (read.width, read.max_width, read.batch_size) == (32, 160, 16)
    for width in (40, 96, 160):
        images = np.random.default_rng(width).uniform(-1, 1, (3, 1, 32, width)).astype(np.float32)
        diff, same = recognizer_parity(model, session, images)
        assert diff < 1e-4 and same
    assert "dims: [ 1, 32, -1 ]" in recognizer_config(TritonSpec(), json.loads(meta["ocdr_input"]))
