"""``ocdr ocdnet prune``: magnitude channel pruning of a trained detector, measured before and after.

It prunes or refuses: an imported graph (PP-OCRv4) has no channels ocdr knows how to remove, and a pruning
that removes nothing (a ratio too small for ``round_to``) is an error, never a file identical to the input.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ocdr.config.ocdnet import BACKBONES
from ocdr.errors import ConfigError
from ocdr.models.checkpoint import make_model_record, save_checkpoint
from ocdr.models.imported.pretrained import IMPORTED_MODELS, read_pretrained
from ocdr.models.prune import measure, prune_model, rebuild_to
from ocdr.models.registry import build_model

__all__ = ["prune_detector", "load_prunable", "require_pruned", "shapes_of"]


def load_prunable(command: str, path: str, kind: str, supported: str) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, record) of ``path``; an imported graph (PP-OCRv4) is refused, naming what is supported."""
    record = read_pretrained(str(path), kind)
    name = record["model"]["name"]
    if name in IMPORTED_MODELS:
        raise ConfigError(f"{command}: checkpoint {path} is an imported PP-OCRv4 graph ({name}); channel pruning "
                          f"supports {supported}; fine-tune or export it instead")
    model = build_model(name, **record["model"]["kwargs"])
    rebuild_to(model, record["state_dict"])
    return model.eval(), record


def shapes_of(model: torch.nn.Module) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in model.state_dict().items()}


def require_pruned(command: str, path: str, before: dict[str, torch.Size], model: torch.nn.Module,
                   settings: str, advice: str) -> None:
    """An error when pruning left every tensor its size: the output would be the input."""
    if shapes_of(model) == before:
        raise ConfigError(f"{command}: nothing pruned in {path} with {settings}: every prunable group keeps all "
                          f"its channels; {advice}")


def prune_detector(spec) -> dict:
    ps = spec.prune
    ours = ", ".join(b for b, name in BACKBONES.items() if name not in IMPORTED_MODELS)
    model, record = load_prunable("ocdnet prune", ps.checkpoint, "detector", f"ocdr's DBNet backbones ({ours})")
    shape = (1, 3, ps.measure_size, ps.measure_size)
    before_shapes, before = shapes_of(model), measure(model, shape)
    prune_model(model, ps.ch_sparsity, ps.p, ps.round_to)
    require_pruned("ocdnet prune", ps.checkpoint, before_shapes, model,
                   f"prune.ch_sparsity={ps.ch_sparsity:g}, prune.round_to={ps.round_to}",
                   "raise prune.ch_sparsity or lower prune.round_to")
    after = measure(model, shape)
    out = Path(ps.results_dir) / f"pruned_{ps.ch_sparsity:g}.pth"
    pruned = make_model_record("detector", record["model"]["name"], record["model"]["kwargs"], model.state_dict(),
                               record["spec"], None, record.get("epoch", 0), record.get("step", 0),
                               inference=record.get("inference"))
    save_checkpoint(pruned, out)
    return {"pruned_model": str(out), "ch_sparsity": ps.ch_sparsity, "input": list(shape),
            "before": before, "after": after,
            "next": f"ocdr ocdnet train model.load_pruned_graph=true model.pruned_graph_path={out}"}
