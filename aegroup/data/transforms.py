"""Image transforms: augmentation, warping, normalisation and the inference `preprocess`.

Frames and affines are `aegroup.geometry`'s. Pillow samples with pixel centres at half-integers, so `warp`
shifts by half a pixel.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aegroup.geometry import compose, fit_affine, hflip_affine, invert_affine, point_affine

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
"""Per-channel RGB mean on the 0..1 scale (ImageNet statistics)."""
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
"""Per-channel RGB standard deviation on the 0..1 scale."""

PAD_COLOR = tuple(round(float(m) * 255) for m in MEAN)
"""Fill colour outside the image: the mean, so padding normalises to zero."""


class AugmentConfig(BaseModel):
    """Random per-sample affine for training: scale, rotation, translation and horizontal flip, about the
    image's centre or a labelled instance's, with zoom 1 fitting the image or keeping its pixels (crops)."""

    model_config = ConfigDict(extra="forbid")

    scale_min: float = Field(0.75, gt=0, description="Smallest zoom factor relative to `scale_reference`.")
    scale_max: float = Field(1.25, gt=0, description="Largest zoom factor relative to `scale_reference`.")
    rotation: float = Field(30.0, ge=0, le=180, description="Maximum rotation in degrees (uniform +-).")
    translate: float = Field(
        0.08, ge=0, le=1, description="Maximum shift as a fraction of the input size (uniform +-, per axis)."
    )
    flip_prob: float = Field(0.5, ge=0, le=1, description="Probability of a horizontal flip.")
    scale_reference: Literal["fit", "native"] = Field(
        "fit",
        description="What zoom 1 means: 'fit' scales the whole image into the input; 'native' keeps one "
        "image pixel per input pixel, so the input is a crop of input_size pixels (animals small in large "
        "frames; validation and prediction then see whole frames at native scale: eval_input_size).",
    )
    center: Literal["image", "instance"] = Field(
        "image",
        description="Point put at the input centre before the shift: 'image' the image centre; 'instance' "
        "the box centre of the labelled joints of an instance drawn at random (crops that hold an animal).",
    )
    random_center_prob: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Probability of centring on a uniformly random image point instead of `center`: crops of "
        "the background, so that a model trained on crops finds no animals in the rest of whole frames.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> AugmentConfig:
        if self.scale_min > self.scale_max:
            raise ValueError(f"field 'scale_min': {self.scale_min} is larger than scale_max {self.scale_max}")
        return self


def random_affine(
    width: int,
    height: int,
    input_size: int,
    config: AugmentConfig,
    rng: np.random.Generator,
    instances: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """A random image -> input affine (flip included when drawn) and whether it flips.

    `instances` (N, K, 3) x, y, v in image pixels are the candidates for `config.center == "instance"`;
    without a labelled one the image centre is used. A random centre (`random_center_prob`) is a point of
    the (flipped) image, drawn uniformly.
    """
    base = 1.0 if config.scale_reference == "native" else input_size / max(width, height)
    scale = base * rng.uniform(config.scale_min, config.scale_max)
    degrees = rng.uniform(-config.rotation, config.rotation)
    dx, dy = rng.uniform(-config.translate, config.translate, size=2) * input_size
    flipped = bool(rng.random() < config.flip_prob)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    if config.random_center_prob > 0 and rng.random() < config.random_center_prob:
        cx, cy = rng.uniform(0, width - 1), rng.uniform(0, height - 1)
    elif config.center == "instance" and instances is not None:
        point = instance_centre(instances, rng)
        if point is not None:
            # The flip is applied to the image first, so the instance's centre is taken in the mirror.
            cx, cy = (width - 1 - point[0], point[1]) if flipped else point
    affine = point_affine(cx, cy, input_size, scale, degrees, dx, dy)
    if flipped:
        affine = compose(affine, hflip_affine(width))
    return affine, flipped


def instance_centre(instances: np.ndarray, rng: np.random.Generator) -> tuple[float, float] | None:
    """Box centre (x, y) of the labelled joints of one instance drawn uniformly from those with any; None
    when no instance has a labelled joint. `instances` is (N, K, 3) x, y, v."""
    labelled = np.asarray(instances, dtype=np.float64)[..., 2] > 0
    candidates = np.flatnonzero(labelled.any(axis=1))
    if candidates.size == 0:
        return None
    chosen = int(candidates[rng.integers(candidates.size)])
    xy = np.asarray(instances, dtype=np.float64)[chosen, labelled[chosen], :2]
    low, high = xy.min(axis=0), xy.max(axis=0)
    return float((low[0] + high[0]) / 2), float((low[1] + high[1]) / 2)


def warp(
    image: Image.Image,
    affine: np.ndarray,
    size: int,
    resample: Image.Resampling = Image.Resampling.BILINEAR,
    fill: int | tuple[int, ...] = 0,
) -> Image.Image:
    """Resample `image` into a `size` x `size` frame through the (2, 3) affine, prefiltering big shrinks."""
    affine = np.asarray(affine, dtype=np.float64)
    # Bilinear sampling aliases when shrinking a lot: shrink by an integer box filter first.
    shrink = math.sqrt(abs(np.linalg.det(affine[:, :2])))
    factor = int(1.0 / shrink) if shrink > 0 else 1
    if factor >= 2 and resample != Image.Resampling.NEAREST:
        image = image.reduce(factor)
        # Reduced pixel centre u sits at image pixel factor*u + (factor-1)/2.
        back = np.array([[factor, 0.0, (factor - 1) / 2], [0.0, factor, (factor - 1) / 2]])
        affine = compose(affine, back)
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    # Pillow wants output (corner frame) -> input (corner frame).
    inverse_corner = compose(half, invert_affine(affine), invert_affine(half))
    return image.transform(
        (size, size),
        Image.Transform.AFFINE,
        data=tuple(inverse_corner.reshape(-1)),
        resample=resample,
        fillcolor=fill,
    )


def normalize(image: np.ndarray) -> np.ndarray:
    """(3, H, W) float32 from an (H, W, 3) uint8 RGB image, scaled to 0..1 and standardised by MEAN/STD."""
    out = np.asarray(image, dtype=np.float32) / 255.0
    out = (out - MEAN) / STD
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def preprocess(image: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Network input for inference: resize keeping aspect ratio, pad, normalise.

    Returns the (3, S, S) float32 input and the (2, 3) image -> input affine.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    height, width = image.shape[:2]
    affine = fit_affine(width, height, input_size)
    warped = warp(Image.fromarray(image[:, :, :3]), affine, input_size, fill=PAD_COLOR)
    return normalize(np.asarray(warped)), affine
