"""`Predictor`: a trained network applied to images of any size; grouped instances in image pixels.

Each image is resized (aspect ratio kept) and padded to the network input (`images.input_batch`), the
`Network` (`torch_network.TorchNetwork` for a torch model) gives the last stack's maps, flip and
multi-scale test-time augmentation merge them (`aegroup.decode.tta`), `decode_batch_with_candidates`
groups the joints (one candidate extraction for instances and candidates), and `decode.to_image` maps
heatmap pixels back to image pixels through the inverse affine.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aegroup.decode import (
    Candidates,
    DecodeConfig,
    Instance,
    decode_batch_with_candidates,
    get_grouper,
    to_image,
    to_image_candidates,
)
from aegroup.decode.tta import merge_flip, merge_scales
from aegroup.errors import AegroupError
from aegroup.geometry import fit_affine, invert_affine
from aegroup.io.coco import read_rgb
from aegroup.predict.images import Prepared, input_batch, read_image
from aegroup.predict.network import Network
from aegroup.predict.torch_network import TorchNetwork
from aegroup.schema import PoseSchema
from aegroup.training.checkpoint import load_model, pick_device


@dataclass
class Prediction:
    """One image's result in image pixels: instances (highest score first) and, if asked, candidates."""

    instances: list[Instance]
    candidates: Candidates | None
    width: int
    height: int


class Predictor:
    """Runs a trained model on images and groups its output into instances in image pixels."""

    def __init__(
        self,
        network: Network | torch.nn.Module,
        schema: PoseSchema,
        input_size: int,
        output_stride: int = 4,
        size_multiple: int = 32,
        device: torch.device | str = "cpu",
        decode: DecodeConfig | None = None,
        method: str = "hungarian",
        flip: bool = False,
        scales: Sequence[float] = (1.0,),
    ) -> None:
        if not scales or any(s <= 0 for s in scales):
            raise AegroupError(f"scales: expected positive numbers, got {list(scales)}")
        get_grouper(method)  # an unknown grouper name fails here, before any image is read
        # A torch model runs on `device`; any other `Network` (another backend) is used as it is.
        self.network = TorchNetwork(network, device) if isinstance(network, torch.nn.Module) else network
        self.schema, self.input_size, self.stride = schema, input_size, output_stride
        self.size_multiple = size_multiple
        self.decode = decode or DecodeConfig()
        self.method, self.flip, self.scales = method, flip, tuple(float(s) for s in scales)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device = "auto",
        decode: DecodeConfig | None = None,
        method: str = "hungarian",
        flip: bool = False,
        scales: Sequence[float] = (1.0,),
        input_size: int | None = None,
    ) -> Predictor:
        """Load a checkpoint folder (or a run folder: its best); decoding defaults to the stored config."""
        model, ckpt = load_model(path, pick_device(device))
        multiple = ckpt.output_stride * 2**ckpt.model_config.depth
        return cls(
            model,
            ckpt.schema,
            input_size or ckpt.input_size,
            ckpt.output_stride,
            multiple,
            device=next(model.parameters()).device,
            decode=decode or ckpt.decode_config,
            method=method,
            flip=flip,
            scales=scales,
        )

    def scale_size(self, scale: float) -> int:
        """Network input side for one test scale, rounded to a size the hourglass accepts."""
        return max(
            self.size_multiple, round(self.input_size * scale / self.size_multiple) * self.size_multiple
        )

    def predict(self, image: np.ndarray | str | Path) -> list[Instance]:
        """Instances in one image (an (H, W, 3) uint8 RGB array or an image file), image pixels."""
        pixels = read_rgb(Path(image)) if isinstance(image, (str, Path)) else np.asarray(image)
        return self.predict_batch([pixels])[0].instances

    def predict_batch(self, images: Sequence[np.ndarray], candidates: bool = False) -> list[Prediction]:
        """Predictions for a list of (H, W, 3) uint8 RGB images of any sizes, run as one batch."""
        if not images:
            return []
        heatmaps, tags, affine = self.maps(images)
        per_image, cands = decode_batch_with_candidates(heatmaps, tags, self.schema, self.method, self.decode)
        out = []
        for b, (image, instances) in enumerate(zip(images, per_image, strict=True)):
            # Heatmap pixel -> base-scale input pixel -> image pixel.
            inverse = invert_affine(affine[b])
            mapped = to_image(instances, inverse, self.stride)
            c = to_image_candidates(cands[b], inverse, self.stride) if candidates else None
            out.append(Prediction(mapped, c, width=int(image.shape[1]), height=int(image.shape[0])))
        return out

    def maps(self, images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, list[np.ndarray]]:
        """Merged heatmaps (B, K, H, W), tags (B, K, D', H, W) at the base scale; each image -> input affine.

        D' = D x (2 with flip) x (number of scales): tags of every view are concatenated, as in the paper.
        """
        base = self.scale_size(1.0)
        heats, tags = [], []
        for scale in self.scales:
            heat, tag = self.run(input_batch(images, self.scale_size(scale)))
            heats.append(heat)
            tags.append(tag)
        size = (base // self.stride, base // self.stride)
        if len(heats) == 1 and heats[0].shape[-1] == size[1]:
            heatmap, tag = heats[0], tags[0]
        else:
            heatmap, tag = merge_scales(heats, tags, size)
        # Every scale is merged in the base-scale frame, so one image -> input affine serves them all.
        affines = [fit_affine(image.shape[1], image.shape[0], base) for image in images]
        return heatmap, tag, affines

    def run(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The last stack's heatmaps and tags for a batch of network inputs (flip-merged with `flip`)."""
        heat, tag = self.forward(batch)
        if not self.flip:
            return heat, tag
        flipped_heat, flipped_tag = self.forward(np.ascontiguousarray(batch[..., ::-1]))
        return merge_flip(heat, tag, flipped_heat, flipped_tag, self.schema.flip_index)

    def forward(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's maps for one input batch, as float32 tensors (numpy maps are wrapped, not copied)."""
        heat, tag = self.network(batch)
        return torch.as_tensor(heat).float(), torch.as_tensor(tag).float()

    def predict_files(
        self, paths: Sequence[Path], batch_size: int = 8, candidates: bool = False, workers: int = 2
    ) -> Iterator[tuple[Path, Prediction | str]]:
        """(path, prediction) per file in order; an unreadable file yields (path, one-line reason) instead."""
        if batch_size < 1:
            raise AegroupError(f"batch size must be at least 1, got {batch_size}")
        todo = iter(paths)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # Reading the next batch overlaps with the network on this one; at most two batches are in memory.
            pending: deque[Future[Prepared]] = deque()

            def refill() -> None:
                for path in itertools.islice(todo, 2 * batch_size - len(pending)):
                    pending.append(pool.submit(read_image, path))

            refill()
            while pending:
                chunk = [pending.popleft().result() for _ in range(min(batch_size, len(pending)))]
                refill()
                good = [p for p in chunk if p.pixels is not None]
                results = iter(self.predict_batch([p.pixels for p in good], candidates))
                for item in chunk:
                    yield item.path, next(results) if item.pixels is not None else str(item.error)
