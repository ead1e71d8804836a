"""Building blocks of the stacked hourglass: conv-BN-ReLU, pre-activation bottleneck residual."""

from __future__ import annotations

import torch
from torch import nn


class ConvBnRelu(nn.Sequential):
    """Convolution (same padding), then optional batch norm and ReLU."""

    def __init__(
        self, inp: int, out: int, kernel: int = 1, stride: int = 1, bn: bool = True, relu: bool = True
    ) -> None:
        layers: list[nn.Module] = [nn.Conv2d(inp, out, kernel, stride, padding=kernel // 2, bias=not bn)]
        if bn:
            layers.append(nn.BatchNorm2d(out))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Residual(nn.Module):
    """Pre-activation bottleneck (BN-ReLU-conv 1x1, 3x3, 1x1) plus a skip, 1x1 conv if widths differ."""

    def __init__(self, inp: int, out: int) -> None:
        super().__init__()
        mid = max(out // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(inp),
            nn.ReLU(inplace=True),
            nn.Conv2d(inp, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out, 1),
        )
        self.skip: nn.Module = nn.Identity() if inp == out else nn.Conv2d(inp, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual output `[B, out, H, W]` of `x` `[B, inp, H, W]`."""
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """Hourglass: per level a same-resolution branch plus a pooled, wider, recursive one, summed."""

    def __init__(self, depth: int, channels: int, increase: int) -> None:
        super().__init__()
        wide = channels + increase
        self.up = Residual(channels, channels)
        self.pool = nn.MaxPool2d(2, 2)
        self.down = Residual(channels, wide)
        self.inner: nn.Module = Hourglass(depth - 1, wide, increase) if depth > 1 else Residual(wide, wide)
        self.back = Residual(wide, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features `[B, C, H, W]` -> `[B, C, H, W]` mixing `depth` scales."""
        low = self.back(self.inner(self.down(self.pool(x))))
        # Upsampling to the skip's size (not a fixed x2) lets inputs of any size through.
        return self.up(x) + nn.functional.interpolate(low, size=x.shape[-2:], mode="nearest")
