"""TAO's spec layout, translated into ocdr's keys.

A spec written for ``tao model ocdnet ...`` or ``tao model ocrnet ...`` loads unchanged: each TAO key
that ocdr spells differently is rewritten (one INFO line each, with the file and line), keys that mean
nothing here (``encryption_key``, ``gpu_id``, TensorRT settings) are dropped with a warning, and every
other key passes through to ocdr's own validation. The tables work on flat ``dotted.key -> value``
dicts, after OmegaConf has resolved the file's ``${...}`` interpolations.
"""
from __future__ import annotations

import fnmatch
import math
import posixpath
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Rule", "TaoLayout", "Note", "translate", "OCDNET", "OCRNET", "OCRNET_CONVERT"]


class TaoValueError(ValueError):
    """A TAO value with no ocdr equivalent; ``key`` is the TAO key, for the loader's file:line."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Rule:
    """``srcs`` (TAO keys, read together) -> ocdr keys; ``fn`` gets one value per src (None: absent)."""
    srcs: tuple[str, ...]
    fn: Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class TaoLayout:
    rules: tuple[Rule, ...]
    ignored: dict[str, str] = field(default_factory=dict)   # key pattern (fnmatch) -> why it is dropped
    quiet: tuple[str, ...] = ()                              # patterns other commands read: dropped silently


@dataclass(frozen=True)
class Note:
    level: str      # "info" | "warning"
    key: str        # the TAO key, for the file:line
    text: str


def rename(src: str, dst: str, convert: Callable[[Any], Any] | None = None) -> Rule:
    return Rule((src,), lambda v: {dst: convert(v) if convert else v})


def _choice(table: dict[str, str], what: str) -> Callable[[Any], str]:
    lowered = {k.lower(): v for k, v in table.items()}

    def convert(value: Any) -> str:
        key = str(value).lower()
        if key not in lowered:
            raise TaoValueError(f"{what} '{value}' has no ocdr equivalent (known: {', '.join(table)})")
        return lowered[key]
    return convert


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _round32(value: float) -> int:
    return int(math.ceil(float(value) / 32) * 32)


_PRECISION = _choice({"fp32": "32", "fp16": "16-mixed", "bf16": "bf16-mixed", "amp": "16-mixed", "32": "32",
                      "16-mixed": "16-mixed", "bf16-mixed": "bf16-mixed", "64": "64"}, "precision")
_OPTIMIZER = _choice({"Adam": "adam", "AdamW": "adamw", "SGD": "sgd", "adadelta": "adadelta"}, "optimizer")
_SCHEDULER = _choice({"WarmupPolyLR": "poly", "poly": "poly", "MultiStep": "multistep", "cosine": "cosine",
                      "CosineAnnealing": "cosine", "AutoReduce": "plateau", "plateau": "plateau", "none": "none"},
                     "lr_scheduler")


def _gpus(ids: Any) -> dict:
    return {"train.num_gpus": max(1, len(_as_list(ids)))}


def _postprocess(section: str) -> tuple[Rule, ...]:
    """TAO keeps post-processing in train, evaluate and inference; ocdr has one ``postprocess`` section."""
    base = f"{section}.post_processing"

    def kind(value: Any) -> dict:
        if str(value) != "SegDetectorRepresenter":
            raise TaoValueError(f"post_processing type '{value}' has no ocdr equivalent (SegDetectorRepresenter)")
        return {}
    return (Rule((f"{base}.type",), kind),
            *(rename(f"{base}.args.{key}", f"postprocess.{key}")
              for key in ("thresh", "box_thresh", "max_candidates", "unclip_ratio")),
            rename(f"{section}.metric.args.is_output_polygon", "postprocess.polygon"))


def _iaa(augs: Any) -> dict:
    out = {}
    for aug in _as_list(augs):
        kind, args = aug.get("type"), aug.get("args") or {}
        if kind == "Fliplr":
            out["dataset.augmentation.flip_prob"] = float(args.get("p", 0.5))
        elif kind == "Affine":
            out["dataset.augmentation.rotate_deg"] = max(abs(float(d)) for d in _as_list(args.get("rotate", [0])))
        elif kind == "Resize":
            sizes = [float(s) for s in _as_list(args.get("size", [1.0]))]
            out["dataset.augmentation.scale_min"], out["dataset.augmentation.scale_max"] = min(sizes), max(sizes)
        else:
            raise TaoValueError(f"IaaAugment '{kind}' has no ocdr equivalent (Fliplr, Affine rotate, Resize size)")
    return out


def _train_pre_processes(items: Any) -> dict:
    """TAO's list defines the augmentation: what it does not list is off (as in TAO)."""
    out: dict[str, Any] = {"dataset.augmentation.flip_prob": 0.0, "dataset.augmentation.rotate_deg": 0.0,
                           "dataset.augmentation.scale_min": 1.0, "dataset.augmentation.scale_max": 1.0}
    for item in _as_list(items):
        kind, args = item.get("type"), item.get("args") or {}
        if kind == "IaaAugment":
            out.update(_iaa(args))
        elif kind == "EastRandomCropData":
            # ocdr's training crop is square: TAO's [w, h] becomes its larger side
            out["dataset.augmentation.crop_size"] = _round32(max(_as_list(args.get("size", [640]))))
        elif kind in ("MakeBorderMap", "MakeShrinkMap"):
            for key in ("shrink_ratio", "thresh_min", "thresh_max", "min_text_size"):
                if key in args:
                    out[f"dataset.{key}"] = args[key]
        else:
            raise TaoValueError(f"pre_processes type '{kind}' has no ocdr equivalent "
                                "(IaaAugment, EastRandomCropData, MakeBorderMap, MakeShrinkMap)")
    return out


