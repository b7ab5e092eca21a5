"""Sequence modelling (stage 3) and prediction (stage 4): BiLSTM, CTC and attention decoders."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ocdr.data.charset import Charset
from ocdr.errors import ConfigError
from ocdr.models.recognition.decode import ctc_greedy_decode, read_confidence

__all__ = ["BidirectionalLSTM", "RecognizerHead", "CTCHead", "AttentionHead", "HEADS", "head_class", "ctc_loss", "decode_batch"]


class BidirectionalLSTM(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(hidden_size * 2, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rnn(x)[0])


class RecognizerHead(nn.Module):
    """What varies between recognizer heads, in one interface (a new head is one subclass plus one entry in
    ``HEADS``): the number of classes a character set needs, how labels become training targets, the logits
    (``forward``), the loss, decoding to text, and the tensors an ONNX export returns."""

    name = ""
    exportable = False  # whether ``export_outputs`` gives ONNX-ready tensors

    @staticmethod
    def num_classes(charset: Charset) -> int:
        raise NotImplementedError

    @staticmethod
    def encode_targets(labels: list[str], charset: Charset, max_len: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, targets: dict) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def decode(probs: np.ndarray, charset: Charset) -> list[tuple[str, float]]:
        raise NotImplementedError

    def outputs(self, logits: torch.Tensor, targets: dict | None, exportable: bool):
        """The model's return value: ``(output_id, output_prob)`` when exporting, else the dict with
        ``logits``, ``probs`` and, given targets, ``loss``."""
        probs = torch.softmax(logits, dim=-1)
        if exportable:
            if not self.exportable:
                raise ConfigError(f"a {self.name} head does not export to ONNX")
            prob, ids = probs.max(dim=-1)
            return ids, prob
        out = {"logits": logits, "probs": probs}
        if targets is not None:
            out["loss"] = self.loss(logits, targets)
        return out


class CTCHead(RecognizerHead):
    """A linear projection per time step; CTC loss and best-path decoding (blank = class 0)."""

    name = "CTC"
    exportable = True

    def __init__(self, in_features: int, num_classes: int, max_label_length: int = 0):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor, targets: dict | None = None) -> torch.Tensor:
        return self.fc(x)

    @staticmethod
    def num_classes(charset: Charset) -> int:
        return charset.num_classes_ctc

    @staticmethod
    def encode_targets(labels: list[str], charset: Charset, max_len: int) -> dict[str, torch.Tensor]:
        """Concatenated ids + lengths (the form ``F.ctc_loss`` takes)."""
        ids = [charset.encode_ctc(s) for s in labels]
        return {"ctc_targets": torch.tensor([i for seq in ids for i in seq], dtype=torch.long),
                "target_lengths": torch.tensor([len(seq) for seq in ids], dtype=torch.long)}

    def loss(self, logits: torch.Tensor, targets: dict) -> torch.Tensor:
        return ctc_loss(logits, targets)

    @staticmethod
    def decode(probs: np.ndarray, charset: Charset) -> list[tuple[str, float]]:
        return [(text, conf) for text, conf, _ in ctc_greedy_decode(probs, charset)]


def ctc_loss(logits: torch.Tensor, targets: dict) -> torch.Tensor:
    """CTC loss of (B, T, C) logits, every sequence using all T steps; blank is class 0."""
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # (T, B, C)
    t, b = log_probs.shape[:2]
    lengths = torch.full((b,), t, dtype=torch.long, device=logits.device)
    return F.ctc_loss(log_probs, targets["ctc_targets"], lengths, targets["target_lengths"], blank=0,
                      zero_infinity=True)


class AttentionHead(RecognizerHead):
    """Bahdanau attention over the sequence, an LSTM cell fed the previous character (GO first).

    Class 0 is GO, class 1 is EOS (see ``ocdr.data.charset.Charset``). Training uses teacher
    forcing; inference decodes greedily for ``max_label_length + 1`` steps.
    """

    def __init__(self, in_features: int, num_classes: int, max_label_length: int = 25, hidden_size: int | None = None):
        super().__init__()
        hidden_size = hidden_size or in_features
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

    name = "Attn"

    def forward(self, feats: torch.Tensor, targets: dict | None = None) -> torch.Tensor:
        """Logits (B, steps, C); in training, ``targets["attn_targets"]`` (ids ending in EOS) switch on teacher
        forcing."""
        targets = targets["attn_targets"] if targets is not None and self.training else None
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

    @staticmethod
    def num_classes(charset: Charset) -> int:
        return charset.num_classes_attn

    @staticmethod
    def encode_targets(labels: list[str], charset: Charset, max_len: int) -> dict[str, torch.Tensor]:
        """(B, max_len + 1) ids ending in EOS, and the lengths (characters + EOS)."""
        enc = [charset.encode_attn(s, max_len) for s in labels]
        return {"attn_targets": torch.tensor([e[0] for e in enc], dtype=torch.long),
                "target_lengths": torch.tensor([e[1] for e in enc], dtype=torch.long)}

    def loss(self, logits: torch.Tensor, targets: dict) -> torch.Tensor:
        """Cross-entropy over the label's steps and its EOS; later steps are ignored."""
        gold = targets["attn_targets"][:, : logits.shape[1]]
        steps = torch.arange(gold.shape[1], device=gold.device)[None]
        gold = gold.masked_fill(steps >= targets["target_lengths"][:, None], -100)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), gold.reshape(-1), ignore_index=-100)

    @staticmethod
    def decode(probs: np.ndarray, charset: Charset) -> list[tuple[str, float]]:
        """Greedy: the most probable class per step up to EOS; confidence :func:`read_confidence` of the steps
        that emitted a character (as for CTC: one threshold fits both heads)."""
        result = []
        for seq, p in zip(probs.argmax(-1), probs.max(-1)):
            eos = np.flatnonzero(seq == charset.EOS)
            n = int(eos[0]) if len(eos) else len(seq)
            emitted = seq[:n] != charset.GO  # a stray GO is skipped by decode_attn too
            result.append((charset.decode_attn(seq.tolist()), read_confidence(p[:n][emitted])))
        return result


HEADS: dict[str, type[RecognizerHead]] = {"CTC": CTCHead, "Attn": AttentionHead}


def head_class(prediction: str) -> type[RecognizerHead]:
    """The head a ``model.prediction`` value names: the one place the string is resolved."""
    if prediction not in HEADS:
        raise ConfigError(f"model.prediction: '{prediction}' is not one of {', '.join(HEADS)}")
    return HEADS[prediction]


def decode_batch(out: dict, charset: Charset, prediction: str) -> list[tuple[str, float]]:
    """(text, confidence) per sample from a model's eval output, by its head's own decoding."""
    return head_class(prediction).decode(out["probs"].detach().float().cpu().numpy(), charset)
