"""``ocdr ocdnet train``: DBNet on the shared harness."""
from __future__ import annotations

import logging
from pathlib import Path

from torch.utils.data import DataLoader

from ocdr.config import save_spec, spec_to_dict
from ocdr.config.ocdnet import AUTO_BACKBONE, BACKBONES, DetDatasetSpec, OcdnetSpec, model_name_for
from ocdr.errors import ConfigError
from ocdr.data.det_dataset import DetectionDataset, det_collate
from ocdr.data.samplers import TrainBatchSampler, source_weights
from ocdr.data.synth import SynthSpec, generate
from ocdr.eval.detection import DetectionMetric, match_image
from ocdr.models.detection.postprocess import PostProcessConfig, detect_batch
from ocdr.models.imported.pretrained import IMPORTED_MODELS, read_pretrained
from ocdr.models.loading import load_detector
from ocdr.models.registry import build_model
from ocdr.models.weights import load_matching
from ocdr.train.harness import TrainTask, fit, freeze_as_specified
from ocdr.train.runs import open_run

__all__ = ["DetectionTask", "train_detector", "build_detector", "ensure_data", "make_eval_dataset"]
log = logging.getLogger("ocdr.ocdnet")


class DetectionTask(TrainTask):
    kind = "detector"
    default_best_metric = "hmean"
    metric_names = ("hmean", "precision", "recall", "loss")

    def __init__(self, *args, postprocess: PostProcessConfig, **kwargs):
        super().__init__(*args, **kwargs)
        self.postprocess = postprocess

    def validation_counts(self, batch: dict) -> dict[str, float]:
        out = self.model(batch["images"], batch["targets"])
        probs = out["prob"][:, 0].detach().float().cpu().numpy()
        counts = {"loss_sum": float(out["loss"].detach()), "batches": 1.0, "num_gt": 0.0, "num_det": 0.0, "num_match": 0.0}
        for (polys, _), gts, ign in zip(detect_batch(probs, batch, self.postprocess), batch["polygons"], batch["ignore"]):
            r = match_image(gts, ign, polys)
            for k in ("num_gt", "num_det", "num_match"):
                counts[k] += r[k]
        return counts

    def metrics_from_counts(self, counts: dict[str, float]) -> dict[str, float]:
        m = DetectionMetric.from_counts(counts["num_gt"], counts["num_det"], counts["num_match"])
        return {"loss": counts["loss_sum"] / max(counts["batches"], 1.0),
                "precision": m["precision"], "recall": m["recall"], "hmean": m["hmean"]}


def ensure_data(paths: list[str], spec: OcdnetSpec) -> None:
    """Generate the synthetic dataset when a *default* folder is missing (first run, no data). A folder the
    user named is never generated: a missing one is the dataset's not-found error."""
    defaults = DetDatasetSpec()
    default_paths = {*defaults.train_data_path, *defaults.validate_data_path}
    missing = [p for p in paths if p in default_paths and not Path(p).is_dir()]
    if not missing or not spec.dataset.synth_if_missing:
        return
    roots = {str(Path(p).parent) for p in missing}
    for root in sorted(roots):
        log.info("no data at %s: generating %d synthetic pages there", root, spec.dataset.synth_pages)
        generate(SynthSpec(output_dir=root, num_pages=spec.dataset.synth_pages))


def build_detector(spec: OcdnetSpec):
    if spec.model.load_pruned_graph:

        model, record = load_detector(spec.model.pruned_graph_path)
        log.info("starting from the pruned model %s", spec.model.pruned_graph_path)
        return model.train(), record["model"]["name"], record["model"]["kwargs"]

    record = read_pretrained(spec.model.pretrained_model_path, "detector") if spec.model.pretrained_model_path else None
    spec.model.backbone = resolve_backbone(spec.model.backbone, spec.model.pretrained_model_path, record)
    name = model_name_for(spec.model.backbone)
    if record is not None and name in IMPORTED_MODELS:
        # an imported architecture (e.g. PP-OCRv4) is defined by its checkpoint: its graph travels with it
        kwargs = dict(record["model"]["kwargs"])
    else:
        kwargs = {"k": spec.model.k} if name in IMPORTED_MODELS else {"inner_channels": spec.model.inner_channels,
                                                                        "k": spec.model.k}
    model = build_model(name, **kwargs)
    if record is None:
        log.info("model.backbone=%s starts from random initialisation (no model.pretrained_model_path)",
                 spec.model.backbone)
        return model, name, kwargs
    report = load_matching(model, record["state_dict"])
    log.info("starting from %s (%s): %d tensors loaded; missing %s; unexpected %s; mismatched %s",
             spec.model.pretrained_model_path, name, len(report["loaded"]), report["missing"][:8],
             report["unexpected"][:8], report["mismatched"][:8])
    return model, name, kwargs


