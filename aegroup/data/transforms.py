"""Affine maps between image, input and heatmap frames; augmentation; normalisation; `preprocess`.

Frame convention: pixel centres sit at integer coordinates in every frame (image, input, heatmap; see
`input_to_heatmap` for the stride), and an affine is a (2, 3) float64 matrix mapping column vectors
(x, y, 1). Pillow samples with pixel centres at half-integers, so `warp` shifts by half a pixel.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

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


def to3x3(affine: np.ndarray) -> np.ndarray:
    """The (3, 3) homogeneous form of a (2, 3) affine."""
    return np.vstack([np.asarray(affine, dtype=np.float64), [0.0, 0.0, 1.0]])


def compose(*affines: np.ndarray) -> np.ndarray:
    """(2, 3) affine applying the arguments right to left, like matrix products: compose(b, a) = b after a."""
    out = np.eye(3)
    for a in affines:
        out = out @ to3x3(a)
    return out[:2]


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """(2, 3) inverse of a (2, 3) affine."""
    return np.linalg.inv(to3x3(affine))[:2]


def apply_affine(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Map (..., 2) points x, y through a (2, 3) affine."""
    points = np.asarray(points, dtype=np.float64)
    affine = np.asarray(affine, dtype=np.float64)
    return points @ affine[:, :2].T + affine[:, 2]


def scale_affine(factor: float) -> np.ndarray:
    """(2, 3) affine scaling about the origin."""
    return np.array([[factor, 0.0, 0.0], [0.0, factor, 0.0]])


def input_to_heatmap(stride: int) -> np.ndarray:
    """(2, 3) affine from input to heatmap pixels: x_h = (x_in - (stride - 1) / 2) / stride.

    Heatmap pixel j covers input pixels stride*j .. stride*j + stride - 1, whose centre is
    stride*j + (stride - 1) / 2. With this offset a horizontal flip of the input is exactly a pixel
    mirror of the heatmap, which flip augmentation and flip testing rely on.
    """
    offset = (stride - 1) / 2
    return np.array([[1.0 / stride, 0.0, -offset / stride], [0.0, 1.0 / stride, -offset / stride]])


def heatmap_to_input(stride: int) -> np.ndarray:
    """(2, 3) affine from heatmap to input pixels: x_in = stride * x_h + (stride - 1) / 2."""
    offset = (stride - 1) / 2
    return np.array([[float(stride), 0.0, offset], [0.0, float(stride), offset]])


def fit_affine(width: int, height: int, input_size: int) -> np.ndarray:
    """Image -> input affine that scales the longer side to `input_size` and centres the image (padding)."""
    return centred_affine(width, height, input_size, input_size / max(width, height), 0.0, 0.0, 0.0)


def centred_affine(
    width: int, height: int, input_size: int, scale: float, degrees: float, dx: float, dy: float
) -> np.ndarray:
    """Image -> input affine: image centre to input centre (+dx, dy), with `scale` and rotation `degrees`."""
    theta = math.radians(degrees)
    c, s = math.cos(theta) * scale, math.sin(theta) * scale
    cx, cy = (width - 1) / 2, (height - 1) / 2
    mid = (input_size - 1) / 2
    rot = np.array([[c, -s, 0.0], [s, c, 0.0]])
    return compose(
        np.array([[1.0, 0.0, mid + dx], [0.0, 1.0, mid + dy]]), rot, np.array([[1, 0, -cx], [0, 1, -cy]])
    )


def hflip_affine(width: int) -> np.ndarray:
    """Image -> image affine mirroring x within an image `width` pixels wide."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


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
