"""The stacked-hourglass associative-embedding network (Newell et al. 2016, 2017)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from aegroup.model.blocks import ConvBnRelu, Hourglass, Residual
from aegroup.model.config import ModelConfig

HEATMAP_INIT_STD = 1e-3
"""Std of the heatmap head's initial weights: heatmaps start near zero, the value of most target pixels."""


class ModelOutput(NamedTuple):
    """Per-stack predictions: `heatmaps` `[B, K, H, W]` and `tags` `[B, K, D, H, W]` (H, W = input / 4)."""

    heatmaps: list[torch.Tensor]
    tags: list[torch.Tensor]


class HourglassAE(nn.Module):
    """Stem to stride 4, `nstack` hourglasses each predicting K heatmaps and K*D tag maps, merged back."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        c, s = cfg.channels, cfg.stem_channels
        k, d = cfg.num_joints, cfg.tag_dim
        self.stem = nn.Sequential(
            ConvBnRelu(3, s, kernel=7, stride=2),
            Residual(s, 2 * s),
            nn.MaxPool2d(2, 2),
            Residual(2 * s, 2 * s),
            Residual(2 * s, c),
        )
        self.hourglasses = nn.ModuleList(Hourglass(cfg.depth, c, cfg.increase) for _ in range(cfg.nstack))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(c, c), ConvBnRelu(c, c, kernel=1)) for _ in range(cfg.nstack)
        )
        self.heads = nn.ModuleList(nn.Conv2d(c, k + k * d, 1) for _ in range(cfg.nstack))
        # Intermediate supervision: the last stack's features and predictions are not merged anywhere.
        self.merge_features = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(cfg.nstack - 1))
        self.merge_preds = nn.ModuleList(nn.Conv2d(k + k * d, c, 1) for _ in range(cfg.nstack - 1))
        self._init_heads()

    def _init_heads(self) -> None:
        """Heatmap channels start near zero; tag channels keep PyTorch's default initialisation."""
        k = self.config.num_joints
        with torch.no_grad():
            for head in self.heads:
                head.weight[:k].normal_(0.0, HEATMAP_INIT_STD)
                head.bias[:k].zero_()

    def forward(self, images: torch.Tensor) -> ModelOutput:
        """Normalised images `[B, 3, S, S]` -> heatmaps and tags of every stack at stride 4."""
        k, d = self.config.num_joints, self.config.tag_dim
        x = self.stem(images)
        heatmaps: list[torch.Tensor] = []
        tags: list[torch.Tensor] = []
        for i, hourglass in enumerate(self.hourglasses):
            feature = self.features[i](hourglass(x))
            pred = self.heads[i](feature)
            b, _, h, w = pred.shape
            heatmaps.append(pred[:, :k])
            tags.append(pred[:, k:].reshape(b, k, d, h, w))
            if i < len(self.merge_preds):
                x = x + self.merge_preds[i](pred) + self.merge_features[i](feature)
        return ModelOutput(heatmaps, tags)


def build_model(cfg: ModelConfig) -> HourglassAE:
    """A freshly initialised network for `cfg`."""
    return HourglassAE(cfg)
