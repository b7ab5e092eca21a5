"""``ocdr ocrnet prune``: magnitude channel pruning of a trained recognizer (TAO OCRNet's ``prune`` keys),
measured before and after; fine-tune the result with ``ocdr ocrnet train model.pruned_graph_path=...``.

Like the detector's, it prunes or refuses: the imported PP-OCRv4 graph is refused, and so is a pruning that
removes nothing.
"""
from __future__ import annotations

from pathlib import Path

from ocdr.commands.ocdnet_prune import load_prunable, require_pruned, shapes_of
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.models.checkpoint import make_model_record, save_checkpoint
from ocdr.models.prune import Criterion, measure, prune_recognizer
from ocdr.models.settings import recognizer_settings_of

__all__ = ["prune_recognizer_command", "criterion_of"]

SUPPORTED = "ocdr's own recognizers (model.backbone ResNet, small, ViT, tiny)"


def _setting(spec: OcrnetSpec) -> tuple[str, float]:
    """The key that sets how much goes, and its value: ``amount`` or ``threshold``, as ``mode`` says."""
    s = spec.prune.prune_setting
    return ("amount", s.amount) if s.mode == "amount" else ("threshold", s.threshold)


def criterion_of(spec: OcrnetSpec) -> Criterion:
    s = spec.prune.prune_setting
    return Criterion(_setting(spec)[1], 1.0 if s.raw_prune_score == "L1" else 2.0, s.granularity, s.mode)


def _output(spec: OcrnetSpec) -> Path:
    if spec.prune.pruned_file:
        return Path(spec.prune.pruned_file)
    key, value = _setting(spec)
    return Path(spec.prune.results_dir) / f"pruned_{'' if key == 'amount' else 'threshold_'}{value:g}.pth"


def prune_recognizer_command(spec: OcrnetSpec) -> dict:
    ps, crit, (key, value) = spec.prune, criterion_of(spec), _setting(spec)
    model, record = load_prunable("ocrnet prune", ps.checkpoint, "recognizer", SUPPORTED)
    geometry = recognizer_settings_of(record)
    shape = (1, geometry.channels, geometry.height, geometry.width)
    before_shapes, before = shapes_of(model), measure(model, shape)
    prune_recognizer(model, crit)
    require_pruned("ocrnet prune", ps.checkpoint, before_shapes, model,
                   f"prune.prune_setting.{key}={value:g}, granularity={crit.round_to}",
                   f"raise prune.prune_setting.{key} or lower prune.prune_setting.granularity")
    after = measure(model, shape)
    out = _output(spec)
    pruned = make_model_record("recognizer", record["model"]["name"], record["model"]["kwargs"], model.state_dict(),
                               record["spec"], record["charset"], record.get("epoch", 0), record.get("step", 0),
                               inference=record.get("inference"))
    save_checkpoint(pruned, out)
    s = ps.prune_setting
    return {"pruned_model": str(out), "mode": s.mode, key: value, "granularity": s.granularity,
            "raw_prune_score": s.raw_prune_score, "input": list(shape), "before": before, "after": after,
            "next": f"ocdr ocrnet train model.pruned_graph_path={out}"}
