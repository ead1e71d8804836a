"""Does an ONNX export predict what its checkpoint predicts? Maps and groupings compared image by image.

Both backends get the same preprocessed batches; PyTorch's maps are decoded on the tensor path
(`torch_candidates`), ONNX Runtime's on the numpy path, so the whole deployed pipeline is compared.
Where tags barely separate instances (an undertrained model), grouping turns on float rounding: PyTorch
then groups differently in another memory layout too, which the report counts as a yardstick.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aegroup.data.transforms import preprocess
from aegroup.decode import Instance, decode_batch
from aegroup.deploy.runtime import OnnxModel
from aegroup.training.checkpoint import load_model

TOLERANCE = 1e-4
"""Largest difference allowed between the backends' maps, and between matched instances' scores."""


@dataclass
class ParityReport:
    """The largest map differences over all images, and the images whose groupings differ."""

    images: int = 0
    instances: int = 0
    heatmap_difference: float = 0.0
    tag_difference: float = 0.0
    mismatches: list[str] = field(default_factory=list)
    torch_unstable: int = 0
    """Images PyTorch itself groups differently in channels_last layout (maps equal to float rounding)."""

    @property
    def identical(self) -> bool:
        """Maps within `TOLERANCE` and the same instances in every image."""
        worst = max(self.heatmap_difference, self.tag_difference)
        return worst <= TOLERANCE and not self.mismatches


def compare_backends(
    checkpoint: str | Path,
    onnx_model: OnnxModel,
    images: Iterable[np.ndarray],
    batch_size: int = 8,
    method: str = "hungarian",
) -> ParityReport:
    """Run the checkpoint (PyTorch, CPU) and its export (ONNX Runtime) on (H, W, 3) RGB images; compare."""
    network, _ = load_model(checkpoint, "cpu")
    meta = onnx_model.metadata
    report = ParityReport()
    for chunk in batches(images, batch_size):
        inputs = np.stack([preprocess(image, meta.input_size)[0] for image in chunk])
        batch = torch.from_numpy(inputs)
        with torch.no_grad():
            output = network(batch)
            other = network.to(memory_format=torch.channels_last)(batch.to(memory_format=torch.channels_last))
            network.to(memory_format=torch.contiguous_format)
        heat_torch, tag_torch = output.heatmaps[-1], output.tags[-1]
        heat_onnx, tag_onnx = onnx_model.run(inputs)
        report.heatmap_difference = max(report.heatmap_difference, _max_diff(heat_onnx, heat_torch))
        report.tag_difference = max(report.tag_difference, _max_diff(tag_onnx, tag_torch))
        want = decode_batch(heat_torch, tag_torch, meta.schema, method, meta.decode_config)
        got = decode_batch(heat_onnx, tag_onnx, meta.schema, method, meta.decode_config)
        layout = decode_batch(other.heatmaps[-1], other.tags[-1], meta.schema, method, meta.decode_config)
        for offset, (a, b, c) in enumerate(zip(got, want, layout, strict=True)):
            problem = grouping_difference(a, b)
            if problem:
                report.mismatches.append(f"image {report.images + offset}: {problem}")
            report.torch_unstable += grouping_difference(c, b) is not None
            report.instances += len(b)
        report.images += len(chunk)
    return report


def grouping_difference(got: list[Instance], want: list[Instance]) -> str | None:
    """Why two groupings of one image differ, or None when they hold the same instances.

    Instances are matched by their keypoints (x, y and presence exactly: positions are whole or quarter
    pixels, so a different peak shows); matched scores may differ by `TOLERANCE`. Order is not compared,
    as two instances whose scores differ by float rounding may swap.
    """
    if len(got) != len(want):
        return f"{len(got)} instances, PyTorch {len(want)}"
    index = {_key(inst): inst for inst in want}
    for inst in got:
        other = index.get(_key(inst))
        if other is None:
            return "an instance's keypoints differ"
        if abs(inst.score - other.score) > TOLERANCE:
            return f"instance score {inst.score:.6f}, PyTorch {other.score:.6f}"
    return None


def _key(instance: Instance) -> bytes:
    """An instance's identity: its keypoints' x, y and presence."""
    kp = instance.keypoints
    return np.concatenate([kp[:, :2].ravel(), (kp[:, 2] > 0).astype(np.float32)]).tobytes()


def _max_diff(a: np.ndarray, b: torch.Tensor) -> float:
    """Largest absolute difference between a numpy array and a tensor of the same shape."""
    return float(np.abs(a - b.numpy()).max()) if a.size else 0.0


def batches(items: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    """Consecutive lists of `size` items (the last one shorter)."""
    chunk: list[np.ndarray] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
