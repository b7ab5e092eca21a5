"""Thin-plate-spline rectification (stage 1 of the four-stage recognizer, as in
deep-text-recognition-benchmark): a small CNN predicts F fiducial points on the input, and the
TPS that maps the canonical points onto them resamples the crop upright.

The localization head starts at zero weights with the canonical points as its bias, so training
begins from the identity transform.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["TPS"]


def _fiducials(n: int) -> np.ndarray:
    """Canonical fiducial points: n/2 along the top edge (y = -1) and n/2 along the bottom (y = 1)."""
    xs = np.linspace(-1.0, 1.0, n // 2)
    return np.concatenate([np.stack([xs, -np.ones_like(xs)], 1), np.stack([xs, np.ones_like(xs)], 1)])


def _rbf(d: np.ndarray) -> np.ndarray:
    return d ** 2 * np.log(d + 1e-6)


class TPS(nn.Module):
    def __init__(self, num_fiducial: int, in_channels: int, height: int, width: int):
        super().__init__()
        if num_fiducial < 4 or num_fiducial % 2:
            raise ValueError(f"num_fiducial must be an even number >= 4, got {num_fiducial}")
        self.height, self.width = height, width
        c = _fiducials(num_fiducial)
        chans = [in_channels, 64, 128, 256, 512]
        layers = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, 1, 1, bias=False), nn.BatchNorm2d(chans[i + 1]),
                       nn.ReLU(True)]
            layers.append(nn.MaxPool2d(2, 2) if i < 3 else nn.AdaptiveAvgPool2d(1))
        self.localization = nn.Sequential(*layers)
        self.fc1 = nn.Sequential(nn.Linear(512, 256), nn.ReLU(True))
        self.fc2 = nn.Linear(256, num_fiducial * 2)
        nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.from_numpy(c.reshape(-1)).float())
        # TPS solve for the canonical points (constant): P' = P_hat @ inv(delta_C) @ [C'; 0]
        n = num_fiducial
        hat_c = _rbf(np.linalg.norm(c[:, None] - c[None], axis=2) + np.eye(n))  # diagonal: log(1) = 0
        delta = np.block([[np.ones((n, 1)), c, hat_c], [np.zeros((2, 3)), c.T], [np.zeros((1, 3)), np.ones((1, n))]])
        gx = (np.arange(width) * 2 + 1) / width - 1
        gy = (np.arange(height) * 2 + 1) / height - 1
        p = np.stack(np.meshgrid(gx, gy), axis=2).reshape(-1, 2)  # (H*W, 2) x, y
        p_hat = np.concatenate([np.ones((len(p), 1)), p, _rbf(np.linalg.norm(p[:, None] - c[None], axis=2))], 1)
        self.register_buffer("inv_delta_c", torch.from_numpy(np.linalg.inv(delta)).float(), persistent=False)
        self.register_buffer("p_hat", torch.from_numpy(p_hat).float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        c_prime = self.fc2(self.fc1(self.localization(x).flatten(1))).view(b, -1, 2)
        t = torch.matmul(self.inv_delta_c, torch.cat([c_prime, torch.zeros_like(c_prime[:, :3])], 1))
        grid = torch.matmul(self.p_hat, t).view(b, self.height, self.width, 2)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
