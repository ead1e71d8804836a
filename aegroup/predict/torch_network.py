"""The torch backend of prediction: a model's forward pass on a device, last stack's maps out."""

from __future__ import annotations

import numpy as np
import torch

from aegroup.training.checkpoint import pick_device


class TorchNetwork:
    """A torch model returning `aegroup.model.ModelOutput`, run in eval mode on `device` (a `Network`)."""

    def __init__(self, model: torch.nn.Module, device: torch.device | str = "cpu") -> None:
        self.device = pick_device(device)
        # Channels-last convolutions: the faster layout on CPU (oneDNN) and GPU alike.
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()

    @torch.no_grad()
    def __call__(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The last stack's heatmaps (B, K, H, W) and tags (B, K, D, H, W), float32 on the model's device."""
        output = self.model(torch.from_numpy(batch).to(self.device))
        return output.heatmaps[-1].float(), output.tags[-1].float()
