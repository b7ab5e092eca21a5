"""``ocdr ocrnet evaluate``: exact, case-insensitive and MMOCR-style accuracy, CER, WER and 1-NED,
for greedy, (CTC) beam-search and (CTC) lexicon decoding side by side, with the worst samples listed.

The summary states what was scored: ``evaluated`` samples, ``skipped`` ones by reason (bad records
left out when the data was checked, labels too long or outside the character list, records that
failed while reading) and the ``total`` the sources hold; evaluated + skipped = total."""
from __future__ import annotations

import copy
import json
import logging
from collections import Counter
from pathlib import Path

import torch

from ocdr.config.ocrnet import OcrnetSpec
from ocdr.errors import ConfigError
from ocdr.eval.recognition import RecognitionMetric
from ocdr.fileio import atomic_write_text
from ocdr.models.loading import load_recognizer
from ocdr.models.recognition.decode import ctc_beam_search
from ocdr.models.recognition.heads import CTCHead, decode_batch, head_class
from ocdr.models.recognition.lexicon import Lexicon, lexicon_decode
from ocdr.train.recognition import ensure_data, make_dataset, make_loader

__all__ = ["evaluate_recognizer"]
log = logging.getLogger("ocdr.ocrnet")

_COLUMNS = ("accuracy", "accuracy_case_insensitive", "accuracy_alnum_case_insensitive", "cer", "wer", "one_minus_ned")


def evaluate_recognizer(spec: OcrnetSpec) -> dict:
    ev = spec.evaluate
    sources = ev.test_dataset_dir or spec.dataset.val_dataset_dir
    ensure_data(spec, list(sources))  # only the data it reads, and only default folders: never a hidden synth run
    model, record, charset = load_recognizer(ev.checkpoint, spec.train.device)
    prediction = record["spec"]["model"]["prediction"]
    model_spec = _with_model_of(spec, record)
    dataset = make_dataset(sources, model_spec, charset, train=False)
    loader = make_loader(dataset, model_spec, train=False)  # similar widths together when dynamic
    extra = _extra_decoders(ev, charset, prediction)
    decoders = {name: RecognitionMetric() for name in ("greedy", *extra)}
    skipped = _score(model, loader, decoders, extra, charset, prediction)
    table = {name: m.compute() for name, m in decoders.items()}
    _print_table(table)
    counts = _counts(decoders["greedy"], dataset, skipped)
    log.info("evaluated %d of %d samples; skipped: %s", counts["evaluated"], counts["total"], counts["skipped"] or "none")
    result = {**counts, "samples": counts["evaluated"], "dropped": dict(dataset.dropped), "checkpoint": ev.checkpoint,
              "metrics": table, "worst": decoders["greedy"].worst(ev.num_worst)}
    out_dir = Path(ev.results_dir)
    atomic_write_text(out_dir / "metrics.json", json.dumps(result, indent=2, ensure_ascii=False))
    return {**counts, "samples": counts["evaluated"],
            **{f"{name}/{k}": round(v[k], 4) for name, v in table.items() for k in _COLUMNS},
            "report": str(out_dir / "metrics.json")}


def _extra_decoders(ev, charset, prediction: str) -> dict:
    """The decodings asked for beside greedy: name -> function(probs (B, T, C), greedy reads) -> texts."""
    extra = {}
    ctc = head_class(prediction) is CTCHead  # beam search and lexicons are CTC's
    if ctc and ev.decoding == "beam":
        extra["beam"] = lambda probs, greedy: [ctc_beam_search(p, charset, ev.beam_width)[0] for p in probs]
    if ev.lexicon.file:
        if not ctc:
            raise ConfigError("evaluate.lexicon: lexicon decoding is for CTC recognizers")
        lexicon, lx = Lexicon.from_file(ev.lexicon.file, charset), ev.lexicon
        log.info("lexicon %s: %d words (%d the character list cannot spell left out)", lx.file, len(lexicon),
                 lexicon.skipped)
        extra["lexicon"] = lambda probs, greedy: [
            lexicon_decode(p, t, c, lexicon, charset, lx.max_edits, lx.bonus)[0] for p, (t, c) in zip(probs, greedy)]
    return extra


def _score(model, loader, decoders: dict, extra: dict, charset, prediction: str) -> Counter:
    """Feed every batch to the decoders; returns the samples that failed while reading, by reason."""
    device = next(model.parameters()).device
    skipped: Counter = Counter()
    with torch.no_grad():
        for batch in loader:
            skipped.update(batch["skipped"])
            if batch["images"] is None:  # every sample of the batch failed to read
                continue
            out = model(batch["images"].to(device))
            greedy = decode_batch(out, charset, prediction)
            decoders["greedy"].update([t for t, _ in greedy], batch["labels"])
            if extra:
                probs = out["probs"].float().cpu().numpy()
                for name, decode in extra.items():
                    decoders[name].update(decode(probs, greedy), batch["labels"])
    return skipped


def _counts(metric: RecognitionMetric, dataset, read_failures: Counter) -> dict:
    """evaluated / skipped {reason: count} / total; a mismatch would mean a sample counted twice or lost."""
    skipped = dataset.skipped + read_failures
    evaluated, total = len(metric.samples), dataset.total
    if evaluated + sum(skipped.values()) != total:
        raise RuntimeError(f"sample accounting is off: {evaluated} evaluated + {dict(skipped)} skipped != {total}")
    return {"evaluated": evaluated, "skipped": dict(sorted(skipped.items())), "total": total}


def _with_model_of(spec: OcrnetSpec, record: dict) -> OcrnetSpec:
    """Input geometry comes from the checkpoint, whatever the spec says."""

    spec = copy.deepcopy(spec)
    m = record["spec"]["model"]
    spec.model.input_height, spec.model.input_width = m["input_height"], m["input_width"]
    spec.model.input_channel, spec.model.keep_aspect_ratio = m["input_channel"], m.get("keep_aspect_ratio", False)
    spec.model.pad = m.get("pad", "edge")
    spec.model.dynamic_width = bool(m.get("dynamic_width", False))  # read as it was trained
    return spec


def _print_table(table: dict) -> None:
    """Decodings as rows, metrics as columns, each column as wide as its name."""
    log.info("decoding  " + "  ".join(_COLUMNS))
    for name, row in table.items():
        log.info(f"{name:<8}  " + "  ".join(f"{row[c]:>{len(c)}.4f}" for c in _COLUMNS))
