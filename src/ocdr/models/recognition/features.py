"""Feature extractors (stage 2): image (B, C, H, W) -> feature map (B, D, h, T) with T columns.

* ``ResNetFeature``: the ResNet of TAO OCRNet / deep-text-recognition-benchmark (blocks [1, 2, 5, 3],
  512 channels; a 32 x 100 input gives 26 columns).
* ``SmallCNNFeature``: a compact VGG-style net, several times faster on a CPU.
* ``ViTFeature``: patch embedding + a transformer encoder (64 x 200 input by default).
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["ResNetFeature", "SmallCNNFeature", "ViTFeature"]


def _cbr(i: int, o: int, k=3, s=1, p=1) -> list[nn.Module]:
    return [nn.Conv2d(i, o, k, s, p, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


class _Block(nn.Module):
    def __init__(self, i: int, o: int):
        super().__init__()
        self.body = nn.Sequential(*_cbr(i, o), nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o))
        self.skip = None if i == o else nn.Sequential(nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + (x if self.skip is None else self.skip(x)))


class ResNetFeature(nn.Module):
    def __init__(self, in_channels: int = 1, out_channels: int = 512, blocks=(1, 2, 5, 3)):
        super().__init__()
        o = out_channels
        widths = [o // 4, o // 2, o, o]

        def stage(i, w, n):
            return [_Block(i, w)] + [_Block(w, w) for _ in range(n - 1)]
        self.net = nn.Sequential(
            *_cbr(in_channels, o // 16), *_cbr(o // 16, o // 8),
            nn.MaxPool2d(2, 2), *stage(o // 8, widths[0], blocks[0]), *_cbr(widths[0], widths[0]),
            nn.MaxPool2d(2, 2), *stage(widths[0], widths[1], blocks[1]), *_cbr(widths[1], widths[1]),
            nn.MaxPool2d(2, (2, 1), (0, 1)), *stage(widths[1], widths[2], blocks[2]), *_cbr(widths[2], widths[2]),
            *stage(widths[2], widths[3], blocks[3]),
            *_cbr(widths[3], widths[3], 2, (2, 1), (0, 1)), *_cbr(widths[3], widths[3], 2, 1, 0))
        self.out_channels = o

    def forward(self, x):
        return self.net(x)


class SmallCNNFeature(nn.Module):
    def __init__(self, in_channels: int = 1, out_channels: int = 256, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            *_cbr(in_channels, w), nn.MaxPool2d(2, 2),
            *_cbr(w, 2 * w), nn.MaxPool2d(2, 2),
            *_cbr(2 * w, 4 * w), *_cbr(4 * w, 4 * w), nn.MaxPool2d((2, 1), (2, 1)),
            *_cbr(4 * w, out_channels), nn.MaxPool2d((2, 1), (2, 1)),
            *_cbr(out_channels, out_channels, 2, 1, 0))
        self.out_channels = out_channels

    def forward(self, x):
        return self.net(x)


class ViTFeature(nn.Module):
    """Patches of ``patch`` (h, w) pixels -> tokens -> transformer; output (B, dim, rows, cols)."""

    def __init__(self, in_channels: int = 1, height: int = 64, width: int = 200, dim: int = 192, depth: int = 6,
                 heads: int = 3, patch: tuple[int, int] = (8, 4)):
        super().__init__()
        if height % patch[0] or width % patch[1]:
            raise ValueError(f"input {height}x{width} is not a multiple of the patch {patch}")
        self.grid = (height // patch[0], width // patch[1])
        self.embed = nn.Conv2d(in_channels, dim, patch, patch)
        self.pos = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1], dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 4, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out_channels = dim

    def forward(self, x):
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        tokens = self.norm(self.encoder(tokens))
        b, _, d = tokens.shape
        return tokens.transpose(1, 2).reshape(b, d, *self.grid)
