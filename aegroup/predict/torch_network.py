"""The torch backend of prediction: a model's forward pass on a device, last stack's maps out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aegroup.errors import AegroupError
from aegroup.training.checkpoint import Checkpoint, load_model, pick_device


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


def load_network(
    path: str | Path, device: str | torch.device = "auto", threads: int = 0
) -> tuple[TorchNetwork, Checkpoint]:
    """A checkpoint's model as a `TorchNetwork` on `device` ('auto': CUDA when present), and the checkpoint.

    `threads` > 0 sets torch's intra-op CPU threads for the whole process (0 keeps torch's default).
    """
    if threads < 0:
        raise AegroupError(f"threads: expected 0 (torch's default) or more, got {threads}")
    if threads > 0:
        torch.set_num_threads(threads)
    model, ckpt = load_model(path, pick_device(device))
    return TorchNetwork(model, next(model.parameters()).device), ckpt