def _validate_pre_processes(items: Any) -> dict:
    out = {}
    for item in _as_list(items):
        kind, args = item.get("type"), item.get("args") or {}
        if kind != "Resize2D":
            raise TaoValueError(f"validate pre_processes type '{kind}' has no ocdr equivalent (Resize2D)")
        # TAO resizes to short_size [w, h]; ocdr resizes the long side and keeps the aspect ratio
        long_side = _round32(max(_as_list(args.get("short_size", [640]))))
        out.update({"dataset.image_size": long_side, "evaluate.long_side": long_side})
    return out


def _inference_size(width: Any, height: Any) -> dict:
    sides = [v for v in (width, height) if v is not None]
    return {"inference.long_side": _round32(max(sides))}


def _onnx_file(name: str, section: str = "export") -> Callable[[Any, Any], dict]:
    def convert(results_dir: Any, onnx_file: Any) -> dict:
        if onnx_file:
            return {f"{section}.onnx_file": onnx_file}
        return {f"{section}.onnx_file": posixpath.join(str(results_dir), name)}
    return convert


def _dry_run(value: Any) -> dict:
    return {"train.max_steps": 1} if value else {}


def _gt_file(value: Any) -> dict:
    raise TaoValueError("TAO's raw-image layout (images folder + gt file); ocdr reads the gt list itself: "
                        "set the dataset folder key to the gt list (path<TAB>label lines) or convert it with "
                        "ocdr ocrnet dataset_convert")


_COMMON_IGNORED = {
    "encryption_key": "ocdr checkpoints are not encrypted",
    "*gpu_id": "ocdr picks its device from train.device / device (auto: CUDA when present)",
    "gen_trt_engine*": "TensorRT engines are built from the exported ONNX by trtexec or Triton, not by ocdr",
    "*trt_engine": "TensorRT engines are built from the exported ONNX by trtexec or Triton, not by ocdr",
    "train.distributed_strategy": "ocdr trains multi-device with DDP",
}

