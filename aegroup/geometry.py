"""Affine maps between the image, network-input and heatmap frames (numpy only).

Frame convention: pixel centres sit at integer coordinates in every frame (image, input, heatmap; see
`input_to_heatmap` for the stride), and an affine is a (2, 3) float64 matrix mapping column vectors
(x, y, 1).
"""

from __future__ import annotations

import math

import numpy as np


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
    return point_affine((width - 1) / 2, (height - 1) / 2, input_size, scale, degrees, dx, dy)


def point_affine(
    cx: float, cy: float, input_size: int, scale: float, degrees: float, dx: float, dy: float
) -> np.ndarray:
    """Image -> input affine: image point (cx, cy) to input centre (+dx, dy), scaled by `scale` and rotated
    by `degrees` about it."""
    theta = math.radians(degrees)
    c, s = math.cos(theta) * scale, math.sin(theta) * scale
    mid = (input_size - 1) / 2
    rot = np.array([[c, -s, 0.0], [s, c, 0.0]])
    return compose(
        np.array([[1.0, 0.0, mid + dx], [0.0, 1.0, mid + dy]]), rot, np.array([[1, 0, -cx], [0, 1, -cy]])
    )


def hflip_affine(width: int) -> np.ndarray:
    """Image -> image affine mirroring x within an image `width` pixels wide."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])
