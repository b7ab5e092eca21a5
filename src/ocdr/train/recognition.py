"""``ocdr ocrnet train``: the recognizer on the shared harness."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ocdr.config import save_spec, spec_to_dict
from ocdr.config.ocrnet import AUTO_BACKBONE, OcrnetSpec, RecDatasetSpec, recognizer_name
from ocdr.data.charset import Charset, remap_rows
from ocdr.errors import ConfigError
from ocdr.data.rec_dataset import RecognitionDataset, rec_collate
from ocdr.data.samplers import TrainBatchSampler, source_weights
from ocdr.data.synth import SynthSpec, generate
from ocdr.eval.recognition import RecognitionMetric
from ocdr.models.checkpoint import read_model_record
from ocdr.models.imported.pretrained import IMPORTED_MODELS, read_pretrained
from ocdr.models.prune import rebuild_to
from ocdr.models.recognition.heads import CTCHead, decode_batch, head_class
from ocdr.models.recognition.surgery import head_surgery
from ocdr.models.registry import build_model
from ocdr.models.weights import load_matching
from ocdr.train.harness import TrainTask, fit, freeze_as_specified
from ocdr.train.runs import open_run

__all__ = ["RecognitionTask", "train_recognizer", "build_recognizer", "make_targets", "load_charset"]
log = logging.getLogger("ocdr.ocrnet")


def make_targets(labels: list[str], charset: Charset, prediction: str, max_len: int) -> dict[str, torch.Tensor]:
    """The training targets of the head ``prediction`` names (see its ``encode_targets``)."""
    return head_class(prediction).encode_targets(labels, charset, max_len)


def load_charset(spec: OcrnetSpec) -> Charset:
    return Charset.from_file(spec.dataset.character_list_file, case_fold=spec.dataset.case_fold,
                             unknown=spec.dataset.unknown_char)


class RecognitionTask(TrainTask):
    kind = "recognizer"
    default_best_metric = "accuracy"
    metric_names = ("accuracy", "accuracy_case_insensitive", "cer", "loss")

    def __init__(self, *args, codec: Charset, prediction: str, max_label_length: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.codec, self.prediction, self.max_len = codec, prediction, max_label_length

    def compute_loss(self, batch: dict) -> dict:
        targets = make_targets(batch["labels"], self.codec, self.prediction, self.max_len)
        targets = {k: v.to(self.device) for k, v in targets.items()}
        return self.model(batch["images"], targets)

    def validation_counts(self, batch: dict) -> dict[str, float]:
        loss = float(self.compute_loss(batch)["loss"].detach())
        preds = [t for t, _ in decode_batch(self.model(batch["images"]), self.codec, self.prediction)]
        metric = RecognitionMetric()
        metric.update(preds, batch["labels"])
        return {"loss_sum": loss, "batches": 1.0, **metric.counts()}

    def metrics_from_counts(self, counts: dict[str, float]) -> dict[str, float]:
        m = RecognitionMetric.from_counts(counts)
        return {"loss": counts["loss_sum"] / max(counts["batches"], 1.0), "accuracy": m["accuracy"],
                "accuracy_case_insensitive": m["accuracy_case_insensitive"], "cer": m["cer"]}


def ensure_data(spec: OcrnetSpec, sources: list[str] | None = None) -> None:
    """Generate the synthetic dataset when a *default* folder is missing (first run, no data). A folder the
    user named is never generated: a missing one is the loader's not-found error. ``sources``: the folders
    the command reads (default: training and validation data and the character list)."""
    d = spec.dataset
    if sources is None:
        sources = [*d.train_dataset_dir, *d.val_dataset_dir, d.character_list_file]
    defaults = RecDatasetSpec()
    default_paths = {*defaults.train_dataset_dir, *defaults.val_dataset_dir, defaults.character_list_file}
    missing = [Path(p) for p in sources if p in default_paths and not Path(p).exists()]
    if not missing or not d.synth_if_missing:
        return
    # the defaults are data/synth/<split>/crops and data/synth/character_list.txt
    root = Path(d.character_list_file).parent
    log.info("no data at %s: generating %d synthetic pages into %s", missing[0], d.synth_pages, root)
    generate(SynthSpec(output_dir=str(root), num_pages=d.synth_pages))


def model_kwargs(spec: OcrnetSpec, charset: Charset) -> dict:
    m = spec.model
    head = head_class(m.prediction)
    classes = head.num_classes(charset)
    kw = {"num_classes": classes, "input_channels": m.input_channel, "input_height": m.input_height,
          "input_width": m.input_width, "tps": m.TPS, "num_fiducial": m.num_fiducial, "hidden_size": m.hidden_size}
    if head is not CTCHead:  # attention-style heads decode up to the longest label
        kw["max_label_length"] = spec.dataset.max_label_length
    return kw


def adapt_to_pretrained(spec: OcrnetSpec) -> dict | None:
    """The pretrained record (read once). An imported architecture (PP-OCRv4) fixes the model keys: they are
    set from its checkpoint, so that data are prepared the way it reads. ``backbone=PPOCRv4`` alone starts
    from the wheel's weights."""

    m = spec.model
    if m.pruned_graph_path:
        return _adopt_pruned(spec)
    if m.backbone == "PPOCRv4" and not m.pretrained_model_path:
        m.pretrained_model_path = "ppocr-v4-rec"
    if not m.pretrained_model_path:
        m.backbone = AUTO_BACKBONE if m.backbone == "auto" else m.backbone
        log.info("model.backbone=%s starts from random initialisation (no model.pretrained_model_path)", m.backbone)
        return None
    record = read_pretrained(m.pretrained_model_path, "recognizer")
    m.backbone = _resolve_backbone(m.backbone, m.pretrained_model_path, record)
    if record["model"]["name"] in IMPORTED_MODELS:
        src = record["spec"]["model"]
        for key in ("prediction", "input_channel", "input_height", "input_width", "keep_aspect_ratio", "pad", "TPS"):
            if key == "input_width" and m.dynamic_width:
                _widest_at_least(m, src.get(key, m.input_width), m.pretrained_model_path)
                continue
            value = src.get(key, "zero" if key == "pad" else getattr(m, key))  # imports older than model.pad
            if getattr(m, key) != value:
                log.info("model.%s=%s (from the pretrained %s)", key, value, m.pretrained_model_path)
                setattr(m, key, value)
    return record