def _record_backbone(record: dict) -> str:
    backbone = ((record.get("spec") or {}).get("model") or {}).get("backbone")
    if backbone in BACKBONES and BACKBONES[backbone] == record["model"]["name"]:
        return backbone
    by_name = [b for b, n in BACKBONES.items() if n == record["model"]["name"]]
    if not by_name:
        raise ConfigError(f"model.pretrained_model_path: {record['model']['name']} is not a detector architecture "
                          f"({', '.join(BACKBONES)})")
    return by_name[0]


def resolve_backbone(backbone: str, pretrained: str, record: dict | None) -> str:
    """model.backbone as it will be built: ``auto`` takes the checkpoint's architecture (INFO line); an explicit
    backbone that differs from the checkpoint's is an error naming both, never a partial, silent load."""
    if record is None:
        return AUTO_BACKBONE if backbone == "auto" else backbone
    theirs = _record_backbone(record)
    if backbone == "auto":
        log.info("model.backbone=auto: %s (the architecture of %s)", theirs, pretrained)
        return theirs
    if model_name_for(backbone) != model_name_for(theirs):
        raise ConfigError(f"model.backbone={backbone} but model.pretrained_model_path={pretrained} is a {theirs} "
                          f"checkpoint: set model.backbone={theirs} (or auto), or start from a {backbone} checkpoint")
    return backbone


def make_eval_dataset(paths: list[str], spec: OcdnetSpec, pad_square: bool = True) -> DetectionDataset:
    """``pad_square`` False: each image as the predictor reads it (batches of one); True: padded to squares
    of ``dataset.image_size`` that batch together."""
    d = spec.dataset
    return DetectionDataset(paths, train=False, image_size=d.image_size, skip_bad=d.skip_bad,
                            shrink_ratio=d.shrink_ratio, min_text_size=d.min_text_size,
                            thresh_min=d.thresh_min, thresh_max=d.thresh_max, gt_folder=d.gt_folder,
                            pad_square=pad_square)


def train_detector(spec: OcdnetSpec) -> dict:
    d, t = spec.dataset, spec.train
    ensure_data(d.train_data_path + d.validate_data_path, spec)
    train_ds = DetectionDataset(d.train_data_path, d.augmentation, train=True, seed=t.seed, skip_bad=d.skip_bad,
                                shrink_ratio=d.shrink_ratio, min_text_size=d.min_text_size,
                                thresh_min=d.thresh_min, thresh_max=d.thresh_max, gt_folder=d.gt_folder)
    # validation reads each image as the predictor will (the model's long side, no padding), so the model it
    # picks is the best one for inference, and its figure is what `ocdr ocdnet evaluate` measures
    val_ds = make_eval_dataset(d.validate_data_path, spec, pad_square=False)
    loader_kw = dict(collate_fn=det_collate, num_workers=t.num_workers, persistent_workers=False)
    probabilities = source_weights(train_ds.folder_sizes, d.train_data_weights) if d.train_data_weights else None
    train_loader = DataLoader(train_ds, batch_sampler=TrainBatchSampler(
        len(train_ds), t.batch_size, probabilities=probabilities, shuffle=True,
        drop_last=len(train_ds) > t.batch_size, seed=t.seed), **loader_kw)
    val_loader = DataLoader(val_ds, batch_sampler=TrainBatchSampler(len(val_ds), 1, shuffle=False), **loader_kw)
    model, name, kwargs = build_detector(spec)
    freeze_as_specified(model, spec.model)
    task = DetectionTask(model, name, kwargs, t.optim, spec_to_dict(spec), None, postprocess=PostProcessConfig(**spec.postprocess.given()))
    with open_run(t.results_dir, t.resume_training_checkpoint_path, task.spec_dict):
        save_spec(spec, t.results_dir, "ocdnet_train_spec.yaml")
        result = fit(task, train_loader, val_loader, t, t.results_dir)
    result["train_images"], result["validation_images"] = len(train_ds), len(val_ds)
    return result
