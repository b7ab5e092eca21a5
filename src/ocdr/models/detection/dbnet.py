"""DBNet: ResNet backbone -> FPN neck -> DB head (probability, threshold, approximate binary maps)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ocdr.models.backbones.resnet import resnet18, resnet50
from ocdr.models.detection.loss import DBLoss
from ocdr.models.registry import register_model

__all__ = ["DBNet", "FPN", "DBHead"]


def _conv_bn_relu(in_ch: int, out_ch: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, k, padding=k // 2, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class FPN(nn.Module):
    """Lateral 1x1 convs, top-down sum, 3x3 smoothing; all levels at 1/4 concatenated to ``inner``."""

    def __init__(self, in_channels: list[int], inner: int = 256):
        super().__init__()
        if inner % 4:
            raise ValueError(f"FPN inner_channels must be a multiple of 4 (four levels of inner/4), got {inner}")
        quarter = inner // 4
        self.lateral = nn.ModuleList(nn.Conv2d(c, inner, 1, bias=False) for c in in_channels)
        self.smooth = nn.ModuleList(_conv_bn_relu(inner, quarter) for _ in in_channels)
        self.out_channels = quarter * len(in_channels)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        lat = [lateral(f) for lateral, f in zip(self.lateral, feats)]
        for i in range(len(lat) - 1, 0, -1):
            lat[i - 1] = lat[i - 1] + F.interpolate(lat[i], size=lat[i - 1].shape[-2:], mode="nearest")
        size = lat[0].shape[-2:]
        outs = [F.interpolate(s(x), size=size, mode="nearest") if i else s(x)
                for i, (s, x) in enumerate(zip(self.smooth, lat))]
        return torch.cat(outs, dim=1)


class _Branch(nn.Sequential):
    """conv3x3-BN-ReLU, deconv x2-BN-ReLU, deconv x2, sigmoid: 1/4 resolution -> full."""

    def __init__(self, in_ch: int):
        mid = max(in_ch // 4, 4)
        super().__init__(
            nn.Conv2d(in_ch, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(mid, mid, 2, 2), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(mid, 1, 2, 2), nn.Sigmoid())


class DBHead(nn.Module):
    """Probability and threshold branches; the approximate binary map ties them together.

    The binary map is the paper's 1 / (1 + exp(-k (P - T))), computed as ``sigmoid(k (P - T))``
    in float32: the same value, but its gradient stays finite where exp(k) would overflow half
    precision under mixed-precision training.
    """

    def __init__(self, in_ch: int, k: float = 50.0):
        super().__init__()
        self.k = k
        self.prob = _Branch(in_ch)
        self.thresh = _Branch(in_ch)

    def forward(self, x: torch.Tensor, with_thresh: bool) -> dict[str, torch.Tensor]:
        prob = self.prob(x)
        if not with_thresh:
            return {"prob": prob}
        thresh = self.thresh(x)
        binary = torch.sigmoid(self.k * (prob.float() - thresh.float()))
        return {"prob": prob, "thresh": thresh, "binary": binary}


class DBNet(nn.Module):
    """``forward(images, targets=None) -> dict``: ``prob`` always; ``thresh``/``binary`` in training;
    ``loss`` and its parts when targets are given. ``exportable=True`` returns the prob tensor only."""

    def __init__(self, backbone: nn.Module, inner_channels: int = 256, k: float = 50.0, exportable: bool = False):
        super().__init__()
        self.backbone = backbone
        self.neck = FPN(backbone.out_channels, inner_channels)
        self.head = DBHead(self.neck.out_channels, k)
        self.loss_fn = DBLoss()
        self.exportable = exportable

    def forward(self, images: torch.Tensor, targets: dict | None = None):
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
            _check_input(images)
        out = self.head(self.neck(self.backbone(images)), with_thresh=self.training or targets is not None)
        if self.exportable:
            return out["prob"]
        if targets is not None:
            out.update(self.loss_fn(out, targets))
        return out


def _check_input(images: torch.Tensor) -> None:
    # The FPN adds maps of strides 4..32; other sizes would misalign them by a pixel.
    if images.ndim != 4:
        raise ValueError(f"DBNet expects images of shape (B, C, H, W), got {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if h % 32 or w % 32:
        raise ValueError(f"DBNet input height and width must be multiples of 32, got {h}x{w}")


# Builders: ``base`` is the backbone's stem width (64 = the published ResNets), ``inner_channels``
# the FPN width; smaller values make the test-sized variants.

@register_model
def dbnet_resnet18(inner_channels: int = 256, k: float = 50.0, base: int = 64, exportable: bool = False) -> DBNet:
    return DBNet(resnet18(base), inner_channels, k, exportable)


@register_model
def dbnet_resnet18_dcn(inner_channels: int = 256, k: float = 50.0, base: int = 64, exportable: bool = False) -> DBNet:
    return DBNet(resnet18(base, dcn=True), inner_channels, k, exportable)


@register_model
def dbnet_resnet50(inner_channels: int = 256, k: float = 50.0, base: int = 64, exportable: bool = False) -> DBNet:
    return DBNet(resnet50(base), inner_channels, k, exportable)


@register_model
def dbnet_resnet50_dcn(inner_channels: int = 256, k: float = 50.0, base: int = 64, exportable: bool = False) -> DBNet:
    return DBNet(resnet50(base, dcn=True), inner_channels, k, exportable)


@register_model
def dbnet_tiny(inner_channels: int = 32, k: float = 50.0, base: int = 8, dcn: bool = False,
               exportable: bool = False) -> DBNet:
    """ResNet-18 layout at 1/8 width (about 0.2 M parameters): for tests and smoke runs."""
    return DBNet(resnet18(base, dcn=dcn), inner_channels, k, exportable)