OCDNET = TaoLayout(
    rules=(
        rename("dataset.train_dataset.data_path", "dataset.train_data_path", _as_list),
        rename("dataset.validate_dataset.data_path", "dataset.validate_data_path", _as_list),
        rename("dataset.train_dataset.loader.batch_size", "train.batch_size"),
        rename("dataset.train_dataset.loader.num_workers", "train.num_workers"),
        Rule(("dataset.train_dataset.args.pre_processes",), _train_pre_processes),
        Rule(("dataset.validate_dataset.args.pre_processes",), _validate_pre_processes),
        rename("train.optimizer.type", "train.optim.optim", _OPTIMIZER),
        rename("train.optimizer.args.lr", "train.optim.lr"),
        rename("train.optimizer.args.weight_decay", "train.optim.weight_decay"),
        rename("train.optimizer.args.momentum", "train.optim.momentum"),
        rename("train.lr_scheduler.type", "train.optim.lr_scheduler", _SCHEDULER),
        rename("train.lr_scheduler.args.warmup_epoch", "train.optim.warmup_epochs", float),
        rename("train.trainer.clip_grad_norm", "train.clip_grad_norm"),
        rename("train.model_ema", "train.ema"),
        rename("train.model_ema_decay", "train.ema_decay"),
        rename("train.precision", "train.precision", _PRECISION),
        rename("train.gpu_ids", "train.num_gpus", lambda ids: max(1, len(_as_list(ids)))),
        Rule(("train.is_dry_run",), _dry_run),
        *_postprocess("train"), *_postprocess("evaluate"), *_postprocess("inference"),
        rename("inference.input_folder", "inference.input"),
        rename("inference.polygon", "postprocess.polygon"),
        Rule(("inference.width", "inference.height"), _inference_size),
        Rule(("export.results_dir", "export.onnx_file"), _onnx_file("ocdnet.onnx")),
        rename("export.opset_version", "export.opset"),
    ),
    ignored={
        **_COMMON_IGNORED,
        "model.enlarge_feature_map_size": "applies to TAO's FAN-tiny backbone, which ocdr does not have",
        "model.activation_checkpoint": "applies to TAO's FAN-tiny backbone, which ocdr does not have",
        "model.fuse_qkv_proj": "applies to TAO's FAN-tiny backbone, which ocdr does not have",
        "model.quant": "ocdr does not train quantized detectors",
        "model.pretrained": "ocdr starts from model.pretrained_model_path when it is set",
        "model.in_channels": "ocdr's detectors read 3-channel images",
        "model.out_channels": "ocdr's DB head has its fixed outputs",
        "model.neck": "ocdr's DBNet uses an FPN neck",
        "model.head": "ocdr's DBNet uses the DB head",
        "train.loss*": "ocdr's DB loss has fixed weights (as DBNet: BCE with OHEM 3:1, L1 x 10, dice)",
        "train.metric.type": "ocdr evaluates with the ICDAR 2015 protocol",
        "evaluate.metric.type": "ocdr evaluates with the ICDAR 2015 protocol",
        "evaluate.batch_size": "ocdr evaluates one image at a time at its own size",
        "dataset.*.data_name": "ocdr reads ICDAR-style folders",
        "dataset.*.args.img_mode": "ocdr converts colours itself, as the model's settings say",
        "inference.img_mode": "ocdr converts colours itself, as the model's settings say",
        "dataset.*.args.filter_keys": "not used by ocdr",
        "dataset.*.args.ignore_tags": "ocdr ignores '###' boxes, as ICDAR 2015",
        "dataset.train_dataset.loader.shuffle": "ocdr always shuffles training data",
        "dataset.train_dataset.loader.pin_memory": "ocdr pins memory when training on CUDA",
        "dataset.train_dataset.loader.collate_fn": "not used by ocdr",
        "dataset.validate_dataset.loader*": "ocdr validates one image at a time",
        "inference.show": "ocdr writes annotated images into inference.results_dir",
        "export.width": "the exported graph has dynamic height and width",
        "export.height": "the exported graph has dynamic height and width",
        "export.verbose": "not used by ocdr",
        "prune.verbose": "ocdr always prints what it pruned",
    },
)

