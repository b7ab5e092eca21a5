"""``ocdr ocdnet prune``: magnitude channel pruning of a trained detector, measured before and after."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ocdr.models.checkpoint import make_model_record, save_checkpoint
from ocdr.models.loading import load_detector
from ocdr.models.prune import count_flops, count_params, prune_model

__all__ = ["prune_detector", "cpu_latency_ms"]


def cpu_latency_ms(model: torch.nn.Module, shape=(1, 3, 640, 640), repeat: int = 3) -> float:
    x = torch.randn(shape)
    model.eval()
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return 1000 * sorted(times)[len(times) // 2]


def prune_detector(spec) -> dict:

    ps = spec.prune
    model, record = load_detector(ps.checkpoint, "cpu")
    before = {"params": count_params(model), "gflops_640": count_flops(model) / 1e9, "cpu_ms_640": cpu_latency_ms(model)}
    prune_model(model, ps.ch_sparsity, ps.p, ps.round_to)
    after = {"params": count_params(model), "gflops_640": count_flops(model) / 1e9, "cpu_ms_640": cpu_latency_ms(model)}
    out = Path(ps.results_dir) / f"pruned_{ps.ch_sparsity:g}.pth"
    pruned = make_model_record("detector", record["model"]["name"], record["model"]["kwargs"], model.state_dict(),
                               record["spec"], None, record.get("epoch", 0), record.get("step", 0),
                               inference=record.get("inference"))
    save_checkpoint(pruned, out)
    return {"pruned_model": str(out), "ch_sparsity": ps.ch_sparsity, "before": before, "after": after,
            "next": f"ocdr ocdnet train model.load_pruned_graph=true model.pruned_graph_path={out}"}
