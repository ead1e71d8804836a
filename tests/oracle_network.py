"""An "oracle" pose network for prediction tests: joint type and instance read from pixel colours.

Red codes the joint, green the instance, blue marks a joint, so its maps are exact and any error in the
image <-> network frame mapping shows up as a keypoint in the wrong place. It is convolution-like
(per-pixel, then 4x4 average pooling), so it is equivariant to flips and scales exactly as a trained network
should be.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from aegroup.data.transforms import MEAN, STD
from aegroup.model import ModelOutput
from aegroup.schema import PoseSchema

SCHEMA = PoseSchema(name="tripod", joints=["a", "b", "c"], edges=[("a", "b"), ("b", "c")])
RADIUS = 3


class Oracle(torch.nn.Module):
    """Heatmaps and tags decoded from pixel colours, at a quarter of the input resolution."""

    def __init__(self, num_joints: int) -> None:
        super().__init__()
        self.codes = torch.tensor([joint_red(k) / 255 for k in range(num_joints)])
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> ModelOutput:
        rgb = images * self.std + self.mean
        blue = rgb[:, 2:3].clamp(min=1e-3)
        marker = (blue > 0.3).float()
        # Codes are colour ratios to blue, which resampling against the black background leaves unchanged.
        hit = marker * (torch.abs(rgb[:, :1] / blue - self.codes.view(1, -1, 1, 1)) < 0.04).float()
        # A Gaussian blur gives each disc a single smooth peak; pooling by 4 makes the stride-4 maps.
        heat = torch.nn.functional.avg_pool2d(blur(hit), 4)
        green = torch.nn.functional.avg_pool2d(blur(hit * rgb[:, 1:2] / blue * 10), 4)
        tags = (green / heat.clamp(min=1e-6)).unsqueeze(2)
        # A symmetric disc can straddle two pooling cells exactly; a faint ramp breaks such ties the way
        # a real network's noise would, so each disc has one peak.
        h, w = heat.shape[-2:]
        # Quadratic, so that averaging with a flipped view does not cancel it.
        heat = heat * (1 + 1e-3 * torch.linspace(0, 1, w) ** 2 + 1e-4 * torch.linspace(0, 1, h)[:, None] ** 2)
        return ModelOutput(heatmaps=[heat / heat.amax().clamp(min=1e-6)], tags=[tags])


def blur(maps: torch.Tensor, sigma: float = 3.0) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) maps, per channel."""
    r = int(3 * sigma)
    x = torch.arange(-r, r + 1, dtype=maps.dtype)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    c = maps.shape[1]
    out = torch.nn.functional.conv2d(maps, g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), padding=(0, r), groups=c)
    return torch.nn.functional.conv2d(out, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), padding=(r, 0), groups=c)


def joint_red(k: int) -> int:
    """Red value coding joint type k."""
    return 60 + 60 * k


def draw(width: int, height: int, instances: np.ndarray) -> np.ndarray:
    """A black image with one coloured disc per joint of each (N, K, 2) instance."""
    image = Image.new("RGB", (width, height))
    pen = ImageDraw.Draw(image)
    for n, joints in enumerate(instances):
        for k, (x, y) in enumerate(joints):
            box = (x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS)
            pen.ellipse(box, fill=(joint_red(k), 40 + 60 * n, 255))
    return np.asarray(image)