OCRNET = TaoLayout(
    rules=(
        rename("dataset.batch_size", "train.batch_size"),
        rename("dataset.workers", "train.num_workers"),
        rename("dataset.augmentation.keep_aspect_ratio", "model.keep_aspect_ratio"),
        Rule(("dataset.train_gt_file",), _gt_file),
        Rule(("dataset.val_gt_file",), _gt_file),
        Rule(("evaluate.test_dataset_gt_file",), _gt_file),
        rename("train.optim.name", "train.optim.optim", _OPTIMIZER),
        rename("train.optim.lr_scheduler", "train.optim.lr_scheduler", _SCHEDULER),
        rename("train.gpu_ids", "train.num_gpus", lambda ids: max(1, len(_as_list(ids)))),
        rename("train.pretrained_model_path", "model.pretrained_model_path"),
        rename("train.precision", "train.precision", _PRECISION),
        Rule(("export.results_dir", "export.onnx_file"), _onnx_file("ocrnet.onnx")),
    ),
    ignored={
        **_COMMON_IGNORED,
        "model.feature_channel": "ocdr's ResNet backbone has 512 output channels",
        "model.quantize": "ocdr does not train quantized recognizers",
        "train.quantize_model_path": "ocdr does not train quantized recognizers",
        "train.optim.lr_monitor": "ocdr's plateau scheduler watches the validation loss",
        "train.optim.min_lr": "not used by ocdr",
        "evaluate.batch_size": "ocdr evaluates in batches of train.batch_size",
        "evaluate.input_width": "the checkpoint carries its input size",
        "evaluate.input_height": "the checkpoint carries its input size",
        "inference.input_width": "the checkpoint carries its input size",
        "inference.input_height": "the checkpoint carries its input size",
    },
    quiet=("dataset_convert*",),
)

# ``ocdr ocrnet dataset_convert`` reads the dataset_convert section of TAO's experiment.yaml
OCRNET_CONVERT = TaoLayout(
    rules=(
        rename("dataset_convert.input_img_dir", "image_dir"),
        rename("dataset_convert.gt_file", "gt_list"),
        rename("dataset_convert.results_dir", "output_dir"),
    ),
    ignored={"encryption_key": _COMMON_IGNORED["encryption_key"]},
    quiet=("model*", "dataset.*", "train*", "evaluate*", "inference*", "export*", "prune*", "gen_trt_engine*",
           "results_dir", "dataset_convert.gpu_id"),
)


def _matches(key: str, patterns) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(key, pattern):
            return pattern
    return None


def translate(flat: dict[str, Any], layout: TaoLayout) -> tuple[dict[str, Any], list[Note], dict[str, str]]:
    """Rewrite TAO keys of ``flat`` into ocdr's; other keys pass through. Returns the new flat dict, the notes
    and {ocdr key: the TAO key it came from}. Raises TaoValueError (with its key)."""
    rest = dict(flat)
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    notes: list[Note] = []
    for rule in layout.rules:
        present = [s for s in rule.srcs if s in rest]
        if not present:
            continue
        values = [rest.pop(s, None) for s in rule.srcs]
        try:
            produced = rule.fn(*values)
        except TaoValueError as exc:
            raise TaoValueError(str(exc), key=present[0]) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise TaoValueError(f"cannot be read as TAO's layout ({exc})", key=present[0]) from None
        src = present[0]
        for dst, value in produced.items():
            if dst in out and out[dst] != value:
                notes.append(Note("warning", src, f"{src} sets {dst}={value!r}, replacing {origin[dst]}'s {out[dst]!r} "
                                                  "(ocdr has one value for both)"))
            out[dst], origin[dst] = value, src
        moved = ", ".join(f"{dst}={value!r}" for dst, value in produced.items())
        if produced and (rule.srcs != tuple(produced) or list(produced.values()) != values):
            notes.append(Note("info", src, f"TAO key {'+'.join(present)} -> {moved}"))
    for key in list(rest):
        pattern = _matches(key, layout.ignored)
        if pattern is not None:
            notes.append(Note("warning", key, f"TAO key {key} ignored: {layout.ignored[pattern]}"))
            del rest[key]
        elif _matches(key, layout.quiet) is not None:
            del rest[key]
    for key, value in rest.items():
        if key in out:
            notes.append(Note("warning", key, f"{key} is given beside {origin[key]} (TAO's spelling): keeping {key}={value!r}"))
        out[key] = value
        origin.pop(key, None)
    return out, notes, origin