def _widest_at_least(m, pretrained_width: int, source: str) -> None:
    """Under dynamic width the graph reads any width and ``input_width`` is only the widest a crop may be: a
    wider maximum stays (wide crops are then not squeezed), a narrower one (the TAO default 100 included)
    becomes the pretrained model's width, as squeezing below the width it reads at loses words."""
    if m.input_width < pretrained_width:
        log.info("model.input_width=%d (from the pretrained %s: under model.dynamic_width the widest a crop may be, "
                 "not less than the width it was trained at; %d asked)", pretrained_width, source, m.input_width)
        m.input_width = pretrained_width


def _resolve_backbone(backbone: str, pretrained: str, record: dict) -> str:
    """``auto`` takes the checkpoint's backbone (INFO line); an explicit one that differs is an error naming
    both, never a partial, silent load."""
    theirs = ((record.get("spec") or {}).get("model") or {}).get("backbone")
    if theirs is None:
        return AUTO_BACKBONE if backbone == "auto" else backbone
    if backbone == "auto":
        log.info("model.backbone=auto: %s (the backbone of %s)", theirs, pretrained)
        return theirs
    if backbone != theirs:
        raise ConfigError(f"model.backbone={backbone} but model.pretrained_model_path={pretrained} is a {theirs} "
                          f"checkpoint: set model.backbone={theirs} (or auto), or start from a {backbone} checkpoint")
    return backbone


_PRUNED_KEYS = ("backbone", "prediction", "input_channel", "input_height", "input_width", "keep_aspect_ratio", "pad",
                "TPS", "num_fiducial", "hidden_size")


def _adopt_pruned(spec: OcrnetSpec) -> dict:
    """TAO's ``model.pruned_graph_path``: the pruned model fixes the architecture and the input keys."""
    m = spec.model
    if m.pretrained_model_path:
        raise ConfigError("model.pruned_graph_path and model.pretrained_model_path are both set: give one "
                          "(the pruned model carries its weights)")
    record = read_model_record(m.pruned_graph_path, kind="recognizer")
    src = record["spec"]["model"]
    for key in _PRUNED_KEYS:
        if key in src and getattr(m, key) != src[key]:
            log.info("model.%s=%s (from the pruned %s)", key, src[key], m.pruned_graph_path)
            setattr(m, key, src[key])
    return record


def _pruned_start(spec: OcrnetSpec, charset: Charset, record: dict):
    if record["charset"] != charset.to_list():
        raise ConfigError(f"model.pruned_graph_path: {spec.model.pruned_graph_path} reads {len(record['charset'])} "
                          f"characters, not the {len(charset.to_list())} of dataset.character_list_file; prune a "
                          "model trained on this character list")
    name, kwargs = record["model"]["name"], dict(record["model"]["kwargs"])
    model = rebuild_to(build_model(name, **kwargs), record["state_dict"])  # the pruned widths come from its weights
    log.info("starting from the pruned model %s", spec.model.pruned_graph_path)
    return model.train(), name, kwargs


