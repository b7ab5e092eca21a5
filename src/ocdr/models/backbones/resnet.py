"""ResNet-18/50 returning C2..C5 (strides 4, 8, 16, 32), with optional modulated deformable
convolution (DCNv2) in the 3x3 convolutions of chosen stages, as DBNet's ``deformable_resnet``.

Parameter names follow torchvision's ResNet, so a torchvision state dict loads into it. The
deformable convolution is ``torchvision.ops.deform_conv2d`` (no custom CUDA op to build).

ONNX export of the deformable convolution: at opset >= 19 it becomes ONNX's own ``DeformConv``
node (ONNX Runtime runs it); below 19 it is written out with ``GridSample`` (opset 16+), which is
what TensorRT-style runtimes without ``DeformConv`` need.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.onnx import symbolic_helper
from torchvision.ops import deform_conv2d

__all__ = ["ResNet", "DeformConv", "deform_conv2d_decomposed", "resnet18", "resnet50"]


def deform_conv2d_decomposed(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor,
                             stride: int = 1, padding: int = 1) -> torch.Tensor:
    """``torchvision.ops.deform_conv2d`` (3x3 kernel, one offset group) written with ``grid_sample``.

    Same arithmetic — bilinear sampling, zero outside the image — but made of standard ONNX
    operators (GridSample, opset 16+), so plain ONNX Runtime runs the exported model. Offsets are
    laid out as torchvision's: channel 2k is the y offset of tap k, 2k + 1 its x offset.
    """
    b, c, h, w = x.shape
    out_ch, kh, kw = weight.shape[0], 3, 3  # python ints even while tracing for ONNX
    ho, wo = offset.shape[-2:]
    dtype, device = x.dtype, x.device
    ys = (torch.arange(ho, device=device, dtype=dtype) * stride - padding).view(1, ho, 1)
    xs = (torch.arange(wo, device=device, dtype=dtype) * stride - padding).view(1, 1, wo)
    samples = []
    for k in range(kh * kw):
        ki, kj = divmod(k, kw)
        py = ys + ki + offset[:, 2 * k]
        px = xs + kj + offset[:, 2 * k + 1]
        # feature maps are at least 2 px wide here (inputs are >= 32 px), so W - 1 > 0
        grid = torch.stack((2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1), dim=-1)
        sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        samples.append(sampled * mask[:, k:k + 1])
    cols = torch.stack(samples, dim=2).reshape(b, c * kh * kw, ho * wo)
    out = torch.matmul(weight.reshape(out_ch, c * kh * kw), cols)
    return out.reshape(b, out_ch, ho, wo)


@symbolic_helper.parse_args("v", "v", "v", "v", "v", "i", "i", "i", "i", "i", "i", "i", "i", "b")
def _deform_conv2d_onnx(g, x, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
                        groups, offset_groups, use_mask):
    """``torchvision::deform_conv2d`` -> ONNX ``DeformConv`` (opset 19): same input order, same
    offset layout (y, x per tap), the mask as the optional fifth input."""
    inputs = [x, weight, offset, bias] + ([mask] if use_mask else [])
    return g.op("DeformConv", *inputs, strides_i=[stride_h, stride_w], pads_i=[pad_h, pad_w, pad_h, pad_w],
                dilations_i=[dil_h, dil_w], group_i=groups, offset_group_i=offset_groups)


NATIVE_DEFORM_CONV_OPSET = 19
torch.onnx.register_custom_op_symbolic("torchvision::deform_conv2d", _deform_conv2d_onnx, NATIVE_DEFORM_CONV_OPSET)


def _onnx_export_opset() -> int | None:
    """The opset of the ONNX export under way (TorchScript exporter), None if it cannot be read.

    torch keeps it in a private global whose module moved between releases; when neither place
    answers, the caller falls back to the decomposition, which every opset >= 16 accepts.
    """
    import importlib

    for module in ("torch.onnx._internal.torchscript_exporter._globals", "torch.onnx._globals"):
        try:
            return int(importlib.import_module(module).GLOBALS.export_onnx_opset_version)
        except (ImportError, AttributeError):
            continue
    return None


class DeformConv(nn.Module):
    """3x3 modulated deformable conv; offsets and mask start at zero / 0.5 (a plain conv at init)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.weight = nn.Parameter(torch.empty(out_ch, in_ch, 3, 3))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.offset = nn.Conv2d(in_ch, 27, 3, stride, 1)  # 18 offsets (x, y for 9 taps) + 9 mask logits
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.offset.keep_init = True  # ResNet's kaiming init must leave it at zero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.offset(x)
        offset, mask = out[:, :18], torch.sigmoid(out[:, 18:])
        if torch.onnx.is_in_onnx_export() and (_onnx_export_opset() or 0) < NATIVE_DEFORM_CONV_OPSET:
            return deform_conv2d_decomposed(x, offset, self.weight, mask, self.stride, 1)
        return deform_conv2d(x, offset, self.weight, stride=self.stride, padding=1, mask=mask)


def _conv3x3(in_ch: int, out_ch: int, stride: int, dcn: bool) -> nn.Module:
    return DeformConv(in_ch, out_ch, stride) if dcn else nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_ch: int, ch: int, stride: int = 1, downsample: nn.Module | None = None, dcn: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = _conv3x3(ch, ch, 1, dcn)
        self.bn2 = nn.BatchNorm2d(ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch: int, ch: int, stride: int = 1, downsample: nn.Module | None = None, dcn: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = _conv3x3(ch, ch, stride, dcn)
        self.bn2 = nn.BatchNorm2d(ch)
        self.conv3 = nn.Conv2d(ch, ch * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(ch * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    def __init__(self, block: type, layers: list[int], base: int = 64, in_channels: int = 3,
                 dcn_stages: tuple[bool, bool, bool, bool] = (False, False, False, False)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.in_ch = base
        self.layer1 = self._stage(block, base, layers[0], 1, dcn_stages[0])
        self.layer2 = self._stage(block, base * 2, layers[1], 2, dcn_stages[1])
        self.layer3 = self._stage(block, base * 4, layers[2], 2, dcn_stages[2])
        self.layer4 = self._stage(block, base * 8, layers[3], 2, dcn_stages[3])
        self.out_channels = [base * m * block.expansion for m in (1, 2, 4, 8)]
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and not getattr(m, "keep_init", False):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _stage(self, block: type, ch: int, n: int, stride: int, dcn: bool) -> nn.Sequential:
        down = None
        if stride != 1 or self.in_ch != ch * block.expansion:
            down = nn.Sequential(nn.Conv2d(self.in_ch, ch * block.expansion, 1, stride, bias=False),
                                 nn.BatchNorm2d(ch * block.expansion))
        blocks = [block(self.in_ch, ch, stride, down, dcn)]
        self.in_ch = ch * block.expansion
        blocks += [block(self.in_ch, ch, 1, None, dcn) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]


def resnet18(base: int = 64, dcn: bool = False, in_channels: int = 3) -> ResNet:
    return ResNet(BasicBlock, [2, 2, 2, 2], base, in_channels, (False, dcn, dcn, dcn))


def resnet50(base: int = 64, dcn: bool = False, in_channels: int = 3) -> ResNet:
    return ResNet(Bottleneck, [3, 4, 6, 3], base, in_channels, (False, dcn, dcn, dcn))
