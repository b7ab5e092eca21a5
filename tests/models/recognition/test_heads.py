"""Recognizer heads behind one interface: resolved once from ``model.prediction``, pluggable."""
import numpy as np
import pytest
import torch

from ocdr.data.charset import Charset
from ocdr.errors import ConfigError
from ocdr.models.recognition import heads
from ocdr.models.recognition.features import SmallCNNFeature
from ocdr.models.recognition.heads import AttentionHead, CTCHead, decode_batch, head_class
from ocdr.models.recognition.model import Recognizer
from ocdr.train.recognition import make_targets

CS = Charset(list("abc"))


def test_prediction_names_resolve_to_head_classes():
    assert head_class("CTC") is CTCHead and head_class("Attn") is AttentionHead
    assert (CTCHead.num_classes(CS), AttentionHead.num_classes(CS)) == (4, 5)  # blank + 3; GO, EOS + 3
    with pytest.raises(ConfigError, match="model.prediction: 'Transformer' is not one of CTC, Attn"):
        head_class("Transformer")


def test_ctc_targets_and_decoding_by_hand():
    t = make_targets(["ab", "c"], CS, "CTC", 5)
    assert t["ctc_targets"].tolist() == [1, 2, 3] and t["target_lengths"].tolist() == [2, 1]
    probs = np.zeros((1, 4, 4))
    probs[0, [0, 1, 2, 3], [1, 1, 0, 2]] = 1.0  # a a - b
    assert CTCHead.decode(probs, CS) == [("ab", 1.0)]
    with pytest.raises(ConfigError, match="does not export"):
        AttentionHead(8, 5, 3).outputs(torch.zeros(1, 2, 5), None, exportable=True)


def test_a_new_head_plugs_in_with_one_class_and_one_entry(monkeypatch):
    """A toy head (CTC loss on a two-layer projection) registered under a new name trains and decodes."""

    class TwoLayerCTC(CTCHead):
        name = "TwoLayer"

        def __init__(self, in_features, num_classes, max_label_length=0):
            super().__init__(in_features, num_classes)
            self.pre = torch.nn.Linear(in_features, in_features)

        def forward(self, x, targets=None):
            return self.fc(torch.relu(self.pre(x)))

    monkeypatch.setitem(heads.HEADS, "TwoLayer", TwoLayerCTC)
    model = Recognizer(SmallCNNFeature(1, 16, 4), CS.num_classes_ctc, prediction="TwoLayer", hidden_size=8).train()
    out = model(torch.randn(2, 1, 32, 100), make_targets(["ab", "c"], CS, "TwoLayer", 5))
    out["loss"].backward()
    assert model.prediction == "TwoLayer" and model.head.pre.weight.grad is not None
    assert len(decode_batch(out, CS, "TwoLayer")) == 2