def build_recognizer(spec: OcrnetSpec, charset: Charset, record: dict | None = None):
    if record is None and (spec.model.pretrained_model_path or spec.model.pruned_graph_path):
        record = adapt_to_pretrained(spec)
    if spec.model.pruned_graph_path:
        return _pruned_start(spec, charset, record)
    name = recognizer_name(spec.model.backbone, spec.model.prediction)
    kwargs = model_kwargs(spec, charset)
    if record is not None and record["model"]["name"] == name and "graph" in record["model"]["kwargs"]:
        kwargs["graph"] = record["model"]["kwargs"]["graph"]  # imported: the structure travels with the weights
    model = build_model(name, **kwargs)
    if record is not None:
        state = record["state_dict"]
        old = Charset(record["charset"], **{k: v for k, v in _codec_options(record).items()})
        if old.to_list() != charset.to_list() and head_class(spec.model.prediction) is CTCHead:

            donor = build_model(record["model"]["name"], **record["model"]["kwargs"])
            donor.load_state_dict(state)
            state = head_surgery(donor, remap_rows(old, charset), charset.num_classes_ctc).state_dict()
            log.info("new character list: classifier rows of %d shared characters kept", len(remap_rows(old, charset)) - 1)
        report = load_matching(model, state)
        log.info("pretrained %s: %d tensors loaded; missing %s; mismatched %s", spec.model.pretrained_model_path,
                 len(report["loaded"]), report["missing"][:8], report["mismatched"][:8])
    return model, name, kwargs


def _codec_options(record: dict) -> dict:
    ds = (record.get("spec") or {}).get("dataset", {})
    return {"case_fold": bool(ds.get("case_fold", False)), "unknown": ds.get("unknown_char", "drop")}


def make_dataset(sources: list[str], spec: OcrnetSpec, charset: Charset, train: bool) -> RecognitionDataset:
    m, d = spec.model, spec.dataset
    return RecognitionDataset(sources, charset, d.max_label_length, m.input_height, m.input_width, m.input_channel,
                              m.keep_aspect_ratio, d.augmentation, train=train, seed=spec.train.seed,
                              skip_bad=d.skip_bad, pad=m.pad, dynamic_width=m.dynamic_width)


def make_loader(ds: RecognitionDataset, spec: OcrnetSpec, train: bool) -> DataLoader:
    """Batches drawn by :class:`TrainBatchSampler`: weighted sources, similar widths, sharded over processes."""
    t, d = spec.train, spec.dataset
    weights = d.train_dataset_weights if train else []
    probabilities = source_weights(ds.part_sizes, weights)[ds.indices] if weights else None
    if probabilities is not None:
        probabilities = probabilities / probabilities.sum()
    sampler = TrainBatchSampler(len(ds), t.batch_size, widths=ds.widths() if ds.dynamic_width else None,
                                probabilities=probabilities, shuffle=train, drop_last=train and len(ds) > t.batch_size,
                                seed=t.seed)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=rec_collate, num_workers=t.num_workers)


def train_recognizer(spec: OcrnetSpec) -> dict:
    t = spec.train
    ensure_data(spec)
    record = adapt_to_pretrained(spec)
    charset = load_charset(spec)
    train_ds = make_dataset(spec.dataset.train_dataset_dir, spec, charset, train=True)
    val_ds = make_dataset(spec.dataset.val_dataset_dir, spec, charset, train=False)
    train_loader, val_loader = make_loader(train_ds, spec, True), make_loader(val_ds, spec, False)
    model, name, kwargs = build_recognizer(spec, charset, record)
    freeze_as_specified(model, spec.model)
    task = RecognitionTask(model, name, kwargs, t.optim, spec_to_dict(spec), charset.to_list(), codec=charset,
                           prediction=spec.model.prediction, max_label_length=spec.dataset.max_label_length)
    with open_run(t.results_dir, t.resume_training_checkpoint_path, task.spec_dict, task.charset):
        save_spec(spec, t.results_dir, "ocrnet_train_spec.yaml")
        result = fit(task, train_loader, val_loader, t, t.results_dir)
    result.update(train_samples=len(train_ds), validation_samples=len(val_ds),
                  dropped={k: v for k, v in (train_ds.dropped + val_ds.dropped).items()})
    return result
