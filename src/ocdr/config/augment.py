"""Augmentation specs of the detector and recognizer datasets (``dataset.augmentation``), typed config.

The transforms that apply them live in ``ocdr.data.transforms`` and ``ocdr.data.rec_transforms``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ocdr.errors import ConfigError

__all__ = ["DetAugSpec", "RecAugSpec"]


@dataclass
class DetAugSpec:
    enable: bool = field(default=True, metadata={"help": "augment training images (false: resize and pad only)"})
    flip_prob: float = field(default=0.5, metadata={"help": "horizontal flip probability (as DBNet and TAO)"})
    rotate_deg: float = field(default=10.0, metadata={"help": "random rotation, uniform in [-deg, deg]"})
    scale_min: float = field(default=0.5, metadata={"help": "smallest random scale"})
    scale_max: float = field(default=3.0, metadata={"help": "largest random scale"})
    scale_long_side: int = field(default=0, metadata={"help": "0: the random scale is of the image's own size; N: of "
                                                             "the image resized to long side N (the size it is read "
                                                             "at), for a set of images of very different sizes"})
    crop_size: int = field(default=640, metadata={"help": "training crop side (square, multiple of 32)"})
    crop_keep_text: bool = field(default=True, metadata={"help": "crop windows avoid cutting text when they can"})
    color_prob: float = field(default=0.5, metadata={"help": "brightness/contrast/saturation/hue jitter probability"})
    blur_prob: float = field(default=0.1, metadata={"help": "Gaussian blur probability"})

    def validate(self) -> None:
        if self.crop_size <= 0 or self.crop_size % 32:
            raise ConfigError(f"augmentation.crop_size: {self.crop_size} is not a positive multiple of 32")
        for name in ("flip_prob", "color_prob", "blur_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"augmentation.{name}: {getattr(self, name)} is not a probability in [0, 1]")
        if not 0 < self.scale_min <= self.scale_max:
            raise ConfigError(f"augmentation.scale_min/scale_max: need 0 < {self.scale_min} <= {self.scale_max}")
        if self.rotate_deg < 0:
            raise ConfigError(f"augmentation.rotate_deg: {self.rotate_deg} is negative")
        if self.scale_long_side < 0:
            raise ConfigError(f"augmentation.scale_long_side: {self.scale_long_side} is negative (0: off)")


@dataclass
class RecAugSpec:
    aug_prob: float = field(default=0.5, metadata={"help": "probability of each augmentation step"})
    invert: bool = field(default=True, metadata={"help": "colour inversion (light text on dark)"})
    rotate_deg: float = field(default=5.0, metadata={"help": "rotation up to this angle"})
    blur: bool = field(default=True, metadata={"help": "Gaussian blur"})
    noise: bool = field(default=True, metadata={"help": "Gaussian noise"})
    perspective: float = field(default=0.05, metadata={"help": "corner jitter of a slight perspective, as a fraction"})
    shear_deg: float = field(default=0.0, metadata={"help": "handwriting slant: horizontal shear up to this angle (0: off)"})
    elastic: float = field(default=0.0, metadata={"help": "elastic distortion: displacement up to this fraction of the "
                                                          "crop height, smooth over a fifth of it (0: off)"})
    stroke_width: bool = field(default=False, metadata={"help": "thicker or thinner strokes (3x3 erosion or dilation)"})

    def validate(self) -> None:
        if not 0 <= self.aug_prob <= 1:
            raise ConfigError(f"dataset.augmentation.aug_prob must be in [0, 1], got {self.aug_prob}")
        if not 0 <= self.shear_deg < 60:
            raise ConfigError(f"dataset.augmentation.shear_deg must be in [0, 60), got {self.shear_deg}")
        if not 0 <= self.elastic <= 0.5:
            raise ConfigError(f"dataset.augmentation.elastic must be in [0, 0.5], got {self.elastic}")
