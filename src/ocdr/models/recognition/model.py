"""The recognizer in four explicit stages: [TPS] -> features -> BiLSTM -> CTC | attention.

``forward(images, targets=None) -> dict`` with ``logits`` (B, T, C) and ``probs`` (softmax) always,
and ``loss`` when targets are given:

* CTC: ``targets = {"ctc_targets": (sum of lengths,) long, "target_lengths": (B,) long}`` — the
  concatenated form ``F.ctc_loss`` takes; blank is class 0.
* attention: ``targets = {"attn_targets": (B, max_len + 1) long}``, each row the label's ids then
  EOS (class 1) padding, and ``target_lengths`` (characters + EOS): cross-entropy over those steps.

``exportable=True`` makes forward return ``(output_id, output_prob)``: per-step argmax and its
probability (TAO OCRNet's ONNX outputs).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ocdr.models.recognition.features import ResNetFeature, SmallCNNFeature, ViTFeature
from ocdr.models.recognition.heads import BidirectionalLSTM, head_class
from ocdr.models.recognition.tps import TPS
from ocdr.models.registry import register_model

__all__ = ["Recognizer"]


class Recognizer(nn.Module):
    def __init__(self, feature: nn.Module, num_classes: int, prediction: str = "CTC", hidden_size: int = 256,
                 tps: nn.Module | None = None, max_label_length: int = 25, exportable: bool = False):
        super().__init__()
        self.tps = tps
        self.feature = feature
        d = feature.out_channels
        self.sequence = nn.Sequential(BidirectionalLSTM(d, hidden_size, hidden_size),
                                      BidirectionalLSTM(hidden_size, hidden_size, hidden_size))
        self.head = head_class(prediction)(hidden_size, num_classes, max_label_length)  # resolved once, here
        self.prediction = self.head.name
        self.exportable = exportable

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        x = self.tps(images) if self.tps is not None else images
        x = self.feature(x).mean(dim=2).transpose(1, 2)  # average over the height: (B, T, D), one vector per column
        return self.sequence(x)

    def forward(self, images: torch.Tensor, targets: dict | None = None):
        logits = self.head(self.encode(images), targets)
        return self.head.outputs(logits, targets, self.exportable)


def _recognizer(feature: nn.Module, num_classes: int, prediction: str, input_channels: int, input_height: int,
                input_width: int, tps: bool, num_fiducial: int, hidden_size: int, max_label_length: int = 25) -> Recognizer:
    rectifier = TPS(num_fiducial, input_channels, input_height, input_width) if tps else None
    return Recognizer(feature, num_classes, prediction, hidden_size, rectifier, max_label_length)


@register_model
def crnn_resnet(num_classes: int, input_channels: int = 1, input_height: int = 32, input_width: int = 100,
                tps: bool = False, num_fiducial: int = 20, hidden_size: int = 256, output_channel: int = 512) -> Recognizer:
    """TAO OCRNet's default: [TPS] + ResNet + BiLSTM + CTC."""
    return _recognizer(ResNetFeature(input_channels, output_channel), num_classes, "CTC", input_channels,
                       input_height, input_width, tps, num_fiducial, hidden_size)


@register_model
def attn_resnet(num_classes: int, input_channels: int = 1, input_height: int = 32, input_width: int = 100,
                tps: bool = False, num_fiducial: int = 20, hidden_size: int = 256, max_label_length: int = 25,
                output_channel: int = 512) -> Recognizer:
    """[TPS] + ResNet + BiLSTM + attention (classes: GO, EOS, characters)."""
    return _recognizer(ResNetFeature(input_channels, output_channel), num_classes, "Attn", input_channels,
                       input_height, input_width, tps, num_fiducial, hidden_size, max_label_length)


@register_model
def crnn_small(num_classes: int, input_channels: int = 1, input_height: int = 32, input_width: int = 100,
               tps: bool = False, num_fiducial: int = 20, hidden_size: int = 128, width: int = 32) -> Recognizer:
    """A fast CPU model: VGG-style CNN + BiLSTM(128) + CTC."""
    return _recognizer(SmallCNNFeature(input_channels, 8 * width, width), num_classes, "CTC", input_channels,
                       input_height, input_width, tps, num_fiducial, hidden_size)


@register_model
def vit_ctc(num_classes: int, input_channels: int = 1, input_height: int = 64, input_width: int = 200,
            tps: bool = False, num_fiducial: int = 20, hidden_size: int = 256, dim: int = 192, depth: int = 6,
            heads: int = 3) -> Recognizer:
    """A small ViT encoder (8 x 4 patches) + BiLSTM + CTC, on 64 x 200 inputs."""
    return _recognizer(ViTFeature(input_channels, input_height, input_width, dim, depth, heads), num_classes, "CTC",
                       input_channels, input_height, input_width, tps, num_fiducial, hidden_size)


@register_model
def crnn_tiny(num_classes: int, input_channels: int = 1, input_height: int = 32, input_width: int = 100,
              tps: bool = False, num_fiducial: int = 4, hidden_size: int = 16, width: int = 4) -> Recognizer:
    """A few thousand parameters: for tests."""
    return _recognizer(SmallCNNFeature(input_channels, 8 * width, width), num_classes, "CTC", input_channels,
                       input_height, input_width, tps, num_fiducial, hidden_size)
