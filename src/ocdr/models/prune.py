"""Channel pruning by filter magnitude, rebuilding a pruned model from its weights alone, and measuring it.

Only channels with one producer and known consumers are pruned, so residual additions and
concatenations keep their widths and no dependency graph is needed:

* detector (:func:`prune_model`): a ResNet block's first convolution(s) and the DB head's
  up-sampling branches;
* recognizer (:func:`prune_recognizer`): each convolution of the feature extractor whose output goes
  through channel-wise layers (BN, ReLU, pooling) into the next convolution — the last one into the
  BiLSTM — inside residual blocks too; the BiLSTMs' hidden units; the features between the BiLSTMs
  and into a CTC head. Residual-block outputs, the TPS and the classifier keep their widths.

A filter's (or LSTM unit's) importance is the Lp norm of its weights. :class:`Criterion` decides
how many of each group go: ``amount`` (that fraction, the weakest) or ``threshold`` (those whose
norm is below that fraction of the group's strongest); the kept count is rounded to a multiple of
``round_to`` (TAO's ``granularity``).

A pruned checkpoint is an ordinary state dict whose shapes differ from the builder's defaults:
:func:`rebuild_to` resizes the modules to match, so nothing but tensors is ever stored (no pickled
module, unlike a ``torch.save(model)`` graph).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from ocdr.models.backbones.resnet import BasicBlock, Bottleneck, DeformConv
from ocdr.models.recognition.heads import CTCHead
from ocdr.models.recognition.model import Recognizer

__all__ = ["Criterion", "prune_model", "prune_recognizer", "rebuild_to", "count_params", "count_flops",
           "latency_ms", "measure"]

Conv = (nn.Conv2d, nn.ConvTranspose2d)
# layers that act on each channel alone: a channel can be dropped before them and after them alike
CHANNELWISE = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardswish, nn.MaxPool2d, nn.AvgPool2d,
               nn.Dropout, nn.Identity)


@dataclass(frozen=True)
class Criterion:
    """How many filters of a group stay: ``mode="amount"`` drops the weakest ``amount`` of them;
    ``mode="threshold"`` drops those whose norm is below ``amount`` times the group's largest. The kept count is
    then rounded to a multiple of ``round_to`` (at least ``min(round_to, n)``)."""

    amount: float = 0.3
    p: float = 2.0
    round_to: int = 8
    mode: str = "amount"

    def __post_init__(self):
        if self.mode not in ("amount", "threshold"):
            raise ValueError(f"pruning mode must be amount or threshold, got '{self.mode}'")
        if self.mode == "amount" and not 0 <= self.amount < 1:
            raise ValueError(f"pruning ratio must be in [0, 1), got {self.amount}")
        if self.mode == "threshold" and not 0 <= self.amount <= 1:
            raise ValueError(f"pruning threshold must be in [0, 1], got {self.amount}")
        if self.round_to < 1:
            raise ValueError(f"pruning round_to (granularity) must be >= 1, got {self.round_to}")

    def keep(self, scores: torch.Tensor) -> torch.Tensor:
        """Ascending indices of the filters kept, the strongest by ``scores``."""
        n = len(scores)
        if self.mode == "amount":
            kept = n * (1 - self.amount)
        else:
            kept = n - int((scores < self.amount * scores.max()).sum())
        if kept >= n:  # nothing to drop: rounding must not drop channels nobody asked to remove
            return torch.arange(n)
        count = max(int(round(kept / self.round_to)) * self.round_to, min(self.round_to, n), 1)
        return torch.sort(torch.topk(scores, min(count, n)).indices).values


def _out_weight(m: nn.Module) -> torch.Tensor:
    """(out, -1) view of a producer's filters."""
    w = m.weight.detach()
    if isinstance(m, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return w.reshape(w.shape[0], -1)


def _slice_out(m: nn.Module, idx: torch.Tensor) -> None:
    if isinstance(m, nn.BatchNorm2d):
        for name in ("weight", "bias"):
            setattr(m, name, nn.Parameter(getattr(m, name).detach()[idx].clone()))
        m.running_mean = m.running_mean[idx].clone()
        m.running_var = m.running_var[idx].clone()
        m.num_features = len(idx)
        return
    dim = 1 if isinstance(m, nn.ConvTranspose2d) else 0
    m.weight = nn.Parameter(m.weight.detach().index_select(dim, idx).clone())
    if getattr(m, "bias", None) is not None:
        m.bias = nn.Parameter(m.bias.detach()[idx].clone())
    if isinstance(m, Conv):
        m.out_channels = len(idx)
    elif isinstance(m, nn.Linear):
        m.out_features = len(idx)


def _slice_in(m: nn.Module, idx: torch.Tensor) -> None:
    if isinstance(m, DeformConv):
        m.weight = nn.Parameter(m.weight.detach().index_select(1, idx).clone())
        _slice_in(m.offset, idx)
        return
    if isinstance(m, nn.LSTM):  # the first layer's input columns, in both directions
        for sfx in ("", "_reverse") if m.bidirectional else ("",):
            name = f"weight_ih_l0{sfx}"
            setattr(m, name, nn.Parameter(getattr(m, name).detach().index_select(1, idx).clone()))
        m.input_size = len(idx)
        return
    dim = 0 if isinstance(m, nn.ConvTranspose2d) else 1
    m.weight = nn.Parameter(m.weight.detach().index_select(dim, idx).clone())
    if isinstance(m, nn.Linear):
        m.in_features = len(idx)
    else:
        m.in_channels = len(idx)


def _prune_group(producer, bn, consumer, crit: Criterion) -> torch.Tensor:
    """Drop the producer's weakest output channels, in its batch norm (if any) and the consumer's inputs."""
    idx = crit.keep(_out_weight(producer).norm(p=crit.p, dim=1))
    _slice_out(producer, idx)
    if bn is not None:
        _slice_out(bn, idx)
    _slice_in(consumer, idx)
    return idx


def prune_model(model: nn.Module, ratio: float, p: float = 2.0, round_to: int = 8) -> nn.Module:
    """Prune a DBNet ``model`` in place (ResNet blocks and DB head branches) and return it."""
    crit = Criterion(ratio, p, round_to)
    for m in model.modules():
        if isinstance(m, BasicBlock):
            _prune_group(m.conv1, m.bn1, m.conv2, crit)
        elif isinstance(m, Bottleneck):
            _prune_group(m.conv1, m.bn1, m.conv2, crit)
            _prune_group(m.conv2, m.bn2, m.conv3, crit)  # conv2 may be a DeformConv
    head = getattr(model, "head", None)
    for branch in (getattr(head, "prob", None), getattr(head, "thresh", None)):
        if branch is not None:
            _prune_group(branch[0], branch[1], branch[3], crit)
            _prune_group(branch[3], branch[4], branch[6], crit)
    return model


def _conv_chains(seq: nn.Sequential):
    """(conv, batch norm, consumer) for each Conv2d + BatchNorm2d of ``seq``: the consumer is the next layer that
    is not channel-wise — a Conv2d of the same Sequential, anything else (a residual block) or None (the end)."""
    items = list(seq)
    for i, m in enumerate(items[:-1]):
        if type(m) is nn.Conv2d and m.groups == 1 and isinstance(items[i + 1], nn.BatchNorm2d):
            j = i + 2
            while j < len(items) and isinstance(items[j], CHANNELWISE):
                j += 1
            yield m, items[i + 1], items[j] if j < len(items) else None


def _prune_features(model: Recognizer, crit: Criterion) -> None:
    net = getattr(model.feature, "net", None)
    for seq in [s for s in model.feature.modules() if isinstance(s, nn.Sequential)]:
        for conv, bn, consumer in list(_conv_chains(seq)):
            if type(consumer) is nn.Conv2d and consumer.groups == 1:
                _prune_group(conv, bn, consumer, crit)
            elif consumer is None and seq is net:  # the feature map's channels: averaged over the height, into the BiLSTM
                model.feature.out_channels = len(_prune_group(conv, bn, model.sequence[0].rnn, crit))


def _gate_rows(idx: torch.Tensor, hidden: int) -> torch.Tensor:
    """Rows of an LSTM's stacked (input, forget, cell, output) gate weights that belong to units ``idx``."""
    return torch.cat([g * hidden + idx for g in range(4)])


def _unit_scores(rnn: nn.LSTM, sfx: str, p: float) -> torch.Tensor:
    """One score per hidden unit of a direction: the norm of its four gates' input and recurrent weights."""
    hidden = rnn.hidden_size
    w = torch.cat([getattr(rnn, "weight_ih" + sfx), getattr(rnn, "weight_hh" + sfx)], 1).detach()
    return w.reshape(4, hidden, -1).transpose(0, 1).reshape(hidden, -1).norm(p=p, dim=1)


def _prune_lstm_units(blstm: nn.Module, crit: Criterion) -> None:
    """Drop the weakest hidden units of a one-layer BiLSTM in each direction, and the matching inputs of the
    linear layer after it. Both directions share one hidden size, so each keeps the larger of the two counts
    the criterion gives (they differ in threshold mode)."""
    rnn, hidden = blstm.rnn, blstm.rnn.hidden_size
    scores = [_unit_scores(rnn, sfx, crit.p) for sfx in ("_l0", "_l0_reverse")]
    count = max(len(crit.keep(s)) for s in scores)
    kept = [torch.sort(torch.topk(s, count).indices).values for s in scores]
    for sfx, idx in zip(("_l0", "_l0_reverse"), kept):
        rows = _gate_rows(idx, hidden)
        setattr(rnn, "weight_ih" + sfx, nn.Parameter(getattr(rnn, "weight_ih" + sfx).detach()[rows].clone()))
        setattr(rnn, "weight_hh" + sfx, nn.Parameter(getattr(rnn, "weight_hh" + sfx).detach()[rows][:, idx].clone()))
        for name in ("bias_ih" + sfx, "bias_hh" + sfx):
            setattr(rnn, name, nn.Parameter(getattr(rnn, name).detach()[rows].clone()))
    rnn.hidden_size = count
    _slice_in(blstm.linear, torch.cat([kept[0], hidden + kept[1]]))  # its input is [forward, backward]


def prune_recognizer(model: Recognizer, crit: Criterion) -> Recognizer:
    """Prune one of ocdr's recognizers in place (see the module docstring for which channels) and return it."""
    if not isinstance(model, Recognizer):
        raise ValueError(f"channel pruning supports ocdr's Recognizer, not {type(model).__name__}")
    _prune_features(model, crit)
    stages = list(model.sequence)
    if any(s.rnn.num_layers != 1 or not s.rnn.bidirectional or s.rnn.proj_size for s in stages):
        raise ValueError("channel pruning supports one-layer bidirectional LSTMs without projections")
    for s in stages:
        _prune_lstm_units(s, crit)
    # each BiLSTM's output features feed the next one; the last one's feed a CTC head's projection (an attention
    # head mixes them into its own LSTM cell and attention scores: left whole)
    consumers = [s.rnn for s in stages[1:]] + [model.head.fc if isinstance(model.head, CTCHead) else None]
    for s, consumer in zip(stages, consumers):
        if consumer is not None:
            _prune_group(s.linear, None, consumer, crit)
    return model


def _resized(m: nn.Module, shapes: dict[str, torch.Size]) -> nn.Module:
    if isinstance(m, nn.LSTM):
        return nn.LSTM(shapes["weight_ih_l0"][1], shapes["weight_hh_l0"][1], m.num_layers, m.bias, m.batch_first,
                       m.dropout, m.bidirectional)
    w = shapes["weight"]
    if isinstance(m, nn.BatchNorm2d):
        return nn.BatchNorm2d(w[0], eps=m.eps, momentum=m.momentum)
    bias = "bias" in shapes
    if isinstance(m, nn.Linear):
        return nn.Linear(w[1], w[0], bias)
    if isinstance(m, nn.ConvTranspose2d):
        return nn.ConvTranspose2d(w[0], w[1], m.kernel_size, m.stride, m.padding, m.output_padding, m.groups, bias, m.dilation)
    return nn.Conv2d(w[1], w[0], m.kernel_size, m.stride, m.padding, m.dilation, m.groups, bias)


def _direct_shapes(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Size]:
    """Shapes of a module's own tensors (not its children's) in a state dict."""
    n = len(prefix)
    return {k[n:]: v.shape for k, v in state.items() if k.startswith(prefix) and "." not in k[n:]}


def rebuild_to(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Resize convolutions, batch norms, deformable convs, linear layers and LSTMs so ``state_dict`` loads (strict)."""
    own = model.state_dict()
    for name, module in list(model.named_modules()):
        prefix = f"{name}." if name else ""
        if not isinstance(module, (*Conv, nn.BatchNorm2d, nn.Linear, nn.LSTM, DeformConv)):
            continue
        shapes = _direct_shapes(state_dict, prefix)
        if not shapes or shapes == _direct_shapes(own, prefix):
            continue
        if isinstance(module, DeformConv):  # its offset conv is resized as a module of its own
            module.weight = nn.Parameter(torch.empty(shapes["weight"]))
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, _resized(module, shapes).train(module.training))
    model.load_state_dict(state_dict)
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, shape: tuple[int, ...] = (1, 3, 640, 640)) -> int:
    """Floating-point operations of one forward pass (PyTorch's FLOP counter; multiply-add = 2)."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(shape))
    return int(counter.get_total_flops())


def latency_ms(model: nn.Module, shape: tuple[int, ...], repeat: int = 10, warmup: int = 2) -> float:
    """Median wall time of ``repeat`` forward passes on the CPU after ``warmup`` untimed ones: a single pass
    varies by tens of per cent on a shared machine, the median of ten much less.

    Denormal floats are flushed to zero while timing: the vanishing activations of an untrained (or freshly
    pruned) network are otherwise computed several times slower, which once showed a 1.6x cut in FLOPs as a
    3.5x "speed-up"."""
    x = torch.randn(shape)
    model.eval()
    times = []
    torch.set_flush_denormal(True)
    try:
        with torch.no_grad():
            for i in range(warmup + repeat):
                start = time.perf_counter()
                model(x)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        torch.set_flush_denormal(False)  # PyTorch's default
    return 1000 * statistics.median(times)


def measure(model: nn.Module, shape: tuple[int, ...], repeat: int = 10, warmup: int = 2) -> dict:
    """Parameters, GFLOPs and median CPU latency (ms) of one forward pass on an input of ``shape``."""
    return {"params": count_params(model), "gflops": round(count_flops(model, shape) / 1e9, 4),
            "cpu_ms": round(latency_ms(model, shape, repeat, warmup), 2)}
