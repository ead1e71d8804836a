"""`PoseDataset`: labelled frames as network inputs with heatmap, mask and grouping targets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from aegroup.data.sources import CocoFrames, LabelledFrames
from aegroup.data.targets import joint_indices, render_heatmaps
from aegroup.data.transforms import PAD_COLOR, AugmentConfig, normalize, random_affine, warp
from aegroup.errors import AegroupError
from aegroup.geometry import apply_affine, compose, fit_affine, input_to_heatmap, invert_affine
from aegroup.io.coco import CocoKeypoints, load_coco
from aegroup.schema import PoseSchema, load_schema


class PoseDataset(Dataset):
    """Labelled frames (any `LabelledFrames` source) with targets for associative-embedding training.

    Each item is a dict: `image` (3, S, S) float32 normalised input; `heatmaps` (K, S/stride, S/stride);
    `mask` (S/stride, S/stride) float32, 0 over the source's ignored regions (COCO: crowds and instances
    without labelled joints); `joints` (max_instances, K, 2) int64 flat tag index and visibility; `meta`
    with `image_id`, `affine` (2, 3) image -> input pixels and `inverse` (2, 3) input -> image pixels.
    Training items get a random affine (`augment`); evaluation items fit the whole image like `preprocess`.
    """

    def __init__(
        self,
        frames: LabelledFrames,
        train: bool,
        input_size: int = 512,
        output_stride: int = 4,
        max_instances: int = 30,
        sigma: float = 2.0,
        augment: AugmentConfig | None = None,
    ) -> None:
        check_sizes(input_size, output_stride)
        self.frames = frames
        self.train = train
        self.input_size = input_size
        self.output_stride = output_stride
        self.output_size = input_size // output_stride
        self.max_instances = max_instances
        self.sigma = sigma
        self.augment = (augment or AugmentConfig()) if train else None

    @property
    def schema(self) -> PoseSchema:
        """The skeleton of the frames."""
        return self.frames.schema

    @property
    def image_ids(self) -> list[int]:
        """Frame (COCO image) id of each item."""
        return self.frames.frame_ids

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pixels = self.frames.pixels(index)
        height, width = pixels.shape[:2]
        people = np.array(self.frames.instances(index), dtype=np.float64)
        flipped = False
        if self.augment is not None:
            # Seed numpy from torch's generator, which the DataLoader seeds differently in every worker.
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            affine, flipped = random_affine(width, height, self.input_size, self.augment, rng, people)
        else:
            affine = fit_affine(width, height, self.input_size)
        image = normalize(np.asarray(warp(Image.fromarray(pixels), affine, self.input_size, fill=PAD_COLOR)))
        to_output = compose(input_to_heatmap(self.output_stride), affine)
        people[..., :2] = apply_affine(people[..., :2], to_output)
        if flipped:
            people = people[:, self.schema.flip_index]
        size = self.output_size
        region = self.frames.ignore_region(index, (height, width))
        return {
            "image": torch.from_numpy(image),
            "heatmaps": torch.from_numpy(render_heatmaps(people, size, size, self.sigma)),
            "mask": torch.from_numpy(self._mask(region, to_output)),
            "joints": torch.from_numpy(joint_indices(people, size, size, self.max_instances)),
            "meta": {"image_id": self.image_ids[index], "affine": affine, "inverse": invert_affine(affine)},
        }

    def _mask(self, region: np.ndarray | None, to_output: np.ndarray) -> np.ndarray:
        """(H, W) float32 loss mask at output resolution: 0 where the ignored region covers the pixel."""
        size = self.output_size
        if region is None:
            return np.ones((size, size), dtype=np.float32)
        warped = np.asarray(warp(Image.fromarray(region * 255), to_output, size))
        return (warped < 128).astype(np.float32)

    def ground_truth(self) -> dict[str, Any]:
        """The items' frames and labels as a COCO keypoints dict, for evaluating predictions on them."""
        return self.frames.ground_truth()


class CocoPoseDataset(PoseDataset):
    """A `PoseDataset` over the images of a COCO keypoints file (`categories`: ids or names to use)."""

    def __init__(
        self,
        ann_file: str | Path,
        image_dir: str | Path,
        schema: PoseSchema | str | Path,
        train: bool,
        input_size: int = 512,
        output_stride: int = 4,
        max_instances: int = 30,
        sigma: float = 2.0,
        augment: AugmentConfig | None = None,
        categories: Sequence[int | str] | None = None,
        skip_bad_images: bool = False,
    ) -> None:
        check_sizes(input_size, output_stride)
        coco = load_coco(ann_file, load_schema(schema), categories)
        frames = CocoFrames(coco, image_dir, skip_bad_images)
        super().__init__(frames, train, input_size, output_stride, max_instances, sigma, augment)
        self.coco: CocoKeypoints = coco
        self.skipped = frames.skipped


def check_sizes(input_size: int, output_stride: int) -> None:
    """One-line error unless the input size is a positive multiple of the output stride."""
    if input_size <= 0 or output_stride <= 0 or input_size % output_stride:
        raise AegroupError(
            f"input_size {input_size} must be a positive multiple of output_stride {output_stride}"
        )
