"""Image transforms: augmentation, warping, normalisation and the inference `preprocess`.

Frames and affines are `aegroup.geometry`'s. Pillow samples with pixel centres at half-integers, so `warp`
shifts by half a pixel.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aegroup.geometry import centred_affine, compose, fit_affine, hflip_affine, invert_affine

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
"""Per-channel RGB mean on the 0..1 scale (ImageNet statistics)."""
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
"""Per-channel RGB standard deviation on the 0..1 scale."""

PAD_COLOR = tuple(round(float(m) * 255) for m in MEAN)
"""Fill colour outside the image: the mean, so padding normalises to zero."""


class AugmentConfig(BaseModel):
    """Random per-sample affine for training: scale, rotation, translation and horizontal flip."""

    model_config = ConfigDict(extra="forbid")

    scale_min: float = Field(0.75, gt=0, description="Smallest zoom factor relative to fitting the image.")
    scale_max: float = Field(1.25, gt=0, description="Largest zoom factor relative to fitting the image.")
    rotation: float = Field(30.0, ge=0, le=180, description="Maximum rotation in degrees (uniform +-).")
    translate: float = Field(
        0.08, ge=0, le=1, description="Maximum shift as a fraction of the input size (uniform +-, per axis)."
    )
    flip_prob: float = Field(0.5, ge=0, le=1, description="Probability of a horizontal flip.")

    @model_validator(mode="after")
    def _ordered(self) -> AugmentConfig:
        if self.scale_min > self.scale_max:
            raise ValueError(f"field 'scale_min': {self.scale_min} is larger than scale_max {self.scale_max}")
        return self


def random_affine(
    width: int, height: int, input_size: int, config: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """A random image -> input affine (flip included when drawn) and whether it flips."""
    base = input_size / max(width, height)
    scale = base * rng.uniform(config.scale_min, config.scale_max)
    degrees = rng.uniform(-config.rotation, config.rotation)
    dx, dy = rng.uniform(-config.translate, config.translate, size=2) * input_size
    affine = centred_affine(width, height, input_size, scale, degrees, dx, dy)
    flipped = bool(rng.random() < config.flip_prob)
    if flipped:
        affine = compose(affine, hflip_affine(width))
    return affine, flipped


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
