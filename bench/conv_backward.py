"""Where a recognizer training step's convolution time goes: forward, input gradient and weight gradient.

Times PyTorch's own kernels (channels-last, as the imported models train) on the layer shapes of PP-OCRv4-rec
at a GW-sized batch (32 crops of 48 x 112): the 1x1 and the 5x5 depthwise convolutions of its 240- and
480-channel stages. It is the measurement behind ``model.frozen_depthwise``: a depthwise filter's gradient
costs several times its forward pass, a 1x1 convolution's does not.

    .venv/bin/python bench/conv_backward.py            # prints a markdown table, JSON with --out
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

# (name, batch, channels, height, width, kernel, depthwise): PP-OCRv4-rec's stages at input width 112
LAYERS = [("1x1, 240 ch", 32, 240, 12, 28, 1, False), ("5x5 depthwise, 240 ch", 32, 240, 12, 28, 5, True),
          ("1x1, 480 ch", 32, 480, 6, 28, 1, False), ("5x5 depthwise, 480 ch", 32, 480, 6, 28, 5, True)]


def _ms(fn, repeats: int) -> float:
    fn()
    fn()  # warm-up: first calls pick kernels and allocate
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000


def measure(batch: int, ch: int, h: int, w: int, k: int, depthwise: bool, repeats: int) -> dict:
    x = torch.randn(batch, ch, h, w).contiguous(memory_format=torch.channels_last)
    gy = torch.randn(batch, ch, h, w).contiguous(memory_format=torch.channels_last)
    groups = ch if depthwise else 1
    weight = torch.randn(ch, ch // groups, k, k)
    pad = k // 2

    def backward(mask):
        return torch.ops.aten.convolution_backward(gy, x, weight, None, [1, 1], [pad, pad], [1, 1], False,
                                                   [0, 0], groups, mask)

    return {"forward_ms": _ms(lambda: F.conv2d(x, weight, padding=pad, groups=groups), repeats),
            "input_grad_ms": _ms(lambda: backward([True, False, False]), repeats),
            "weight_grad_ms": _ms(lambda: backward([False, True, False]), repeats),
            "backward_ms": _ms(lambda: backward([True, True, False]), repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", help="also write the rows as JSON here")
    args = ap.parse_args()
    rows = [{"layer": name, **measure(*shape, repeats=args.repeats)} for name, *shape in LAYERS]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| layer (32 x C x H x W, channels-last) | forward | input gradient | weight gradient | backward |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['layer']} | {r['forward_ms']:.1f} ms | {r['input_grad_ms']:.1f} ms | "
              f"{r['weight_grad_ms']:.1f} ms | {r['backward_ms']:.1f} ms |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
