"""Head surgery for a new character list: shared rows are kept exactly, new rows are new."""
import torch

from ocdr.data.charset import Charset, remap_rows
from ocdr.models.recognition.surgery import head_surgery
from ocdr.models.registry import build_model


def test_shared_rows_kept_new_rows_initialised():
    torch.manual_seed(0)
    old, new = Charset(list("abc")), Charset(list("bcxy"))
    model = build_model("crnn_tiny", num_classes=old.num_classes_ctc)
    before_w = model.head.fc.weight.detach().clone()
    before_b = model.head.fc.bias.detach().clone()
    pairs = remap_rows(old, new)
    assert sorted(pairs) == [(0, 0), (2, 1), (3, 2)]  # blank, b, c
    head_surgery(model, pairs, new.num_classes_ctc)
    w, b = model.head.fc.weight.detach(), model.head.fc.bias.detach()
    assert w.shape[0] == new.num_classes_ctc == 5
    for o, n in pairs:
        assert torch.equal(w[n], before_w[o]) and b[n] == before_b[o]
    for n in (3, 4):  # x, y: fresh
        assert w[n].abs().max() < 0.2 and b[n] == 0
    out = model(torch.randn(1, 1, 32, 100))
    assert out["logits"].shape[-1] == 5
