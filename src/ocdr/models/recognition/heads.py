"""Sequence modelling (stage 3) and prediction (stage 4): BiLSTM, CTC and attention decoders."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["BidirectionalLSTM", "CTCHead", "AttentionHead"]


class BidirectionalLSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(hidden_size * 2, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rnn(x)[0])


class CTCHead(nn.Module):
    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class AttentionHead(nn.Module):
    """Bahdanau attention over the sequence, an LSTM cell fed the previous character (GO first).

    Class 0 is GO, class 1 is EOS (see ``ocdr.data.charset.Charset``). Training uses teacher
    forcing; inference decodes greedily for ``max_label_length + 1`` steps.
    """

    def __init__(self, in_features: int, hidden_size: int, num_classes: int, max_label_length: int):
        super().__init__()
        self.num_classes, self.max_steps, self.hidden_size = num_classes, max_label_length + 1, hidden_size
        self.i2h = nn.Linear(in_features, hidden_size, bias=False)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)
        self.rnn = nn.LSTMCell(in_features + num_classes, hidden_size)
        self.generator = nn.Linear(hidden_size, num_classes)

    def _step(self, feats, feats_proj, state, prev_ids):
        e = self.score(torch.tanh(feats_proj + self.h2h(state[0]).unsqueeze(1)))
        alpha = torch.softmax(e, dim=1)
        context = torch.bmm(alpha.transpose(1, 2), feats).squeeze(1)
        onehot = F.one_hot(prev_ids, self.num_classes).to(feats.dtype)
        h, c = self.rnn(torch.cat([context, onehot], 1), state)
        return self.generator(h), (h, c)

    def forward(self, feats: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, steps, C); ``targets`` (B, steps) ids ending in EOS switch on teacher forcing."""
        b = feats.shape[0]
        feats_proj = self.i2h(feats)
        state = (feats.new_zeros(b, self.hidden_size), feats.new_zeros(b, self.hidden_size))
        prev = torch.zeros(b, dtype=torch.long, device=feats.device)  # GO
        steps = targets.shape[1] if targets is not None else self.max_steps
        logits = []
        for i in range(steps):
            out, state = self._step(feats, feats_proj, state, prev)
            logits.append(out)
            prev = targets[:, i] if targets is not None else out.argmax(1)
        return torch.stack(logits, 1)
