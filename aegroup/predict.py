"""`Predictor`: a trained checkpoint applied to images of any size; grouped instances in image pixels.

Each image is resized (aspect ratio kept) and padded to the network input by `preprocess`, images are
batched on the device, flip and multi-scale test-time augmentation merge the maps (`aegroup.decode.tta`),
`decode_batch_with_candidates` groups the joints (one candidate extraction for instances and candidates),
and the inverse affine maps heatmap pixels back to image pixels.
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

from aegroup.data.transforms import compose, fit_affine, heatmap_to_input, invert_affine, preprocess
from aegroup.decode import (
    Candidates,
    DecodeConfig,
    Instance,
    decode_batch_with_candidates,
    get_grouper,
    to_image,
)
from aegroup.decode.tta import merge_flip, merge_scales
from aegroup.errors import AegroupError
from aegroup.io.coco import read_rgb
from aegroup.schema import PoseSchema
from aegroup.train.checkpoint import load_model, pick_device

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Prediction:
    """One image's result in image pixels: instances (highest score first) and, if asked, candidates."""

    instances: list[Instance]
    candidates: Candidates | None
    width: int
    height: int


@dataclass
class Prepared:
    """An image read from disk, or the one-line reason it could not be read."""

    path: Path
    pixels: np.ndarray | None = None
    error: str | None = None


class Predictor:
    """Runs a trained model on images and groups its output into instances in image pixels."""

    def __init__(
        self,
        model: torch.nn.Module,
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
        self.device = pick_device(device)
        # Channels-last convolutions: the faster layout on CPU (oneDNN) and GPU alike.
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()
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

    @torch.no_grad()
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
            inputs = [preprocess(image, self.scale_size(scale))[0] for image in images]
            heat, tag = self.run(torch.from_numpy(np.stack(inputs)).to(self.device))
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

    def run(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The last stack's heatmaps and tags for a batch of network inputs (flip-merged with `flip`)."""
        output = self.model(batch)
        heat, tag = output.heatmaps[-1].float(), output.tags[-1].float()
        if not self.flip:
            return heat, tag
        flipped = self.model(torch.flip(batch, dims=[3]))
        return merge_flip(
            heat, tag, flipped.heatmaps[-1].float(), flipped.tags[-1].float(), self.schema.flip_index
        )

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


def read_image(path: Path) -> Prepared:
    """Read one image file as RGB, catching the one-line error of a missing or corrupt file."""
    try:
        return Prepared(path, pixels=read_rgb(path))
    except AegroupError as err:
        return Prepared(path, error=str(err))


def to_image_candidates(candidates: Candidates, inverse: np.ndarray, stride: int) -> Candidates:
    """Candidates mapped from heatmap to image pixels like `decode.to_image` (padding stays at 0, 0)."""
    heat_to_image = compose(np.asarray(inverse, dtype=np.float64), heatmap_to_input(stride))
    xy = candidates.xy.astype(np.float64) @ heat_to_image[:, :2].T + heat_to_image[:, 2]
    xy[candidates.score <= 0] = 0
    return Candidates(xy=xy.astype(np.float32), score=candidates.score, tag=candidates.tag)


def image_files(folder: Path) -> list[Path]:
    """Image files directly inside `folder`, sorted by name."""
    if not folder.is_dir():
        raise AegroupError(f"{folder}: image folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise AegroupError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files
