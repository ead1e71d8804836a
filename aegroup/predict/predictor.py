"""`Predictor`: a trained network applied to images of any size; grouped instances in image pixels.

Each image is resized (aspect ratio kept) and padded to the network input (`images.input_batch`), the
`Network` (`torch_network.TorchNetwork` for a checkpoint, `aegroup.deploy.OnnxModel` for an ONNX export)
gives the last stack's maps, flip and multi-scale test-time augmentation merge them
(`aegroup.decode.tta`), `decode_batch_with_candidates` groups the joints (one candidate extraction for
instances and candidates), and `decode.to_image` maps heatmap pixels back to image pixels through the
inverse affine. Torch is imported only for a checkpoint or a torch model: maps stay numpy arrays from
ONNX Runtime to the results.
"""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from aegroup.data.transforms import MEAN, STD
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
from aegroup.deploy.runtime import OnnxModel
from aegroup.errors import AegroupError
from aegroup.geometry import fit_affine, invert_affine
from aegroup.io.coco import read_rgb
from aegroup.predict.images import Prepared, input_batch, read_image, read_video_frame
from aegroup.predict.network import Network

if TYPE_CHECKING:
    import torch

    from aegroup.io.video import VideoReader
    from aegroup.schema import PoseSchema

Item = TypeVar("Item")


@dataclass
class Prediction:
    """One image's result in image pixels: instances (highest score first) and, if asked, candidates."""

    instances: list[Instance]
    candidates: Candidates | None
    width: int
    height: int


class Predictor:
    """Runs a trained network on images and groups its output into instances in image pixels."""

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
        self.network = as_network(network, device)
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
        threads: int = 0,
    ) -> Predictor:
        """Load a checkpoint folder (or a run folder: its best) in PyTorch; decoding defaults to the stored
        config. `threads` > 0 sets torch's CPU threads for the process."""
        from aegroup.predict.torch_network import load_network  # the one way in to torch

        network, ckpt = load_network(path, device, threads)
        return cls(
            network,
            ckpt.schema,
            input_size or ckpt.input_size,
            ckpt.output_stride,
            ckpt.output_stride * 2**ckpt.model_config.depth,
            decode=decode or ckpt.decode_config,
            method=method,
            flip=flip,
            scales=scales,
        )

    @classmethod
    def from_onnx(
        cls,
        path: str | Path,
        device: str = "auto",
        threads: int = 0,
        decode: DecodeConfig | None = None,
        method: str = "hungarian",
        flip: bool = False,
        scales: Sequence[float] = (1.0,),
        input_size: int | None = None,
    ) -> Predictor:
        """Load a model exported by `aegroup export-model` in ONNX Runtime (no torch); skeleton, decoding
        and sizes come from its metadata. `threads`: ONNX Runtime's intra-op threads (0: its default)."""
        model = OnnxModel(path, device, threads)
        meta = model.metadata
        if not (np.allclose(meta.mean, MEAN, atol=1e-6) and np.allclose(meta.std, STD, atol=1e-6)):
            raise AegroupError(
                f"{path}: metadata 'aegroup.mean'/'aegroup.std' {meta.mean}/{meta.std} differ from the "
                f"normalisation this aegroup applies ({MEAN.tolist()}/{STD.tolist()})"
            )
        if meta.fixed_size is not None:
            side = meta.fixed_size[0]
            fixed = f"{path}: exported for a fixed {side}x{side} input"
            if input_size not in (None, side):
                raise AegroupError(f"{fixed}, not {input_size}; re-export with --dynamic for other sizes")
            if tuple(float(s) for s in scales) != (1.0,):
                raise AegroupError(f"{fixed}: scales other than 1 need an export with --dynamic")
        return cls(
            model,
            meta.schema,
            input_size or meta.input_size,
            meta.output_stride,
            meta.size_multiple,
            decode=decode or meta.decode_config,
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

    def maps(self, images: Sequence[np.ndarray]) -> tuple[Any, Any, list[np.ndarray]]:
        """Merged heatmaps (B, K, H, W), tags (B, K, D', H, W) at the base scale; each image -> input affine.

        D' = D x (2 with flip) x (number of scales): tags of every view are concatenated, as in the paper.
        The maps are what the network gives: tensors on its device, or numpy arrays.
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

    def run(self, batch: np.ndarray) -> tuple[Any, Any]:
        """The last stack's heatmaps and tags for a batch of network inputs (flip-merged with `flip`)."""
        heat, tag = self.forward(batch)
        if not self.flip:
            return heat, tag
        flipped_heat, flipped_tag = self.forward(np.ascontiguousarray(batch[..., ::-1]))
        return merge_flip(heat, tag, flipped_heat, flipped_tag, self.schema.flip_index)

    def forward(self, batch: np.ndarray) -> tuple[Any, Any]:
        """The network's maps for one input batch as float32 (numpy arrays stay numpy, tensors tensors)."""
        heat, tag = self.network(batch)
        if isinstance(heat, np.ndarray):
            return heat.astype(np.float32, copy=False), np.asarray(tag).astype(np.float32, copy=False)
        return heat.float(), tag.float()

    def predict_files(
        self, paths: Sequence[Path], batch_size: int = 8, candidates: bool = False, workers: int = 2
    ) -> Iterator[tuple[Path, Prediction | str]]:
        """(path, prediction) per file in order; an unreadable file yields (path, one-line reason) instead."""
        return self.predict_stream(paths, read_image, batch_size, candidates, workers)

    def predict_video(
        self, reader: VideoReader, frames: Iterable[int], batch_size: int = 8, candidates: bool = False
    ) -> Iterator[tuple[int, Prediction | str]]:
        """(frame index, prediction) per frame of `frames`, in that order; a frame that cannot be decoded
        yields (index, one-line reason). One thread decodes ahead of the network, in order, so increasing
        frames are decoded forward (each once) rather than by seeking."""
        return self.predict_stream(frames, partial(read_video_frame, reader), batch_size, candidates, 1)

    def predict_stream(
        self,
        items: Iterable[Item],
        read: Callable[[Item], Prepared],
        batch_size: int = 8,
        candidates: bool = False,
        workers: int = 2,
    ) -> Iterator[tuple[Item, Prediction | str]]:
        """(item, prediction or one-line reason) per item in order; `read` turns an item into pixels on
        `workers` threads, overlapping with the network, at most two batches ahead."""
        if batch_size < 1:
            raise AegroupError(f"batch size must be at least 1, got {batch_size}")
        todo = iter(items)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            pending: deque[tuple[Item, Future[Prepared]]] = deque()

            def refill() -> None:
                for item in itertools.islice(todo, 2 * batch_size - len(pending)):
                    pending.append((item, pool.submit(read, item)))

            refill()
            while pending:
                chunk = [(item, future.result()) for item, future in popped(pending, batch_size)]
                refill()
                good = [p.pixels for _, p in chunk if p.pixels is not None]
                results = iter(self.predict_batch(good, candidates))
                for item, prepared in chunk:
                    yield item, next(results) if prepared.pixels is not None else str(prepared.error)


def popped(queue: deque[Any], n: int) -> list[Any]:
    """Up to `n` entries taken from the left of `queue`."""
    return [queue.popleft() for _ in range(min(n, len(queue)))]


def as_network(network: Any, device: Any) -> Network:
    """`network` as a `Network`: a torch module is wrapped in `TorchNetwork` on `device`, any other backend
    is used as it is. A torch module exists only once torch is loaded, so torch is never imported here."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(network, torch.nn.Module):
        from aegroup.predict.torch_network import TorchNetwork

        return TorchNetwork(network, device)
    return network
